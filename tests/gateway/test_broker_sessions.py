"""What the broker (Debian's Mosquitto 2.0.11) does with a durable subscriber's session across a
reconnect and across its own restart: the facts the gateway's design rests on (docs/gateway.md).
If the broker is upgraded and one of these changes, re-read that design."""

from __future__ import annotations

import queue
import time
import uuid
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from core.settings import Settings
from core.tls import secure_mqtt
from gateway.service import end_session
from protocol.topics import device_topics
from tests.mqtt_helpers import TestClient
from tests.stack import stack


class Durable:
    """A gateway-like subscriber: v5, clean_start false, long session, manual acks."""

    def __init__(self, settings: Settings, client_id: str) -> None:
        self.settings = settings
        self.client_id = client_id
        self.messages: queue.Queue[bytes] = queue.Queue()
        self.client: mqtt.Client | None = None

    def connect(self) -> None:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id,
                             protocol=mqtt.MQTTv5, manual_ack=True)
        secure_mqtt(client, self.settings)
        client.username_pw_set(self.settings.mqtt_gateway_username,
                               self.settings.mqtt_gateway_password.get_secret_value())

        def on_message(c: mqtt.Client, userdata: object, m: mqtt.MQTTMessage) -> None:
            self.messages.put(bytes(m.payload))
            c.ack(m.mid, m.qos)

        client.on_message = on_message
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        client.connect(self.settings.mqtt_host, self.settings.mqtt_port, clean_start=False,
                       properties=props)
        client.loop_start()
        self.client = client
        time.sleep(0.3)

    def subscribe(self, topic: str) -> None:
        assert self.client is not None
        self.client.subscribe(topic, qos=1)
        time.sleep(0.3)

    def disconnect(self) -> None:
        assert self.client is not None
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def topic() -> str:
    return device_topics(f"probe-{uuid.uuid4().hex[:8]}").receipts


@pytest.fixture
def durable(settings: Settings) -> Iterator[Durable]:
    subscriber = Durable(settings, f"probe-{uuid.uuid4().hex[:8]}")
    yield subscriber
    end_session(settings, subscriber.client_id)


def publish(settings: Settings, topic: str, payload: bytes) -> None:
    with TestClient(settings, username=settings.mqtt_gateway_username,
                    password=settings.mqtt_gateway_password.get_secret_value()) as publisher:
        publisher.publish(topic, payload)


@pytest.mark.parametrize("shared", [False, True])
def test_queued_while_offline_is_delivered_on_reconnect(
        settings: Settings, durable: Durable, topic: str, shared: bool) -> None:
    durable.connect()
    durable.subscribe(f"$share/probe/{topic}" if shared else topic)
    durable.disconnect()
    publish(settings, topic, b"while-offline")
    durable.connect()  # no new SUBSCRIBE
    assert durable.messages.get(timeout=5) == b"while-offline"
    durable.disconnect()


@pytest.mark.slow
@pytest.mark.parametrize(("shared", "survives"), [(False, True), (True, False)])
def test_broker_restart_keeps_plain_but_not_shared_subscriptions(
        settings: Settings, durable: Durable, topic: str, shared: bool, survives: bool) -> None:
    durable.connect()
    durable.subscribe(f"$share/probe/{topic}" if shared else topic)
    durable.disconnect()
    stack("down", "mqtt")
    stack("up", "mqtt")
    publish(settings, topic, b"after-restart")
    durable.connect()
    try:
        received = durable.messages.get(timeout=3)
    except queue.Empty:
        received = None
    durable.disconnect()
    assert (received == b"after-restart") is survives
