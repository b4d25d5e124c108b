"""Web Push with VAPID through pywebpush, against a local push service that checks what a real
one checks (the VAPID JWT signed by the key the browser subscribed with, for this origin, not
expired) and decrypts the aes128gcm message with the browser's keys, as the browser would."""

from __future__ import annotations

from typing import Any

from psycopg_pool import ConnectionPool

from core.settings import Settings
from notifications import channels, repository
from simulators.receivers import BrowserKeys, PushServiceSink
from tests.notifications.conftest import Team, deliveries, later, raise_alert, run


def _subscribe(pool: ConnectionPool, push_service: PushServiceSink, user_id: int, name: str,
               server_key: str) -> str:
    keys = BrowserKeys.generate()
    endpoint = push_service.subscribe(name, keys, server_key)
    with pool.connection() as conn:
        repository.upsert_push_subscription(conn, user_id=user_id, endpoint=endpoint,
                                            p256dh=keys.p256dh, auth=keys.auth_b64)
    return endpoint


def test_red_alert_is_pushed_vapid_signed_and_encrypted(
        pool: ConnectionPool, notify_settings: Settings, team: Team,
        push_service: PushServiceSink) -> None:
    server_key = channels.vapid_public_key(notify_settings)
    _subscribe(pool, push_service, team.nurse, "phone", server_key)
    alert_id = raise_alert(pool, team.patients[0])
    run(pool, notify_settings)
    [message] = push_service.wait_for(1, timeout=10)
    assert push_service.refused == []
    assert message.subject == "Rød alarm — KOL-overvågning"
    assert message.body == (f"Rød alarm hos en borger i {team.name} — åbn KOL-overvågning:"
                            f" https://kol.example.dk/#alert={alert_id}")
    assert message.headers["Urgency"] == "high"
    assert len(message.headers["Topic"]) == 32
    push = [d for d in deliveries(pool, alert_id) if d["channel"] == "push"]
    assert [(d["status"], d["attempts"]) for d in push] == [("sent", 1)]


def test_push_signed_with_another_key_is_refused_and_a_gone_subscription_removed(
        pool: ConnectionPool, notify_settings: Settings, team: Team,
        push_service: PushServiceSink, tmp_path: Any) -> None:
    # The subscription was made for another application server key: the service refuses (403).
    _subscribe(pool, push_service, team.nurse, "old-phone",
               channels.vapid_public_key(notify_settings.model_copy(
                   update={"vapid_private_key_file": tmp_path / "other.pem"})))
    alert_id = raise_alert(pool, team.patients[1])
    run(pool, notify_settings)
    [push] = [d for d in deliveries(pool, alert_id) if d["channel"] == "push"]
    assert push["status"] == "gave_up"
    assert "403" in push["last_error"]
    assert push_service.refused == ["key is not the subscription's application server key"]
    assert push_service.received == []

    # An unknown endpoint (the browser unsubscribed: 404) removes the subscription.
    with pool.connection() as conn:
        repository.upsert_push_subscription(
            conn, user_id=team.second, endpoint=f"{push_service.url}/push/unsubscribed",
            p256dh=BrowserKeys.generate().p256dh, auth=BrowserKeys.generate().auth_b64)
    run(pool, notify_settings, now=later(11))
    with pool.connection() as conn:
        assert conn.execute("select count(*) as n from push_subscriptions where user_id = %s",
                            (team.second,)).fetchone()["n"] == 0
