"""Hospital contacts the nurses record (issue #19): acute admissions and their discharges,
emergency-department and outpatient visits. An admission pauses the monitoring (the existing
pause intervals: no missing-measurement alerts) for at most ``MAX_PAUSE``, and the discharge
recorded after it ends that pause.

An event recorded by mistake is withdrawn with a reason, or corrected: withdrawn and replaced by
a new event that names it, in one transaction. Like a withdrawn consent it stays, stamped; the
outcomes count standing events only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from psycopg import Connection

from alerts import lifecycle
from core import audit, errors
from core.access import Viewer
from patients import repository
from patients.schemas import (
    MAX_PAUSE,
    CareEventCorrectionIn,
    CareEventIn,
    CareEventOut,
    CareEventWithdrawIn,
)
from patients.service import require_patient


def record(conn: Connection[Any], viewer: Viewer, patient_id: int, data: CareEventIn, *,
           now: datetime, alert_id: int | None = None, replaces_id: int | None = None
           ) -> CareEventOut:
    require_patient(conn, viewer, patient_id)
    at = data.occurred_at or now
    pause_id = admission_id = None
    if data.kind == "admission":
        pause_id = _open_pause(conn, viewer, patient_id, at=at, hospital=data.hospital)
    elif data.kind == "discharge":
        admission = repository.open_admission(conn, patient_id=patient_id, before=at)
        if admission is not None:
            admission_id = admission["id"]
            if admission["pause_id"] is not None:
                # Ends the pause at the discharge (removed if the discharge precedes it).
                repository.end_pause(conn, patient_id=patient_id,
                                     pause_id=admission["pause_id"], at=at)
    event_id = repository.insert_care_event(
        conn, patient_id=patient_id, kind=data.kind, occurred_at=at, hospital=data.hospital,
        reason=data.reason, note=data.note, alert_id=alert_id, pause_id=pause_id,
        admission_id=admission_id, replaces_id=replaces_id, recorded_by=viewer.user_id)
    audit.record(conn, viewer=viewer, action=f"patient.care_event.{data.kind}",
                 entity_type="patient", entity_id=patient_id,
                 detail={"care_event_id": event_id, "occurred_at": at.isoformat(),
                         "hospital": data.hospital, "reason": data.reason,
                         "alert_id": alert_id, "pause_id": pause_id,
                         "admission_id": admission_id, "replaces_id": replaces_id})
    return _one(conn, viewer, patient_id, event_id)


def withdraw(conn: Connection[Any], viewer: Viewer, patient_id: int, event_id: int,
             data: CareEventWithdrawIn, *, now: datetime) -> CareEventOut:
    require_patient(conn, viewer, patient_id)
    row = _withdraw(conn, viewer, patient_id, event_id, reason=data.withdrawal_reason, now=now,
                    correction=False)
    if row["kind"] == "admission" and row["alert_id"] is not None:
        lifecycle.admission_withdrawn(conn, viewer, alert_id=row["alert_id"],
                                      care_event_id=event_id)
    return _one(conn, viewer, patient_id, event_id)


def correct(conn: Connection[Any], viewer: Viewer, patient_id: int, event_id: int,
            data: CareEventCorrectionIn, *, now: datetime) -> CareEventOut:
    """Withdraw the event and record ``data`` in its place; the answer is the new event. An
    admission's discharge follows it to the corrected admission if it is still after it."""
    require_patient(conn, viewer, patient_id)
    old = _withdraw(conn, viewer, patient_id, event_id, reason=data.withdrawal_reason, now=now,
                    correction=True)
    new = record(conn, viewer, patient_id, data, now=now, alert_id=old["alert_id"],
                 replaces_id=event_id)
    if old["kind"] == "admission" and new.kind != "admission" and old["alert_id"] is not None:
        lifecycle.admission_withdrawn(conn, viewer, alert_id=old["alert_id"],
                                      care_event_id=event_id)
    discharge_id = old["discharge_id"]
    if new.kind == "admission" and discharge_id is not None:
        discharge = repository.standing_care_event(conn, patient_id=patient_id,
                                                   event_id=discharge_id)
        if discharge is not None and discharge["occurred_at"] >= new.occurred_at:
            repository.set_care_event_links(conn, event_id=discharge_id, admission_id=new.id)
            assert new.pause_id is not None
            repository.end_pause(conn, patient_id=patient_id, pause_id=new.pause_id,
                                 at=discharge["occurred_at"])
            audit.record(conn, viewer=viewer, action="patient.care_event.relink",
                         entity_type="patient", entity_id=patient_id,
                         detail={"care_event_id": discharge_id, "admission_id": new.id,
                                 "was_admission_id": event_id})
            return _one(conn, viewer, patient_id, new.id)
    return new


