"""Reading the dead letters (admins, of their teams' devices)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from psycopg import Connection

from core.access import Viewer
from core.pagination import int_cursor
from rejections import repository
from rejections.schemas import RejectionOut


def list_rejections(conn: Connection[Any], viewer: Viewer, *, reason: str | None,
                    device_id: str | None, msg_id: str | None, cursor: str | None, limit: int
                    ) -> tuple[list[RejectionOut], str | None]:
    """A page, newest first, and the cursor of the next page (None at the end)."""
    rows = repository.list_rejections(conn, viewer, reason=reason, device_id=device_id,
                                      msg_id=msg_id, before_id=int_cursor(cursor),
                                      limit=limit + 1)
    page = [RejectionOut(**{**row, "payload": None if row["payload"] is None
                            else bytes(row["payload"]).decode("utf-8", "replace")})
            for row in rows[:limit]]
    return page, str(page[-1].id) if len(rows) > limit else None


def prune(conn: Connection[Any], *, now: datetime, retention: timedelta) -> tuple[int, int]:
    """Forget dead letters older than ``retention``; ``(dead letters, payloads)`` deleted."""
    return repository.prune(conn, older_than=now - retention)
