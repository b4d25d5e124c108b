"""SQL of the patient domain. Reads are scoped to the viewer's teams (``team_filter``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import Connection
from psycopg.types.json import Jsonb

from alerts.schemas import AlertOut
from core.access import Viewer

_PATIENT = ("p.id, p.display_name, t.name as team, p.team_id, p.profile, p.schedule, p.active,"
            " p.created_at")
_VISIBLE = "(%(teams)s::bigint[] is null or p.team_id = any(%(teams)s))"
_ALERT_FIELDS = ", ".join(f"a.{name}" for name in AlertOut.model_fields)


def profile_exists(conn: Connection[Any], name: str) -> bool:
    return conn.execute("select 1 from profiles where name = %s", (name,)).fetchone() is not None


def insert_patient(conn: Connection[Any], *, display_name: str, team_id: int, profile: str,
                   schedule: dict[str, Any]) -> int:
    row = conn.execute(
        "insert into patients (display_name, team_id, profile, schedule) values (%s, %s, %s, %s)"
        " returning id", (display_name, team_id, profile, Jsonb(schedule))).fetchone()
    assert row is not None
    return int(row["id"])


def copy_profile_thresholds(conn: Connection[Any], *, patient_id: int, profile: str,
                            changed_by: int | None) -> None:
    """Enrolment: version 1 of the patient's thresholds is a copy of the profile's."""
    conn.execute(
        "insert into threshold_versions (patient_id, version, thresholds, changed_by, reason)"
        " select %s, 1, thresholds, %s, 'enrolment: copy of profile ' || name"
        " from profiles where name = %s", (patient_id, changed_by, profile))


def get_patient(conn: Connection[Any], viewer: Viewer, patient_id: int) -> dict[str, Any] | None:
    return conn.execute(
        f"select {_PATIENT} from patients p join teams t on t.id = p.team_id"
        f" where p.id = %(id)s and {_VISIBLE}",
        {"id": patient_id, "teams": viewer.team_filter}).fetchone()


def list_patients(conn: Connection[Any], viewer: Viewer, *, team: str | None,
                  after_id: int | None, limit: int) -> list[dict[str, Any]]:
    return conn.execute(
        f"select {_PATIENT} from patients p join teams t on t.id = p.team_id where {_VISIBLE}"
        " and (%(team)s::text is null or t.name = %(team)s)"
        " and (%(after)s::bigint is null or p.id > %(after)s)"
        " order by p.id limit %(limit)s",
        {"teams": viewer.team_filter, "team": team, "after": after_id, "limit": limit}).fetchall()


def latest_readings(conn: Connection[Any], patient_id: int, types: list[str]
                    ) -> list[dict[str, Any]]:
    """The newest reading of each type; one index probe per type on the readings key."""
    return conn.execute(
        "select r.type, r.value, r.measured_at, r.late from unnest(%s::text[]) as t(type)"
        " cross join lateral (select type, value, measured_at, late from readings"
        "   where patient_id = %s and type = t.type order by measured_at desc limit 1) r",
        (types, patient_id)).fetchall()


def unresolved_alerts(conn: Connection[Any], patient_id: int) -> list[dict[str, Any]]:
    return conn.execute(
        f"select {_ALERT_FIELDS} from alerts a where a.patient_id = %s and a.status <> 'resolved'"
        " order by array_position(array['red', 'yellow', 'blue', 'green'], a.severity),"
        " a.opened_at", (patient_id,)).fetchall()


def devices(conn: Connection[Any], patient_id: int) -> list[dict[str, Any]]:
    return conn.execute(
        "select device_id, active, created_at, deactivated_at, status, status_at from devices"
        " where patient_id = %s order by created_at", (patient_id,)).fetchall()


def pauses(conn: Connection[Any], patient_id: int, *, ending_after: datetime
           ) -> list[dict[str, Any]]:
    return conn.execute(
        "select id, starts_at, ends_at, reason from patient_pauses"
        " where patient_id = %s and ends_at > %s order by starts_at",
        (patient_id, ending_after)).fetchall()


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


def raw_measurements(conn: Connection[Any], *, patient_id: int, types: list[str],
                     measured_from: datetime, measured_to: datetime,
                     after: tuple[datetime, str] | None, limit: int) -> list[dict[str, Any]]:
    return conn.execute(
        "select type, measured_at, value, late from readings"
        " where patient_id = %(patient)s and type = any(%(types)s)"
        " and measured_at >= %(from)s and measured_at < %(to)s"
        " and (%(after_at)s::timestamptz is null"
        "      or (measured_at, type) > (%(after_at)s, %(after_type)s))"
        " order by measured_at, type limit %(limit)s",
        {"patient": patient_id, "types": types, "from": measured_from, "to": measured_to,
         "after_at": after[0] if after else None, "after_type": after[1] if after else None,
         "limit": limit}).fetchall()


def bucketed_measurements_json(conn: Connection[Any], *, patient_id: int, types: list[str],
                               measured_from: datetime, measured_to: datetime, bucket: str
                               ) -> bytes:
    """The buckets as the response's JSON array, built by the server: hundreds of rows need not
    become Python objects (``BucketedMeasurement`` is the shape; a test holds the two equal)."""
    # Buckets are aligned to UTC midnight/hour; a day bucket is a UTC day.
    row = conn.execute(
        "select coalesce(json_agg(json_build_object("
        "  'type', type,"
        "  'bucket', to_char(bucket at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
        "  'min', min, 'max', max, 'mean', mean, 'count', count) order by bucket, type),"
        " '[]')::text as body"
        " from (select type, time_bucket(%(width)s::interval, measured_at) as bucket,"
        "       min(value) as min, max(value) as max, avg(value) as mean, count(*) as count"
        "       from readings where patient_id = %(patient)s and type = any(%(types)s)"
        "       and measured_at >= %(from)s and measured_at < %(to)s"
        "       group by type, bucket) buckets",
        {"width": bucket, "patient": patient_id, "types": types, "from": measured_from,
         "to": measured_to}).fetchone()
    assert row is not None
    body: str = row["body"]
    return body.encode()
