"""Celery tasks of the alert domain: recovery of left-over ingest hand-offs and missing-
measurement alerts. Each task is the
transaction boundary; the worker process opens one pool on first use."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from celery.schedules import crontab
from psycopg_pool import ConnectionPool

from alerts import missing, personalisation, recovery
from alerts.recovery import RecoveryPolicy
from core.celery_app import celery_app, worker_pool
from core.settings import get_settings

log = logging.getLogger(__name__)

RECOVER_MAX_PER_RUN = 1000


@celery_app.task(name="alerts.recover_pending")
def recover_pending() -> int:
    """Evaluate left-over ``pending_evaluations`` rows, one transaction each."""
    return recover_pending_with(worker_pool(), RecoveryPolicy.from_settings(get_settings()))


def recover_pending_with(pool: ConnectionPool, policy: RecoveryPolicy) -> int:
    """Evaluate the due left-over hand-offs; the number evaluated. A row that fails is counted
    and waits its backoff (parked after too many failures) while later rows go on."""
    steps: dict[str, int] = {}
    for _ in range(RECOVER_MAX_PER_RUN):
        with pool.connection() as conn:
            step = recovery.recover_one(conn, policy)
        if step is None:
            break
        steps[step] = steps.get(step, 0) + 1
    if steps:
        log.warning("left-over alert evaluations: %s", steps)
    return steps.get("evaluated", 0)


@celery_app.task(name="alerts.check_missing")
def check_missing() -> int:
    """Blue alerts for measurements missing at their deadline (every 15 minutes)."""
    with worker_pool().connection() as conn:
        outcome = missing.check_missing(conn, now=datetime.now(UTC),
                                        timezone=get_settings().timezone)
    return outcome.opened + outcome.updated


@celery_app.task(name="alerts.personalise_due")
def personalise_due() -> dict[str, int]:
    """Personal limits applied at the end of the run-in for profiles with ``auto_personalise``
    (hourly)."""
    with worker_pool().connection() as conn:
        return personalisation.personalise_due(conn, now=datetime.now(UTC))


celery_app.conf.beat_schedule = {
    **(celery_app.conf.beat_schedule or {}),
    "alerts-recover-pending": {"task": "alerts.recover_pending", "schedule": 60.0},
    # Wall-clock quarter hours in the app's timezone (Europe/Copenhagen); the check itself works
    # on UTC instants, so a daylight-saving change neither skips nor repeats a deadline.
    "alerts-check-missing": {"task": "alerts.check_missing", "schedule": crontab(minute="*/15")},
    "alerts-personalise-due": {"task": "alerts.personalise_due", "schedule": 3600.0},
}
