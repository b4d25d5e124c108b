"""Patients: enrolment, the overview a nurse opens, pause intervals and measurements. Services
never commit; the request owns the transaction."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from psycopg import Connection

from alerts import thresholds as alert_thresholds
from alerts.schemas import AlertOut
from core import audit, errors
from core.access import Viewer
from core.measurement_types import MEASUREMENT_TYPES
from core.pagination import int_cursor, parse_reading_cursor, reading_cursor
from patients import repository
from patients.schemas import (
    CareEventOut,
    ConsentOut,
    DeviceSummary,
    DischargeIn,
    LatestReading,
    PatientCreate,
    PatientDetails,
    PatientEdit,
    PatientOut,
    PatientOverview,
    PauseIn,
    PauseOut,
    ScheduleIn,
    TransferIn,
)
from users import repository as users_repository

Bucket = Literal["1h", "1d"]
BUCKET_WIDTH: dict[str, str] = {"1h": "1 hour", "1d": "1 day"}
DEFAULT_SPAN = timedelta(days=30)
RECENT_CARE_EVENTS = 50


def _patient_out(row: dict[str, Any]) -> PatientOut:
    return PatientOut.model_validate(row)


def require_patient(conn: Connection[Any], viewer: Viewer, patient_id: int) -> dict[str, Any]:
    """The patient if the viewer's teams include it; 404 otherwise (never 403: another team's
    patients are not to be known to exist)."""
    row = repository.get_patient(conn, viewer, patient_id)
    if row is None:
        raise errors.PatientNotFound()
    return row


def create_patient(conn: Connection[Any], viewer: Viewer, data: PatientCreate) -> PatientOut:
    if not repository.profile_exists(conn, data.profile):
        raise errors.UnknownProfile(f"no profile {data.profile!r}")
    team_id = users_repository.team_id(conn, data.team)
    if team_id is None:
        # A new team: its first member is the admin who enrols into it, so that she sees the
        # patient she has just enrolled.
        team_id = users_repository.get_or_create_team(conn, data.team)
        if not viewer.platform and viewer.user_id is not None:
            users_repository.add_user_to_team(conn, viewer.user_id, team_id)
            viewer = replace(viewer, team_ids=(*viewer.team_ids, team_id))
        audit.record(conn, viewer=viewer, action="team.create", entity_type="team",
                     entity_id=team_id, detail={"name": data.team})
    elif not viewer.platform and team_id not in viewer.team_ids:
        raise errors.NotTeamMember(f"you are not a member of the team {data.team!r}")
    patient_id = repository.insert_patient(
        conn, display_name=data.display_name, team_id=team_id, profile=data.profile,
        schedule=data.schedule.model_dump(),
        details=PatientDetails.model_validate(data.model_dump(
            include=set(PatientDetails.model_fields))).model_dump(),
        admissions_before=data.admissions_before)
    repository.copy_profile_thresholds(conn, patient_id=patient_id, profile=data.profile,
                                       changed_by=viewer.user_id)
    # One consent per scope: the last one given for a scope stands.
    consents = {c.scope: c for c in data.consents}
    for consent in consents.values():
        repository.insert_consent(conn, patient_id=patient_id, scope=consent.scope,
                                  given_on=consent.given_on, note=consent.note,
                                  recorded_by=viewer.user_id)
    audit.record(conn, viewer=viewer, action="patient.enrol", entity_type="patient",
                 entity_id=patient_id, detail={
                     "team": data.team, "profile": data.profile,
                     "schedule": data.schedule.model_dump(),
                     "consents": {c.scope: c.given_on.isoformat() for c in consents.values()},
                     "admissions_before": data.admissions_before})
    row = repository.get_patient(conn, viewer, patient_id)
    assert row is not None, "the patient was inserted in this transaction"
    return _patient_out(row)


def list_patients(conn: Connection[Any], viewer: Viewer, *, team: str | None,
                  cursor: str | None, limit: int) -> tuple[list[PatientOut], str | None]:
    after = int_cursor(cursor)
    rows = repository.list_patients(conn, viewer, team=team, after_id=after, limit=limit + 1)
    page = [_patient_out(r) for r in rows[:limit]]
    return page, str(page[-1].id) if len(rows) > limit else None


def _device(row: dict[str, Any], *, now: datetime, offline_after: timedelta) -> DeviceSummary:
    heard = max((t for t in (row["status_at"], row["last_seen_at"]) if t is not None),
                default=None)
    said_online = (row["status"] or {}).get("state") == "online"
    connection = "unknown" if heard is None else \
        "online" if said_online and now - heard <= offline_after else "offline"
    return DeviceSummary.model_validate({**row, "connection": connection})


def overview(conn: Connection[Any], viewer: Viewer, patient_id: int, *, now: datetime,
             offline_after: timedelta) -> PatientOverview:
    """``offline_after``: a device silent for longer is shown offline."""
    patient = require_patient(conn, viewer, patient_id)
    latest = [LatestReading(unit=MEASUREMENT_TYPES[r["type"]].unit, **r)
              for r in repository.latest_readings(conn, viewer, patient_id,
                                                  list(MEASUREMENT_TYPES))]
    return PatientOverview(
        **_patient_out(patient).model_dump(),
        latest_readings=latest,
        open_alerts=[AlertOut.model_validate(r)
                     for r in repository.unresolved_alerts(conn, viewer, patient_id)],
        thresholds=alert_thresholds.latest_version(conn, viewer, patient_id),
        devices=[_device(r, now=now, offline_after=offline_after)
                 for r in repository.devices(conn, viewer, patient_id)],
        pauses=[PauseOut.model_validate(r)
                for r in repository.pauses(conn, viewer, patient_id, ending_after=now)],
        consents=[ConsentOut.model_validate(r)
                  for r in repository.consents(conn, viewer, patient_id)],
        care_events=[CareEventOut.model_validate(r)
                     for r in repository.care_events(conn, viewer, patient_id,
                                                     limit=RECENT_CARE_EVENTS)],
    )


def add_pause(conn: Connection[Any], viewer: Viewer, patient_id: int, data: PauseIn) -> PauseOut:
    require_patient(conn, viewer, patient_id)
    row = repository.insert_pause(conn, patient_id=patient_id, starts_at=data.starts_at,
                                  ends_at=data.ends_at, reason=data.reason,
                                  created_by=viewer.user_id)
    audit.record(conn, viewer=viewer, action="patient.pause.add", entity_type="patient",
                 entity_id=patient_id, detail={"pause_id": row["id"], "reason": data.reason,
                                               "starts_at": data.starts_at.isoformat(),
                                               "ends_at": data.ends_at.isoformat()})
    return PauseOut.model_validate(row)


def remove_pause(conn: Connection[Any], viewer: Viewer, patient_id: int, pause_id: int) -> None:
    require_patient(conn, viewer, patient_id)
    row = repository.delete_pause(conn, patient_id=patient_id, pause_id=pause_id)
    if row is None:
        raise errors.PauseNotFound()
    audit.record(conn, viewer=viewer, action="patient.pause.remove", entity_type="patient",
                 entity_id=patient_id, detail={"pause_id": pause_id, "reason": row["reason"]})


def edit(conn: Connection[Any], viewer: Viewer, patient_id: int, data: PatientEdit
         ) -> PatientOut:
    """Name and details; who changed what is audited (the old and new values)."""
    before = require_patient(conn, viewer, patient_id)
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items()
               if v is not None and v != before[k]}
    if changes:
        repository.update_patient(conn, patient_id, changes)
        audit.record(conn, viewer=viewer, action="patient.edit", entity_type="patient",
                     entity_id=patient_id,
                     detail={k: {"old": before[k], "new": v} for k, v in changes.items()})
    return _patient_out(require_patient(conn, viewer, patient_id))


def change_schedule(conn: Connection[Any], viewer: Viewer, patient_id: int, data: ScheduleIn
                    ) -> PatientOut:
    before = require_patient(conn, viewer, patient_id)
    schedule = data.schedule.model_dump()
    repository.update_patient(conn, patient_id, {"schedule": schedule})
    audit.record(conn, viewer=viewer, action="patient.schedule", entity_type="patient",
                 entity_id=patient_id, detail={"old": before["schedule"], "new": schedule})
    return _patient_out(require_patient(conn, viewer, patient_id))


def transfer(conn: Connection[Any], viewer: Viewer, patient_id: int, data: TransferIn
             ) -> PatientOut:
    """Move the patient to another existing team, with everything she has. The admin need not
    belong to the receiving team (a hand-over), and then no longer sees her."""
    before = require_patient(conn, viewer, patient_id)
    team_id = users_repository.team_id(conn, data.team)
    if team_id is None:
        raise errors.TeamNotFound(f"no team {data.team!r}")
    repository.update_patient(conn, patient_id, {"team_id": team_id})
    audit.record(conn, viewer=viewer, action="patient.transfer", entity_type="patient",
                 entity_id=patient_id, detail={"from": before["team"], "to": data.team,
                                               "reason": data.reason})
    return _patient_out(require_patient(conn, replace(viewer, team_ids=(
        *viewer.team_ids, team_id)), patient_id))


def discharge(conn: Connection[Any], viewer: Viewer, patient_id: int, data: DischargeIn, *,
              now: datetime) -> PatientOut:
    """End the monitoring: no more evaluation, missing-measurement alerts or triage row; her
    readings, alerts and versions stay. Her tablets are not touched here:
    ``tablets.discharge.discharge`` is the one step that also deactivates them."""
    before = require_patient(conn, viewer, patient_id)
    if not before["active"]:
        raise errors.PatientDischarged()
    repository.update_patient(conn, patient_id, {"active": False, "discharged_at": now})
    audit.record(conn, viewer=viewer, action="patient.discharge", entity_type="patient",
                 entity_id=patient_id, detail={"reason": data.reason})
    return _patient_out(require_patient(conn, viewer, patient_id))


def end_pause(conn: Connection[Any], viewer: Viewer, patient_id: int, pause_id: int, *,
              now: datetime) -> None:
    """End a current pause now (monitoring resumes); one that has not begun is removed."""
    require_patient(conn, viewer, patient_id)
    row = repository.end_pause(conn, patient_id=patient_id, pause_id=pause_id, at=now)
    if row is None:
        if repository.pause_exists(conn, patient_id=patient_id, pause_id=pause_id):
            raise errors.PauseEnded()
        raise errors.PauseNotFound()
    audit.record(conn, viewer=viewer, action="patient.pause.end", entity_type="patient",
                 entity_id=patient_id, detail={"pause_id": pause_id, "reason": row["reason"],
                                               "ended_at": now.isoformat()})


def measured_span(measured_from: datetime | None, measured_to: datetime | None, *,
                  now: datetime, longest: timedelta | None = None) -> tuple[datetime, datetime]:
    """``[from, to)``: ``to`` defaults to now, ``from`` to 30 days before ``to`` (or the
    earliest time there is)."""
    end = measured_to or now
    try:
        start = measured_from or end - DEFAULT_SPAN
    except OverflowError:
        start = datetime.min.replace(tzinfo=UTC)
    if end <= start:
        raise errors.InvalidRange()
    if longest is not None and end - start > longest:
        raise errors.RangeTooLong(f"at most {longest.days} days at a time")
    return start, end


def measurements(conn: Connection[Any], viewer: Viewer, patient_id: int, *, type_: str | None,
                 measured_from: datetime | None, measured_to: datetime | None,
                 cursor: str | None, limit: int, now: datetime
                 ) -> tuple[list[dict[str, Any]], str | None]:
    require_patient(conn, viewer, patient_id)
    start, end = measured_span(measured_from, measured_to, now=now)
    rows = repository.raw_measurements(conn, viewer, patient_id=patient_id, types=_types(type_),
                                       measured_from=start, measured_to=end,
                                       after=parse_reading_cursor(cursor), limit=limit + 1)
    page = rows[:limit]
    return page, reading_cursor(page[-1]) if len(rows) > limit else None


def bucketed(conn: Connection[Any], viewer: Viewer, patient_id: int, *, type_: str | None,
             measured_from: datetime | None, measured_to: datetime | None, bucket: Bucket,
             now: datetime) -> bytes:
    """The buckets as a JSON array of ``BucketedMeasurement``."""
    require_patient(conn, viewer, patient_id)
    start, end = measured_span(measured_from, measured_to, now=now)
    return repository.bucketed_measurements_json(
        conn, viewer, patient_id=patient_id, types=_types(type_), measured_from=start,
        measured_to=end, bucket=BUCKET_WIDTH[bucket])


def _types(type_: str | None) -> list[str]:
    if type_ is None:
        return list(MEASUREMENT_TYPES)
    if type_ not in MEASUREMENT_TYPES:
        raise errors.UnknownType(f"no measurement type {type_!r}")
    return [type_]
