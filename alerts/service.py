"""Alert logic between the engine and the database: evaluate newly committed readings against
their history windows and the patients' current thresholds, and turn breaches into alert lifecycle
steps (open, update, escalate). Never commits: the boundary (ingest hand-off, task, CLI, request)
owns the transaction."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import groupby
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
from psycopg import Connection

from alerts import engine, repository
from alerts.engine import COMBINED_TYPE, RULES, SEVERITIES, Breaches
from alerts.schemas import AlertOut, ThresholdArrays, Thresholds
from core import audit, errors
from core.access import Viewer
from core.measurement_types import TYPE_BY_INDEX
from ingest.schemas import ReadingColumns

log = logging.getLogger(__name__)

SEVERITY_RANK = {"green": 0, "blue": 1, "yellow": 2, "red": 3}
ALERT_TYPES = (*(t.code for t in TYPE_BY_INDEX), COMBINED_TYPE)
"""Alert ``type`` by code: the measurement type's index, or ``N_TYPES`` for the combined rule."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertReading:
    type: str
    measured_at: datetime
    value: float


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertRaise:
    """One (patient, rule, type) worth of breaches from one evaluation."""

    patient_id: int
    rule: str
    type: str
    severity: str
    first_measured_at: datetime | None
    last_measured_at: datetime | None
    value: float | None
    late: bool
    reason: str
    count: int
    threshold_version: int | None
    readings: tuple[AlertReading, ...] = field(default=())


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    evaluated: int = 0
    breaches: int = 0
    opened: int = 0
    updated: int = 0
    escalated: int = 0


def _utc(us: np.int64 | int) -> datetime:
    return datetime.fromtimestamp(int(us) / 1e6, tz=UTC)


def describe(*, rule: str, type_: str, severity: str, metric: float, limit: float,
             reference: float) -> str:
    """The reason a nurse reads: what was measured against which limit."""
    name = {t.code: t.display_en for t in TYPE_BY_INDEX}.get(type_, "SpO2 and pulse")
    unit = {t.code: t.unit for t in TYPE_BY_INDEX}.get(type_, "")
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
    raises = group_breaches(readings, breaches, pids=pids, versions=versions, late=late)
    outcome = raise_alerts(conn, raises)
    return Outcome(evaluated=int(mask.sum()), breaches=len(breaches), opened=outcome.opened,
                   updated=outcome.updated, escalated=outcome.escalated)


def group_breaches(readings: engine.Readings, b: Breaches, *, pids: npt.NDArray[np.int64],
                   versions: npt.NDArray[np.int64], late: npt.NDArray[np.bool_]
                   ) -> list[AlertRaise]:
    """One :class:`AlertRaise` per (patient, rule, alert type): worst severity, first and last
    reading, the latest value, all the readings."""
    if len(b) == 0:
        return []
    n_types = len(TYPE_BY_INDEX)
    patient = readings.patient[b.reading]
    alert_type = np.where(b.rule == engine.COMBINED, n_types,
                          readings.type_index[b.reading].astype(np.int64))
    t = readings.measured_at.astype("datetime64[us]").view(np.int64)
    bt = t[b.reading]
    order = np.lexsort((bt, alert_type, b.rule, patient))
    group_key = np.stack([patient, b.rule.astype(np.int64), alert_type], axis=1)[order]
    starts = np.flatnonzero(np.r_[True, np.any(group_key[1:] != group_key[:-1], axis=1)])
    ends = np.r_[starts[1:], order.size]
    result = []
    for s, e in zip(starts, ends, strict=True):  # one step per alert, not per reading
        rows = order[s:e]
        worst = rows[np.lexsort((bt[rows], b.severity[rows]))[-1]]
        latest = rows[-1]
        rule = RULES[int(b.rule[latest])]
        type_ = ALERT_TYPES[int(alert_type[latest])]
        severity = SEVERITIES[int(b.severity[rows].max())]
        involved = np.r_[b.reading[rows], b.partner[rows][b.partner[rows] >= 0]]
        p = int(patient[latest])
        result.append(AlertRaise(
            patient_id=int(pids[p]), rule=rule, type=type_, severity=severity,
            first_measured_at=_utc(bt[rows[0]]), last_measured_at=_utc(bt[latest]),
            value=float(b.metric[latest] if rule == "combined"
                        else readings.value[b.reading[latest]]),
            late=bool(late[involved].any()),
            reason=describe(rule=rule, type_=type_, severity=SEVERITIES[int(b.severity[worst])],
                            metric=float(b.metric[worst]), limit=float(b.limit[worst]),
                            reference=float(b.reference[worst])),
            count=int(e - s), threshold_version=int(versions[p]),
            readings=tuple(AlertReading(type=TYPE_BY_INDEX[int(readings.type_index[i])].code,
                                        measured_at=_utc(t[i]), value=float(readings.value[i]))
                           for i in np.unique(involved))))
    return result


