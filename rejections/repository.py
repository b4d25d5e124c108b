"""SQL for the dead-letter table (written by ingest, read here)."""

from __future__ import annotations

from typing import Any

from psycopg import Connection

from rejections.schemas import PAYLOAD_PREVIEW_BYTES


def list_rejections(conn: Connection[Any], *, reason: str | None, device_id: str | None,
                    msg_id: str | None, before_id: int | None, limit: int
                    ) -> list[dict[str, Any]]:
    """Newest first, by id."""
    return conn.execute(
        "select id, received_at, topic, device_id, msg_id, reading_index, reason, detail,"
        " substring(payload from 1 for %(preview)s) as payload, length(payload) as payload_bytes"
        " from rejections"
        " where (%(reason)s::text is null or reason = %(reason)s)"
        " and (%(device)s::text is null or device_id = %(device)s)"
        " and (%(msg)s::text is null or msg_id = %(msg)s)"
        " and (%(before)s::bigint is null or id < %(before)s)"
        " order by id desc limit %(limit)s",
        {"preview": PAYLOAD_PREVIEW_BYTES, "reason": reason, "device": device_id,
         "msg": msg_id, "before": before_id, "limit": limit}).fetchall()
