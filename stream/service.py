"""The event stream of one viewer: replay from an id, then follow the hub's wake-ups."""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg_pool import ConnectionPool
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from alerts.schemas import AlertOut
from core.access import Viewer
from stream import repository
from stream.hub import PatientNotice, Subscription
from stream.schemas import AlertEvent, LateReadingsEvent, MessagesEvent
from users import repository as users_repository

PAGE = 500
RETRY_MS = 2000
_RECENT = 4096
"""How many sent ids a stream remembers, to tell a late-committed event from one it sent."""


def format_event(row: dict[str, Any]) -> str:
    event = AlertEvent(event_id=row["event_id"], event=row["event"], at=row["at"],
                       severity=row["event_severity"], note=row["note"],
                       alert=AlertOut.model_validate(row))
    return (f"id: {event.event_id}\nevent: {event.event}\n"
            f"data: {json.dumps(event.model_dump(mode='json'), separators=(',', ':'))}\n\n")


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    """Whom a stream was opened for, and until when its token is good."""

    viewer: Viewer
    expires_at: datetime
    session_id: int | None = None
    """The dashboard session the token belongs to: the stream ends when it is logged out."""


def _read(pool: ConnectionPool, viewer: Viewer, after_id: int,
          also_ids: list[int]) -> list[dict[str, Any]]:
    with pool.connection() as conn:
        return repository.events(conn, viewer, after_id=after_id, also_ids=also_ids, limit=PAGE)


_NOTICE_DATA: dict[str, type[BaseModel]] = {"readings": LateReadingsEvent,
                                             "messages": MessagesEvent}
"""Each patient notice's ``data:``: the notification's payload read as its event's schema, so
nothing else in it reaches a browser."""


def _visible_notices(pool: ConnectionPool, viewer: Viewer,
                     notices: list[PatientNotice]) -> list[str]:
    """SSE events of the notices about patients the viewer sees (no ``id:``: they are not
    replayed, so the last alert event id stays the stream's position)."""
    with pool.connection() as conn:
        seen = repository.visible_patient_ids(conn, viewer, {n.patient_id for n in notices})
    return [f"event: {n.event}\ndata: "
            f"{_NOTICE_DATA[n.event].model_validate_json(n.payload).model_dump_json()}\n\n"
            for n in notices if n.patient_id in seen]


def _withdrawn(pool: ConnectionPool, session: Session) -> str | None:
    """Why the viewer may no longer follow what she opened the stream with, or None."""
    viewer = session.viewer
    with pool.connection() as conn:
        user = users_repository.find_by_id(conn, viewer.user_id or 0)
        ended = session.session_id is not None and not users_repository.session_is_open(
            conn, session.session_id, viewer.user_id or 0)
    if user is None or not user["active"]:
        return "user-deactivated"
    if ended:
        return "session-ended"
    if user["role"] != viewer.role or set(user["team_ids"]) != set(viewer.team_ids):
        return "access-changed"
    return None


def end_event(reason: str) -> str:
    return f"event: end\ndata: {json.dumps({'reason': reason})}\n\n"


async def event_stream(pool: ConnectionPool, subscription: Subscription, session: Session, *,
                       after_id: int, keepalive_seconds: float, recheck_seconds: float
                       ) -> AsyncIterator[str]:
    """SSE text: first every visible event above ``after_id``, then each new one as the hub
    wakes us, and the late readings of visible patients as they are stored (``readings``) and
    the changes of their conversations (``messages``), with
    a comment line as keep-alive when nothing happened for a while. It ends with
    an ``end`` event when the token expires or, checked every ``recheck_seconds``, when the
    user is deactivated or her role or teams change: what the token and the teams allowed when
    the stream opened must not outlive them."""
    viewer = session.viewer
    yield f"retry: {RETRY_MS}\n\n"
    last = after_id
    sent: deque[int] = deque(maxlen=_RECENT)
    late: list[int] = []
    clock = time.monotonic
    ends_at = clock() + (session.expires_at - datetime.now(UTC)).total_seconds()
    next_check = clock() + recheck_seconds
    last_write = clock()
    while True:
        if clock() >= ends_at:
            yield end_event("token-expired")
            return
        if clock() >= next_check:
            reason = await run_in_threadpool(_withdrawn, pool, session)
            if reason is not None:
                yield end_event(reason)
                return
            next_check = clock() + recheck_seconds
        rows = await run_in_threadpool(_read, pool, viewer, last, late)
        for row in rows:
            sent.append(row["event_id"])
            last = max(last, row["event_id"])
            yield format_event(row)
            last_write = clock()
        if len(rows) == PAGE:
            late = []
            continue
        wait = min(keepalive_seconds - (clock() - last_write), next_check - clock(),
                   ends_at - clock())
        wakeup = await subscription.next_wakeup(max(wait, 0.0))
        if wakeup is None:
            return
        if wakeup.notices:
            for chunk in await run_in_threadpool(_visible_notices, pool, viewer,
                                                 wakeup.notices):
                yield chunk
            last_write = clock()
        ids = wakeup.ids
        if not ids:
            late = []
            if not wakeup.notices and clock() - last_write >= keepalive_seconds:
                yield ": keep-alive\n\n"
                last_write = clock()
            continue
        # An id at or below the last one sent belongs to a transaction that committed after a
        # later one: fetch it by id unless it was already sent.
        late = [i for i in ids if 0 < i <= last and i not in sent]
