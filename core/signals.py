"""Stopping a long-running process on SIGINT or SIGTERM."""

from __future__ import annotations

import signal
import threading
from types import FrameType

WAIT_SECONDS = 0.5
"""How often a main thread waiting for a stop wakes up. The kernel may deliver a signal to any
thread (paho's, a pool's), and Python runs the handler only when the main thread runs: a wait
without a timeout could sleep through it."""


def stop_on_signals() -> threading.Event:
    """An event that SIGINT and SIGTERM set (installed in the calling, main, thread). Wait on it
    with :func:`wait_for_stop` or poll ``is_set()``."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def wait_for_stop(stop: threading.Event) -> None:
    while not stop.wait(WAIT_SECONDS):
        pass
