"""Liveness, readiness and Prometheus metrics; no authentication."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from psycopg import OperationalError

from api.deps import SettingsDep
from core import health

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "a dependency is unreachable"}})
def readyz(request: Request, settings: SettingsDep) -> JSONResponse:
    checks: dict[str, Any] = {}
    try:
        with request.app.state.pool.connection(timeout=3) as conn:
            checks["database"] = health.database_status(conn)
    except (OperationalError, TimeoutError) as exc:
        checks["database"] = {"ok": False, "error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - the pool raises its own PoolTimeout
        checks["database"] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    checks["broker"] = health.broker_status(settings)
    checks["redis"] = health.redis_status(settings)
    ready = all(c["ok"] for c in checks.values())
    return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks},
                        status_code=200 if ready else 503)


@router.get("/metrics", response_class=Response)
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
