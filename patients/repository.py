"""SQL of the patient domain. Every read of a patient's data is scoped to the viewer's teams in
the statement itself (:func:`core.access.visible_patients`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from psycopg import Connection, sql
from psycopg.types.json import Jsonb

from alerts.schemas import AlertOut
from core.access import Viewer, visible_patients
from core.db import all_of

_PATIENT = ("p.id, p.display_name, t.name as team, p.team_id, p.profile, p.schedule, p.active,"
            " p.created_at, p.phone, p.contact_person, p.contact_phone, p.gp, p.notes,"
            " p.discharged_at, p.admissions_before")
_ALERT_FIELDS = ", ".join(f"a.{name}" for name in AlertOut.model_fields)


def profile_exists(conn: Connection[Any], name: str) -> bool:
    return conn.execute("select 1 from profiles where name = %s", (name,)).fetchone() is not None


def insert_patient(conn: Connection[Any], *, display_name: str, team_id: int, profile: str,
                   schedule: dict[str, Any], details: dict[str, str],
                   admissions_before: int | None = None) -> int:
    row = conn.execute(
        "insert into patients (display_name, team_id, profile, schedule, phone, contact_person,"
        " contact_phone, gp, notes, admissions_before) values (%(name)s, %(team)s, %(profile)s,"
        " %(schedule)s, %(phone)s, %(contact_person)s, %(contact_phone)s, %(gp)s, %(notes)s,"
        " %(before)s) returning id",
        {"name": display_name, "team": team_id, "profile": profile,
         "schedule": Jsonb(schedule), "before": admissions_before, **details}).fetchone()
    assert row is not None
    return int(row["id"])


_EDITABLE = ("display_name", "phone", "contact_person", "contact_phone", "gp", "notes")


def update_patient(conn: Connection[Any], patient_id: int, changes: dict[str, Any]) -> None:
    """Set the given columns (names from a fixed list, values as parameters)."""
    assert set(changes) <= {*_EDITABLE, "schedule", "team_id", "active", "discharged_at"}
    conn.execute(sql.SQL("update patients set {} where id = %(id)s").format(
        sql.SQL(", ").join(sql.SQL("{} = {}").format(sql.Identifier(k), sql.Placeholder(k))
                           for k in changes)),
        {**{k: Jsonb(v) if k == "schedule" else v for k, v in changes.items()},
         "id": patient_id})


def end_pause(conn: Connection[Any], *, patient_id: int, pause_id: int, at: datetime
              ) -> dict[str, Any] | None:
    """End a current pause at ``at``; a pause that has not begun is removed."""
    row: dict[str, Any] | None = conn.execute(
        "with ended as (update patient_pauses set ends_at = %(at)s where id = %(id)s"
        "  and patient_id = %(patient)s and starts_at < %(at)s and ends_at > %(at)s"
        "  returning id, starts_at, ends_at, reason),"
        " dropped as (delete from patient_pauses where id = %(id)s and patient_id = %(patient)s"
        "  and starts_at >= %(at)s returning id, starts_at, ends_at, reason)"
        " select * from ended union all select * from dropped",
        {"at": at, "id": pause_id, "patient": patient_id}).fetchone()
    return row


def pause_exists(conn: Connection[Any], *, patient_id: int, pause_id: int) -> bool:
    return conn.execute("select 1 from patient_pauses where id = %s and patient_id = %s",
                        (pause_id, patient_id)).fetchone() is not None


def copy_profile_thresholds(conn: Connection[Any], *, patient_id: int, profile: str,
                            changed_by: int | None) -> None:
    """Enrolment: version 1 of the patient's thresholds is a copy of the profile's."""
    conn.execute(
        "insert into threshold_versions (patient_id, version, thresholds, changed_by, reason)"
        " select %s, 1, thresholds, %s, 'enrolment: copy of profile ' || name"
        " from profiles where name = %s", (patient_id, changed_by, profile))


def get_patient(conn: Connection[Any], viewer: Viewer, patient_id: int) -> dict[str, Any] | None:
    return conn.execute(sql.SQL(
        "select {fields} from patients p join teams t on t.id = p.team_id"
        " where p.id = %(id)s and {visible}").format(
            fields=sql.SQL(_PATIENT), visible=visible_patients(viewer)),
        {"id": patient_id}).fetchone()


def list_patients(conn: Connection[Any], viewer: Viewer, *, team: str | None,
                  after_id: int | None, limit: int) -> list[dict[str, Any]]:
    where = all_of(visible_patients(viewer),
                   sql.SQL("t.name = %(team)s") if team is not None else None,
                   sql.SQL("p.id > %(after)s") if after_id is not None else None)
    return conn.execute(sql.SQL(
        "select {fields} from patients p join teams t on t.id = p.team_id where {where}"
        " order by p.id limit %(limit)s").format(fields=sql.SQL(_PATIENT), where=where),
        {"team": team, "after": after_id, "limit": limit}).fetchall()


def latest_readings(conn: Connection[Any], viewer: Viewer, patient_id: int, types: list[str]
                    ) -> list[dict[str, Any]]:
    """The newest reading of each type; one index probe per type on the readings key."""
    return conn.execute(sql.SQL(
        "select r.type, r.value, r.measured_at, r.late from patients p"
        " cross join unnest(%(types)s::text[]) as t(type)"
        " cross join lateral (select type, value, measured_at, late from readings"
        "   where patient_id = p.id and type = t.type order by measured_at desc limit 1) r"
        " where p.id = %(patient)s and {visible}").format(visible=visible_patients(viewer)),
        {"types": types, "patient": patient_id}).fetchall()


def unresolved_alerts(conn: Connection[Any], viewer: Viewer, patient_id: int
                      ) -> list[dict[str, Any]]:
    return conn.execute(sql.SQL(
        "select {fields} from alerts a join patients p on p.id = a.patient_id"
        " where a.patient_id = %(patient)s and a.status <> 'resolved' and {visible}"
        " order by array_position(array['red', 'yellow', 'blue', 'green'], a.severity),"
        " a.opened_at").format(fields=sql.SQL(_ALERT_FIELDS), visible=visible_patients(viewer)),
        {"patient": patient_id}).fetchall()


def devices(conn: Connection[Any], viewer: Viewer, patient_id: int) -> list[dict[str, Any]]:
    return conn.execute(sql.SQL(
        "select d.device_id, d.active, d.created_at, d.deactivated_at, d.status, d.status_at,"
        " d.last_seen_at from devices d join patients p on p.id = d.patient_id"
        " where d.patient_id = %(patient)s and {visible} order by d.created_at").format(
            visible=visible_patients(viewer)), {"patient": patient_id}).fetchall()


def pauses(conn: Connection[Any], viewer: Viewer, patient_id: int, *, ending_after: datetime
           ) -> list[dict[str, Any]]:
    return conn.execute(sql.SQL(
        "select s.id, s.starts_at, s.ends_at, s.reason from patient_pauses s"
        " join patients p on p.id = s.patient_id"
        " where s.patient_id = %(patient)s and s.ends_at > %(after)s and {visible}"
        " order by s.starts_at").format(visible=visible_patients(viewer)),
        {"patient": patient_id, "after": ending_after}).fetchall()


def insert_pause(conn: Connection[Any], *, patient_id: int, starts_at: datetime,
                 ends_at: datetime, reason: str, created_by: int | None) -> dict[str, Any]:
    row: dict[str, Any] | None = conn.execute(
        "insert into patient_pauses (patient_id, starts_at, ends_at, reason, created_by)"
        " values (%s, %s, %s, %s, %s) returning id, starts_at, ends_at, reason",
        (patient_id, starts_at, ends_at, reason, created_by)).fetchone()
    assert row is not None
    return row


def delete_pause(conn: Connection[Any], *, patient_id: int, pause_id: int) -> dict[str, Any] | None:
    return conn.execute(
        "delete from patient_pauses where id = %s and patient_id = %s"
        " returning id, starts_at, ends_at, reason", (pause_id, patient_id)).fetchone()


def raw_measurements(conn: Connection[Any], viewer: Viewer, *, patient_id: int, types: list[str],
                     measured_from: datetime, measured_to: datetime,
                     after: tuple[datetime, str] | None, limit: int) -> list[dict[str, Any]]:
    where = all_of(
        visible_patients(viewer),
        sql.SQL("(r.measured_at, r.type) > (%(after_at)s, %(after_type)s)") if after else None)
    return conn.execute(sql.SQL(
        "select r.type, r.measured_at, r.value, r.late from patients p"
        " join readings r on r.patient_id = p.id"
        " where p.id = %(patient)s and r.type = any(%(types)s)"
        " and r.measured_at >= %(from)s and r.measured_at < %(to)s and {where}"
        " order by r.measured_at, r.type limit %(limit)s").format(where=where),
        {"patient": patient_id, "types": types, "from": measured_from, "to": measured_to,
         "after_at": after[0] if after else None, "after_type": after[1] if after else None,
         "limit": limit}).fetchall()


def bucketed_measurements_json(conn: Connection[Any], viewer: Viewer, *, patient_id: int,
                               types: list[str],
                               measured_from: datetime, measured_to: datetime, bucket: str
                               ) -> bytes:
    """The buckets as the response's JSON array, built by the server: hundreds of rows need not
    become Python objects (``BucketedMeasurement`` is the shape; a test holds the two equal)."""
    # Buckets are aligned to UTC midnight/hour; a day bucket is a UTC day.
    row = conn.execute(sql.SQL(
        "select coalesce(json_agg(json_build_object("
        "  'type', type,"
        "  'bucket', to_char(bucket at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
        "  'min', min, 'max', max, 'mean', mean, 'count', count) order by bucket, type),"
        " '[]')::text as body"
        " from (select type, time_bucket(%(width)s::interval, measured_at) as bucket,"
        "       min(value) as min, max(value) as max, avg(value) as mean, count(*) as count"
        "       from readings where patient_id = %(patient)s and type = any(%(types)s)"
        "       and measured_at >= %(from)s and measured_at < %(to)s"
        "       and exists (select from patients p where p.id = %(patient)s and {visible})"
        "       group by type, bucket) buckets").format(visible=visible_patients(viewer)),
        {"width": bucket, "patient": patient_id, "types": types, "from": measured_from,
         "to": measured_to}).fetchone()
    assert row is not None
    body: str = row["body"]
    return body.encode()


_CONSENT = ("c.id, c.scope, c.given_on, r.username as recorded_by, c.recorded_at, c.note,"
            " c.withdrawn_on, w.username as withdrawn_by, c.withdrawn_at, c.withdrawal_note")


def consents(conn: Connection[Any], viewer: Viewer, patient_id: int, *,
             standing_only: bool = False) -> list[dict[str, Any]]:
    """The patient's consents, newest first."""
    return conn.execute(sql.SQL(
        "select {fields} from consents c join patients p on p.id = c.patient_id"
        " left join users r on r.id = c.recorded_by left join users w on w.id = c.withdrawn_by"
        " where c.patient_id = %(patient)s and {where} order by c.recorded_at desc, c.id desc"
    ).format(fields=sql.SQL(_CONSENT), where=all_of(
        visible_patients(viewer),
        sql.SQL("c.withdrawn_at is null") if standing_only else None)),
        {"patient": patient_id}).fetchall()


