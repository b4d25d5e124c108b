"""Celery tasks of the notification domain: the ticker (outbox → chains → messages, digests,
hand-out of due messages) and the delivery of one message. Each task owns its transactions; the
worker process opens one pool on first use."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from psycopg_pool import ConnectionPool

from core.celery_app import celery_app, worker_pool
from core.settings import Settings, get_settings
from notifications import channels, delivery, planner

log = logging.getLogger(__name__)


def tick_with(pool: ConnectionPool, settings: Settings, *, now: datetime | None = None
              ) -> planner.TickOutcome | None:
    with pool.connection() as conn:
        return planner.tick(conn, now=now or datetime.now(UTC), settings=settings)


@celery_app.task(name="notifications.tick")
def tick() -> int:
    """Turn the outbox and due steps into messages and hand the due ones to the workers."""
    outcome = tick_with(worker_pool(), get_settings())
    if outcome is None:
        return 0
    for delivery_id in outcome.to_send:
        deliver.delay(delivery_id)
    return len(outcome.to_send)


def deliver_with(pool: ConnectionPool, settings: Settings, delivery_id: int, *,
                 sender: delivery.Send = channels.send) -> datetime | None:
    """Claim, send, record. Returns when to try again after a transient failure."""
    with pool.connection() as conn:
        claimed = delivery.claim(conn, delivery_id, settings=settings)
    if claimed is None:
        return None
    error = delivery.send(claimed, settings=settings, sender=sender)
    with pool.connection() as conn:
        return delivery.record(conn, claimed, error=error, settings=settings)


@celery_app.task(name="notifications.deliver")
def deliver(delivery_id: int) -> None:
    """Send one message; a transient failure is retried with exponential backoff."""
    retry_at = deliver_with(worker_pool(), get_settings(), delivery_id)
    if retry_at is not None:
        countdown = max(0.0, (retry_at - datetime.now(UTC)).total_seconds())
        deliver.apply_async((delivery_id,), countdown=countdown)


celery_app.conf.beat_schedule = {
    **(celery_app.conf.beat_schedule or {}),
    "notifications-tick": {"task": "notifications.tick",
                           "schedule": get_settings().notify_tick_seconds},
}
