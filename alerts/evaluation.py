"""Evaluation: newly stored readings against their history windows and the patients' thresholds
in force, through the engine, into alert lifecycle steps. Never commits: the boundary owns the
transaction."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from psycopg import Connection

from alerts import engine, missing, repository
from alerts.breaches import group_breaches
from alerts.lifecycle import AlertRaise, AlertReading, Outcome, raise_alerts
from alerts.reasons import describe
from alerts.schemas import ThresholdArrays, Thresholds
from core.settings import get_settings
from ingest.schemas import ReadingColumns

log = logging.getLogger(__name__)


def _utc(us: np.int64 | int) -> datetime:
    return datetime.fromtimestamp(int(us) / 1e6, tz=UTC)


def load_thresholds(conn: Connection[Any], patient_ids: npt.NDArray[np.int64]
                    ) -> tuple[ThresholdArrays, npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Current thresholds of ``patient_ids`` (sorted, unique) as arrays, their versions, and
    which patients have any."""
    rows = {r["patient_id"]: r for r in repository.current_thresholds(conn, patient_ids.tolist())}
    docs = [Thresholds.model_validate(rows[p]["thresholds"]) if p in rows else Thresholds()
            for p in patient_ids.tolist()]
    versions = np.array([rows[p]["version"] if p in rows else 0 for p in patient_ids.tolist()],
                        np.int64)
    return ThresholdArrays.from_documents(docs), versions, versions > 0


def evaluate_new(conn: Connection[Any], new: ReadingColumns) -> Outcome:
    """Evaluate newly stored readings: one query for every patient's history window, the engine,
    then the lifecycle writes. Readings already attached to alerts change nothing, so evaluating
    the same readings twice (recovery, re-evaluation) is harmless."""
    if len(new) == 0:
        return Outcome()
    pids, inverse = np.unique(new.patient_id, return_inverse=True)
    t = new.measured_at.astype("datetime64[us]")
    order = np.argsort(inverse, kind="stable")
    starts = np.r_[0, np.flatnonzero(np.diff(inverse[order])) + 1]
    first = np.minimum.reduceat(t[order].view(np.int64), starts)
    last = np.maximum.reduceat(t[order].view(np.int64), starts)
    history = repository.history_windows(
        conn, patient_ids=pids,
        start=(first - engine.LONGEST_LOOKBACK_US).astype("datetime64[us]"),
        end=last.astype("datetime64[us]"))
    thresholds, versions, enrolled = load_thresholds(conn, pids)

    # New readings first, so that np.unique keeps them (and their late flag) over the stored copy.
    all_pid = np.r_[new.patient_id, history.patient_id]
    all_type = np.r_[new.type_index, history.type_index]
    all_t = np.r_[t, history.measured_at.astype("datetime64[us]")]
    keys = np.stack([all_pid, all_type.astype(np.int64), all_t.view(np.int64)], axis=1)
    _, keep = np.unique(keys, axis=0, return_index=True)
    is_new = keep < len(new)
    readings = engine.Readings(
        patient=np.searchsorted(pids, all_pid[keep]), type_index=all_type[keep],
        measured_at=all_t[keep], value=np.r_[new.value, history.value][keep])
    late = np.r_[new.late, history.late][keep]
    mask = is_new & enrolled[readings.patient]
    breaches = engine.evaluate(readings, thresholds, mask)
    raises = to_raises(readings, breaches, pids=pids, versions=versions, late=late)
    outcome = raise_alerts(conn, raises)
    settings = get_settings()
    resolved = missing.resolve_arrived(conn, new, timezone=settings.timezone) \
        if settings.auto_resolve_missing else 0
    return Outcome(evaluated=int(mask.sum()), breaches=len(breaches), opened=outcome.opened,
                   updated=outcome.updated, escalated=outcome.escalated, resolved=resolved)


def to_raises(readings: engine.Readings, b: engine.Breaches, *, pids: npt.NDArray[np.int64],
              versions: npt.NDArray[np.int64], late: npt.NDArray[np.bool_]) -> list[AlertRaise]:
    """One :class:`AlertRaise` per (patient, rule, alert type): worst severity, first and last
    reading, the latest value, the reason of the worst breach, all the readings."""
    t = readings.measured_at.astype("datetime64[us]").view(np.int64)
    raises = []
    for g in group_breaches(readings, b):  # one step per alert, not per reading
        latest, worst = g.latest, g.worst
        raises.append(AlertRaise(
            patient_id=int(pids[g.patient]), rule=g.rule, type=g.type, severity=g.severity,
            first_measured_at=_utc(g.first_us), last_measured_at=_utc(g.last_us),
            value=float(b.metric[latest] if g.rule in engine.METRIC_VALUED
                        else readings.value[b.reading[latest]]),
            late=bool(late[g.readings].any()),
            reason=describe(rule=g.rule, type_=g.type,
                            severity=engine.SEVERITIES[int(b.severity[worst])],
                            metric=float(b.metric[worst]), limit=float(b.limit[worst]),
                            reference=float(b.reference[worst]),
                            symptom=bool(b.symptom[worst] >= 0)),
            count=len(g.rows), threshold_version=int(versions[g.patient]),
            readings=tuple(AlertReading(type=engine.SERIES_CODES[int(readings.type_index[i])],
                                        measured_at=_utc(t[i]), value=float(readings.value[i]))
                           for i in g.readings)))
    return raises


def evaluate_period(conn: Connection[Any], *, measured_from: datetime, measured_to: datetime,
                    patient_id: int | None) -> Outcome:
    """Re-evaluate every reading measured in ``[measured_from, measured_to)`` with the current
    thresholds; readings already attached to alerts change nothing."""
    return evaluate_new(conn, repository.readings_measured(
        conn, measured_from=measured_from, measured_to=measured_to, patient_id=patient_id))
