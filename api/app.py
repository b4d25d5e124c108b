"""The FastAPI application: one connection pool per process, opened in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI

from api import openapi, problems
from api.auth.routes import router as auth_router
from api.body_limit import BodyLimit
from api.dashboard import routes as dashboard
from api.health import ReadinessCache
from api.health import router as health_router
from api.retry import RetryOnLostConnection
from api.routes import tablets
from api.routes.access_log import router as access_log_router
from api.routes.alerts import router as alerts_router
from api.routes.devices import router as devices_router
from api.routes.fhir import router as fhir_router
from api.routes.messages import router as messages_router
from api.routes.notifications import router as notifications_router
from api.routes.outcomes import router as outcomes_router
from api.routes.patients import router as patients_router
from api.routes.rejections import router as rejections_router
from api.routes.stream import router as stream_router
from api.routes.triage import router as triage_router
from api.routes.users import router as users_router
from core.db import open_pool
from core.settings import Settings, get_settings
from stream.hub import AlertEventHub
from triage.cache import InvalidateOnWrite, TriageCache


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

    # Operation ids are the route functions' names (enrol_patient, resolve): what a client
    # generated from the document calls its methods.
    app = FastAPI(title="KOL telemonitoring", version="1", lifespan=lifespan,
                  openapi_url="/openapi.json",
                  generate_unique_id_function=lambda route: route.name)
    app.state.settings = settings
    app.state.triage_cache = triage_cache
    app.state.readiness = ReadinessCache(settings.readyz_cache_seconds)
    app.add_middleware(InvalidateOnWrite, cache=triage_cache)
    # Inside the body limit: it replays a request body it has recorded.
    app.add_middleware(RetryOnLostConnection)
    # Added last, so it runs first: nothing reads a body before the limit is checked.
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_body_bytes)
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
    app.include_router(access_log_router)
    app.include_router(notifications_router)
    app.include_router(messages_router)
    app.include_router(outcomes_router)
    tablets.install(app, settings)
    dashboard.install(app)
    openapi.install(app)
    return app
