"""``GET /api/v1/alerts/stream``: server-sent events of alert changes in the viewer's teams."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse

from api.auth import tokens
from api.deps import DbConn, SettingsDep, current_viewer, oauth2_scheme
from stream import repository, service
from stream.hub import AlertEventHub

KEEPALIVE_SECONDS = 15.0


router = APIRouter(prefix="/api/v1", tags=["alerts"])


def stream_session(header_token: Annotated[str | None, Depends(oauth2_scheme)], conn: DbConn,
                   settings: SettingsDep,
                   access_token: Annotated[str | None, Query(
                       description="The bearer token, for EventSource clients that cannot set "
                                   "headers (this endpoint only)")] = None
                   ) -> service.Session:
    token = header_token or access_token
    viewer = current_viewer(token, conn, settings)
    assert token is not None  # current_viewer refused a missing one
    claims = tokens.verify(settings, token)
    return service.Session(viewer=viewer, expires_at=claims.expires_at,
                           session_id=claims.session_id)


@router.get("/alerts/stream", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}},
                             "description": "SSE: `id:` alert_events.id, `event:` the lifecycle "
                                            "step, `data:` an AlertEvent as JSON; and, without "
                                            "`id:`, `event: readings` with a LateReadingsEvent "
                                            "(readings stored late) and `event: messages` with a "
                                            "MessagesEvent (her conversation changed)"}})
def alert_stream(
    request: Request, conn: DbConn, settings: SettingsDep,
    session: Annotated[service.Session, Depends(stream_session)],
    last_event_id_header: Annotated[int | None, Header(alias="Last-Event-ID", ge=0)] = None,
    last_event_id: Annotated[int | None, Query(ge=0, description=(
        "Replay events after this id (as the Last-Event-ID header does)"))] = None,
) -> StreamingResponse:
    """Alert events (opened, updated, escalated, acknowledged, resolved) of the viewer's teams'
    patients as they commit, and (``event: readings``, no ``id:``) their readings stored late,
    measured more than a day before they arrived, for pages that show her series, and
    (``event: messages``, no ``id:``) that a patient's conversation changed. Without a
    last event id the stream starts from now. The stream ends (``event: end``, data
    ``{"reason": …}``) when its token expires, and within ``KOL_STREAM_RECHECK_SECONDS`` when
    its user is deactivated or her role or teams change: the client opens a new one with a
    fresh token."""
    after = last_event_id_header if last_event_id_header is not None else last_event_id
    if after is None:
        after = repository.last_event_id(conn)
    hub: AlertEventHub = request.app.state.alert_hub

    async def body() -> AsyncIterator[str]:
        # Subscribed (on the event loop) before the replay reads, so nothing falls in between.
        subscription = hub.subscribe()
        try:
            async for chunk in service.event_stream(
                    request.app.state.pool, subscription, session, after_id=after,
                    keepalive_seconds=KEEPALIVE_SECONDS,
                    recheck_seconds=settings.stream_recheck_seconds):
                yield chunk
        finally:
            hub.unsubscribe(subscription)

    return StreamingResponse(body(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