def insert_consent(conn: Connection[Any], *, patient_id: int, scope: str, given_on: date,
                   note: str, recorded_by: int | None) -> int:
    """A new standing consent of ``scope``; one standing already is withdrawn first by the
    caller (the unique index allows one)."""
    row = conn.execute(
        "insert into consents (patient_id, scope, given_on, note, recorded_by)"
        " values (%s, %s, %s, %s, %s) returning id",
        (patient_id, scope, given_on, note, recorded_by)).fetchone()
    assert row is not None
    return int(row["id"])


def withdraw_consent(conn: Connection[Any], *, patient_id: int, consent_id: int,
                     withdrawn_on: date, note: str, by: int | None, at: datetime
                     ) -> dict[str, Any] | None:
    """Stamp a standing consent withdrawn; None if there is no such standing consent."""
    row: dict[str, Any] | None = conn.execute(
        "update consents set withdrawn_on = %(on)s, withdrawal_note = %(note)s,"
        " withdrawn_by = %(by)s, withdrawn_at = %(at)s where id = %(id)s"
        " and patient_id = %(patient)s and withdrawn_at is null returning id, scope",
        {"on": withdrawn_on, "note": note, "by": by, "at": at, "id": consent_id,
         "patient": patient_id}).fetchone()
    return row


