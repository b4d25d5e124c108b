"""Sending one planned message: claimed in one transaction (an attempt more, a lease), sent
outside any transaction, its outcome recorded in another. A worker killed between the two leaves
the message ``sending`` until its lease ends; the ticker then hands it out again with the same
idempotency key. Never commits: the task owns both transactions."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import Connection

from core.settings import Settings
from notifications import repository
from notifications.channels import PermanentFailure, TransientFailure
from notifications.planner import dashboard_url, summary_window
from notifications.schemas import Message

log = logging.getLogger(__name__)

Send = Callable[[Settings, Message], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class Claimed:
    delivery_id: int
    attempts: int
    message: Message


def claim(conn: Connection[Any], delivery_id: int, *, settings: Settings) -> Claimed | None:
    """Take the message for sending; None when there is nothing to send (sent already, not
    due, another worker's, or its alert was acknowledged or resolved meanwhile)."""
    row = repository.claim(conn, delivery_id, lease_seconds=settings.notify_lease_seconds)
    if row is None:
        return None
    if row["kind"] == "alert" and row["alert_status"] != "open":
        repository.finish(conn, delivery_id, status="cancelled",
                          error=f"alert {row['alert_status']} before sending")
        return None
    body = row["body"]
    if row["kind"] == "summary":
        since, until = summary_window(row["idempotency_key"])
        count = repository.count_summarised(conn, address=row["address"], since=since,
                                            until=until)
        body = f"{count} {body}"
    return Claimed(delivery_id=delivery_id, attempts=row["attempts"], message=Message(
        idempotency_key=row["idempotency_key"], channel=row["channel"], address=row["address"],
        subject=row["subject"], body=body,
        url=dashboard_url(settings, row["alert_id"]) if row["alert_id"] else
        dashboard_url(settings),
        push_p256dh=row["p256dh"], push_auth=row["auth"]))


def record(conn: Connection[Any], claimed: Claimed, *, error: Exception | None,
           settings: Settings, now: datetime | None = None) -> datetime | None:
    """The outcome of a send: sent, failed (retried at the returned time, with exponential
    backoff) or gave up (a permanent refusal, or the last attempt)."""
    if error is None:
        repository.finish(conn, claimed.delivery_id, status="sent", body=claimed.message.body)
        return None
    text = str(error)[:500]
    if isinstance(error, PermanentFailure) or claimed.attempts >= settings.notify_max_attempts:
        repository.finish(conn, claimed.delivery_id, status="gave_up", error=text)
        if isinstance(error, PermanentFailure) and claimed.message.channel == "push" \
                and "gone" in text:
            repository.delete_push_subscription(conn, user_id=None,
                                                endpoint=claimed.message.address)
        log.error("notification %s gave up after %d attempts: %s", claimed.delivery_id,
                  claimed.attempts, text)
        return None
    retry_at = (now or datetime.now(UTC)) + timedelta(
        seconds=settings.notify_backoff_seconds * 2 ** (claimed.attempts - 1))
    repository.finish(conn, claimed.delivery_id, status="failed", error=text, retry_at=retry_at)
    log.warning("notification %s failed (attempt %d), retry at %s: %s", claimed.delivery_id,
                claimed.attempts, retry_at.isoformat(), text)
    return retry_at


def send(claimed: Claimed, *, settings: Settings, sender: Send) -> Exception | None:
    """Send outside any transaction; the failure, if any, classified for :func:`record`."""
    try:
        sender(settings, claimed.message)
    except (TransientFailure, PermanentFailure) as exc:
        return exc
    except Exception as exc:  # an adapter's bug must not lose the message: retry it
        log.exception("notification %s: unexpected error", claimed.delivery_id)
        return TransientFailure(f"unexpected: {exc!r}")
    return None
