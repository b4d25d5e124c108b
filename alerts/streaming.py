"""Streaming evaluation of committed ingest batches, in a thread of the gateway process.

The gateway calls :meth:`AlertEvaluator.submit` after each ingest commit; the evaluator's thread
evaluates the batch (one query for all history windows) and writes the lifecycle steps in one
transaction that also deletes the batch's ``pending_evaluations`` row. If the process dies in
between, the row stays and :func:`alerts.tasks.recover_pending` evaluates the batch later.
"""

from __future__ import annotations

import logging
import queue
import threading

from psycopg_pool import ConnectionPool

from alerts import evaluation, repository
from alerts.lifecycle import Outcome
from ingest.schemas import CommittedReadings

log = logging.getLogger(__name__)

_STOP = object()


class AlertEvaluator:
    """Evaluates committed batches in order, in its own thread.

    ``submit`` never blocks and never raises for a bad batch: a failed evaluation is logged and
    its pending row is left for recovery.
    """

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._closed = False
        self.evaluated_batches = 0
        self.failed_batches = 0
        self._thread = threading.Thread(target=self._run, name="alert-evaluator", daemon=True)
        self._thread.start()

    def submit(self, committed: CommittedReadings) -> None:
        if self._closed:
            raise RuntimeError("the alert evaluator is closed")
        self._queue.put(committed)

    def close(self) -> None:
        """Evaluate everything submitted so far, then stop the thread."""
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
        self._thread.join()

    def _run(self) -> None:
        while (item := self._queue.get()) is not _STOP:
            assert isinstance(item, CommittedReadings)
            try:
                evaluate_committed(self._pool, item)
                self.evaluated_batches += 1
            except Exception:
                self.failed_batches += 1
                log.exception("alert evaluation of pending batch %s failed; left for recovery",
                              item.pending_evaluation_id)


def evaluate_committed(pool: ConnectionPool, committed: CommittedReadings) -> Outcome:
    """One transaction: claim the hand-off row, evaluate, write the lifecycle steps."""
    with pool.connection() as conn:
        if not repository.claim_pending(conn, committed.pending_evaluation_id):
            return Outcome()  # recovery got there first
        return evaluation.evaluate_new(conn, committed)
