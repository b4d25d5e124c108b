"""Celery tasks of the dead letters: retention. Each task is the transaction boundary."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from celery.schedules import crontab

from core.celery_app import celery_app, worker_pool
from core.settings import get_settings
from rejections import service

log = logging.getLogger(__name__)


@celery_app.task(name="rejections.prune")
def prune() -> int:
    """Delete dead letters older than ``KOL_DEAD_LETTER_RETENTION_DAYS`` (nightly)."""
    retention = timedelta(days=get_settings().dead_letter_retention_days)
    with worker_pool().connection() as conn:
        letters, payloads = service.prune(conn, now=datetime.now(UTC), retention=retention)
    log.info("pruned dead letters", extra={"dead_letters": letters, "payloads": payloads,
                                           "retention_days": retention.days})
    return letters


celery_app.conf.beat_schedule = {
    **(celery_app.conf.beat_schedule or {}),
    "rejections-prune": {"task": "rejections.prune", "schedule": crontab(hour=3, minute=17)},
}