def raise_alerts(conn: Connection[Any], raises: Sequence[AlertRaise]) -> Outcome:
    """Lifecycle: open an alert per new (patient, rule, type), or update the unresolved one
    (count, latest value, yellow → red escalation, which reopens an acknowledged alert). Readings
    already attached to an alert of the same (patient, rule, type) are not counted again."""
    if not raises:
        return Outcome()
    patient_ids = sorted({r.patient_id for r in raises})
    repository.lock_patients(conn, patient_ids)
    raises = _without_known_readings(conn, raises, patient_ids)
    existing = {(a["patient_id"], a["rule"], a["type"]): a
                for a in repository.unresolved_alerts(conn, patient_ids)}
    events: list[tuple[int, int, str, str]] = []
    reading_rows: list[tuple[int, AlertReading]] = []
    opened = updated = escalated = 0
    for r in raises:  # one step per alert
        old = existing.get((r.patient_id, r.rule, r.type))
        if old is None:
            alert_id = repository.insert_alert(
                conn, patient_id=r.patient_id, rule=r.rule, type_=r.type, severity=r.severity,
                first_measured_at=r.first_measured_at, last_measured_at=r.last_measured_at,
                value=r.value, late=r.late, reason=r.reason, breach_count=r.count,
                threshold_version=r.threshold_version)
            events.append((alert_id, r.patient_id, "opened", r.severity))
            opened += 1
        else:
            alert_id = old["id"]
            escalate = SEVERITY_RANK[r.severity] > SEVERITY_RANK[old["severity"]]
            newer = old["last_measured_at"] is None or (
                r.last_measured_at is not None and r.last_measured_at >= old["last_measured_at"])
            repository.update_alert(
                conn, alert_id=alert_id, severity=r.severity if escalate else old["severity"],
                reopen=escalate,
                first_measured_at=_earliest(old["first_measured_at"], r.first_measured_at),
                last_measured_at=r.last_measured_at if newer else old["last_measured_at"],
                value=r.value if newer else old["value"], late=old["late"] or r.late,
                reason=r.reason if escalate or newer else old["reason"],
                added=r.count)
            event = "escalated" if escalate else "updated"
            events.append((alert_id, r.patient_id, event,
                           r.severity if escalate else old["severity"]))
            escalated += escalate
            updated += not escalate
        reading_rows.extend((alert_id, a) for a in r.readings)
    if reading_rows:
        repository.insert_alert_readings(
            conn, alert_ids=[a for a, _ in reading_rows],
            types=[x.type for _, x in reading_rows],
            measured_at=[x.measured_at for _, x in reading_rows],
            values=[x.value for _, x in reading_rows])
    if events:
        alert_ids, pids, names, severities = (list(c) for c in zip(*events, strict=True))
        repository.insert_alert_events(conn, alert_ids=alert_ids, patient_ids=pids,
                                       events=names, severities=severities)
    return Outcome(opened=opened, updated=updated, escalated=escalated)


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return min(x for x in (a, b) if x is not None) if a or b else None


def _without_known_readings(conn: Connection[Any], raises: Sequence[AlertRaise],
                            patient_ids: list[int]) -> list[AlertRaise]:
    with_readings = [r for r in raises if r.readings]
    if not with_readings:
        return list(raises)
    known = set(repository.alerted_readings(
        conn, patient_ids=patient_ids,
        measured_from=min(x.measured_at for r in with_readings for x in r.readings),
        measured_to=max(x.measured_at for r in with_readings for x in r.readings)))
    kept = []
    for r in raises:
        if r.readings and all((r.patient_id, r.rule, r.type, x.measured_at) in known
                              for x in r.readings if x.type == r.type or r.rule == "combined"):
            continue
        kept.append(r)
    return kept


def recover_one_pending(conn: Connection[Any], *, older_than_seconds: float) -> bool:
    """Evaluate one left-over hand-off row (its gateway died between the ingest commit and the
    alert evaluation); False when none is left."""
    row = repository.claim_leftover_pending(conn, older_than_seconds=older_than_seconds)
    if row is None:
        return False
    evaluate_new(conn, repository.readings_received(
        conn, patient_ids=row["patient_ids"], measured_from=row["first_measured_at"],
        measured_to=row["last_measured_at"], received_from=row["received_from"],
        received_to=row["received_to"]))
    return True


