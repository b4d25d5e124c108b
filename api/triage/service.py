from __future__ import annotations

from typing import Any

from psycopg import Connection

from api.problems import Problem
from api.triage import repository
from api.triage.schemas import OpenCounts, TriageRow
from core.access import Viewer


def triage(conn: Connection[Any], viewer: Viewer, *, team: str | None, cursor: str | None,
           limit: int) -> tuple[list[TriageRow], str | None]:
    """One row per patient of the viewer's teams. The list changes as alerts come and go, so its
    cursor is a position in the current order, good for paging through a snapshot-like view."""
    try:
        offset = int(cursor) if cursor else 0
    except ValueError as exc:
        raise Problem(status=400, slug="invalid-cursor", detail="the cursor is invalid") from exc
    if offset < 0:
        raise Problem(status=400, slug="invalid-cursor", detail="the cursor is invalid")
    rows = repository.triage(conn, viewer, team=team, offset=offset, limit=limit + 1)
    page = [TriageRow(patient_id=r["patient_id"], display_name=r["display_name"], team=r["team"],
                      worst_severity=r["worst_severity"],
                      open_counts=OpenCounts(red=r["red"], yellow=r["yellow"], blue=r["blue"],
                                             green=r["green"]),
                      oldest_unhandled_at=r["oldest_unhandled_at"],
                      last_measured_at=r["last_measured_at"]) for r in rows[:limit]]
    return page, str(offset + limit) if len(rows) > limit else None
