"""The event stream of one viewer: replay from an id, then follow the hub's wake-ups."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from psycopg_pool import ConnectionPool
from starlette.concurrency import run_in_threadpool

from alerts.schemas import AlertOut
from core.access import Viewer
from stream import repository
from stream.hub import Subscription
from stream.schemas import AlertEvent

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


def _read(pool: ConnectionPool, viewer: Viewer, after_id: int,
          also_ids: list[int]) -> list[dict[str, Any]]:
    with pool.connection() as conn:
        return repository.events(conn, viewer, after_id=after_id, also_ids=also_ids, limit=PAGE)


async def event_stream(pool: ConnectionPool, subscription: Subscription, viewer: Viewer, *,
                       after_id: int, keepalive_seconds: float) -> AsyncIterator[str]:
    """SSE text: first every visible event above ``after_id``, then each new one as the hub
    wakes us, with a comment line as keep-alive when nothing happened for a while."""
    yield f"retry: {RETRY_MS}\n\n"
    last = after_id
    sent: deque[int] = deque(maxlen=_RECENT)
    late: list[int] = []
    while True:
        rows = await run_in_threadpool(_read, pool, viewer, last, late)
        for row in rows:
            sent.append(row["event_id"])
            last = max(last, row["event_id"])
            yield format_event(row)
        if len(rows) == PAGE:
            late = []
            continue
        ids = await subscription.next_ids(keepalive_seconds)
        if ids is None:
            return
        if not ids:
            yield ": keep-alive\n\n"
        # An id at or below the last one sent belongs to a transaction that committed after a
        # later one: fetch it by id unless it was already sent.
        late = [i for i in ids if 0 < i <= last and i not in sent]
