"""SQL of the access log. The services' role may only insert and select here (migration 0410);
old entries go through ``purge_access_log``, which refuses to shorten the log below a year."""

from __future__ import annotations

from typing import Any

from psycopg import Connection, sql
from psycopg.types.json import Jsonb

from core.access import Viewer, visible_patients


def insert(conn: Connection[Any], viewer: Viewer, *, patient_id: int, what: str,
           detail: dict[str, Any], address: str) -> None:
    """An entry if the viewer sees the patient (a read that found nothing visible, such as
    another team's patient's alerts, read no patient's data)."""
    conn.execute(sql.SQL(
        "insert into access_log (user_id, username, patient_id, what, detail, address)"
        " select %s, %s, p.id, %s, %s, %s from patients p where p.id = %s and {}"
    ).format(visible_patients(viewer)),
        (viewer.user_id, viewer.username, what, Jsonb(detail), address, patient_id))


def entries(conn: Connection[Any], viewer: Viewer, *, patient_id: int | None,
            user_id: int | None, before_id: int | None, limit: int) -> list[dict[str, Any]]:
    """Newest first, only of patients the viewer sees."""
    filters = [visible_patients(viewer)]
    params: list[Any] = []
    for column, value in (("a.patient_id", patient_id), ("a.user_id", user_id),
                          ("a.id <", before_id)):
        if value is not None:
            op = "" if column.endswith("<") else " ="
            filters.append(sql.SQL(column + op + " %s"))
            params.append(value)
    query = sql.SQL(
        "select a.id, a.at, a.user_id, a.username, a.patient_id, a.what, a.detail, a.address"
        " from access_log a join patients p on p.id = a.patient_id where {}"
        " order by a.id desc limit %s").format(sql.SQL(" and ").join(filters))
    return conn.execute(query, [*params, limit]).fetchall()


def purge(conn: Connection[Any], *, older_than_days: int) -> int:
    row = conn.execute("select purge_access_log(make_interval(days => %s)) as removed",
                       (older_than_days,)).fetchone()
    assert row is not None
    return int(row["removed"])
