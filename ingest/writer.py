"""The batch writer: a thread that groups parsed messages by size and time, writes each group in
one transaction (it owns the commit) and only then reports the outcome, so that the caller sends
receipts and broker acks for committed data only.

While the database is slow or down it retries the same group with backoff and takes nothing new:
the caller's queue is bounded by the broker's in-flight window (the gateway acks nothing that is
not committed), so memory stays bounded and the broker holds the rest."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from ingest.schemas import BatchOutcome
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


_STOP = object()


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
        """Commit the group, retrying until it succeeds; False if told to stop meanwhile."""
        started = time.monotonic()
        delay = self._config.backoff_initial
        while True:
            try:
                with self._pool.connection(timeout=5.0) as conn, conn.transaction():
                    outcome = write_batch(conn, [item.message for item in group])
                break
            except (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout) as exc:
                self.retries += 1
                log.warning("ingest commit failed, retrying", extra={
                    "error": str(exc)[:200], "messages": len(group), "retry_in": delay})
            except Exception:
                # A bug or a row the database refuses: keep the messages (the broker still has
                # them, unacknowledged) rather than drop data; loud, and retried.
                self.retries += 1
                log.exception("ingest batch failed, retrying", extra={"messages": len(group)})
            if self._stopping.wait(delay):
                return False
            delay = min(delay * 2, self._config.backoff_max)
        try:
            self._on_committed(group, outcome, time.monotonic() - started)
        except Exception:
            log.exception("post-commit hand-off failed")
        return True
