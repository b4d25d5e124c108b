"""The Celery application: Redis as broker, schedules in Europe/Copenhagen. Domain packages keep
their tasks in their own ``tasks.py``, registered on this app when the worker entry point
(``worker.main``) imports them; the ground floor knows no domain."""

from __future__ import annotations

from functools import cache

from celery import Celery
from psycopg_pool import ConnectionPool

from core.db import open_pool
from core.settings import get_settings

settings = get_settings()
celery_app = Celery("kol", broker=settings.redis_url)
celery_app.conf.update(
    timezone=settings.timezone,
    enable_utc=True,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    broker_connection_retry_on_startup=True,
)


@cache
def worker_pool() -> ConnectionPool:
    """The worker process's one connection pool, shared by every domain's tasks (opened on first
    use, so that importing the tasks connects to nothing)."""
    return open_pool(get_settings(), name="kol-worker", min_size=1, max_size=2)
