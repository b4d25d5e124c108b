"""``kol-gateway``: MQTT → TimescaleDB ingest with the streaming alert evaluation in-process.

Run one per host or several with ``--shared-group`` (each with its own ``--client-id``)."""

from __future__ import annotations

import argparse
import logging
import socket

from prometheus_client import start_http_server

from alerts.streaming import AlertEvaluator
from core import logging as kol_logging
from core.db import open_pool
from core.settings import get_settings
from core.signals import stop_on_signals, wait_for_stop
from gateway.service import Gateway, GatewayConfig, collect_less
from ingest.schemas import CommittedReadings
from ingest.writer import WriterConfig

log = logging.getLogger("gateway")


def _leave_pending(committed: CommittedReadings) -> None:
    """Without streaming evaluation the batch's pending_evaluations row stays for recovery."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kol-gateway", description=__doc__)
    parser.add_argument("--client-id", default=f"kol-gateway-{socket.gethostname()}"[:64],
                        help="stable MQTT client id: names the broker's persistent session")
    parser.add_argument("--shared-group", default=None,
                        help="share the load with other gateways of this group ($share/GROUP/…)")
    parser.add_argument("--session-expiry", type=int, default=GatewayConfig().session_expiry,
                        help="seconds the broker keeps this gateway's session while it is away"
                             " (short in a group whose other members cover for it)")
    parser.add_argument("--metrics-port", type=int, default=9108,
                        help="Prometheus /metrics port (0: off)")
    defaults = WriterConfig()
    parser.add_argument("--batch-rows", type=int, default=defaults.max_rows)
    parser.add_argument("--batch-ms", type=float, default=defaults.max_wait * 1000)
    parser.add_argument("--no-alerts", action="store_true",
                        help="no streaming alert evaluation (benchmarks of ingest alone); the"
                             " pending_evaluations rows wait for the recovery task")
    parser.add_argument("--log-level", default="INFO")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    kol_logging.configure(args.log_level)
    settings = get_settings()
    stop = stop_on_signals()
    if args.metrics_port:
        try:
            start_http_server(args.metrics_port, addr="127.0.0.1")
        except OSError as exc:
            # Metrics are worth a warning, not the ingest: a second gateway on this host.
            log.error("metrics port unavailable", extra={"port": args.metrics_port,
                                                          "error": str(exc)})
    # The writer holds one connection; the alert evaluator and the pool's spare take the rest.
    pool = open_pool(settings, name="kol-gateway", min_size=2, max_size=4)
    evaluator = None if args.no_alerts else AlertEvaluator(pool)
    gateway = Gateway(settings=settings, pool=pool,
                      hand_off=evaluator.submit if evaluator else _leave_pending,
                      config=GatewayConfig(
        client_id=args.client_id, shared_group=args.shared_group,
        session_expiry=args.session_expiry,
        writer=WriterConfig(max_rows=args.batch_rows, max_wait=args.batch_ms / 1000)))
    collect_less()
    gateway.start()
    log.info("gateway started", extra={"client_id": args.client_id,
                                       "shared_group": args.shared_group})
    wait_for_stop(stop)
    log.info("gateway stopping")
    gateway.stop()
    if evaluator:
        evaluator.close()
    pool.close()
