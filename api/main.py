"""``kol-api``: serve the HTTP API and the dashboard."""

from __future__ import annotations

import uvicorn

from api.app import create_app
from core import logging as kol_logging
from core.settings import get_settings


def main() -> None:
    kol_logging.configure()
    settings = get_settings()
    uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port,
                log_config=None, access_log=False,
                # Open event streams would otherwise hold a stop until every dashboard leaves.
                timeout_graceful_shutdown=5)