_CARE = ("e.id, e.kind, e.occurred_at, e.hospital, e.reason, e.note, e.alert_id, e.pause_id,"
         " e.admission_id, u.username as recorded_by, e.recorded_at, e.withdrawn_at,"
         " w.username as withdrawn_by, e.withdrawal_reason, e.replaces_id,"
         " (select c.id from care_events c where c.replaces_id = e.id) as replaced_by")


def care_events(conn: Connection[Any], viewer: Viewer, patient_id: int, *, limit: int,
                event_id: int | None = None) -> list[dict[str, Any]]:
    """Her care events, newest first (only ``event_id`` if given)."""
    return conn.execute(sql.SQL(
        "select {fields} from care_events e join patients p on p.id = e.patient_id"
        " left join users u on u.id = e.recorded_by left join users w on w.id = e.withdrawn_by"
        " where e.patient_id = %(patient)s and {where}"
        " order by e.occurred_at desc, e.id desc limit %(limit)s").format(
            fields=sql.SQL(_CARE), where=all_of(
                visible_patients(viewer),
                sql.SQL("e.id = %(event)s") if event_id is not None else None)),
        {"patient": patient_id, "limit": limit, "event": event_id}).fetchall()


def insert_care_event(conn: Connection[Any], *, patient_id: int, kind: str,
                      occurred_at: datetime, hospital: str, reason: str, note: str,
                      alert_id: int | None, pause_id: int | None, admission_id: int | None,
                      replaces_id: int | None, recorded_by: int | None) -> int:
    row = conn.execute(
        "insert into care_events (patient_id, kind, occurred_at, hospital, reason, note,"
        " alert_id, pause_id, admission_id, replaces_id, recorded_by)"
        " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) returning id",
        (patient_id, kind, occurred_at, hospital, reason, note, alert_id, pause_id,
         admission_id, replaces_id, recorded_by)).fetchone()
    assert row is not None
    return int(row["id"])


