"""Hospital contacts the nurses record (issue #19): acute admissions and their discharges,
emergency-department and outpatient visits. An admission pauses the monitoring (the existing
pause intervals: no missing-measurement alerts) for at most ``MAX_PAUSE``, and the discharge
recorded after it ends that pause."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from psycopg import Connection

from core import audit
from core.access import Viewer
from patients import repository
from patients.schemas import MAX_PAUSE, CareEventIn, CareEventOut
from patients.service import require_patient


def record(conn: Connection[Any], viewer: Viewer, patient_id: int, data: CareEventIn, *,
           now: datetime, alert_id: int | None = None) -> CareEventOut:
    require_patient(conn, viewer, patient_id)
    at = data.occurred_at or now
    pause_id = admission_id = None
    if data.kind == "admission":
        try:
            ends = at + MAX_PAUSE
        except OverflowError:  # an admission dated at the end of time: pause to that end
            ends = datetime.max.replace(tzinfo=UTC)
        pause_id = repository.insert_pause(
            conn, patient_id=patient_id, starts_at=at, ends_at=ends,
            # Shown as written on the Danish patient page, like the pauses nurses type.
            reason=f"Indlagt{f': {data.hospital}' if data.hospital else ''}",
            created_by=viewer.user_id)["id"]
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
        admission_id=admission_id, recorded_by=viewer.user_id)
    audit.record(conn, viewer=viewer, action=f"patient.care_event.{data.kind}",
                 entity_type="patient", entity_id=patient_id,
                 detail={"care_event_id": event_id, "occurred_at": at.isoformat(),
                         "hospital": data.hospital, "reason": data.reason,
                         "alert_id": alert_id, "pause_id": pause_id,
                         "admission_id": admission_id})
    return _one(conn, viewer, patient_id, event_id)


def _one(conn: Connection[Any], viewer: Viewer, patient_id: int, event_id: int) -> CareEventOut:
    [row] = repository.care_events(conn, viewer, patient_id, limit=1, event_id=event_id)
    return CareEventOut.model_validate(row)
