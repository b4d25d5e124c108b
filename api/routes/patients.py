from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from api.deps import AdminViewer, ClinicianViewer, CurrentViewer, DbConn, PatientRead, SettingsDep
from api.params import IdCursor, Limit, ReadingCursor, TextFilter
from api.routes.devices import Broker
from core.inputs import Timestamp
from core.rendering import JsonList
from patients import care_events, consent, diary, service
from patients.schemas import (
    BucketedMeasurement,
    CareEventCorrectionIn,
    CareEventIn,
    CareEventOut,
    CareEventWithdrawIn,
    ConsentIn,
    ConsentOut,
    ConsentWithdrawIn,
    DiaryEntry,
    DischargeIn,
    Measurement,
    PatientCreate,
    PatientEdit,
    PatientOut,
    PatientOverview,
    PauseIn,
    PauseOut,
    ScheduleIn,
    TransferIn,
    TypeCode,
)
from patients.service import Bucket
from tablets import discharge as tablets_discharge

router = APIRouter(prefix="/api/v1/patients", tags=["patients"])


@router.post("", response_model=PatientOut, status_code=status.HTTP_201_CREATED)
def enrol_patient(body: PatientCreate, conn: DbConn, viewer: AdminViewer) -> PatientOut:
    return service.create_patient(conn, viewer, body)


@router.get("", response_model=list[PatientOut])
def list_patients(conn: DbConn, viewer: CurrentViewer, response: Response,
                  team: TextFilter = None, limit: Limit = 100,
                  cursor: IdCursor = None) -> list[PatientOut]:
    """Patients of the viewer's teams by id; the next page's cursor is in ``X-Next-Cursor``."""
    page, next_cursor = service.list_patients(conn, viewer, team=team, cursor=cursor, limit=limit)
    if next_cursor is not None:
        response.headers["X-Next-Cursor"] = next_cursor
    return page


@router.get("/{patient_id}", response_model=PatientOverview)
def patient_overview(patient_id: int, conn: DbConn, viewer: CurrentViewer, read: PatientRead,
                     settings: SettingsDep) -> PatientOverview:
    overview = service.overview(
        conn, viewer, patient_id, now=datetime.now(UTC),
        offline_after=timedelta(minutes=settings.device_offline_after_minutes))
    read(patient_id, "overview")
    return overview


@router.patch("/{patient_id}", response_model=PatientOut)
def edit_patient(patient_id: int, body: PatientEdit, conn: DbConn, viewer: CurrentViewer
                 ) -> PatientOut:
    """Name, phone, contact person, GP, notes: any member of her team (audited)."""
    return service.edit(conn, viewer, patient_id, body)


@router.put("/{patient_id}/schedule", response_model=PatientOut)
def change_schedule(patient_id: int, body: ScheduleIn, conn: DbConn, viewer: ClinicianViewer
                    ) -> PatientOut:
    """When she measures what: a clinician's decision (audited)."""
    return service.change_schedule(conn, viewer, patient_id, body)


@router.post("/{patient_id}/transfer", response_model=PatientOut)
def transfer_patient(patient_id: int, body: TransferIn, conn: DbConn, viewer: AdminViewer
                     ) -> PatientOut:
    """To another existing team, with her history (audited)."""
    return service.transfer(conn, viewer, patient_id, body)


@router.post("/{patient_id}/discharge", response_model=PatientOut)
def discharge_patient(patient_id: int, body: DischargeIn, conn: DbConn, viewer: AdminViewer,
                      broker: Broker) -> PatientOut:
    """End her monitoring: alerts and schedule stop, her tablets are deactivated, her history
    stays (audited)."""
    return tablets_discharge.discharge(conn, viewer=viewer, broker=broker, patient_id=patient_id,
                                       data=body, now=datetime.now(UTC))


@router.post("/{patient_id}/consents", response_model=ConsentOut,
             status_code=status.HTTP_201_CREATED)
def give_consent(patient_id: int, body: ConsentIn, conn: DbConn, viewer: CurrentViewer
                 ) -> ConsentOut:
    """Record a consent the citizen gave (any member of her team; audited). A standing consent
    of the same scope is replaced: withdrawn on the new one's day, both kept."""
    return consent.record(conn, viewer, patient_id, body, now=datetime.now(UTC))


@router.post("/{patient_id}/consents/{consent_id}/withdraw", response_model=ConsentOut)
def withdraw_consent(patient_id: int, consent_id: int, body: ConsentWithdrawIn, conn: DbConn,
                     viewer: CurrentViewer, broker: Broker) -> ConsentOut:
    """Record that she withdrew a consent (audited). Withdrawing the consent to telemonitoring
    discharges her as ``…/discharge`` does (her tablets are deactivated, her history stays);
    withdrawing a consent to share stops the FHIR export to that recipient."""
    return tablets_discharge.withdraw_consent(conn, viewer=viewer, broker=broker,
                                              patient_id=patient_id, consent_id=consent_id,
                                              data=body, now=datetime.now(UTC))


