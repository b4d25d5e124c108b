from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.deps import CurrentViewer, DbConn
from api.triage import service
from api.triage.schemas import TriageRow

router = APIRouter(prefix="/api/v1", tags=["triage"])


@router.get("/triage", response_model=list[TriageRow])
def triage(conn: DbConn, viewer: CurrentViewer, response: Response, team: str | None = None,
           limit: Annotated[int, Query(ge=1, le=500)] = 100, cursor: str | None = None
           ) -> list[TriageRow]:
    """One row per patient of the viewer's teams: worst open severity first, then the oldest
    unhandled alert; the next page's cursor is in ``X-Next-Cursor``."""
    page, next_cursor = service.triage(conn, viewer, team=team, cursor=cursor, limit=limit)
    if next_cursor is not None:
        response.headers["X-Next-Cursor"] = next_cursor
    return page
