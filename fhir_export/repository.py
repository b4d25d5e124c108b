"""SQL of the FHIR export: readings with the threshold version in force when each was measured,
and questionnaire responses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import Connection, sql

from core.access import Viewer, visible_patients
from core.db import all_of


def readings_with_limits(conn: Connection[Any], viewer: Viewer, *, patient_id: int,
                         start: datetime, end: datetime, after: tuple[datetime, str] | None,
                         limit: int) -> list[dict[str, Any]]:
    """Readings in [start, end) by (measured_at, type), after the keyset position ``after``,
    each with the absolute limits of its type from
    the threshold version that applied at measured_at (version 1 for readings measured before
    enrolment), and its device's state."""
    return conn.execute(sql.SQL(
        "select r.type, r.measured_at, r.value, r.device_id, r.late,"
        " tv.version as threshold_version, tv.thresholds -> r.type -> 'absolute' as limits,"
        " d.active as device_active"
        " from patients p join readings r on r.patient_id = p.id"
        " left join lateral (select v.version, v.thresholds from threshold_versions v"
        "   where v.patient_id = r.patient_id and (v.changed_at <= r.measured_at or v.version = 1)"
        "   order by v.version desc limit 1) tv on true"
        " left join devices d on d.device_id = r.device_id"
        " where p.id = %(patient)s and r.measured_at >= %(start)s and r.measured_at < %(end)s"
        " and {where} order by r.measured_at, r.type limit %(limit)s").format(
            where=all_of(visible_patients(viewer), sql.SQL(
                "(r.measured_at, r.type) > (%(after_at)s, %(after_type)s)") if after else None)),
        {"patient": patient_id, "start": start, "end": end, "limit": limit,
         "after_at": after[0] if after else None,
         "after_type": after[1] if after else None}).fetchall()


def questionnaire_responses(conn: Connection[Any], viewer: Viewer, *, patient_id: int,
                            start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The patient's questionnaire responses authored in [start, end), oldest first."""
    return conn.execute(sql.SQL(
        "select q.questionnaire, q.authored_at, q.answers, q.device_id"
        " from patients p join questionnaire_responses q on q.patient_id = p.id"
        " where p.id = %(patient)s and q.authored_at >= %(start)s and q.authored_at < %(end)s"
        " and {visible} order by q.authored_at, q.questionnaire").format(
            visible=visible_patients(viewer)),
        {"patient": patient_id, "start": start, "end": end}).fetchall()
