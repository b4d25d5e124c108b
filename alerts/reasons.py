"""The reason a nurse reads on an alert: what was measured against which limit.

A reason is stored as a code and its parameters, which the dashboard renders in the user's
language (Danish or English) and number format, and as an English sentence, the ``reason`` of
the API contract. Codes: ``absolute_below``, ``absolute_above``, ``baseline``, ``change_3d``,
``loss_30d``, ``slope_3d``, ``combined``, ``combined_symptom`` (the combined rule made red by a
major symptom in the diary), ``symptoms`` (major symptoms in one diary), ``seemungal`` (days in a
row meeting the Seemungal criterion), ``missing``. Parameters: ``type``, ``severity``,
``metric``, ``limit``, ``reference``, ``unit`` (breaches); ``type``, ``deadline`` (ISO 8601,
UTC) and ``timezone`` (missing measurements). Alerts raised before codes existed were given
theirs by migration 0474 from this module's sentences, or the generic ``legacy`` (``type``,
``rule``, ``severity``, ``metric``, ``unit``) where a sentence could not be read back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from core.measurement_types import MEASUREMENT_TYPES
from core.questionnaires import SYMPTOM_SERIES

_COMBINED_NAME = "SpO2 and pulse"


@dataclass(frozen=True, slots=True, kw_only=True)
class Reason:
    code: str
    params: dict[str, Any]
    text: str
    """English, for API clients that do not render codes."""


def _name(type_: str) -> str:
    mtype = MEASUREMENT_TYPES.get(type_)
    return mtype.display_en if mtype else (
        "Symptom diary" if type_ == SYMPTOM_SERIES else _COMBINED_NAME)


def _unit(type_: str) -> str:
    mtype = MEASUREMENT_TYPES.get(type_)
    return mtype.unit if mtype else ""


def _text(code: str, *, name: str, unit: str, severity: str, metric: float, limit: float,
          reference: float) -> str:
    if code in ("absolute_below", "absolute_above"):
        side = code.removeprefix("absolute_")
        return f"{name} {metric:g} {unit} {side} the {severity} limit {limit:g}"
    if code == "baseline":
        return (f"{name} {metric:+.1f} {unit} against the 14-day baseline {reference:.1f}"
                f" ({severity} at {limit:+g})")
    if code == "change_3d":
        return f"{name} changed {metric:+.1f} {unit} against the last 3 days ({reference:.1f})"
    if code == "loss_30d":
        return f"{name} fell {metric:.1f} % in 30 days (from {reference:.1f} {unit})"
    if code == "slope_3d":
        return f"{name} trend {metric:+.1f} {unit} over 3 days ({severity} at {limit:+g})"
    if code == "symptoms":
        return f"{metric:g} major symptom(s) reported in the diary ({severity} at {limit:g})"
    if code == "seemungal":
        return (f"Seemungal criterion met in the diary {metric:g} day(s) in a row"
                f" ({severity} at {limit:g})")
    if code == "combined_symptom":
        return (f"SpO2 fall and pulse rise average {metric:.2f} SD of the patient's own"
                f" variability with a major symptom in the diary ({severity} at {limit:g})")
    return (f"SpO2 fall and pulse rise average {metric:.2f} SD of the patient's own variability"
            f" ({severity} at {limit:g})")


def describe(*, rule: str, type_: str, severity: str, metric: float, limit: float,
             reference: float, symptom: bool = False) -> Reason:
    """The reason of a breach of ``rule`` on ``type_``; ``symptom``: a major symptom in the
    diary raised its severity.

    >>> r = describe(rule="absolute", type_="spo2", severity="red", metric=83, limit=84,
    ...              reference=0)
    >>> r.code, r.params["metric"], r.text
    ('absolute_below', 83.0, 'SpO2 83 % below the red limit 84')
    """
    code = "combined_symptom" if symptom else rule
    if rule == "absolute":
        code = "absolute_below" if metric < limit else "absolute_above"
    unit = _unit(type_)
    # NaN (a rule without a reference) is not JSON: such a parameter is null.
    params = {"type": type_, "severity": severity, "unit": unit,
              **{k: float(v) if math.isfinite(v) else None
                 for k, v in (("metric", metric), ("limit", limit), ("reference", reference))}}
    return Reason(code=code, params=params, text=_text(
        code, name=_name(type_), unit=unit, severity=severity, metric=metric, limit=limit,
        reference=reference))


def describe_missing(*, type_: str, deadline: datetime, timezone: str) -> Reason:
    """The reason of a missing-measurement alert, the deadline in local time."""
    local = deadline.astimezone(ZoneInfo(timezone))
    return Reason(
        code="missing",
        params={"type": type_, "deadline": deadline.isoformat(), "timezone": timezone},
        text=f"No {_name(type_)} measurement by the deadline {local:%a %d %b %H:%M} ({timezone})")
