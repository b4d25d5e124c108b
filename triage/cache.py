"""Rendered triage pages, shared by the viewers of the same teams for a moment.

Every nurse of a team asks for the same list, and the dashboard asks again after every alert
event; computing it costs an aggregate over the team's patients and an index probe per row on
the readings. A page is kept for ``triage_cache_seconds``. A change to alerts clears the cache as
soon as it is known: the alert-event notification reaches every process's listener milliseconds
after the commit, wherever the change was made; and in the process that served it, a successful
write through the API clears it when its response starts (its transaction has committed by
then), so the writer's next read sees the change. What can lag by up to the lifetime is
``last_measured_at``, which ingest moves without an alert.

A page computed while the cache was cleared is not stored: it may have read the old state.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send


@dataclass(frozen=True, slots=True)
class CachedPage:
    body: bytes
    next_cursor: str | None


class TriageCache:
    def __init__(self, *, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._seconds = seconds
        self._clock = clock
        self._lock = threading.Lock()  # routes run in worker threads, invalidation in the loop
        self._pages: dict[Hashable, tuple[float, CachedPage]] = {}
        self._generation = 0

    @property
    def generation(self) -> int:
        """Take this before computing a page and hand it to :meth:`put`."""
        return self._generation

    def get(self, key: Hashable) -> CachedPage | None:
        with self._lock:
            entry = self._pages.get(key)
            if entry is None or entry[0] <= self._clock():
                return None
            return entry[1]

    def put(self, key: Hashable, page: CachedPage, *, generation: int) -> None:
        if self._seconds <= 0:
            return
        with self._lock:
            if generation == self._generation:
                self._pages[key] = (self._clock() + self._seconds, page)

    def invalidate(self) -> None:
        with self._lock:
            self._generation += 1
            self._pages.clear()

    def push(self, event_id: int | None) -> None:
        """An alert event (the alert-event hub's subscriber interface)."""
        self.invalidate()


class InvalidateOnWrite:
    """ASGI middleware: a successful write through the API clears the cache when its response
    starts. Its transaction has committed by then (``DbConn`` closes when the route returns), so
    a page computed afterwards sees it, and the writer's next read is fresh."""

    _READS = frozenset({"GET", "HEAD", "OPTIONS"})

    def __init__(self, app: ASGIApp, *, cache: TriageCache) -> None:
        self._app = app
        self._cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in self._READS:
            await self._app(scope, receive, send)
            return

        async def send_and_invalidate(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                self._cache.invalidate()
            await send(message)

        await self._app(scope, receive, send_and_invalidate)
