"""Entry points of the Celery worker and beat. This is the one place that knows which domains
have tasks: importing a domain's ``tasks`` module registers its tasks and schedules on
:data:`core.celery_app.celery_app`."""

from __future__ import annotations

import sys

import access_log.tasks  # noqa: F401  (the access log's retention)
import alerts.tasks  # noqa: F401  (registers the alert domain's tasks and schedules)
import notifications.tasks  # noqa: F401  (the notification ticker and deliveries)
import rejections.tasks  # noqa: F401  (dead-letter retention)
from core.celery_app import celery_app
from core.settings import get_settings


def worker_main() -> None:
    celery_app.worker_main(["worker", "--loglevel=INFO", "--concurrency=2", *sys.argv[1:]])


def beat_main() -> None:
    schedule = str(get_settings().stack_dir / "celerybeat-schedule")
    # One beat per host for failover; the lock lets only one of them send (worker/beat.py).
    celery_app.start(["beat", "--loglevel=INFO", f"--schedule={schedule}",
                      "--scheduler=worker.beat:SingleBeatScheduler", *sys.argv[1:]])
