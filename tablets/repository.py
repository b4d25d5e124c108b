"""SQL of the tablet: pairing codes and the device-scoped reads. A device reads only its own
patient's data; the patient id comes from the authenticated device, never from the request."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import Connection, sql

from core.access import Viewer, visible_patients


def visible_patient(conn: Connection[Any], viewer: Viewer, patient_id: int) -> bool:
    row = conn.execute(sql.SQL("select 1 from patients p where p.id = %(id)s and p.active"
                               " and {}").format(visible_patients(viewer)),
                       {"id": patient_id}).fetchone()
    return row is not None


def code_times_since(conn: Connection[Any], patient_id: int, since: datetime
                     ) -> list[datetime]:
    """When the patient's codes since ``since`` were given, oldest first."""
    rows = conn.execute("select created_at from pairing_codes"
                        " where patient_id = %s and created_at >= %s order by created_at",
                        (patient_id, since)).fetchall()
    return [r["created_at"] for r in rows]


def insert_code(conn: Connection[Any], *, code_hash: str, patient_id: int, created_by: int,
                expires_at: datetime) -> None:
    conn.execute("insert into pairing_codes (code_hash, patient_id, created_by, expires_at)"
                 " values (%s, %s, %s, %s)", (code_hash, patient_id, created_by, expires_at))


def lock_code(conn: Connection[Any], code_hash: str) -> dict[str, Any] | None:
    """The code's row, locked so that two tablets redeeming it at once cannot both succeed."""
    row: dict[str, Any] | None = conn.execute(
        "select c.id, c.patient_id, c.created_by, u.username as created_by_name,"
        " c.expires_at, c.used_at, c.expires_at <= now() as expired, p.display_name"
        " from pairing_codes c join users u on u.id = c.created_by"
        " join patients p on p.id = c.patient_id"
        " where c.code_hash = %s for update of c", (code_hash,)).fetchone()
    return row


def mark_used(conn: Connection[Any], code_id: int, device_id: str) -> None:
    conn.execute("update pairing_codes set used_at = now(), device_id = %s where id = %s",
                 (device_id, code_id))


def schedule(conn: Connection[Any], patient_id: int) -> dict[str, Any]:
    row = conn.execute("select schedule from patients where id = %s", (patient_id,)).fetchone()
    assert row is not None
    result: dict[str, Any] = row["schedule"]
    return result


def answered_since(conn: Connection[Any], patient_id: int, questionnaire: str,
                   since: datetime) -> bool:
    row = conn.execute("select exists (select 1 from questionnaire_responses"
                       " where patient_id = %s and questionnaire = %s and authored_at >= %s)",
                       (patient_id, questionnaire, since)).fetchone()
    assert row is not None
    return bool(row["exists"])


def measured_types_since(conn: Connection[Any], patient_id: int, since: datetime) -> set[str]:
    rows = conn.execute("select distinct type from readings"
                        " where patient_id = %s and measured_at >= %s", (patient_id, since))
    return {r["type"] for r in rows}


def recent_readings(conn: Connection[Any], patient_id: int, limit: int) -> list[dict[str, Any]]:
    return conn.execute("select type, value, measured_at from readings where patient_id = %s"
                        " order by measured_at desc, type limit %s",
                        (patient_id, limit)).fetchall()


def daily_last_values(conn: Connection[Any], patient_id: int, since: datetime, tz: str
                      ) -> list[dict[str, Any]]:
    """Per local day and type, the day's last value."""
    return conn.execute(
        "select distinct on (day, type) (measured_at at time zone %(tz)s)::date as day, type,"
        " value from readings where patient_id = %(p)s and measured_at >= %(since)s"
        " order by day, type, measured_at desc",
        {"tz": tz, "p": patient_id, "since": since}).fetchall()


def seen_readings(conn: Connection[Any], patient_id: int, since: datetime
                  ) -> list[dict[str, Any]]:
    """Readings that raised an alert a nurse has acknowledged (missing-measurement alerts name
    no reading, so they never show here)."""
    return conn.execute(
        "select distinct on (r.type, r.measured_at) r.type, r.measured_at,"
        " a.acknowledged_at as seen_at"
        " from alerts a join alert_readings r on r.alert_id = a.id"
        " where a.patient_id = %s and a.acknowledged_at >= %s"
        " order by r.type, r.measured_at, a.acknowledged_at", (patient_id, since)).fetchall()
