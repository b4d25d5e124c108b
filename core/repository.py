"""All SQL of the ground floor: the audit log and the database's own status."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection, Connection, sql
from psycopg.types.json import Jsonb


def insert_audit(conn: Connection[Any], *, actor_id: int | None, actor: str, action: str,
                 entity_type: str, entity_id: str, detail: dict[str, Any]) -> None:
    conn.execute(
        "insert into audit_log (actor_id, actor, action, entity_type, entity_id, detail)"
        " values (%s, %s, %s, %s, %s, %s)",
        (actor_id, actor, action, entity_type, entity_id, Jsonb(detail)))


def timescaledb(conn: Connection[Any]) -> dict[str, Any] | None:
    """TimescaleDB's version and licence, None if the extension is not installed."""
    row: dict[str, Any] | None = conn.execute(
        "select extversion, current_setting('timescaledb.license', true) as license"
        " from pg_extension where extname = 'timescaledb'").fetchone()
    return row


async def listen(conn: AsyncConnection[Any], channel: str) -> None:
    """Subscribe an autocommit connection to NOTIFY on ``channel``."""
    await conn.execute(sql.SQL("listen {}").format(sql.Identifier(channel)))
