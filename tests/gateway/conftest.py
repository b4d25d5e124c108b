"""Gateway fixtures: provisioned devices (database row and broker client), an in-process gateway
whose alert hand-off records what it is given, and helpers to publish and to wait for rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import psycopg
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion
from psycopg_pool import ConnectionPool

from core.access import SYSTEM, Role
from core.settings import Settings
from core.tls import secure_mqtt
from devices import service as devices_service
from devices.broker import BrokerAdmin
from gateway.service import Gateway, GatewayConfig, end_session
from ingest.schemas import CommittedReadings
from protocol.topics import device_topics
from tests.conftest import ARTIFACTS, insert_patient, unique, wait_for
from tests.stack import ROOT, write_private
from users import service as users_service
from users.schemas import UserCreate


@dataclass(frozen=True, slots=True, kw_only=True)
class Device:
    device_id: str
    password: str
    patient_id: int

    @property
    def readings_topic(self) -> str:
        return device_topics(self.device_id).readings

    @property
    def receipts_topic(self) -> str:
        return device_topics(self.device_id).receipts

    @property
    def responses_topic(self) -> str:
        return device_topics(self.device_id).responses


@pytest.fixture
def provision(settings: Settings, pool: ConnectionPool) -> Iterator[Callable[..., Device]]:
    """Provision devices through the service (committed), each for a new patient by default."""
    made: list[str] = []

    def make(patient_id: int | None = None) -> Device:
        with pool.connection() as conn, BrokerAdmin.from_settings(settings) as broker:
            if patient_id is None:
                patient_id = insert_patient(conn)
            created = devices_service.provision(conn, viewer=SYSTEM, broker=broker,
                                                patient_id=patient_id)
        made.append(created.device_id)
        return Device(device_id=created.device_id, password=created.mqtt_password,
                      patient_id=patient_id)

    yield make
    with BrokerAdmin.from_settings(settings) as broker:
        broker.revoke_devices(made)


class HandOff:
    """The alert hand-off as the gateway sees it: a callable; records every batch."""

    def __init__(self) -> None:
        self.batches: list[CommittedReadings] = []
        self._lock = threading.Lock()

    def __call__(self, committed: CommittedReadings) -> None:
        with self._lock:
            self.batches.append(committed)

    def for_patient(self, patient_id: int) -> list[tuple[int, Any, float, bool]]:
        with self._lock:
            return [(int(b.type_index[i]), b.measured_at[i], float(b.value[i]), bool(b.late[i]))
                    for b in self.batches for i in range(len(b))
                    if int(b.patient_id[i]) == patient_id]


@pytest.fixture(scope="session")
def hand_off() -> HandOff:
    return HandOff()


@pytest.fixture(scope="module")
def gateway(settings: Settings, pool: ConnectionPool, hand_off: HandOff) -> Iterator[Gateway]:
    """One in-process gateway for a module's tests; its broker session ends with the module."""
    gw = Gateway(settings=settings, pool=pool, hand_off=hand_off,
                 config=GatewayConfig(client_id=f"test-gw-{uuid.uuid4().hex[:8]}"))
    gw.start()
    assert gw.connected.wait(10)
    time.sleep(0.2)  # SUBACK
    yield gw
    gw.stop(end_session=True)


def batch(*readings: dict[str, Any], msg_id: str | None = None, v: int = 1) -> bytes:
    return orjson.dumps({"v": v, "msg_id": msg_id or uuid.uuid4().hex,
                         "sent_at": "2026-11-22T08:01:02+01:00", "readings": list(readings)})


def count(conn: psycopg.Connection[Any], sql: str, *params: Any) -> int:
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return int(next(iter(row.values())))


def mosquitto_pub(settings: Settings, device: Device, topic: str, payload: bytes,
                  *, password: str | None = None) -> subprocess.CompletedProcess[bytes]:
    """Publish with Mosquitto's own client, as a tablet we did not write would: over TLS,
    verifying the broker, the password in its private options file (never on a command
    line)."""
    with tempfile.TemporaryDirectory() as config_home:
        options = [f"-h {settings.mqtt_host}", f"-p {settings.mqtt_port}", "-V 5",
                   f"-u {device.device_id}", f"-P {password or device.password}",
                   f"-i {device.device_id}", "-q 1"]
        if settings.tls_ca_file:
            options.append(f"--cafile {settings.tls_ca_file}")
        write_private(Path(config_home) / "mosquitto_pub", "\n".join(options) + "\n")
        return subprocess.run(["mosquitto_pub", "-t", topic, "-s"], input=payload,
                              capture_output=True, timeout=20,
                              env={**os.environ, "XDG_CONFIG_HOME": config_home})


def gateway_process(settings: Settings, *args: str) -> subprocess.Popen[bytes]:
    """``kol-gateway`` as its own process (for SIGKILL); it reads the run's settings file and
    logs to tests/artifacts/gateway-logs/CLIENT_ID.log."""
    if "--metrics-port" not in args:
        args = (*args, "--metrics-port", "0")
    log = ARTIFACTS / "gateway-logs" / f"{args[args.index('--client-id') + 1]}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            [os.path.join(os.path.dirname(sys.executable), "kol-gateway"), *args],
            cwd=ROOT, env={**os.environ}, stdout=subprocess.DEVNULL, stderr=out)


