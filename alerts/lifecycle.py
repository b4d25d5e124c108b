"""The alert lifecycle: alerts opened, updated and escalated from what the evaluation found
(one unresolved alert per patient, rule and type), and their handling by the nursing team
(acknowledge, resolve, list). Never commits: the boundary (ingest hand-off, task, CLI, request)
owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg import Connection

from alerts import repository
from alerts.reasons import Reason
from alerts.schemas import AlertHistoryEntry, AlertOut, AlertReadingOut
from core import audit, errors
from core.access import Viewer
from core.pagination import int_cursor

SEVERITY_RANK = {"green": 0, "blue": 1, "yellow": 2, "red": 3}


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
    reason: Reason
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
    resolved: int = 0
    """Missing-measurement alerts the readings resolved (``KOL_AUTO_RESOLVE_MISSING``)."""


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
                reason=r.reason if escalate or newer else None,
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


# --- handling by the nursing team ---------------------------------------------------------------

def list_alerts(conn: Connection[Any], viewer: Viewer, *, status: str | None,
                severity: str | None, patient_id: int | None, since: datetime | None,
                cursor: str | None, limit: int) -> tuple[list[AlertOut], str | None]:
    """A page of alerts, newest first, and the cursor of the next page (None at the end)."""
    rows = repository.list_alerts(conn, viewer, status=status, severity=severity,
                                  patient_id=patient_id, since=since,
                                  before_id=int_cursor(cursor), limit=limit + 1)
    page = [AlertOut.model_validate(r) for r in rows[:limit]]
    return page, str(page[-1].id) if len(rows) > limit else None


def handle(conn: Connection[Any], viewer: Viewer, alert_id: int, *, to: str, note: str,
           seen_severity: str | None = None, disposition: str | None = None) -> AlertOut:
    """Acknowledge (from open) or resolve (from open or acknowledged), with an alert event and
    an audit entry. A disposition, if given, replaces the alert's earlier one. Another team's
    alert answers 404; an alert that escalated beyond ``seen_severity`` (what the nurse was
    shown) answers 409 ``alert-changed``."""
    row = repository.lock_visible_alert(conn, viewer, alert_id)
    if row is None:
        raise errors.AlertNotFound()
    # Checked under the row lock: an escalation commits either before (refused) or after.
    if (seen_severity is not None
            and SEVERITY_RANK[row["severity"]] > SEVERITY_RANK[seen_severity]):
        raise errors.AlertChanged(severity=row["severity"], seen_severity=seen_severity)
    allowed = {"acknowledged": ("open",), "resolved": ("open", "acknowledged")}[to]
    if row["status"] not in allowed:
        raise errors.AlertStateConflict(f"the alert is {row['status']}; it cannot be {to}")
    updated = repository.set_alert_status(conn, alert_id=alert_id, status=to,
                                          actor_id=viewer.user_id, note=note,
                                          disposition=disposition)
    repository.insert_alert_events(conn, alert_ids=[alert_id], patient_ids=[row["patient_id"]],
                                   events=[to], severities=[row["severity"]],
                                   actor_id=viewer.user_id, note=note, disposition=disposition)
    audit.record(conn, viewer=viewer, action=f"alert.{to.removesuffix('d')}",
                 entity_type="alert", entity_id=alert_id,
                 detail={"patient_id": row["patient_id"], "note": note,
                         "disposition": disposition, "from": row["status"]})
    return AlertOut.model_validate(updated)


def admission_withdrawn(conn: Connection[Any], viewer: Viewer, *, alert_id: int,
                        care_event_id: int) -> None:
    """The admission recorded with this alert's disposition ``admitted`` was withdrawn (she was
    not admitted): the alert no longer says she was, so the reports do not count it. The
    nurse's step keeps, in its alert event, what she said at the time."""
    if repository.clear_admitted_disposition(conn, alert_id=alert_id):
        audit.record(conn, viewer=viewer, action="alert.disposition.cleared",
                     entity_type="alert", entity_id=alert_id,
                     detail={"was": "admitted", "care_event_id": care_event_id})


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


def history(conn: Connection[Any], viewer: Viewer, patient_id: int, *, limit: int
            ) -> list[AlertHistoryEntry]:
    return [AlertHistoryEntry.model_validate(r) for r in repository.patient_alert_history(
        conn, viewer, patient_id=patient_id, limit=limit)]


def alert_readings(conn: Connection[Any], viewer: Viewer, patient_id: int, *,
                   measured_from: datetime) -> list[AlertReadingOut]:
    return [AlertReadingOut.model_validate(r) for r in repository.patient_alert_readings(
        conn, viewer, patient_id=patient_id, measured_from=measured_from)]
