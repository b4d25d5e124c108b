"""SQL of the patient domain. Every read of a patient's data is scoped to the viewer's teams in
the statement itself (:func:`core.access.visible_patients`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import Connection, sql
from psycopg.types.json import Jsonb

from alerts.schemas import AlertOut
from core.access import Viewer, visible_patients
from core.db import all_of

_PATIENT = ("p.id, p.display_name, t.name as team, p.team_id, p.profile, p.schedule, p.active,"
            " p.created_at, p.phone, p.contact_person, p.contact_phone, p.gp, p.notes,"
            " p.discharged_at")
_ALERT_FIELDS = ", ".join(f"a.{name}" for name in AlertOut.model_fields)


def profile_exists(conn: Connection[Any], name: str) -> bool:
    return conn.execute("select 1 from profiles where name = %s", (name,)).fetchone() is not None


def insert_patient(conn: Connection[Any], *, display_name: str, team_id: int, profile: str,
                   schedule: dict[str, Any], details: dict[str, str]) -> int:
    row = conn.execute(
        "insert into patients (display_name, team_id, profile, schedule, phone, contact_person,"
        " contact_phone, gp, notes) values (%(name)s, %(team)s, %(profile)s, %(schedule)s,"
        " %(phone)s, %(contact_person)s, %(contact_phone)s, %(gp)s, %(notes)s) returning id",
        {"name": display_name, "team": team_id, "profile": profile,
         "schedule": Jsonb(schedule), **details}).fetchone()
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