def _withdraw(conn: Connection[Any], viewer: Viewer, patient_id: int, event_id: int, *,
              reason: str, now: datetime, correction: bool) -> dict[str, Any]:
    row = repository.withdraw_care_event(conn, patient_id=patient_id, event_id=event_id,
                                         reason=reason, by=viewer.user_id, at=now)
    if row is None:
        raise errors.CareEventNotFound()
    removed_pause = reopened = None
    if row["kind"] == "admission" and row["pause_id"] is not None:
        # She was not admitted: a pause left standing would hide missed measurements from the
        # alerts and from the adherence figure.
        removed_pause = repository.delete_pause(conn, patient_id=patient_id,
                                                pause_id=row["pause_id"])
    elif row["kind"] == "discharge" and row["admission_id"] is not None:
        reopened = _reopen(conn, viewer, patient_id, row["admission_id"])
    audit.record(conn, viewer=viewer, action="patient.care_event.withdraw",
                 entity_type="patient", entity_id=patient_id,
                 detail={"care_event_id": event_id, "kind": row["kind"],
                         "occurred_at": row["occurred_at"].isoformat(),
                         "withdrawal_reason": reason, "correction": correction,
                         "removed_pause": None if removed_pause is None else {
                             "id": removed_pause["id"],
                             "starts_at": removed_pause["starts_at"].isoformat(),
                             "ends_at": removed_pause["ends_at"].isoformat()},
                         "reopened_admission_id": reopened})
    return row


def _reopen(conn: Connection[Any], viewer: Viewer, patient_id: int, admission_id: int
            ) -> int | None:
    """A withdrawn discharge leaves its admission open again: its pause runs to the admission's
    longest again (restored if the discharge had removed it), until a discharge ends it."""
    admission = repository.standing_care_event(conn, patient_id=patient_id, event_id=admission_id)
    if admission is None:
        return None
    pause_id = admission["pause_id"]
    if pause_id is None or not repository.extend_pause(
            conn, patient_id=patient_id, pause_id=pause_id,
            ends_at=_pause_end(admission["occurred_at"])):
        pause_id = _open_pause(conn, viewer, patient_id, at=admission["occurred_at"],
                               hospital=admission["hospital"])
        repository.set_care_event_links(conn, event_id=admission_id, pause_id=pause_id)
    return admission_id


def _pause_end(at: datetime) -> datetime:
    try:
        return at + MAX_PAUSE
    except OverflowError:  # an admission dated at the end of time: pause to that end
        return datetime.max.replace(tzinfo=UTC)


def _open_pause(conn: Connection[Any], viewer: Viewer, patient_id: int, *, at: datetime,
                hospital: str) -> int:
    pause: int = repository.insert_pause(
        conn, patient_id=patient_id, starts_at=at, ends_at=_pause_end(at),
        # Shown as written on the Danish patient page, like the pauses nurses type.
        reason=f"Indlagt{f': {hospital}' if hospital else ''}",
        created_by=viewer.user_id)["id"]
    return pause


def _one(conn: Connection[Any], viewer: Viewer, patient_id: int, event_id: int) -> CareEventOut:
    [row] = repository.care_events(conn, viewer, patient_id, limit=1, event_id=event_id)
    return CareEventOut.model_validate(row)
