"""``kol-api``: serve the HTTP API and the dashboard.

With ``KOL_API_WORKERS`` above 1 this process supervises that many worker processes, each
listening on its own ``SO_REUSEPORT`` socket, so that the kernel spreads connections evenly over
them. (Workers sharing one listening socket, as uvicorn's own ``--workers`` does, accept in
bursts: the first to wake takes every waiting connection, and a client that opens its
connections at once lands on one process, one core.)
"""

from __future__ import annotations

import logging
import multiprocessing
import socket
import sys

import uvicorn

from api.app import create_app
from core import logging as kol_logging
from core.settings import Settings, get_settings
from core.signals import WAIT_SECONDS, stop_on_signals

log = logging.getLogger(__name__)
STOP_SECONDS = 10.0
"""How long a stop waits for the workers (they allow 5 s for open requests)."""


def _config(settings: Settings) -> uvicorn.Config:
    certificate = tls_files(settings)
    return uvicorn.Config(create_app(settings), host=settings.api_host, port=settings.api_port,
                          log_config=None, access_log=False,
                          # Open event streams would otherwise hold a stop until every
                          # dashboard leaves.
                          timeout_graceful_shutdown=5,
                          ssl_certfile=certificate[0] if certificate else None,
                          ssl_keyfile=certificate[1] if certificate else None)


def tls_files(settings: Settings) -> tuple[str, str] | None:
    """The API's certificate and key: HTTPS; None (plain HTTP) only in a local demo
    (``KOL_LOCAL_DEMO_PLAINTEXT``), never by omission."""
    if settings.tls_cert_file is not None and settings.tls_key_file is not None:
        return str(settings.tls_cert_file), str(settings.tls_key_file)
    if settings.local_demo_plaintext:
        log.warning("kol-api serves plain HTTP (KOL_LOCAL_DEMO_PLAINTEXT): a local demo only")
        return None
    raise SystemExit("kol-api: set KOL_TLS_CERT_FILE and KOL_TLS_KEY_FILE (deploy/stack.sh"
                     " writes them), or KOL_LOCAL_DEMO_PLAINTEXT=true for a demo on one machine")


def _listen(settings: Settings, *, reuse_port: bool) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(
        settings.api_host, settings.api_port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    return sock


def _worker() -> None:
    kol_logging.configure()
    settings = get_settings()
    sock = _listen(settings, reuse_port=True)
    sock.listen(2048)
    uvicorn.Server(_config(settings)).run(sockets=[sock])


def main() -> None:
    kol_logging.configure()
    settings = get_settings()
    tls_files(settings)
    if settings.api_workers == 1:
        uvicorn.Server(_config(settings)).run()
        return
    # SO_REUSEPORT would let a forgotten kol-api on the same port silently take part of the
    # traffic; a plain bind first fails if anything listens there.
    _listen(settings, reuse_port=False).close()
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_worker, name=f"kol-api-worker-{i}")
               for i in range(settings.api_workers)]
    stop = stop_on_signals()
    for worker in workers:
        worker.start()
    log.info("kol-api: %d workers on %s:%d", len(workers), settings.api_host, settings.api_port)
    while not stop.is_set() and all(w.is_alive() for w in workers):
        stop.wait(WAIT_SECONDS)
    if not stop.is_set():
        log.error("a kol-api worker exited (%s); stopping the others",
                  ", ".join(f"{w.name}: {w.exitcode}" for w in workers if not w.is_alive()))
    for worker in workers:
        if worker.is_alive():
            worker.terminate()
    for worker in workers:
        worker.join(STOP_SECONDS)
        if worker.is_alive():
            worker.kill()
            worker.join()
    sys.exit(0 if stop.is_set() else 1)
