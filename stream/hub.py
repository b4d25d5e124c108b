"""One LISTEN connection per process, fanned out to the open event streams.

The notification is only a wake-up carrying the event id: each stream then reads the events
from the table, scoped to its viewer's teams in SQL, so a lost or coalesced notification costs
latency, never an event."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Protocol

import psycopg

from core import repository

log = logging.getLogger(__name__)

CHANNEL = "alert_events"
RESYNC = 0
"""Queued to every subscriber after the listener (re)connects: notifications may have been
missed, so read everything above the last id sent."""


class Subscriber(Protocol):
    def push(self, event_id: int | None) -> None:
        """An event id, ``RESYNC``, or None when the hub stops; called in the event loop."""


class Subscription:
    def __init__(self) -> None:
        self._queue: asyncio.Queue[int | None] = asyncio.Queue()

    def push(self, event_id: int | None) -> None:
        self._queue.put_nowait(event_id)

    async def next_ids(self, wait_seconds: float) -> list[int] | None:
        """The event ids notified since the last call (waiting up to ``wait_seconds`` for the
        first; [] on timeout), or None once the hub has stopped."""
        try:
            first = await asyncio.wait_for(self._queue.get(), wait_seconds)
        except TimeoutError:
            return []
        ids = [first]
        while not self._queue.empty():
            ids.append(self._queue.get_nowait())
        return None if None in ids else [i for i in ids if i is not None]


class AlertEventHub:
    def __init__(self, database_url: str, *, reconnect_delay: float = 1.0) -> None:
        self._database_url = database_url
        self._reconnect_delay = reconnect_delay
        self._subscribers: set[Subscriber] = set()
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="alert-event-hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for subscription in self._subscribers:
            subscription.push(None)
        self._subscribers.clear()

    def subscribe(self) -> Subscription:
        subscription = Subscription()
        self.attach(subscription)
        return subscription

    def attach(self, subscriber: Subscriber) -> None:
        self._subscribers.add(subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    def _fan_out(self, event_id: int) -> None:
        for subscription in list(self._subscribers):
            subscription.push(event_id)

    async def _run(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                        self._database_url, autocommit=True,
                        application_name="kol-api-alert-stream") as conn:
                    await repository.listen(conn, CHANNEL)
                    self.connected.set()
                    self._fan_out(RESYNC)
                    async for notify in conn.notifies():
                        self._fan_out(_event_id(notify.payload))
            except psycopg.Error as exc:
                log.warning("alert event listener lost its connection (%s); reconnecting", exc)
            self.connected.clear()
            await asyncio.sleep(self._reconnect_delay)


def _event_id(payload: str) -> int:
    try:
        return int(json.loads(payload)["id"])
    except (ValueError, KeyError, TypeError):
        log.warning("unreadable %s notification %.200r", CHANNEL, payload)
        return RESYNC