def evaluate_period(conn: Connection[Any], *, measured_from: datetime, measured_to: datetime,
                    patient_id: int | None) -> Outcome:
    """Re-evaluate every reading measured in ``[measured_from, measured_to)`` with the current
    thresholds; readings already attached to alerts change nothing."""
    return evaluate_new(conn, repository.readings_measured(
        conn, measured_from=measured_from, measured_to=measured_to, patient_id=patient_id))


# --- handling by the nursing team ---------------------------------------------------------------

def list_alerts(conn: Connection[Any], viewer: Viewer, *, status: str | None,
                severity: str | None, patient_id: int | None, since: datetime | None,
                cursor: str | None, limit: int) -> tuple[list[AlertOut], str | None]:
    """A page of alerts, newest first, and the cursor of the next page (None at the end)."""
    try:
        before_id = int(cursor) if cursor else None
    except ValueError as exc:
        raise errors.InvalidCursor() from exc
    rows = repository.list_alerts(conn, viewer, status=status, severity=severity,
                                  patient_id=patient_id, since=since, before_id=before_id,
                                  limit=limit + 1)
    page = [AlertOut.model_validate(r) for r in rows[:limit]]
    return page, str(page[-1].id) if len(rows) > limit else None


def handle(conn: Connection[Any], viewer: Viewer, alert_id: int, *, to: str, note: str
           ) -> AlertOut:
    """Acknowledge (from open) or resolve (from open or acknowledged), with an alert event and
    an audit entry. Another team's alert answers 404."""
    row = repository.lock_visible_alert(conn, viewer, alert_id)
    if row is None:
        raise errors.AlertNotFound()
    allowed = {"acknowledged": ("open",), "resolved": ("open", "acknowledged")}[to]
    if row["status"] not in allowed:
        raise errors.AlertStateConflict(f"the alert is {row['status']}; it cannot be {to}")
    updated = repository.set_alert_status(conn, alert_id=alert_id, status=to,
                                          actor_id=viewer.user_id, note=note)
    repository.insert_alert_events(conn, alert_ids=[alert_id], patient_ids=[row["patient_id"]],
                                   events=[to], severities=[row["severity"]],
                                   actor_id=viewer.user_id, note=note)
    audit.record(conn, viewer=viewer, action=f"alert.{to.removesuffix('d')}",
                 entity_type="alert", entity_id=alert_id,
                 detail={"patient_id": row["patient_id"], "note": note,
                         "from": row["status"]})
    return AlertOut.model_validate(updated)


def acknowledge_green(conn: Connection[Any], viewer: Viewer, *, patient_id: int | None,
                      note: str) -> int:
    """Bulk-acknowledge open green alerts, of one patient or of every patient the viewer sees."""
    rows = repository.acknowledge_open_green(conn, viewer, patient_id=patient_id,
                                             actor_id=viewer.user_id, note=note)
    if rows:
        repository.insert_alert_events(
            conn, alert_ids=[r["id"] for r in rows], patient_ids=[r["patient_id"] for r in rows],
            events=["acknowledged"] * len(rows), severities=[r["severity"] for r in rows],
            actor_id=viewer.user_id, note=note)
        audit.record(conn, viewer=viewer, action="alert.bulk_acknowledge", entity_type="alert",
                     entity_id=",".join(str(r["id"]) for r in rows[:50]),
                     detail={"count": len(rows), "patient_id": patient_id, "note": note})
    return len(rows)


# --- missing measurements (blue) ----------------------------------------------------------------

MISSING_LOOKBACK = timedelta(days=7)
"""Deadlines this far back are checked on every run, so that a worker outage is caught up;
deadlines already covered by a 'missing' alert are not counted again."""


def check_missing(conn: Connection[Any], *, now: datetime, timezone: str) -> Outcome:
    """Blue alerts for scheduled measurements not taken by their local deadline: one open alert
    per (patient, type), updated with each further missed deadline."""
    rows = repository.missed_deadlines(conn, since=now - MISSING_LOOKBACK, until=now,
                                       timezone=timezone)
    names = {t.code: t.display_en for t in TYPE_BY_INDEX}
    raises = []
    for (patient_id, type_), group in groupby(rows, key=lambda r: (r["patient_id"], r["type"])):
        deadlines = [r["deadline"] for r in group]  # one step per missed (patient, type)
        local = deadlines[-1].astimezone(ZoneInfo(timezone))
        raises.append(AlertRaise(
            patient_id=patient_id, rule="missing", type=type_, severity="blue",
            first_measured_at=deadlines[0], last_measured_at=deadlines[-1], value=None,
            late=False, count=len(deadlines), threshold_version=None,
            reason=f"No {names.get(type_, type_)} measurement by the deadline"
                   f" {local:%a %d %b %H:%M} ({timezone})"))
    return raise_alerts(conn, raises)