@router.post("/{patient_id}/care-events", response_model=CareEventOut,
             status_code=status.HTTP_201_CREATED)
def record_care_event(patient_id: int, body: CareEventIn, conn: DbConn, viewer: CurrentViewer
                      ) -> CareEventOut:
    """An acute admission, a discharge, an emergency-department or outpatient visit (audited).
    An admission pauses her monitoring (at most 90 days; the pause is in the answer's
    ``pause_id``); the next discharge recorded after it ends that pause."""
    return care_events.record(conn, viewer, patient_id, body, now=datetime.now(UTC))


@router.post("/{patient_id}/care-events/{event_id}/withdraw", response_model=CareEventOut)
def withdraw_care_event(patient_id: int, event_id: int, body: CareEventWithdrawIn,
                        conn: DbConn, viewer: CurrentViewer) -> CareEventOut:
    """Withdraw a care event recorded by mistake, with the reason (any member of her team;
    audited). It is kept, stamped, and counts in no outcome. A withdrawn admission's pause is
    removed; a withdrawn discharge leaves its admission open again (its pause restored)."""
    return care_events.withdraw(conn, viewer, patient_id, event_id, body, now=datetime.now(UTC))


@router.post("/{patient_id}/care-events/{event_id}/correct", response_model=CareEventOut,
             status_code=status.HTTP_201_CREATED)
def correct_care_event(patient_id: int, event_id: int, body: CareEventCorrectionIn,
                       conn: DbConn, viewer: CurrentViewer) -> CareEventOut:
    """Correct a care event: withdraw it with ``withdrawal_reason`` and record the body in its
    place, in one transaction (audited). The answer is the new event, whose ``replaces_id``
    names the old one."""
    return care_events.correct(conn, viewer, patient_id, event_id, body, now=datetime.now(UTC))


@router.post("/{patient_id}/pauses/{pause_id}/end", status_code=status.HTTP_204_NO_CONTENT)
def end_pause(patient_id: int, pause_id: int, conn: DbConn, viewer: CurrentViewer) -> Response:
    """End a current pause now (a future one is removed)."""
    service.end_pause(conn, viewer, patient_id, pause_id, now=datetime.now(UTC))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{patient_id}/pauses", response_model=PauseOut,
             status_code=status.HTTP_201_CREATED)
def add_pause(patient_id: int, body: PauseIn, conn: DbConn, viewer: CurrentViewer) -> PauseOut:
    """Holiday, hospital stay: no missing-measurement alerts inside the interval."""
    return service.add_pause(conn, viewer, patient_id, body)


@router.delete("/{patient_id}/pauses/{pause_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_pause(patient_id: int, pause_id: int, conn: DbConn, viewer: CurrentViewer) -> Response:
    service.remove_pause(conn, viewer, patient_id, pause_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


_READINGS = JsonList(Measurement)


@router.get("/{patient_id}/measurements",
            response_model=list[Measurement] | list[BucketedMeasurement])
def measurements(
    patient_id: int, conn: DbConn, viewer: CurrentViewer, read: PatientRead,
    type: TypeCode | None = None,  # noqa: A002 - the contract's parameter name
    from_: Annotated[Timestamp | None, Query(alias="from")] = None,
    to: Timestamp | None = None,
    bucket: Bucket | None = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
    cursor: ReadingCursor = None,
) -> Response:
    """Raw readings ascending by ``measured_at`` (paginated, ``X-Next-Cursor``), or with
    ``bucket`` the min, max, mean and count per hour or UTC day (``time_bucket``), of the
    readings measured in ``[from, to)``: ``to`` defaults to now, ``from`` to 30 days before
    ``to``; ``to`` must be after ``from`` (422 ``invalid-range``)."""
    now = datetime.now(UTC)
    if bucket is not None:
        body = service.bucketed(
            conn, viewer, patient_id, type_=type, measured_from=from_, measured_to=to,
            bucket=bucket, now=now)
        read(patient_id, "measurements", type=type, bucket=bucket, **{"from": from_, "to": to})
        return Response(body, media_type="application/json")
    page, next_cursor = service.measurements(
        conn, viewer, patient_id, type_=type, measured_from=from_, measured_to=to,
        cursor=cursor, limit=limit, now=now)
    read(patient_id, "measurements", type=type, cursor=cursor, **{"from": from_, "to": to})
    return Response(_READINGS.render(page), media_type="application/json",
                    headers={"X-Next-Cursor": next_cursor} if next_cursor else None)


@router.get("/{patient_id}/diary", response_model=list[DiaryEntry])
def patient_diary(patient_id: int, conn: DbConn, viewer: CurrentViewer, read: PatientRead,
                  limit: Limit = 14) -> list[DiaryEntry]:
    """Her last ``limit`` symptom diaries (``kol-symptoms-v1``), newest first, each symptom with
    its Danish and English label, and her free text."""
    entries = diary.recent(conn, viewer, patient_id, limit=limit)
    read(patient_id, "diary", limit=limit)
    return entries
