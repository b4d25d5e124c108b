"""The audit log: who did what to which entity. Every domain service that changes something a
clinician or an inspector may ask about later writes here in the same transaction."""

from __future__ import annotations

from typing import Any

from psycopg import Connection
from psycopg.types.json import Jsonb

from core.access import Viewer


def record(conn: Connection[Any], *, viewer: Viewer, action: str, entity_type: str,
           entity_id: str | int, detail: dict[str, Any] | None = None) -> None:
    conn.execute(
        "insert into audit_log (actor_id, actor, action, entity_type, entity_id, detail)"
        " values (%s, %s, %s, %s, %s, %s)",
        (viewer.user_id, viewer.username, action, entity_type, str(entity_id),
         Jsonb(detail or {})))