def withdraw_care_event(conn: Connection[Any], *, patient_id: int, event_id: int, reason: str,
                        by: int | None, at: datetime) -> dict[str, Any] | None:
    """Stamp a standing care event withdrawn; None if she has no such standing event. Returns
    the event with the discharge that ended it, if it is an admission."""
    row: dict[str, Any] | None = conn.execute(
        "update care_events e set withdrawn_at = %(at)s, withdrawn_by = %(by)s,"
        " withdrawal_reason = %(reason)s where e.id = %(id)s and e.patient_id = %(patient)s"
        " and e.withdrawn_at is null returning e.id, e.kind, e.occurred_at, e.hospital,"
        " e.alert_id, e.pause_id, e.admission_id, (select d.id from care_events d"
        "   where d.admission_id = e.id and d.withdrawn_at is null) as discharge_id",
        {"at": at, "by": by, "reason": reason, "id": event_id, "patient": patient_id}
    ).fetchone()
    return row


def standing_care_event(conn: Connection[Any], *, patient_id: int, event_id: int
                        ) -> dict[str, Any] | None:
    row: dict[str, Any] | None = conn.execute(
        "select id, kind, occurred_at, hospital, pause_id from care_events"
        " where id = %s and patient_id = %s and withdrawn_at is null",
        (event_id, patient_id)).fetchone()
    return row


def set_care_event_links(conn: Connection[Any], *, event_id: int, pause_id: int | None = None,
                         admission_id: int | None = None) -> None:
    """Link an admission to its (new) pause, or a discharge to the admission it ends."""
    conn.execute(
        "update care_events set pause_id = coalesce(%s, pause_id),"
        " admission_id = coalesce(%s, admission_id) where id = %s",
        (pause_id, admission_id, event_id))


def extend_pause(conn: Connection[Any], *, patient_id: int, pause_id: int, ends_at: datetime
                 ) -> bool:
    """Move a pause's end to ``ends_at``; False if the pause is gone."""
    return conn.execute(
        "update patient_pauses set ends_at = %s where id = %s and patient_id = %s",
        (ends_at, pause_id, patient_id)).rowcount == 1


def open_admission(conn: Connection[Any], *, patient_id: int, before: datetime
                   ) -> dict[str, Any] | None:
    """Her latest admission at or before ``before`` that no discharge has ended yet."""
    row: dict[str, Any] | None = conn.execute(
        "select a.id, a.pause_id from care_events a where a.patient_id = %(patient)s"
        " and a.kind = 'admission' and a.occurred_at <= %(before)s and a.withdrawn_at is null"
        " and not exists (select from care_events d where d.admission_id = a.id"
        "   and d.withdrawn_at is null)"
        " order by a.occurred_at desc, a.id desc limit 1",
        {"patient": patient_id, "before": before}).fetchone()
    return row


def last_response(conn: Connection[Any], *, patient_id: int, questionnaire: str
                  ) -> datetime | None:
    """When she last answered ``questionnaire`` (its latest ``authored`` time), if ever."""
    row = conn.execute(
        "select max(authored_at) as at from questionnaire_responses"
        " where patient_id = %s and questionnaire = %s",
        (patient_id, questionnaire)).fetchone()
    return None if row is None else row["at"]


def diary(conn: Connection[Any], viewer: Viewer, *, patient_id: int, questionnaire: str,
          limit: int) -> list[dict[str, Any]]:
    """The patient's last ``limit`` responses to ``questionnaire``, newest first."""
    return conn.execute(sql.SQL(
        "select q.authored_at, q.received_at, q.answers, q.late"
        " from patients p join questionnaire_responses q on q.patient_id = p.id"
        " where p.id = %(patient)s and q.questionnaire = %(questionnaire)s and {visible}"
        " order by q.authored_at desc limit %(limit)s").format(visible=visible_patients(viewer)),
        {"patient": patient_id, "questionnaire": questionnaire, "limit": limit}).fetchall()
