"""The Celery application: Redis as broker, schedules in Europe/Copenhagen. Domain packages keep
their tasks in their own ``tasks.py``; this module only wires them."""

from __future__ import annotations

import sys

from celery import Celery

from core.settings import get_settings

TASK_MODULES = ["alerts.tasks"]

settings = get_settings()
celery_app = Celery("kol", broker=settings.redis_url, include=TASK_MODULES)
celery_app.conf.update(
    timezone=settings.timezone,
    enable_utc=True,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    broker_connection_retry_on_startup=True,
)


def worker_main() -> None:
    celery_app.worker_main(["worker", "--loglevel=INFO", "--concurrency=2", *sys.argv[1:]])


def beat_main() -> None:
    schedule = str(settings.stack_dir / "celerybeat-schedule")
    celery_app.start(["beat", "--loglevel=INFO", f"--schedule={schedule}", *sys.argv[1:]])
