"""Celery beat runs once although a beat runs on every host: two real ``kol-beat`` processes
against the stack's Redis, the holder killed without a chance to clean up, the standby taking
over within the lock's time to live."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from core.settings import Settings
from tests.stack import ROOT
from worker.beat import LOCK_KEY, LOCK_TTL_SECONDS, TICK_SECONDS

pytestmark = pytest.mark.slow


def wait_for(what: str, check: Callable[[], bool], timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


@pytest.fixture
def beats(settings: Settings, tmp_path: Path) -> Iterator[Callable[[str], subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(name: str) -> subprocess.Popen[bytes]:
        state = tmp_path / name
        state.mkdir(mode=0o700)
        # Each host has its own schedule file, as a beat per host would.
        env = {**os.environ, "KOL_STACK_DIR": str(state)}
        with (state / "beat.log").open("wb") as log:
            proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "kol-beat")], env=env,
                                    stdout=log, stderr=subprocess.STDOUT)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_one_beat_sends_and_a_standby_takes_over_when_it_dies(
        settings: Settings, beats: Callable[[str], subprocess.Popen[bytes]]) -> None:
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    client.delete(LOCK_KEY)

    def holder() -> str | None:
        value = client.get(LOCK_KEY)
        return value if isinstance(value, str) else None

    def token(proc: subprocess.Popen[bytes]) -> str:
        return f"{socket.gethostname()}:{proc.pid}"

    first = beats("first")
    wait_for("the first beat holds the lock", lambda: holder() == token(first), 60)
    second = beats("second")
    # The standby runs its ticks (it has started once it tried the lock) and keeps off.
    time.sleep(3 * TICK_SECONDS)
    assert second.poll() is None
    assert holder() == token(first)

    first.send_signal(signal.SIGKILL)
    first.wait()
    took = wait_for("the standby holds the lock", lambda: holder() == token(second),
                    LOCK_TTL_SECONDS + 2 * TICK_SECONDS)
    assert took <= LOCK_TTL_SECONDS + 2 * TICK_SECONDS

    # A clean stop hands the lock over at once.
    second.send_signal(signal.SIGTERM)
    second.wait(timeout=30)
    assert holder() is None
