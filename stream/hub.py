"""One LISTEN connection per process, fanned out to the open event streams.

An alert notification is only a wake-up carrying the event id: each stream then reads the events
from the table, scoped to its viewer's teams in SQL, so a lost or coalesced notification costs
latency, never an event. The patient notices — late readings
(``ingest.schemas.LATE_READINGS_CHANNEL``, carrying the readings themselves) and a change in her
conversation (``MESSAGES_CHANNEL``, naming only her) — are passed on by a stream if its viewer
sees the patient. Missing one costs a live update of an open page, never data (the page reads
it on its next load, and after the stream reconnects)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from typing import Protocol

import psycopg

from core import repository
from ingest.schemas import LATE_READINGS_CHANNEL, MESSAGES_CHANNEL

log = logging.getLogger(__name__)

CHANNEL = "alert_events"
RESYNC = 0
"""Queued to every subscriber after the listener (re)connects: notifications may have been
missed, so read everything above the last id sent."""
NOTICES = {LATE_READINGS_CHANNEL: "readings", MESSAGES_CHANNEL: "messages"}
"""The patient notices' channels and the server-sent event each becomes."""


class Subscriber(Protocol):
    def push(self, event_id: int | None) -> None:
        """An event id, ``RESYNC``, or None when the hub stops; called in the event loop."""


@dataclass(frozen=True, slots=True)
class PatientNotice:
    """One patient notice: its event (a value of ``NOTICES``), whose, and its payload as it came
    (JSON)."""

    event: str
    patient_id: int
    payload: str


@dataclass(frozen=True, slots=True)
class Wakeup:
    ids: list[int]
    """Alert event ids (``RESYNC``: read everything above the last one sent)."""
    notices: list[PatientNotice]


class Subscription:
    def __init__(self) -> None:
        self._queue: asyncio.Queue[int | PatientNotice | None] = asyncio.Queue()

    def push(self, event_id: int | None) -> None:
        self._queue.put_nowait(event_id)

    def push_notice(self, notice: PatientNotice) -> None:
        self._queue.put_nowait(notice)

    async def next_wakeup(self, wait_seconds: float) -> Wakeup | None:
        """What was notified since the last call (waiting up to ``wait_seconds`` for the first;
        nothing on timeout), or None once the hub has stopped."""
        try:
            first = await asyncio.wait_for(self._queue.get(), wait_seconds)
        except TimeoutError:
            return Wakeup([], [])
        items = [first]
        while not self._queue.empty():
            items.append(self._queue.get_nowait())
        if None in items:
            return None
        return Wakeup(ids=[i for i in items if isinstance(i, int)],
                      notices=[i for i in items if isinstance(i, PatientNotice)])


class AlertEventHub:
    def __init__(self, database_url: str, *, reconnect_delay: float = 1.0) -> None:
        self._database_url = database_url
        self._reconnect_delay = reconnect_delay
        self._subscribers: set[Subscriber] = set()
        self._streams: set[Subscription] = set()
        """The subscribers that also follow patient notices (the event streams)."""
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
        self._streams.clear()

    def subscribe(self) -> Subscription:
        subscription = Subscription()
        self.attach(subscription)
        self._streams.add(subscription)
        return subscription

    def attach(self, subscriber: Subscriber) -> None:
        self._subscribers.add(subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)
        if isinstance(subscriber, Subscription):
            self._streams.discard(subscriber)

    def _fan_out(self, event_id: int) -> None:
        for subscription in list(self._subscribers):
            subscription.push(event_id)

    def _fan_out_notice(self, channel: str, payload: str) -> None:
        notice = _patient_notice(channel, payload)
        if notice is not None:
            for subscription in list(self._streams):
                subscription.push_notice(notice)

    async def _run(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                        self._database_url, autocommit=True,
                        application_name="kol-api-alert-stream") as conn:
                    await repository.listen(conn, CHANNEL)
                    for channel in NOTICES:
                        await repository.listen(conn, channel)
                    self.connected.set()
                    self._fan_out(RESYNC)
                    async for notify in conn.notifies():
                        if notify.channel in NOTICES:
                            self._fan_out_notice(notify.channel, notify.payload)
                        else:
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


def _patient_notice(channel: str, payload: str) -> PatientNotice | None:
    try:
        return PatientNotice(NOTICES[channel], int(json.loads(payload)["patient_id"]), payload)
    except (ValueError, KeyError, TypeError):
        log.warning("unreadable %s notification %.200r", channel, payload)
        return None
