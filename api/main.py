"""``kol-api``: serve the HTTP API and the dashboard."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from api.app import create_app
from core import logging as kol_logging
from core.settings import get_settings


def app_factory() -> FastAPI:
    """The application of one worker process (uvicorn starts each worker from this)."""
    kol_logging.configure()
    return create_app(get_settings())


def main() -> None:
    kol_logging.configure()
    settings = get_settings()
    uvicorn.run("api.main:app_factory", factory=True, workers=settings.api_workers,
                host=settings.api_host, port=settings.api_port, log_config=None,
                access_log=False,
                # Open event streams would otherwise hold a stop until every dashboard leaves.
                timeout_graceful_shutdown=5)
