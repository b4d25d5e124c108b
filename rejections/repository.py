"""SQL for the dead-letter table (written by ingest, read here), scoped to the viewer's teams."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import Connection, sql

from core.access import Viewer, visible_patients
from core.db import all_of
from rejections.schemas import PAYLOAD_PREVIEW_BYTES


def list_rejections(conn: Connection[Any], viewer: Viewer, *, reason: str | None,
                    device_id: str | None, msg_id: str | None, before_id: int | None, limit: int
                    ) -> list[dict[str, Any]]:
    """Newest first, by id: the dead letters of the viewer's teams' devices, and those of no
    known patient (unknown devices, foreign topics) without their payload."""
    where = all_of(
        sql.SQL("(p.id is null or {})").format(visible_patients(viewer)),
        sql.SQL("r.reason = %(reason)s") if reason is not None else None,
        sql.SQL("r.device_id = %(device)s") if device_id is not None else None,
        sql.SQL("r.msg_id = %(msg)s") if msg_id is not None else None,
        sql.SQL("r.id < %(before)s") if before_id is not None else None)
    return conn.execute(sql.SQL(
        "select r.id, r.received_at, r.topic, r.device_id, r.msg_id, r.reading_index, r.reason,"
        " r.detail, case when p.id is not null"
        "   then substring(dl.payload from 1 for %(preview)s) end as payload,"
        " dl.payload_bytes, length(dl.payload) < dl.payload_bytes as payload_truncated"
        " from rejections r join dead_letter_payloads dl on dl.id = r.payload_id"
        " left join devices d on d.device_id = r.device_id"
        " left join patients p on p.id = d.patient_id"
        " where {where} order by r.id desc limit %(limit)s").format(where=where),
        {"preview": PAYLOAD_PREVIEW_BYTES, "reason": reason, "device": device_id,
         "msg": msg_id, "before": before_id, "limit": limit}).fetchall()


def prune(conn: Connection[Any], *, older_than: datetime) -> tuple[int, int]:
    """Delete dead letters and payloads last received before ``older_than``, and the budget
    rows of those hours; ``(dead letters, payloads)`` deleted."""
    letters = conn.execute("delete from rejections where received_at < %s",
                           (older_than,)).rowcount
    payloads = conn.execute(
        "delete from dead_letter_payloads p where p.received_at < %s"
        " and not exists (select 1 from rejections r where r.payload_id = p.id)",
        (older_than,)).rowcount
    conn.execute("delete from dead_letter_budget where hour < %s", (older_than,))
    return letters, payloads
