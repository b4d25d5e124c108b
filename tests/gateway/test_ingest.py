"""End to end through the real broker and database: provisioned devices publish, the gateway
stores, dead-letters, answers with receipts and hands off to the alert engine."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from psycopg_pool import ConnectionPool

from api.app import create_app
from core.settings import Settings
from gateway import metrics
from gateway.service import Gateway, GatewayConfig
from protocol.messages import REASONS
from protocol.topics import device_topics
from tests.api.helpers import make_user
from tests.conftest import unique, wait_for
from tests.gateway.conftest import Device, HandOff, batch, count, login, mosquitto_pub
from tests.mqtt_helpers import TestClient as MqttClient

NOW = datetime.now(UTC).replace(microsecond=0)


def reading(kind: str = "spo2", value: float = 93, *, unit: str | None = None,
            at: datetime | str | None = None, **extra: Any) -> dict[str, Any]:
    units = {"spo2": "%", "pulse": "/min", "weight": "kg"}
    when = at if isinstance(at, str) else (at or NOW - timedelta(minutes=1)).astimezone(
        UTC).isoformat()
    return {"type": kind, "value": value, "unit": unit or units.get(kind, "?"),
            "measured_at": when, **extra}


def dead_letter_payload(conn: psycopg.Connection[Any], payload_id: int) -> bytes:
    row = conn.execute("select payload from dead_letter_payloads where id = %s",
                       (payload_id,)).fetchone()
    assert row is not None
    return bytes(row["payload"])


def rows(conn: psycopg.Connection[Any], patient_id: int) -> list[dict[str, Any]]:
    return conn.execute("select type, measured_at, value, late, msg_id from readings"
                        " where patient_id = %s order by measured_at, type",
                        (patient_id,)).fetchall()


class Tablet(MqttClient):
    """A device session that also listens to its receipts."""

    def __init__(self, settings: Settings, device: Device) -> None:
        super().__init__(settings, username=device.device_id, password=device.password,
                         client_id=device.device_id)
        self.device = device

    def __enter__(self) -> Tablet:
        super().__enter__()
        assert self.connack is not None
        assert not self.connack.is_failure, self.connack
        assert not self.subscribe(self.device.receipts_topic)[0].is_failure
        return self

    def send(self, payload: bytes) -> None:
        self.publish(self.device.readings_topic, payload)

    def receipt(self, timeout: float = 15) -> dict[str, Any]:
        message = self.messages.get(timeout=timeout)
        receipt: dict[str, Any] = orjson.loads(message.payload)
        return receipt


@pytest.fixture
def tablet(settings: Settings, provision: Callable[..., Device], gateway: Gateway
           ) -> Any:
    with Tablet(settings, provision()) as t:
        yield t


def test_mosquitto_pub_batch_lands_in_readings(
        settings: Settings, provision: Callable[..., Device], gateway: Gateway,
        committed_conn: psycopg.Connection[Any], hand_off: HandOff) -> None:
    device = provision()
    payload = batch(reading("spo2", 93), reading("pulse", 88),
                    reading("weight", 71.4, at=NOW - timedelta(minutes=5)), msg_id="pub-1")
    result = mosquitto_pub(settings, device, device.readings_topic, payload)
    assert result.returncode == 0, result.stderr
    stored = wait_for(lambda: len(rows(committed_conn, device.patient_id)) == 3 and
                      rows(committed_conn, device.patient_id), what="3 readings")
    assert sorted((r["type"], r["value"]) for r in stored) == [
        ("pulse", 88.0), ("spo2", 93.0), ("weight", 71.4)]
    assert {r["msg_id"] for r in stored} == {"pub-1"}
    receipt = committed_conn.execute(
        "select receipt from ingested_messages where device_id = %s and msg_id = 'pub-1'",
        (device.device_id,)).fetchone()
    assert receipt is not None
    assert receipt["receipt"] == {"v": 1, "msg_id": "pub-1", "accepted": 3, "duplicates": 0,
                                  "rejected": []}
    # The hand-off got exactly the new readings, and its pending row exists until evaluated.
    handed = wait_for(lambda: hand_off.for_patient(device.patient_id), what="hand-off")
    assert sorted(v for _, _, v, _ in handed) == [71.4, 88.0, 93.0]
    pending = [b.pending_evaluation_id for b in hand_off.batches
               if device.patient_id in b.patient_id.tolist()]
    row = committed_conn.execute("select patient_ids from pending_evaluations where id = %s",
                                 (pending[0],)).fetchone()
    assert row is not None
    assert device.patient_id in row["patient_ids"]


def test_device_cannot_publish_to_another_devices_topic(
        settings: Settings, provision: Callable[..., Device], gateway: Gateway,
        committed_conn: psycopg.Connection[Any]) -> None:
    alice, bob = provision(), provision()
    forged = batch(reading("spo2", 91), msg_id="forged")
    mosquitto_pub(settings, alice, bob.readings_topic, forged)
    # A control message on alice's own topic proves the gateway has caught up.
    mosquitto_pub(settings, alice, alice.readings_topic, batch(reading("spo2", 92)))
    wait_for(lambda: rows(committed_conn, alice.patient_id), what="alice's reading")
    assert rows(committed_conn, bob.patient_id) == []
    assert count(committed_conn, "select count(*) from ingested_messages where msg_id = 'forged'"
                 ) == 0


def test_deactivated_device_cannot_connect_and_is_dropped(
        settings: Settings, provision: Callable[..., Device], gateway: Gateway,
        committed_conn: psycopg.Connection[Any]) -> None:
    device = provision()
    app = create_app(settings)
    with Tablet(settings, device) as connected, TestClient(app) as api:
        response = api.delete(f"/api/v1/devices/{device.device_id}",
                              headers=login(api, committed_conn, "admin",
                                            patient_id=device.patient_id))
        assert response.status_code == 200, response.text
        assert response.json()["device_id"] == device.device_id
        assert connected.disconnected.wait(5), "the connected session was not dropped"
    result = mosquitto_pub(settings, device, device.readings_topic, batch(reading()))
    assert result.returncode != 0
    with MqttClient(settings, username=device.device_id, password=device.password,
                    client_id=device.device_id) as again:
        assert again.connack is not None
        assert again.connack.is_failure


BAD_READINGS: dict[str, dict[str, Any]] = {
    "missing_field": {"type": "spo2", "unit": "%", "measured_at": NOW.isoformat()},
    "unknown_type": reading("temperature", 37, unit="Cel"),
    "bad_unit": reading("weight", 150, unit="lb"),
    "out_of_range": reading("spo2", 120),
    "naive_timestamp": reading("pulse", 70, at="2026-11-22T08:00:10"),
    "future_timestamp": reading("pulse", 70, at=NOW + timedelta(hours=1)),
    "too_old": reading("weight", 70, at=NOW - timedelta(days=91)),
}


def test_each_bad_reading_is_rejected_and_its_neighbours_are_stored(
        tablet: Tablet, committed_conn: psycopg.Connection[Any]) -> None:
    good = [reading("spo2", 90 + i, at=NOW - timedelta(minutes=10 + i)) for i in range(2)]
    bad = list(BAD_READINGS.values())
    tablet.send(batch(good[0], *bad, good[1], msg_id="mixed"))
    receipt = tablet.receipt()
    assert receipt["accepted"] == 2
    assert receipt["duplicates"] == 0
    assert [(r["index"], r["reason"]) for r in receipt["rejected"]] == [
        (i + 1, reason) for i, reason in enumerate(BAD_READINGS)]
    assert [r["value"] for r in rows(committed_conn, tablet.device.patient_id)] == [91.0, 90.0]
    dead = committed_conn.execute(
        "select reading_index, reason, payload_id from rejections where device_id = %s"
        " order by reading_index", (tablet.device.device_id,)).fetchall()
    assert [(d["reading_index"], d["reason"]) for d in dead] == [
        (i + 1, reason) for i, reason in enumerate(BAD_READINGS)]
    # The raw payload is kept once for the message, whatever number of its readings failed.
    assert len({d["payload_id"] for d in dead}) == 1
    assert orjson.loads(dead_letter_payload(committed_conn, dead[0]["payload_id"]))[
        "msg_id"] == "mixed"


WHOLE_MESSAGES: dict[str, bytes] = {
    "malformed_json": b'{"v": 1, "msg_id": "x", "readings": [',
    "unsupported_version": batch(reading(), v=2),
    "missing_field": orjson.dumps({"v": 1, "readings": [reading()]}),
    "too_large": batch(*[reading("weight", 70, note="x" * 200,
                                 at=NOW - timedelta(seconds=i)) for i in range(400)]),
}


@pytest.mark.parametrize("reason", list(WHOLE_MESSAGES))
def test_whole_message_rejections(reason: str, tablet: Tablet, settings: Settings,
                                  committed_conn: psycopg.Connection[Any]) -> None:
    payload = WHOLE_MESSAGES[reason]
    tablet.send(payload)
    tablet.send(batch(reading("spo2", 95), msg_id="after"))
    # Messages from one session are handled in order: once "after" is answered, the bad one is
    # stored (or would have been).
    receipts = [tablet.receipt()]
    if receipts[0]["msg_id"] != "after":
        receipts.append(tablet.receipt())
    assert receipts[-1] == {"v": 1, "msg_id": "after", "accepted": 1, "duplicates": 0,
                            "rejected": []}
    dead = committed_conn.execute(
        "select reason, reading_index, payload_id from rejections where topic = %s",
        (tablet.device.readings_topic,)).fetchall()
    assert [(d["reason"], d["reading_index"]) for d in dead] == [(reason, None)]
    kept = dead_letter_payload(committed_conn, dead[0]["payload_id"])
    # Kept whole up to KOL_DEAD_LETTER_PAYLOAD_BYTES (64 KiB), cut beyond.
    assert kept == payload[:settings.dead_letter_payload_bytes]
    assert count(committed_conn, "select payload_bytes from dead_letter_payloads where id = %s",
                 dead[0]["payload_id"]) == len(payload)


def test_unknown_device_is_dead_lettered(
        settings: Settings, gateway: Gateway, committed_conn: psycopg.Connection[Any]) -> None:
    """A client the broker knows but the platform does not (or no longer) knows."""
    from devices.broker import BrokerAdmin

    device = Device(device_id=unique("ghost"), password=unique("pw"), patient_id=0)
    with BrokerAdmin.from_settings(settings) as broker:
        broker.provision_device(device.device_id, device.password)
        try:
            with Tablet(settings, device) as ghost:
                ghost.send(batch(reading(), msg_id="ghost-1"))
                receipt = ghost.receipt()
        finally:
            broker.revoke_device(device.device_id)
    assert receipt["rejected"] == [{"index": None, "reason": "unknown_device"}]
    dead = committed_conn.execute("select reason, msg_id from rejections where device_id = %s",
                                  (device.device_id,)).fetchall()
    assert dead == [{"reason": "unknown_device", "msg_id": "ghost-1"}]


def test_every_reason_is_covered_and_listed_by_the_api(
        settings: Settings, tablet: Tablet, committed_conn: psycopg.Connection[Any]) -> None:
    # unknown_device, msg_id_conflict and internal_error have tests of their own (above, below
    # and tests/gateway/test_poison.py), the messages addition's in tests/messages.
    assert set(BAD_READINGS) | set(WHOLE_MESSAGES) | {
        "unknown_device", "msg_id_conflict", "internal_error",
        "empty_message", "text_too_long", "unknown_reply"} == set(REASONS)
    for payload in [*WHOLE_MESSAGES.values(),
                    batch(*BAD_READINGS.values(), reading(), msg_id="api-mixed")]:
        tablet.send(payload)
    wait_for(lambda: count(committed_conn, "select count(*) from rejections where topic = %s",
                           tablet.device.readings_topic) == len(BAD_READINGS) + len(
                               WHOLE_MESSAGES), what="dead letters")
    with TestClient(create_app(settings)) as api:
        headers = login(api, committed_conn, "admin", patient_id=tablet.device.patient_id)
        seen: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"device_id": tablet.device.device_id, "limit": 3}
            if cursor:
                params["cursor"] = cursor
            response = api.get("/api/v1/rejections", params=params, headers=headers)
            assert response.status_code == 200, response.text
            seen += response.json()
            cursor = response.headers.get("X-Next-Cursor")
            if cursor is None:
                break
        assert sorted(r["reason"] for r in seen) == sorted(
            [*BAD_READINGS, *WHOLE_MESSAGES])
        assert [r["id"] for r in seen] == sorted((r["id"] for r in seen), reverse=True)
        one = api.get("/api/v1/rejections", headers=headers, params={
            "reason": "bad_unit", "device_id": tablet.device.device_id}).json()
        assert [(r["reason"], r["reading_index"], r["msg_id"]) for r in one] == [
            ("bad_unit", 2, "api-mixed")]
        assert api.get("/api/v1/rejections", headers=headers,
                       params={"reason": "nonsense"}).status_code == 422
        assert api.get("/api/v1/rejections").status_code == 401


@pytest.mark.parametrize("qos", [1, 0])
def test_batch_with_mqtt_properties_or_qos_0_is_stored_as_any_other(
        qos: int, tablet: Tablet, committed_conn: psycopg.Connection[Any]) -> None:
    # The gateway reads a plain QoS 1 PUBLISH itself (gateway.service._Client) and leaves any
    # other to paho: both ways end in the same rows and receipt.
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.ContentType = "application/json"
    props.UserProperty = [("app", "kol-tablet 3.1")]
    info = tablet.client.publish(tablet.device.readings_topic,
                                 batch(reading("spo2", 94), msg_id=f"props-{qos}"), qos=qos,
                                 properties=props)
    info.wait_for_publish(timeout=10)
    assert tablet.receipt() == {"v": 1, "msg_id": f"props-{qos}", "accepted": 1,
                                "duplicates": 0, "rejected": []}
    assert [r["value"] for r in rows(committed_conn, tablet.device.patient_id)] == [94.0]


def test_duplicate_msg_id_is_stored_once_and_answered_with_the_first_receipt(
        tablet: Tablet, committed_conn: psycopg.Connection[Any]) -> None:
    readings = [reading("spo2", 93), reading("pulse", 300)]
    first = batch(*readings, msg_id="dup-1")
    tablet.send(first)
    original = tablet.receipt()
    # Re-sent, also with another sent_at (a tablet retrying later): the same batch.
    tablet.send(first)
    tablet.send(orjson.dumps({"v": 1, "msg_id": "dup-1", "sent_at": NOW.isoformat(),
                              "readings": readings}))
    assert tablet.receipt() == original
    assert tablet.receipt() == original
    assert original["accepted"] == 1
    assert original["rejected"] == [{"index": 1, "reason": "out_of_range"}]
    assert len(rows(committed_conn, tablet.device.patient_id)) == 1
    assert count(committed_conn, "select count(*) from rejections where device_id = %s",
                 tablet.device.device_id) == 1


def test_reused_msg_id_with_other_content_is_a_conflict(
        tablet: Tablet, committed_conn: psycopg.Connection[Any]) -> None:
    tablet.send(batch(reading("spo2", 93), msg_id="dup-2"))
    assert tablet.receipt()["accepted"] == 1
    other = batch(reading("spo2", 80, at=NOW - timedelta(minutes=3)), msg_id="dup-2")
    tablet.send(other)
    assert tablet.receipt() == {"v": 1, "msg_id": "dup-2", "accepted": 0, "duplicates": 0,
                                "rejected": [{"index": None, "reason": "msg_id_conflict"}]}
    # The new content is kept as a dead letter, never silently dropped; the first batch stays.
    dead = committed_conn.execute(
        "select reason, reading_index, msg_id, payload_id from rejections where device_id = %s",
        (tablet.device.device_id,)).fetchall()
    assert [(d["reason"], d["reading_index"], d["msg_id"]) for d in dead] == [
        ("msg_id_conflict", None, "dup-2")]
    assert dead_letter_payload(committed_conn, dead[0]["payload_id"]) == other
    assert [r["value"] for r in rows(committed_conn, tablet.device.patient_id)] == [93.0]


def test_same_reading_in_another_batch_is_a_duplicate(
        tablet: Tablet, committed_conn: psycopg.Connection[Any], hand_off: HandOff) -> None:
    at = NOW - timedelta(hours=2)
    tablet.send(batch(reading("spo2", 93, at=at), reading("pulse", 80, at=at), msg_id="a"))
    assert tablet.receipt()["accepted"] == 2
    # Replayed under a new msg_id, together with a new reading; within one batch too.
    tablet.send(batch(reading("spo2", 93, at=at), reading("weight", 70, at=at),
                      reading("weight", 70, at=at), msg_id="b"))
    receipt = tablet.receipt()
    assert (receipt["accepted"], receipt["duplicates"]) == (1, 2)
    assert len(rows(committed_conn, tablet.device.patient_id)) == 3
    # The alert engine is handed each reading once.
    assert sorted(v for _, _, v, _ in hand_off.for_patient(tablet.device.patient_id)) == [
        70.0, 80.0, 93.0]


def test_out_of_order_and_late_readings(
        tablet: Tablet, committed_conn: psycopg.Connection[Any], hand_off: HandOff) -> None:
    # From the test's own start: "late" is judged against the moment the gateway receives the
    # reading, which a module-level NOW trails by however long the suite has run.
    now = datetime.now(UTC)
    recent = now - timedelta(hours=1)
    old = now - timedelta(days=3)
    edge = now - timedelta(hours=23, minutes=50)
    tablet.send(batch(reading("spo2", 94, at=recent), msg_id="new"))
    tablet.receipt()
    # An offline tablet replays older readings afterwards, newest first.
    tablet.send(batch(reading("spo2", 90, at=edge), reading("spo2", 88, at=old),
                      msg_id="replay"))
    assert tablet.receipt()["accepted"] == 2
    stored = rows(committed_conn, tablet.device.patient_id)
    assert [(r["value"], r["late"]) for r in stored] == [(88.0, True), (90.0, False),
                                                         (94.0, False)]
    lates = {v: late for _, _, v, late in hand_off.for_patient(tablet.device.patient_id)}
    assert lates == {88.0: True, 90.0: False, 94.0: False}


def test_device_status_is_recorded(
        settings: Settings, tablet: Tablet, committed_conn: psycopg.Connection[Any]) -> None:
    status_topic = device_topics(tablet.device.device_id).status
    tablet.client.publish(status_topic, orjson.dumps(
        {"v": 1, "state": "online", "battery": 77, "app": "1.2.3"}), qos=1, retain=True)
    row = wait_for(lambda: committed_conn.execute(
        "select status, status_at from devices where device_id = %s and status is not null",
        (tablet.device.device_id,)).fetchone(), what="status")
    assert row["status"] == {"state": "online", "battery": 77, "app": "1.2.3"}


def test_retained_status_delivered_again_keeps_its_time_and_silence_shows_offline(
        settings: Settings, tablet: Tablet, pool: ConnectionPool,
        committed_conn: psycopg.Connection[Any]) -> None:
    device_id = tablet.device.device_id
    tablet.client.publish(device_topics(device_id).status, orjson.dumps(
        {"v": 1, "state": "online", "battery": 60, "app": "1.2.3"}), qos=1, retain=True)
    first = wait_for(lambda: committed_conn.execute(
        "select status_at from devices where device_id = %s and status is not null",
        (device_id,)).fetchone(), what="status")["status_at"]
    # Another gateway subscribing (as every gateway does on each reconnect) is handed the
    # retained status again by the broker: the device did not send it again.
    time.sleep(0.3)
    statuses = metrics.MESSAGES_RECEIVED.labels("status")
    received = statuses._value.get()
    again = Gateway(settings=settings, pool=pool, hand_off=lambda committed: None,
                    config=GatewayConfig(client_id=unique("gw-resub")))
    again.start()
    try:
        assert again.connected.wait(10)
        wait_for(lambda: statuses._value.get() > received, what="the retained status")
        time.sleep(1.0)  # its batch committed
    finally:
        again.stop(end_session=True)
    at = committed_conn.execute("select status_at from devices where device_id = %s",
                                (device_id,)).fetchone()
    assert at is not None
    assert at["status_at"] == first

    team = committed_conn.execute(
        "select t.name from patients p join teams t on t.id = p.team_id where p.id = %s",
        (tablet.device.patient_id,)).fetchone()
    assert team is not None
    with TestClient(create_app(settings)) as api:
        headers = make_user(api, committed_conn, role="nurse", teams=[team["name"]]).headers

        def connection() -> str:
            body = api.get(f"/api/v1/patients/{tablet.device.patient_id}",
                           headers=headers).json()
            return str(body["devices"][0]["connection"])

        assert connection() == "online"
        # Silent for longer than KOL_DEVICE_OFFLINE_AFTER_MINUTES: its last word was "online",
        # but it is shown offline.
        silence = timedelta(minutes=settings.device_offline_after_minutes + 1)
        committed_conn.execute(
            "update devices set status_at = status_at - %s, last_seen_at = last_seen_at - %s"
            " where device_id = %s", (silence, silence, device_id))
        assert connection() == "offline"


def test_will_marks_the_device_offline(
        settings: Settings, provision: Callable[..., Device], gateway: Gateway,
        committed_conn: psycopg.Connection[Any]) -> None:
    device = provision()
    client = MqttClient(settings, username=device.device_id, password=device.password,
                        client_id=device.device_id)
    client.client.will_set(device_topics(device.device_id).status, orjson.dumps(
        {"v": 1, "state": "offline", "battery": 50, "app": "1.2.3"}), qos=1, retain=True)
    with client:
        # Dropping the socket without DISCONNECT makes the broker publish the will.
        sock = client.client.socket()
        assert sock is not None
        client.client.loop_stop()
        sock.close()
    row = wait_for(lambda: committed_conn.execute(
        "select status from devices where device_id = %s and status is not null",
        (device.device_id,)).fetchone(), what="will status")
    assert row["status"]["state"] == "offline"


def test_receipts_reach_only_their_device(
        settings: Settings, provision: Callable[..., Device], gateway: Gateway) -> None:
    with Tablet(settings, provision()) as a, Tablet(settings, provision()) as b:
        a.send(batch(reading(), msg_id="only-a"))
        assert a.receipt()["msg_id"] == "only-a"
        with pytest.raises(queue.Empty):
            b.messages.get(timeout=1)
