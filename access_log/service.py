"""Recording reads of a patient's data and listing them for the team's admins."""

from __future__ import annotations

from typing import Any

from psycopg import Connection

from access_log import repository
from access_log.schemas import AccessEntry, What
from core.access import Viewer
from core.pagination import int_cursor


def record(conn: Connection[Any], viewer: Viewer, *, patient_id: int, what: What,
           address: str, detail: dict[str, Any] | None = None) -> None:
    """One read, in the reading request's transaction: the data and its log entry are
    committed together or not at all."""
    repository.insert(conn, viewer, patient_id=patient_id, what=what, detail=detail or {},
                      address=address)


def entries(conn: Connection[Any], viewer: Viewer, *, patient_id: int | None = None,
            user_id: int | None = None, cursor: str | None, limit: int
            ) -> tuple[list[AccessEntry], str | None]:
    """A page of entries, newest first, of the patients the viewer sees; the next page's
    cursor."""
    rows = repository.entries(conn, viewer, patient_id=patient_id, user_id=user_id,
                              before_id=int_cursor(cursor), limit=limit + 1)
    page = [AccessEntry.model_validate(r) for r in rows[:limit]]
    return page, str(page[-1].id) if len(rows) > limit else None
