"""A real uvicorn server in a thread, for tests that need actual HTTP (streams, schemathesis)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from api.app import create_app
from api.main import tls_files
from core.settings import Settings
from tests.conftest import free_port


def https_files(settings: Settings) -> tuple[str, str]:
    """The stack's certificate and key: test servers speak HTTPS, and clients verify them
    against the stack's CA (``SSL_CERT_FILE``, set by the ``settings`` fixture)."""
    files = tls_files(settings)
    assert files is not None, "the test stack has no TLS certificate"
    return files


@contextmanager
def serve(settings: Settings) -> Iterator[tuple[str, FastAPI]]:
    """The base URL and the app, once the server and the alert-event listener are up."""
    port = free_port()
    app = create_app(settings)
    # Open event streams would hold a graceful shutdown until they end.
    cert, key = https_files(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=1, ssl_certfile=cert,
                                           ssl_keyfile=key))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not (server.started and app.state.alert_hub.connected.is_set()):
        assert time.monotonic() < deadline, "the API or its listener did not start"
        time.sleep(0.05)
    try:
        yield f"https://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(10)