def device_client(settings: Settings, device: Device,
                  setup: Callable[[mqtt.Client], None] | None = None) -> mqtt.Client:
    """A tablet's MQTT 5 client over TLS with its own credentials, connected and looping; it
    reconnects within 1–2 s (a broker restart). ``setup`` sets its callbacks before it connects,
    so none of its first events is missed."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device.device_id,
                         protocol=mqtt.MQTTv5)
    client.username_pw_set(device.device_id, device.password)
    secure_mqtt(client, settings)
    client.reconnect_delay_set(1, 2)
    if setup is not None:
        setup(client)
    client.connect(settings.mqtt_host, settings.mqtt_port, keepalive=10)
    client.loop_start()
    return client


class Publisher:
    """Devices sending numbered batches as a careful tablet does: each batch is published again
    (same msg_id, same bytes) until the broker has acknowledged it, across broker restarts."""

    def __init__(self, settings: Settings, devices: list[Device], *, messages: int,
                 readings_per_message: int, start: datetime | None = None,
                 rate: float | None = None) -> None:
        """``rate``: batches per second (default: as fast as the broker takes them)."""
        self.devices = devices
        self.messages = messages
        self.readings_per_message = readings_per_message
        self.sent = 0
        self.done = threading.Event()
        self.error: BaseException | None = None
        self._start = start or datetime.now(UTC) - timedelta(days=1)
        self._settings = settings
        self._rate = rate
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def expected_readings(self) -> int:
        return self.messages * self.readings_per_message

    def payload(self, n: int) -> bytes:
        per = self.readings_per_message
        return orjson.dumps({"v": 1, "msg_id": f"m{n}", "sent_at": self._start.isoformat(),
                             "readings": [{"type": "spo2", "value": 90 + (n + i) % 10, "unit": "%",
                                           "measured_at": (self._start + timedelta(
                                               seconds=n * per + i)).isoformat()}
                                          for i in range(per)]})

    def start(self) -> Publisher:
        self._thread.start()
        return self

    def _client(self, device: Device) -> mqtt.Client:
        return device_client(self._settings, device)

    @staticmethod
    def _publish(client: mqtt.Client, topic: str, payload: bytes) -> bool:
        """True once the broker has acknowledged; paho raises while disconnected."""
        try:
            info = client.publish(topic, payload, qos=1)
            info.wait_for_publish(timeout=3)
            return info.is_published()
        except (RuntimeError, ValueError):
            return False

    def _run(self) -> None:
        clients = [self._client(d) for d in self.devices]
        began = time.monotonic()
        try:
            for n in range(self.messages):
                if self._rate:
                    time.sleep(max(0.0, began + n / self._rate - time.monotonic()))
                client = clients[n % len(clients)]
                topic = self.devices[n % len(clients)].readings_topic
                payload = self.payload(n)
                while not self._publish(client, topic, payload):
                    time.sleep(0.2)
                self.sent = n + 1
        except BaseException as exc:
            self.error = exc
        finally:
            for client in clients:
                client.disconnect()
                client.loop_stop()
            self.done.set()

    def wait_until_sent(self, n: int, timeout: float = 60) -> None:
        wait_for(lambda: self.sent >= n or self.done.is_set(), timeout, f"{n} batches sent")

    def join(self, timeout: float = 120) -> None:
        assert self.done.wait(timeout), f"publisher stuck at {self.sent}/{self.messages}"
        assert self.error is None, self.error


def login(api: TestClient, committed: psycopg.Connection[Any], role: Role, *,
          patient_id: int | None = None) -> dict[str, str]:
    """Headers of a new user with ``role``, logged in: in the team of ``patient_id``, or in a team
    of her own."""
    team = unique("team")
    if patient_id is not None:
        row = committed.execute("select t.name from patients p join teams t on t.id = p.team_id"
                                " where p.id = %s", (patient_id,)).fetchone()
        assert row is not None
        team = row["name"]
    username, password = unique(role), unique("secret-pw")
    users_service.create_user(committed, viewer=SYSTEM, data=UserCreate(
        username=username, password=password, role=role, teams=[team]))
    token = api.post("/api/v1/auth/token", data={"username": username, "password": password})
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


class Gateways:
    """Gateway processes started by a test, stopped and forgotten by the broker afterwards."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.procs: list[subprocess.Popen[bytes]] = []
        self.client_ids: set[str] = set()

    def start(self, client_id: str, *args: str) -> subprocess.Popen[bytes]:
        """Start and wait until subscribed (messages published before would reach no one)."""
        self.client_ids.add(client_id)
        log = ARTIFACTS / "gateway-logs" / f"{client_id}.log"
        seen = log.read_text().count('"subscribed"') if log.exists() else 0
        proc = gateway_process(self.settings, "--client-id", client_id, *args)
        self.procs.append(proc)
        wait_for(lambda: log.exists() and log.read_text().count('"subscribed"') > seen,
                 timeout=30, what=f"gateway {client_id} subscribed")
        return proc

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
        for client_id in self.client_ids:
            end_session(self.settings, client_id)


@pytest.fixture
def gateways(settings: Settings) -> Iterator[Gateways]:
    started = Gateways(settings)
    yield started
    started.close()
