"""The FastAPI application: one connection pool per process, opened in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI

from alerts.routes import router as alerts_router
from api import problems
from api.auth.routes import router as auth_router
from api.dashboard import routes as dashboard
from api.devices.routes import router as devices_router
from api.fhir.routes import router as fhir_router
from api.health import router as health_router
from api.patients.routes import router as patients_router
from api.rejections.routes import router as rejections_router
from api.stream.hub import AlertEventHub
from api.stream.routes import router as stream_router
from api.triage.cache import InvalidateOnWrite, TriageCache
from api.triage.routes import router as triage_router
from api.users.routes import router as users_router
from core.db import open_pool
from core.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    triage_cache = TriageCache(seconds=settings.triage_cache_seconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = open_pool(settings, name="kol-api")
        app.state.db_slots = anyio.Semaphore(settings.db_pool_max)
        hub = AlertEventHub(settings.database_url)
        hub.attach(triage_cache)
        hub.start()
        app.state.alert_hub = hub
        try:
            yield
        finally:
            await hub.stop()
            app.state.pool.close()

    app = FastAPI(title="KOL telemonitoring", version="1", lifespan=lifespan,
                  openapi_url="/openapi.json")
    app.state.settings = settings
    app.state.triage_cache = triage_cache
    app.add_middleware(InvalidateOnWrite, cache=triage_cache)
    problems.install(app)
    for router in (health_router, auth_router):
        app.include_router(router)
    app.include_router(patients_router)
    app.include_router(users_router)
    app.include_router(triage_router)
    app.include_router(stream_router)
    app.include_router(fhir_router)
    app.include_router(alerts_router)
    app.include_router(devices_router)
    app.include_router(rejections_router)
    dashboard.install(app)
    return app
