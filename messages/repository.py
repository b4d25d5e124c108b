"""All SQL of the messages domain. Reads for a viewer compose ``visible_patients``; a device's
reads take the patient id resolved from its credentials."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import Connection, sql

from core.access import Viewer, visible_patients

_COLUMNS = ("m.id, m.direction, m.body as text, m.callback, m.written_at, m.received_at,"
            " m.author, m.reply_to, m.read_at, m.read_by, m.msg_id")


def thread(conn: Connection[Any], viewer: Viewer, patient_id: int, *, limit: int
           ) -> list[dict[str, Any]]:
    """The patient's last ``limit`` messages, oldest first."""
    return conn.execute(sql.SQL(
        "select * from (select " + _COLUMNS + " from patient_messages m"
        " join patients p on p.id = m.patient_id where m.patient_id = %(p)s and {}"
        " order by m.id desc limit %(limit)s) t order by id").format(visible_patients(viewer)),
        {"p": patient_id, "limit": limit}).fetchall()


def between(conn: Connection[Any], viewer: Viewer, patient_id: int, start: datetime,
            end: datetime) -> list[dict[str, Any]]:
    """The patient's messages received in [start, end), oldest first."""
    return conn.execute(sql.SQL(
        "select " + _COLUMNS + " from patient_messages m join patients p on p.id = m.patient_id"
        " where m.patient_id = %(p)s and m.received_at >= %(start)s and m.received_at < %(end)s"
        " and {} order by m.id").format(visible_patients(viewer)),
        {"p": patient_id, "start": start, "end": end}).fetchall()


def is_patients_message(conn: Connection[Any], patient_id: int, message_id: int) -> bool:
    return conn.execute("select 1 from patient_messages where id = %s and patient_id = %s"
                        " and direction = 'patient'", (message_id, patient_id)).fetchone() \
        is not None


def insert_reply(conn: Connection[Any], *, patient_id: int, text: str, author_id: int,
                 author: str, reply_to: int | None) -> dict[str, Any]:
    row: dict[str, Any] | None = conn.execute(
        "insert into patient_messages as m (patient_id, direction, body, written_at, author_id,"
        " author, reply_to) values (%s, 'team', %s, now(), %s, %s, %s) returning " + _COLUMNS,
        (patient_id, text, author_id, author, reply_to)).fetchone()
    assert row is not None
    return row


def mark_read_by_team(conn: Connection[Any], patient_id: int, up_to_id: int, reader: str
                      ) -> list[int]:
    """Her unread messages up to ``up_to_id`` marked read by ``reader``; their ids."""
    rows = conn.execute(
        "update patient_messages set read_at = now(), read_by = %s where patient_id = %s"
        " and direction = 'patient' and read_at is null and id <= %s returning id",
        (reader, patient_id, up_to_id)).fetchall()
    return sorted(r["id"] for r in rows)


def device_thread(conn: Connection[Any], patient_id: int, limit: int) -> list[dict[str, Any]]:
    """The device's own patient's last ``limit`` messages, oldest first."""
    return conn.execute(
        "select * from (select " + _COLUMNS + " from patient_messages m where m.patient_id = %s"
        " order by m.id desc limit %s) t order by id", (patient_id, limit)).fetchall()


def unread_replies(conn: Connection[Any], patient_id: int) -> int:
    row = conn.execute("select count(*) as n from patient_messages where patient_id = %s"
                       " and direction = 'team' and read_at is null", (patient_id,)).fetchone()
    assert row is not None
    return int(row["n"])
