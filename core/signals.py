"""Stopping a long-running process on SIGINT or SIGTERM."""

from __future__ import annotations

import signal
import time
from types import FrameType

WAIT_SECONDS = 0.5
"""How often a main thread waiting for a stop also looks after what it runs (the API's workers)."""

_STEP_SECONDS = 0.05
"""A waiting main thread's sleep: a signal does not cut a sleep short (PEP 475), and the kernel
may deliver it to any thread (paho's, a pool's) while Python runs the handler only in the main
thread, so a stop is noticed within one step."""


class StopRequest:
    """Whether SIGINT or SIGTERM has asked the process to stop.

    The signal handler only assigns a bool. A handler runs in the main thread between two of its
    bytecodes, possibly inside the handler of the signal before, and one that takes a lock can
    deadlock there: ``threading.Event.set`` did, when Ctrl-C's SIGINT and the SIGTERM that
    ``deploy/run.sh`` sends on it arrived together, and left a gateway that never stopped.
    """

    def __init__(self) -> None:
        self._requested = False

    def set(self) -> None:
        self._requested = True

    def is_set(self) -> bool:
        return self._requested

    def wait(self, timeout: float) -> bool:
        """Sleep until a stop is requested or ``timeout`` seconds have passed; whether it was."""
        deadline = time.monotonic() + timeout
        while not self._requested and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, _STEP_SECONDS))
        return self._requested


def stop_on_signals() -> StopRequest:
    """A stop request that SIGINT and SIGTERM set (installed in the calling, main, thread). Wait
    on it with :func:`wait_for_stop` or poll ``is_set()``."""
    stop = StopRequest()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def wait_for_stop(stop: StopRequest) -> None:
    stop.wait(float("inf"))
