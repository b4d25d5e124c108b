"""``GET /api/v1/rejections``: dead-lettered device input with its reason."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import AdminViewer, DbConn
from api.params import IdCursor, Limit, TextFilter
from protocol.messages import AnyReason
from rejections import service
from rejections.schemas import RejectionOut

router = APIRouter(prefix="/api/v1", tags=["rejections"])


@router.get("/rejections", response_model=list[RejectionOut])
def list_rejections(
    conn: DbConn, viewer: AdminViewer, response: Response,
    reason: AnyReason | None = None,
    device_id: TextFilter = None,
    msg_id: TextFilter = None,
    limit: Limit = 100,
    cursor: IdCursor = None,
) -> list[RejectionOut]:
    """Newest first; the next page's cursor is in the ``X-Next-Cursor`` header (absent on the
    last page)."""
    page, next_cursor = service.list_rejections(conn, viewer, reason=reason, device_id=device_id,
                                                msg_id=msg_id, cursor=cursor, limit=limit)
    if next_cursor is not None:
        response.headers["X-Next-Cursor"] = next_cursor
    return page
