"""The batch writer: a thread that groups parsed messages by size and time, writes each group in
one transaction (it owns the commit) and only then reports the outcome, so that the caller sends
receipts and broker acks for committed data only.

While the database is slow or down it retries the same group with backoff and takes nothing new:
the caller's queue is bounded by the broker's in-flight window (the gateway acks nothing that is
not committed), so memory stays bounded and the broker holds the rest.

A group that fails for any other reason (the database refuses a row, a bug) is split in halves,
each written on its own, down to the one message that fails: that message alone is
dead-lettered ``internal_error`` (its raw payload kept for an operator) and receipted, and every
other message commits. One bad input costs only itself."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from ingest.schemas import BatchOutcome, DeadLetterPolicy
from ingest.service import write_batch
from protocol.messages import Message

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class Item(Generic[T]):
    message: Message
    token: T
    """Whatever the caller needs to acknowledge the message once committed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WriterConfig:
    max_rows: int = 5000
    """A group closes at this many readings (messages count at least one)..."""
    max_wait: float = 0.05
    """... or this many seconds after its first message arrived."""
    backoff_initial: float = 0.1
    backoff_max: float = 5.0
    dead_letters: DeadLetterPolicy = field(default_factory=DeadLetterPolicy)


TRANSIENT = (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout)
"""The database unreachable, restarting, or a transaction it rolled back (deadlock, conflict):
the same group is retried whole."""


_STOP = object()


@dataclass(frozen=True, slots=True, kw_only=True)
class Refused:
    """A group the database (or our code) refused for a reason retrying would not change."""

    error: str


class BatchWriter(Generic[T]):
    def __init__(self, pool: ConnectionPool, *,
                 on_committed: Callable[[list[Item[T]], BatchOutcome, float], None],
                 config: WriterConfig | None = None) -> None:
        """``on_committed(items, outcome, seconds)`` runs in the writer thread after each commit;
        ``seconds`` is the commit's latency including retries."""
        self._pool = pool
        self._on_committed = on_committed
        self._config = config or WriterConfig()
        self._queue: queue.SimpleQueue[Item[T] | object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
        self._stopping = threading.Event()
        self.retries = 0
        self.poisoned = 0
        """Messages dead-lettered ``internal_error`` since the start."""

    def start(self) -> None:
        self._thread.start()

    def put(self, item: Item[T]) -> None:
        self._queue.put(item)

    def backlog(self) -> int:
        return self._queue.qsize()

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued (unless the database stays down), then stop."""
        self._queue.put(_STOP)
        self._thread.join(timeout)
        self._stopping.set()
        self._thread.join()

    def _collect(self) -> tuple[list[Item[T]], bool]:
        first = self._queue.get()
        if first is _STOP:
            return [], True
        assert isinstance(first, Item)
        group: list[Item[T]] = [first]
        rows = max(1, len(first.message.readings))
        deadline = time.monotonic() + self._config.max_wait
        while rows < self._config.max_rows:
            remaining = deadline - time.monotonic()
            try:
                item = self._queue.get(timeout=remaining) if remaining > 0 else \
                    self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                return group, True
            assert isinstance(item, Item)
            group.append(item)
            rows += max(1, len(item.message.readings))
        return group, False

    def _run(self) -> None:
        stop = False
        while not stop:
            group, stop = self._collect()
            if group and not self._write(group):
                return

    def _write(self, group: list[Item[T]]) -> bool:
        """Commit the group (split around a message that cannot be stored), retrying transient
        failures until they pass; False if told to stop meanwhile."""
        started = time.monotonic()
        pending: list[tuple[list[Item[T]], bool]] = [(group, False)]
        while pending:
            part, last_resort = pending.pop()
            outcome = self._commit([item.message for item in part], last_resort=last_resort)
            if outcome is None:
                return False
            if isinstance(outcome, BatchOutcome):
                try:
                    self._on_committed(part, outcome, time.monotonic() - started)
                except Exception:
                    log.exception("post-commit hand-off failed")
            elif len(part) > 1:
                # Depth first, the earlier half first: messages commit in arrival order.
                half = len(part) // 2
                pending += [(part[half:], False), (part[:half], False)]
            else:
                poisoned = part[0].message.rejected("internal_error", outcome.error[:200])
                log.error("message could not be stored; dead-lettered internal_error", extra={
                    "topic": poisoned.topic, "msg_id": poisoned.msg_id,
                    "error": outcome.error[:200]})
                self.poisoned += 1
                pending.append(([Item(message=poisoned, token=part[0].token)], True))
        return True

    def _commit(self, messages: list[Message], *, last_resort: bool
                ) -> BatchOutcome | Refused | None:
        """The outcome of one transaction, retried while the failure is transient (and always
        when ``last_resort``: the dead letter of a message that could not be stored, which must
        not be dropped); ``Refused`` if the database or our code refuses this group; None if
        told to stop."""
        delay = self._config.backoff_initial
        while True:
            try:
                with self._pool.connection(timeout=5.0) as conn, conn.transaction():
                    return write_batch(conn, messages, policy=self._config.dead_letters)
            except TRANSIENT as exc:
                self.retries += 1
                log.warning("ingest commit failed, retrying", extra={
                    "error": str(exc)[:200], "messages": len(messages), "retry_in": delay})
            except Exception as exc:
                if not last_resort:
                    # Retrying the same group would fail the same way and hold up every tablet
                    # behind it.
                    log.warning("ingest batch refused; isolating the message that fails",
                                extra={"error": repr(exc)[:200], "messages": len(messages)})
                    return Refused(error=f"{type(exc).__name__}: {exc}")
                self.retries += 1
                log.exception("dead letter of an unstorable message failed, retrying")
            if self._stopping.wait(delay):
                return None
            delay = min(delay * 2, self._config.backoff_max)
