"""SQL of the alert event stream. Events are read back by id, scoped to the viewer's teams."""

from __future__ import annotations

from typing import Any

from psycopg import Connection, sql

from core.access import Viewer, visible_patients

_EVENT_COLUMNS = """
    e.id as event_id, e.event, e.at, e.note, e.severity as event_severity,
    a.id, a.patient_id, a.rule, a.type, a.severity, a.status, a.opened_at,
    a.first_measured_at, a.last_measured_at, a.value, a.late, a.reason,
    a.reason_code, a.reason_params
"""


def last_event_id(conn: Connection[Any]) -> int:
    row = conn.execute("select coalesce(max(id), 0) as id from alert_events").fetchone()
    assert row is not None
    return int(row["id"])


def events(conn: Connection[Any], viewer: Viewer, *, after_id: int, also_ids: list[int],
           limit: int) -> list[dict[str, Any]]:
    """Events with an id above ``after_id`` or in ``also_ids`` (ids committed late, below the
    last one sent), of patients the viewer sees, in id order, with the alert's current state."""
    return conn.execute(sql.SQL(
        "select {columns} from alert_events e"
        " join alerts a on a.id = e.alert_id"
        " join patients p on p.id = e.patient_id"
        " where (e.id > %(after)s or e.id = any(%(also)s)) and {visible}"
        " order by e.id limit %(limit)s").format(
            columns=sql.SQL(_EVENT_COLUMNS), visible=visible_patients(viewer)),
        {"after": after_id, "also": also_ids, "limit": limit}).fetchall()


def visible_patient_ids(conn: Connection[Any], viewer: Viewer, patient_ids: set[int]) -> set[int]:
    """Those of ``patient_ids`` the viewer sees."""
    rows = conn.execute(sql.SQL(
        "select p.id from patients p where p.id = any(%s) and {}").format(
            visible_patients(viewer)), (sorted(patient_ids),)).fetchall()
    return {int(r["id"]) for r in rows}
