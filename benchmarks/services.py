"""The platform's own processes for benchmark runs: ``kol-api`` and ``kol-gateway`` started as
in production on a scratch database (``benchmarks.scratch``), logging to a file, and stopped
afterwards."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
READY_SECONDS = 60.0
"""How long ``kol-api`` may take to answer ``/readyz`` (a loaded machine starts it slowly)."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def service_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a service on the scratch database: the stack's settings otherwise."""
    return {**os.environ, "KOL_DATABASE_URL": database_url, "KOL_LOG_LEVEL": "WARNING", **extra}


def start(command: str, env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    """One of the platform's console scripts (beside this Python), its output in ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen([os.path.join(os.path.dirname(sys.executable), command), *args],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def running_api(settings: Settings, database_url: str, log: Path) -> Iterator[str]:
    """``kol-api`` (its configured workers) over HTTPS on a free port, ready (``/readyz``); its
    base URL. HTTPS as in production (TLS costs the API CPU); httpx trusts the stack's CA through
    ``SSL_CERT_FILE``."""
    port = free_port()
    api = start("kol-api", service_env(database_url, KOL_API_PORT=str(port),
                                       KOL_API_HOST="127.0.0.1"), log)
    try:
        base_url = f"https://127.0.0.1:{port}"
        if settings.tls_ca_file is not None:
            os.environ["SSL_CERT_FILE"] = str(settings.tls_ca_file)
        deadline = time.monotonic() + READY_SECONDS
        while True:
            try:
                if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if api.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"kol-api did not become ready (its log: {log})")
            time.sleep(0.2)
        yield base_url
    finally:
        stop(api)
