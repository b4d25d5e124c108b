"""Breaches grouped into alerts: the one grouping that production evaluation and the threshold
preview share, so that a preview shows the alerts the engine would raise."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from alerts import engine
from alerts.engine import COMBINED_TYPE, RULES, SERIES_CODES, SEVERITIES, Breaches

ALERT_TYPES = (*SERIES_CODES, COMBINED_TYPE)
"""Alert ``type`` by code: the series' index (a measurement type or the symptom diary), or
``N_SERIES`` for the combined rule."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BreachGroup:
    """The breaches that make one alert: one (patient, rule, alert type), in time order."""

    patient: int
    """Index into the evaluated patients (``readings.patient``)."""
    rule: str
    type: str
    severity: str
    """The worst severity of the group."""
    rows: npt.NDArray[np.int64]
    """Rows of the :class:`~alerts.engine.Breaches`, in measurement order."""
    worst: int
    """The row that sets the severity (the latest of the worst): the reason's breach."""
    first_us: int
    last_us: int
    """Measurement times of the first and last breach, µs since the epoch, UTC."""
    readings: npt.NDArray[np.int64]
    """Every reading involved (the breaching ones, the combined rule's partners and the diaries
    that raised it), unique."""

    @property
    def latest(self) -> int:
        return int(self.rows[-1])


def group_breaches(readings: engine.Readings, b: Breaches, *,
                   split_after: np.timedelta64 | None = None) -> list[BreachGroup]:
    """Group breaches by (patient, rule, alert type), in measurement order.

    ``split_after``: a gap between consecutive breaches longer than this starts a new group (the
    preview's episodes: a nurse would have resolved the first alert); None keeps one group per
    key, as the evaluation of a batch does (the unresolved alert absorbs them all).

    >>> import numpy as np
    >>> from alerts.engine import Breaches, Readings
    >>> r = Readings(patient=np.zeros(2, np.int64), type_index=np.zeros(2, np.int16),
    ...              measured_at=np.array([0, 10], "datetime64[D]").astype("datetime64[us]"),
    ...              value=np.array([83.0, 84.0]))
    >>> b = Breaches(reading=np.array([0, 1]), rule=np.zeros(2, np.int8),
    ...              severity=np.array([2, 1], np.int8), metric=np.array([83.0, 84.0]),
    ...              limit=np.array([84.0, 88.0]), reference=np.full(2, np.nan),
    ...              partner=np.full(2, -1), symptom=np.full(2, -1))
    >>> [g.severity for g in group_breaches(r, b)]
    ['red']
    >>> [g.severity for g in group_breaches(r, b, split_after=np.timedelta64(3, "D"))]
    ['red', 'yellow']
    """
    if len(b) == 0:
        return []
    patient = readings.patient[b.reading].astype(np.int64)
    alert_type = np.where(b.rule == engine.COMBINED, engine.N_SERIES,
                          readings.type_index[b.reading].astype(np.int64))
    t = readings.measured_at.astype("datetime64[us]").view(np.int64)
    bt = t[b.reading]
    order = np.lexsort((bt, alert_type, b.rule, patient))
    key = np.stack([patient, b.rule.astype(np.int64), alert_type], axis=1)[order]
    new = np.r_[True, np.any(key[1:] != key[:-1], axis=1)]
    if split_after is not None:
        gap = int(split_after.astype("timedelta64[us]").astype(np.int64))
        new[1:] |= np.diff(bt[order]) > gap
    starts = np.flatnonzero(new)
    ends = np.r_[starts[1:], order.size]
    groups = []
    for s, e in zip(starts, ends, strict=True):  # one step per alert, not per reading
        rows = order[s:e]
        worst = int(rows[np.lexsort((bt[rows], b.severity[rows]))[-1]])
        partners = np.r_[b.partner[rows], b.symptom[rows]]
        groups.append(BreachGroup(
            patient=int(patient[rows[0]]), rule=RULES[int(b.rule[rows[0]])],
            type=ALERT_TYPES[int(alert_type[rows[0]])],
            severity=SEVERITIES[int(b.severity[rows].max())], rows=rows, worst=worst,
            first_us=int(bt[rows[0]]), last_us=int(bt[rows[-1]]),
            readings=np.unique(np.r_[b.reading[rows], partners[partners >= 0]])))
    return groups
