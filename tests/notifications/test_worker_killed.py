"""Exactly once per step: a real Celery worker (kol-worker) is SIGKILLed while the SMS gateway
holds its request; the message is neither lost (it is sent again when its lease ends) nor
repeated (the second request carries the same idempotency key and the gateway keeps one)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from psycopg_pool import ConnectionPool

from core.celery_app import celery_app
from core.settings import Settings
from notifications import tasks
from simulators.receivers import SmsGatewaySink, SmtpSink
from tests.notifications.conftest import Team, deliveries, raise_alert
from tests.stack import ROOT

pytestmark = pytest.mark.slow


def _start_worker(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ,
           "KOL_SMTP_HOST": settings.smtp_host, "KOL_SMTP_PORT": str(settings.smtp_port),
           "KOL_SMS_GATEWAY_URL": settings.sms_gateway_url,
           "KOL_SMS_GATEWAY_TOKEN": settings.sms_gateway_token.get_secret_value(),
           "KOL_PUBLIC_URL": settings.public_url,
           "KOL_NOTIFY_LEASE_SECONDS": str(settings.notify_lease_seconds)}
    return subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "kol-worker"), "--concurrency=2", "--without-gossip",
         "--without-mingle", "--without-heartbeat"],
        env=env, start_new_session=True, stdout=log.open("ab"), stderr=subprocess.STDOUT)


@pytest.fixture
def lease_settings(notify_settings: Settings) -> Iterator[Settings]:
    # The Celery app was made when the tests were collected, before the run's settings were
    # exported: point it at the test stack's Redis before its first connection.
    before = celery_app.conf.broker_url
    celery_app.conf.broker_url = notify_settings.redis_url
    with celery_app.connection_for_write() as connection:
        assert connection.as_uri(include_password=True) == notify_settings.redis_url
    celery_app.control.purge()
    yield notify_settings.model_copy(update={"notify_lease_seconds": 3.0})
    celery_app.conf.broker_url = before


def _sms_row(pool: ConnectionPool, alert_id: int) -> dict:
    return next(d for d in deliveries(pool, alert_id) if d["channel"] == "sms")


def test_worker_killed_mid_send_neither_loses_nor_repeats_the_step(
        pool: ConnectionPool, lease_settings: Settings, team: Team, sms: SmsGatewaySink,
        smtp: SmtpSink, tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    sms.stall_seconds = 8.0
    worker = _start_worker(lease_settings, log)
    try:
        alert_id = raise_alert(pool, team.patients[0])
        outcome = tasks.tick_with(pool, lease_settings)
        assert outcome is not None
        for delivery_id in outcome.to_send:
            tasks.deliver.delay(delivery_id)
        deadline = time.monotonic() + 60
        while sms.requests == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sms.requests == 1, log.read_text()[-3000:]
        # The step's e-mail went out and was recorded: the kill hits the SMS alone, mid-send.
        while time.monotonic() < deadline and {
                d["status"] for d in deliveries(pool, alert_id) if d["channel"] == "email"
        } != {"sent"}:
            time.sleep(0.05)
        os.killpg(worker.pid, signal.SIGKILL)  # mid-send: the gateway has not answered
        worker.wait(10)
        row = _sms_row(pool, alert_id)
        assert (row["status"], row["attempts"]) == ("sending", 1)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)

    sms.stall_seconds = 0.0
    worker = _start_worker(lease_settings, log)
    try:
        deadline = time.monotonic() + 60
        while _sms_row(pool, alert_id)["status"] != "sent" and time.monotonic() < deadline:
            outcome = tasks.tick_with(pool, lease_settings)  # what beat does every 2 s
            for delivery_id in outcome.to_send if outcome else ():
                tasks.deliver.delay(delivery_id)
            time.sleep(0.5)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(30)

    row = _sms_row(pool, alert_id)
    assert (row["status"], row["attempts"]) == ("sent", 2)
    deadline = time.monotonic() + 15  # the held request reaches the gateway when its hold ends
    while len(sms.received) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    key = f"alert:{alert_id}:red:step:1:user:{team.nurse}:sms"
    assert [r.key for r in sms.received] == [key, key]  # the killed attempt and the retry
    assert [r.key for r in sms.unique] == [key]         # one SMS reaches the nurse
    assert len(smtp.received) == 1                      # the e-mail of the step: once
    assert {d["status"] for d in deliveries(pool, alert_id)} == {"sent"}
