"""Per-patient thresholds: current version, versioned history with who/why and a diff, changes
by clinicians (validated, audited), and the preview of what proposed thresholds would have raised.
Never commits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from psycopg import Connection

from alerts import engine, repository
from alerts.breaches import group_breaches
from alerts.engine import SEVERITIES
from alerts.reasons import describe
from alerts.schemas import (
    PreviewAlert,
    PreviewIn,
    PreviewOut,
    ThresholdArrays,
    ThresholdChange,
    Thresholds,
    ThresholdsIn,
    ThresholdsOut,
    ThresholdVersionOut,
)
from core import audit, errors
from core.access import Viewer

PREVIEW_EPISODE_GAP = np.timedelta64(3, "D")
"""Breaches of one (rule, type) further apart than this count as separate alerts in a preview
(a nurse would have resolved the first one)."""


def _require_patient(conn: Connection[Any], viewer: Viewer, patient_id: int) -> None:
    if not repository.visible_patient(conn, viewer, patient_id):
        raise errors.PatientNotFound()


def _out(row: dict[str, Any]) -> ThresholdsOut:
    return ThresholdsOut(patient_id=row["patient_id"], version=row["version"],
                         thresholds=Thresholds.model_validate(row["thresholds"]),
                         changed_by=row["changed_by"], changed_at=row["changed_at"],
                         reason=row["reason"])


def current(conn: Connection[Any], viewer: Viewer, patient_id: int) -> ThresholdsOut:
    _require_patient(conn, viewer, patient_id)
    latest = latest_version(conn, viewer, patient_id)
    if latest is None:
        raise errors.ThresholdsNotFound()
    return latest


def latest_version(conn: Connection[Any], viewer: Viewer, patient_id: int
                   ) -> ThresholdsOut | None:
    """The patient's thresholds in force; None if she has none or the viewer does not see her."""
    rows = repository.threshold_versions(conn, viewer, patient_id, latest_only=True)
    return _out(rows[0]) if rows else None


def diff(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[ThresholdChange]:
    """Changed leaves between two threshold documents, as dotted paths.

    Examples
    --------
    >>> diff({"spo2": {"a": 1, "b": 2}}, {"spo2": {"a": 1, "b": 3}})
    [ThresholdChange(path='spo2.b', old=2, new=3)]
    """
    changes: list[ThresholdChange] = []
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            changes.extend(diff(a, b, f"{prefix}{key}."))
        elif a != b:
            changes.append(ThresholdChange(path=f"{prefix}{key}", old=a, new=b))
    return changes


def history(conn: Connection[Any], viewer: Viewer, patient_id: int) -> list[ThresholdVersionOut]:
    """Every version, newest first, each with its changes against the one before."""
    _require_patient(conn, viewer, patient_id)
    rows = repository.threshold_versions(conn, viewer, patient_id, latest_only=False)
    docs = [Thresholds.model_validate(r["thresholds"]).model_dump() for r in rows]
    return [ThresholdVersionOut(**_out(row).model_dump(),
                                diff=diff(docs[i + 1], docs[i]) if i + 1 < len(rows) else [])
            for i, row in enumerate(rows)]


def replace(conn: Connection[Any], viewer: Viewer, patient_id: int, data: ThresholdsIn
            ) -> ThresholdsOut:
    """A new version (the document is already validated, limit order included) and an audit
    entry with the reason and the diff."""
    before = current(conn, viewer, patient_id)
    new = data.thresholds.model_dump()
    row = repository.insert_threshold_version(conn, patient_id=patient_id, thresholds=new,
                                              changed_by=viewer.user_id, reason=data.reason)
    changes = diff(before.thresholds.model_dump(), new)
    audit.record(conn, viewer=viewer, action="thresholds.update", entity_type="patient",
                 entity_id=patient_id, detail={
                     "version": row["version"], "previous_version": before.version,
                     "reason": data.reason, "diff": [c.model_dump() for c in changes]})
    return ThresholdsOut(patient_id=patient_id, version=row["version"],
                         thresholds=data.thresholds, changed_by=viewer.username,
                         changed_at=row["changed_at"], reason=data.reason)


def preview(conn: Connection[Any], viewer: Viewer, patient_id: int, data: PreviewIn,
            *, now: datetime | None = None) -> PreviewOut:
    """The alerts ``data.thresholds`` would have raised over the last ``data.days`` days, from the
    stored readings (one query) and the engine; nothing is written."""
    _require_patient(conn, viewer, patient_id)
    now = now or datetime.now(UTC)
    start = now - timedelta(days=data.days)
    stored = repository.readings_of_patient(
        conn, viewer, patient_id=patient_id,
        measured_from=start - timedelta(microseconds=engine.LONGEST_LOOKBACK_US))
    t = stored.measured_at.astype("datetime64[us]")
    mask = t >= np.datetime64(start.replace(tzinfo=None), "us")
    readings = engine.Readings(patient=np.zeros(len(stored), np.int64),
                               type_index=stored.type_index, measured_at=t, value=stored.value)
    b = engine.evaluate(readings, ThresholdArrays.from_documents([data.thresholds]), mask)
    return PreviewOut(patient_id=patient_id, days=data.days, readings_evaluated=int(mask.sum()),
                      alerts=_episodes(readings, b))


def _episodes(readings: engine.Readings, b: engine.Breaches) -> list[PreviewAlert]:
    alerts = []
    for g in group_breaches(readings, b, split_after=PREVIEW_EPISODE_GAP):
        worst = g.worst
        reason = describe(rule=g.rule, type_=g.type, severity=SEVERITIES[int(b.severity[worst])],
                          metric=float(b.metric[worst]), limit=float(b.limit[worst]),
                          reference=float(b.reference[worst]),
                          symptom=bool(b.symptom[worst] >= 0))
        value = b.metric[worst] if g.rule in (*engine.METRIC_VALUED, "loss_30d") else (
            readings.value[b.reading[worst]])
        alerts.append(PreviewAlert(
            rule=g.rule, type=g.type, severity=g.severity,
            first_measured_at=_aware(g.first_us), last_measured_at=_aware(g.last_us),
            breach_count=len(g.rows), worst_value=float(value),
            reason=reason.text, reason_code=reason.code, reason_params=reason.params))
    alerts.sort(key=lambda a: a.first_measured_at)
    return alerts


def _aware(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1e6, tz=UTC)
