from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.deps import CurrentViewer, DbConn
from api.params import Limit, OffsetCursor, TextFilter
from triage import service
from triage.schemas import TriageRow

router = APIRouter(prefix="/api/v1", tags=["triage"])


@router.get("/triage", response_model=list[TriageRow])
def triage(conn: DbConn, viewer: CurrentViewer, request: Request, team: TextFilter = None,
           limit: Limit = 100, cursor: OffsetCursor = None) -> Response:
    """One row per patient of the viewer's teams: worst open severity first, then the oldest
    unhandled alert; the next page's cursor is in ``X-Next-Cursor``."""
    page = service.triage_page(conn, viewer, request.app.state.triage_cache, team=team,
                               cursor=cursor, limit=limit)
    return Response(page.body, media_type="application/json",
                    headers={"X-Next-Cursor": page.next_cursor} if page.next_cursor else None)
