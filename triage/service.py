from __future__ import annotations

from typing import Any

from psycopg import Connection

from core.access import Viewer
from core.rendering import JsonList
from triage import repository
from triage.cache import CachedPage, TriageCache
from triage.schemas import OpenCounts, TriageRow

_ROWS = JsonList(TriageRow)


def triage(conn: Connection[Any], viewer: Viewer, *, team: str | None, cursor: str | None,
           limit: int) -> tuple[list[TriageRow], str | None]:
    """One row per patient of the viewer's teams. The list changes as alerts come and go, so its
    cursor is a position in the current order, good for paging through a snapshot-like view."""
    offset = int(cursor) if cursor else 0
    rows = repository.triage(conn, viewer, team=team, offset=offset, limit=limit + 1)
    page = [TriageRow(patient_id=r["patient_id"], display_name=r["display_name"], team=r["team"],
                      worst_severity=r["worst_severity"],
                      open_counts=OpenCounts(red=r["red"], yellow=r["yellow"], blue=r["blue"],
                                             green=r["green"]),
                      unhandled=r["unhandled"], unhandled_green=r["unhandled_green"],
                      oldest_unhandled_at=r["oldest_unhandled_at"],
                      last_measured_at=r["last_measured_at"],
                      unread_messages=r["unread_messages"]) for r in rows[:limit]]
    return page, str(offset + limit) if len(rows) > limit else None


def triage_page(conn: Connection[Any], viewer: Viewer, cache: TriageCache, *, team: str | None,
                cursor: str | None, limit: int) -> CachedPage:
    """The triage page rendered as JSON, from the cache when viewers of the same teams asked for
    it a moment ago (see :mod:`triage.cache`)."""
    key = (viewer.team_key, team, cursor, limit)
    cached = cache.get(key)
    if cached is not None:
        return cached
    generation = cache.generation
    rows, next_cursor = triage(conn, viewer, team=team, cursor=cursor, limit=limit)
    page = CachedPage(body=_ROWS.render(rows), next_cursor=next_cursor)
    cache.put(key, page, generation=generation)
    return page
