"""The reason a nurse reads on an alert: what was measured against which limit."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from core.measurement_types import MEASUREMENT_TYPES

_COMBINED_NAME = "SpO2 and pulse"


def _name(type_: str) -> str:
    mtype = MEASUREMENT_TYPES.get(type_)
    return mtype.display_en if mtype else _COMBINED_NAME


def _unit(type_: str) -> str:
    mtype = MEASUREMENT_TYPES.get(type_)
    return mtype.unit if mtype else ""


def describe(*, rule: str, type_: str, severity: str, metric: float, limit: float,
             reference: float) -> str:
    """The reason of a breach of ``rule`` on ``type_``.

    >>> describe(rule="absolute", type_="spo2", severity="red", metric=83, limit=84, reference=0)
    'SpO2 83 % below the red limit 84'
    """
    name, unit = _name(type_), _unit(type_)
    if rule == "absolute":
        side = "below" if metric < limit else "above"
        return f"{name} {metric:g} {unit} {side} the {severity} limit {limit:g}"
    if rule == "baseline":
        return (f"{name} {metric:+.1f} {unit} against the 14-day baseline {reference:.1f}"
                f" ({severity} at {limit:+g})")
    if rule == "change_3d":
        return f"{name} changed {metric:+.1f} {unit} against the last 3 days ({reference:.1f})"
    if rule == "loss_30d":
        return f"{name} fell {metric:.1f} % in 30 days (from {reference:.1f} {unit})"
    if rule == "slope_3d":
        return f"{name} trend {metric:+.1f} {unit} over 3 days ({severity} at {limit:+g})"
    return (f"SpO2 fall and pulse rise average {metric:.2f} SD of the patient's own variability"
            f" ({severity} at {limit:g})")


def describe_missing(*, type_: str, deadline: datetime, timezone: str) -> str:
    """The reason of a missing-measurement alert, the deadline in local time."""
    local = deadline.astimezone(ZoneInfo(timezone))
    return f"No {_name(type_)} measurement by the deadline {local:%a %d %b %H:%M} ({timezone})"
