"""Delivery status and retries against real receivers: a provider outage is retried with
backoff until it is sent; a provider that stays down makes the message 'gave_up'; a refused
address gives up at once. The API-visible status follows each step."""

from __future__ import annotations

import time

from psycopg_pool import ConnectionPool
from pydantic import SecretStr

from core.settings import Settings
from notifications.tasks import deliver_with, tick_with
from simulators.receivers import SmsGatewaySink, SmtpSink
from tests.notifications.conftest import Team, deliveries, raise_alert


def _sms(pool: ConnectionPool, alert_id: int) -> dict:
    [row] = [d for d in deliveries(pool, alert_id) if d["channel"] == "sms"]
    return row


def _drive(pool: ConnectionPool, settings: Settings, alert_id: int, *, until: str,
           timeout: float = 10.0) -> None:
    """Tick and deliver, as beat and the worker do, until the SMS is in status ``until``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and until not in {
            d["status"] for d in deliveries(pool, alert_id) if d["channel"] == "sms"}:
        outcome = tick_with(pool, settings)
        for delivery_id in outcome.to_send if outcome else ():
            deliver_with(pool, settings, delivery_id)
        time.sleep(0.1)


def test_outage_is_retried_with_backoff_until_sent(
        pool: ConnectionPool, notify_settings: Settings, team: Team, sms: SmsGatewaySink,
        smtp: SmtpSink) -> None:
    sms.fail_next = 2
    alert_id = raise_alert(pool, team.patients[0])
    outcome = tick_with(pool, notify_settings)
    assert outcome is not None
    [sms_id] = [i for i in outcome.to_send if i in {d["id"] for d in deliveries(pool, alert_id)
                                                     if d["channel"] == "sms"}]
    deliver_with(pool, notify_settings, sms_id)
    first = _sms(pool, alert_id)
    assert (first["status"], first["attempts"]) == ("failed", 1)
    assert "503" in first["last_error"]
    _drive(pool, notify_settings, alert_id, until="sent")  # backoff 0.2 s, then 0.4 s
    final = _sms(pool, alert_id)
    assert (final["status"], final["attempts"]) == ("sent", 3)
    assert sms.requests == 3
    assert len(sms.unique) == 1


def test_provider_down_for_good_gives_up_after_the_last_attempt(
        pool: ConnectionPool, notify_settings: Settings, team: Team, sms: SmsGatewaySink) -> None:
    sms.fail_next = 100
    alert_id = raise_alert(pool, team.patients[1])
    _drive(pool, notify_settings, alert_id, until="gave_up")  # backoff 0.2 + 0.4 + 0.8 s
    row = _sms(pool, alert_id)
    assert (row["status"], row["attempts"]) == ("gave_up", notify_settings.notify_max_attempts)
    assert sms.unique == []


def test_refused_address_gives_up_at_once(pool: ConnectionPool, notify_settings: Settings,
                                          team: Team, sms: SmsGatewaySink) -> None:
    refusing = notify_settings.model_copy(update={"sms_gateway_token": SecretStr("wrong")})
    alert_id = raise_alert(pool, team.patients[2])
    _drive(pool, refusing, alert_id, until="gave_up")
    row = _sms(pool, alert_id)
    assert (row["status"], row["attempts"]) == ("gave_up", 1)
    assert "401" in row["last_error"]
