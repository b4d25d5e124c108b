"""Simulator fixtures: devices provisioned at the real broker (the load-test path, no API), and a
protocol peer that stands where the platform's gateway stands: it receives batches with the
gateway's broker account and answers with receipts in the protocol's format."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import pytest

from core.settings import Settings
from devices.broker import BrokerAdmin
from protocol.topics import device_topics, inbound_subscriptions
from simulators.fleet import Device
from tests.conftest import unique
from tests.mqtt_helpers import TestClient


@pytest.fixture
def provision(settings: Settings) -> Iterator[Callable[[int], list[Device]]]:
    made: list[str] = []

    def make(n: int) -> list[Device]:
        devices = [Device(device_id=unique("sim"), password=unique("pw"), patient_index=i)
                   for i in range(n)]
        with BrokerAdmin.from_settings(settings) as admin:
            admin.provision_devices([(d.device_id, d.password) for d in devices])
        made.extend(d.device_id for d in devices)
        return devices

    yield make
    if made:
        with BrokerAdmin.from_settings(settings) as admin:
            admin.revoke_devices(made)


@dataclass
class Batch:
    device_id: str
    raw: bytes
    body: dict[str, Any] | None
    received: float = field(default_factory=time.monotonic)


@dataclass
class PlatformPeer:
    client: TestClient
    receipts: bool
    batches: queue.Queue[Batch] = field(default_factory=queue.Queue)
    statuses: queue.Queue[tuple[str, dict[str, Any], bool]] = field(default_factory=queue.Queue)

    def on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        parts = message.topic.split("/")
        device_id, kind = parts[3], parts[4]
        if kind == "status":
            self.statuses.put((device_id, orjson.loads(message.payload), bool(message.retain)))
            return
        try:
            body = orjson.loads(message.payload)
        except orjson.JSONDecodeError:
            body = None
        self.batches.put(Batch(device_id=device_id, raw=bytes(message.payload), body=body))
        if self.receipts and body is not None:
            receipt = {"v": 1, "msg_id": body["msg_id"], "accepted": len(body["readings"]),
                       "duplicates": 0, "rejected": []}
            client.publish(device_topics(device_id).receipts, orjson.dumps(receipt), qos=1)

    def next_status(self, device_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """The next status of ``device_id`` (other devices' retained statuses are skipped)."""
        while True:
            got, status, _ = self.statuses.get(timeout=timeout)
            if got == device_id:
                return status

    def drain(self, timeout: float = 0.5) -> list[Batch]:
        out: list[Batch] = []
        while True:
            try:
                out.append(self.batches.get(timeout=timeout))
            except queue.Empty:
                return out


@pytest.fixture
def peer_factory(settings: Settings) -> Iterator[Callable[[bool], PlatformPeer]]:
    opened: list[TestClient] = []

    def make(receipts: bool) -> PlatformPeer:
        client = TestClient(settings, username=settings.mqtt_gateway_username,
                            password=settings.mqtt_gateway_password.get_secret_value())
        peer = PlatformPeer(client=client, receipts=receipts)
        client.__enter__()
        opened.append(client)
        client.client.on_message = peer.on_message
        assert not client.subscribe(inbound_subscriptions()[0])[0].is_failure
        assert not client.subscribe(inbound_subscriptions()[1])[0].is_failure
        return peer

    yield make
    for client in opened:
        client.__exit__()
