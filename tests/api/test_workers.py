"""``kol-api`` with several worker processes: connections are spread over them, a port already
taken is refused, and a stop ends every worker."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from core.settings import Settings
from tests.conftest import free_port

KOL_API = Path(sys.executable).parent / "kol-api"


def _start(settings: Settings, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KOL_DATABASE_URL": settings.database_url, "KOL_API_PORT": str(port),
           "KOL_API_HOST": "127.0.0.1", "KOL_API_WORKERS": "2"}
    return subprocess.Popen([str(KOL_API)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)


def test_workers_share_the_connections_and_stop_together(settings: Settings) -> None:
    port = free_port()
    api = _start(settings, port)
    try:
        deadline = time.monotonic() + 30
        workers: list[psutil.Process] = []
        while len(workers) < 2:  # (multiprocessing also starts a resource tracker)
            assert api.poll() is None, api.stdout.read().decode() if api.stdout else ""
            assert time.monotonic() < deadline, "the workers did not start listening"
            workers = [c for c in psutil.Process(api.pid).children() if _listening(c, port)]
            time.sleep(0.2)
        # Each client opens its own connection; the kernel hashes them over the two sockets,
        # so all 16 landing on one worker has a chance of 2 in 65 536.
        clients = [httpx.Client(base_url=f"https://127.0.0.1:{port}") for _ in range(16)]
        try:
            for client in clients:
                assert client.get("/healthz").status_code == 200
            served = [sum(c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port
                          for c in w.net_connections("tcp")) for w in workers]
            assert sum(served) == 16
            assert min(served) > 0, served
        finally:
            for client in clients:
                client.close()
    finally:
        api.send_signal(signal.SIGTERM)
        assert api.wait(timeout=30) == 0
    assert not [w for w in workers if w.is_running() and w.status() != psutil.STATUS_ZOMBIE]
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"https://127.0.0.1:{port}/healthz")


def test_a_port_in_use_is_refused(settings: Settings) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        api = _start(settings, taken.getsockname()[1])
        assert api.wait(timeout=30) != 0
        assert api.stdout is not None
        assert b"Address already in use" in api.stdout.read()


def _listening(process: psutil.Process, port: int) -> bool:
    try:
        return any(c.status == psutil.CONN_LISTEN and c.laddr.port == port
                   for c in process.net_connections("tcp"))
    except psutil.NoSuchProcess:
        return False
