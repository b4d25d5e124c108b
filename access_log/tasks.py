"""Retention of the access log: entries older than ``KOL_ACCESS_LOG_RETENTION_DAYS`` are
removed once a day (the database refuses anything under a year)."""

from __future__ import annotations

import logging

from celery.schedules import crontab
from psycopg_pool import ConnectionPool

from access_log import repository
from core.celery_app import celery_app, worker_pool
from core.settings import get_settings

log = logging.getLogger(__name__)


@celery_app.task(name="access_log.purge")
def purge() -> int:
    return purge_with(worker_pool(), older_than_days=get_settings().access_log_retention_days)


def purge_with(pool: ConnectionPool, *, older_than_days: int) -> int:
    with pool.connection() as conn:
        removed = repository.purge(conn, older_than_days=older_than_days)
    if removed:
        log.info("access log: removed %d entries older than %d days", removed, older_than_days)
    return removed


celery_app.conf.beat_schedule = {
    **(celery_app.conf.beat_schedule or {}),
    "access-log-purge": {"task": "access_log.purge", "schedule": crontab(hour="3", minute="17")},
}
