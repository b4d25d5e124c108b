"""Small blocking MQTT helpers for tests (paho 2.x, MQTT v5)."""

from __future__ import annotations

import queue
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from core.settings import Settings
from core.tls import secure_mqtt


class TestClient:
    """Connects, records CONNACK, SUBACK and received messages."""

    __test__ = False

    def __init__(self, settings: Settings, *, username: str | None, password: str | None,
                 client_id: str = "") -> None:
        self.connack: ReasonCode | None = None
        self.connected = threading.Event()
        self.subacks: queue.Queue[list[ReasonCode]] = queue.Queue()
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.disconnected = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=mqtt.MQTTv5)
        if username is not None:
            self.client.username_pw_set(username, password)
        secure_mqtt(self.client, settings)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = lambda c, u, m: self.messages.put(m)
        self.client.on_disconnect = lambda *a: self.disconnected.set()
        self._settings = settings

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: ReasonCode,
                    properties: Any) -> None:
        self.connack = reason
        self.connected.set()

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, reasons: list[ReasonCode],
                      properties: Any) -> None:
        self.subacks.put(reasons)

    def __enter__(self) -> TestClient:
        self.client.connect(self._settings.mqtt_host, self._settings.mqtt_port, keepalive=30)
        self.client.loop_start()
        assert self.connected.wait(10), "no CONNACK"
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def subscribe(self, topic: str, qos: int = 1) -> list[ReasonCode]:
        self.client.subscribe(topic, qos=qos)
        return self.subacks.get(timeout=10)

    def publish(self, topic: str, payload: bytes | str, qos: int = 1) -> mqtt.MQTTMessageInfo:
        info = self.client.publish(topic, payload, qos=qos)
        info.wait_for_publish(timeout=10)
        return info
