"""Liveness, readiness and Prometheus metrics; no authentication.

``/readyz`` is probed often and by anyone who can reach the port, so it answers from checks
cached for ``KOL_READYZ_CACHE_SECONDS`` (one refresh at a time per process: probes cannot make it
open connections to the database, broker and Redis), and says only which dependency is failing;
the reasons go to the log."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest
from psycopg import InterfaceError, OperationalError
from starlette.concurrency import run_in_threadpool

from alerts import recovery
from api.deps import SettingsDep
from core import health
from core.settings import Settings

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])

EVALUATIONS = Gauge("kol_alert_evaluations", "Left-over alert evaluations (ingest hand-offs)"
                    " waiting for the recovery task, or parked after repeated failures",
                    ["state"])


class ReadinessCache:
    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._lock = threading.Lock()
        self._checked_at = -float("inf")
        self._checks: dict[str, bool] = {}

    def get(self, request: Request, settings: Settings) -> dict[str, bool]:
        with self._lock:
            if time.monotonic() - self._checked_at >= self._seconds:
                self._checks = self._check(request, settings)
                self._checked_at = time.monotonic()
            return dict(self._checks)

    @staticmethod
    def _check(request: Request, settings: Settings) -> dict[str, bool]:
        results: dict[str, dict[str, Any]] = {}
        try:
            with request.app.state.pool.connection(timeout=3) as conn:
                results["database"] = health.database_status(conn)
        except Exception as exc:  # noqa: BLE001 - any failure means not ready, whatever raised it
            results["database"] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        results["broker"] = health.broker_status(settings)
        results["redis"] = health.redis_status(settings)
        for name, result in results.items():
            if not result["ok"]:
                log.warning("readiness: %s is failing: %s", name, result.get("error"))
        return {name: bool(result["ok"]) for name, result in results.items()}


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "a dependency is unreachable"}})
async def readyz(request: Request, settings: SettingsDep) -> JSONResponse:
    cache: ReadinessCache = request.app.state.readiness
    checks = await run_in_threadpool(cache.get, request, settings)
    ready = all(checks.values())
    return JSONResponse({"status": "ready" if ready else "not ready",
                         "checks": {name: "ok" if ok else "failing"
                                    for name, ok in checks.items()}},
                        status_code=200 if ready else 503)


@router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    try:
        with request.app.state.pool.connection(timeout=1) as conn:
            for state, n in recovery.counts(conn).items():
                EVALUATIONS.labels(state).set(n)
    except (OperationalError, InterfaceError):
        # The database down: the process's own metrics still matter, the last counts stand.
        pass
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
