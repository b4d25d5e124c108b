"""The fault matrix against the real stack: a kol-gateway process, the broker, the database and a
real API server under load, while tablets stream batches and keep each one until its receipt
(as the protocol asks), re-sending those whose receipt does not come. Each fault is one row of
one table, printed and written to tests/artifacts/fault-matrix.md (docs/reliability.md keeps a
measured copy):

- stored / offered: valid readings stored / valid readings the tablets sent;
- doubled: readings stored more than once (by batch and measured_at);
- receipts missing: batches without a receipt when the run ends;
- API 5xx: server errors other than 503, and (in brackets) the honest 503s;
- recover: seconds from the fault's end until every batch sent before it had its receipt;
- stream receipts: how long the streaming tablets waited for their receipts from the fault's start
  to five seconds after its end (median / max): what the fault cost the others.
"""

from __future__ import annotations

import signal
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import paho.mqtt.client as mqtt
import psycopg
import pytest
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from core.settings import Settings
from gateway.service import end_session
from tests.api.helpers import PASSWORD, create_user
from tests.api.live_server import serve
from tests.api.test_db_outage import Answer, hammer
from tests.conftest import ARTIFACTS, insert_patient, unique, wait_for
from tests.faults import refused_devices
from tests.gateway.conftest import Device, Gateways, count, device_client
from tests.stack import stack

pytestmark = pytest.mark.slow

STREAM_MESSAGES = 600
READINGS_PER_MESSAGE = 10
RATE = 120.0
"""Batches per second of the stream (over four tablets)."""
FAULT_AFTER = 150
"""The fault starts once this many batches were sent."""
RESEND_AFTER = 5.0
RECOVERY_DEADLINE = 120.0


class Tablets:
    """Tablets that keep each batch until its receipt: publish at QoS 1 (again until the broker
    acknowledges), and publish again a batch whose receipt has not come in ``RESEND_AFTER``."""

    def __init__(self, settings: Settings, devices: list[Device]) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self.sent: dict[str, tuple[float, int, bytes]] = {}
        """msg_id → (first sent, device index, payload)."""
        self.last_sent: dict[str, float] = {}
        self.receipts: dict[str, tuple[float, dict[str, Any]]] = {}
        self.devices = devices
        self._subscribed = threading.Semaphore(0)
        self.clients = [self._client(d) for d in devices]
        for _ in devices:
            assert self._subscribed.acquire(timeout=10), "a tablet did not subscribe"

    def _client(self, device: Device) -> mqtt.Client:
        def setup(client: mqtt.Client) -> None:
            # Subscribed again on every connect (after a broker restart too).
            client.on_connect = lambda c, u, f, r, p: c.subscribe(device.receipts_topic, qos=1)
            client.on_subscribe = lambda *args: self._subscribed.release()
            client.on_message = self._on_receipt

        return device_client(self._settings, device, setup)

    def _on_receipt(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        receipt = orjson.loads(message.payload)
        with self._lock:
            self.receipts.setdefault(receipt["msg_id"], (time.monotonic(), receipt))

    def send(self, device: int, msg_id: str, payload: bytes) -> None:
        with self._lock:
            self.sent.setdefault(msg_id, (time.monotonic(), device, payload))
            self.last_sent[msg_id] = time.monotonic()
        topic = self.devices[device].readings_topic
        while True:
            try:
                info = self.clients[device].publish(topic, payload, qos=1)
                info.wait_for_publish(timeout=3)
                if info.is_published():
                    return
            except (RuntimeError, ValueError):
                pass
            time.sleep(0.2)

    def missing(self) -> list[str]:
        with self._lock:
            return [m for m in self.sent if m not in self.receipts]

    def settle(self, deadline: float) -> None:
        """Re-send what has no receipt until everything has one or the deadline passes."""
        while time.monotonic() < deadline:
            missing = self.missing()
            if not missing:
                return
            now = time.monotonic()
            for msg_id in missing:
                if now - self.last_sent[msg_id] >= RESEND_AFTER:
                    self.send(self.sent[msg_id][1], msg_id, self.sent[msg_id][2])
            time.sleep(0.2)

    def close(self) -> None:
        for client in self.clients:
            client.disconnect()
            client.loop_stop()


def stream_payload(n: int, start: datetime, msg_id: str | None = None) -> bytes:
    return orjson.dumps({"v": 1, "msg_id": msg_id or f"s{n}", "sent_at": start.isoformat(),
                         "readings": [
        {"type": "spo2", "value": 90 + (n + i) % 10, "unit": "%",
         "measured_at": (start + timedelta(seconds=n * READINGS_PER_MESSAGE + i)).isoformat()}
        for i in range(READINGS_PER_MESSAGE)]})


@dataclass(slots=True, kw_only=True)
class Row:
    fault: str
    offered: int = 0
    stored: int = 0
    doubled: int = 0
    receipts_missing: int = 0
    api_5xx: int = 0
    api_503: int = 0
    recover: float = 0.0
    waits: tuple[float, float] = (0.0, 0.0)
    note: str = ""

    def cells(self) -> list[str]:
        return [self.fault, f"{self.stored} / {self.offered}", str(self.doubled),
                str(self.receipts_missing), f"{self.api_5xx} ({self.api_503} × 503)",
                f"{self.recover:.1f} s", f"{self.waits[0]:.2f} / {self.waits[1]:.1f} s",
                self.note]


HEADER = ["fault", "stored / offered", "doubled", "receipts missing", "API 5xx (503)",
          "recover", "stream receipts median / max", "note"]


def table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(r.cells()) + " |" for r in rows]
    return "\n".join(lines)


@dataclass(slots=True, kw_only=True)
class Matrix:
    settings: Settings
    owner_url: str
    pool: ConnectionPool
    provision: Callable[..., Device]
    gateways: Gateways
    api: str
    api_headers: dict[str, str]
    api_paths: list[tuple[str, str, dict[str, Any] | None]]
    rows: list[Row] = field(default_factory=list)
    gateway_id: str = ""

    def conn(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.settings.database_url, autocommit=True,
                               row_factory=dict_row)

    def run(self, name: str, fault: Callable[[Tablets, Row], float], *,
            extra_devices: int = 0) -> Row:
        """Stream; at ``FAULT_AFTER`` batches apply ``fault`` beside the stream (it returns when
        the fault ended, in monotonic time); re-send until every batch is receipted; count."""
        row = Row(fault=name)
        devices = [self.provision() for _ in range(4 + extra_devices)]
        self.gateway_id = f"matrix-{uuid.uuid4().hex[:8]}"
        self.gateways.start(self.gateway_id)
        answers: list[Answer] = []
        stop_api = threading.Event()
        api_load = [threading.Thread(target=hammer, args=(
            self.api, self.api_paths, self.api_headers, stop_api, answers)) for _ in range(3)]
        for thread in api_load:
            thread.start()
        tablets = Tablets(self.settings, devices)
        start = datetime.now(UTC) - timedelta(days=1)
        ended: list[float] = []
        started = 0.0
        faulting = threading.Thread(target=lambda: ended.append(fault(tablets, row)))
        try:
            began = time.monotonic()
            for n in range(STREAM_MESSAGES):
                time.sleep(max(0.0, began + n / RATE - time.monotonic()))
                if n == FAULT_AFTER:
                    started = time.monotonic()
                    faulting.start()
                tablets.send(n % 4, f"s{n}", stream_payload(n, start))
            faulting.join(RECOVERY_DEADLINE)
            tablets.settle(time.monotonic() + RECOVERY_DEADLINE)
        finally:
            stop_api.set()
            for thread in api_load:
                thread.join(60)
            tablets.close()
            # One gateway at a time: plain subscriptions would each get every message.
            gateway = self.gateways.procs[-1]
            gateway.send_signal(signal.SIGTERM)
            gateway.wait(30)
            end_session(self.settings, self.gateway_id)
        assert ended, f"{name}: the fault did not end"
        before = [m for m, (at, _, _) in tablets.sent.items() if at <= ended[0]]
        row.recover = max([tablets.receipts[m][0] - ended[0] for m in before
                           if m in tablets.receipts] + [0.0])
        waits = [tablets.receipts[m][0] - at for m, (at, device, _) in tablets.sent.items()
                 if device < 4 and started <= at <= ended[0] + 5 and m in tablets.receipts]
        row.waits = (statistics.median(waits), max(waits))
        row.receipts_missing = len(tablets.missing())
        row.api_5xx = sum(a.status >= 500 and a.status != 503 for a in answers)
        row.api_503 = sum(a.status == 503 for a in answers)
        stream_ids = [d.device_id for d in devices[:4]]
        with self.conn() as conn:
            row.offered += STREAM_MESSAGES * READINGS_PER_MESSAGE
            row.stored += count(conn, "select count(*) from readings where device_id = any(%s)",
                                stream_ids)
            row.doubled = count(
                conn, "select count(*) - count(distinct (device_id, msg_id, measured_at))"
                      " from readings where device_id = any(%s)",
                [d.device_id for d in devices])
        self.rows.append(row)
        print(f"\n{name}: {row.cells()}")
        return row


@pytest.fixture
def matrix(settings: Settings, owner_url: str, pool: ConnectionPool,
           provision: Callable[..., Device],
           gateways: Gateways, committed_conn: psycopg.Connection[Any]) -> Iterator[Matrix]:
    team = unique("team")
    patient = insert_patient(committed_conn, team=team)
    username = create_user(committed_conn, role="nurse", teams=[team])
    with serve(settings) as (base, _app):
        token = httpx.post(f"{base}/api/v1/auth/token",
                           data={"username": username, "password": PASSWORD}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        yield Matrix(settings=settings, owner_url=owner_url, pool=pool, provision=provision,
                     gateways=gateways, api=base, api_headers=headers,
                     api_paths=[("GET", f"/api/v1/patients/{patient}", None),
                                ("GET", "/api/v1/triage", None),
                                ("POST", "/api/v1/auth/token",
                                 {"username": username, "password": PASSWORD})])


def test_fault_matrix(matrix: Matrix) -> None:
    def kill_gateway(tablets: Tablets, row: Row) -> float:
        proc = matrix.gateways.procs[-1]
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        time.sleep(1)
        matrix.gateways.start(matrix.gateway_id)
        row.note = "SIGKILL, restarted after 1 s"
        return time.monotonic()

    def restart_broker(tablets: Tablets, row: Row) -> float:
        stack("down", "mqtt")
        time.sleep(2)
        stack("up", "mqtt")
        row.note = "down 2 s"
        return time.monotonic()

    def stop_database(tablets: Tablets, row: Row) -> float:
        stack("down", "pg")
        try:
            time.sleep(10)
        finally:
            stack("up", "pg")
        matrix.pool.check()
        row.note = "down 10 s"
        return time.monotonic()

    def poison(tablets: Tablets, row: Row) -> float:
        device = tablets.devices[4]
        with psycopg.connect(matrix.owner_url, autocommit=True) as conn, \
                refused_devices(conn) as refusing:
            refusing.refuse(device.device_id)
            tablets.send(4, "poison", stream_payload(
                0, datetime.now(UTC) - timedelta(hours=1), msg_id="poison"))
            at = time.monotonic()
            wait_for(lambda: "poison" in tablets.receipts, timeout=60,
                     what="the poison's receipt")
        reasons = {r["reason"] for r in tablets.receipts["poison"][1]["rejected"]}
        row.note = f"one message refused by the database: receipted {', '.join(reasons)}"
        return at

    def flood(tablets: Tablets, row: Row) -> float:
        device = tablets.devices[4]
        now = datetime.now(UTC)
        pad = "x" * 15_000
        offered = 0
        for n in range(150):
            payload = orjson.dumps({"v": 1, "msg_id": f"f{n}", "pad": pad, "readings": [
                {"type": "spo2", "value": 120, "unit": "%",
                 "measured_at": (now - timedelta(seconds=n * 500 + i)).isoformat()}
                for i in range(500)]})
            offered += len(payload)
            tablets.send(4, f"f{n}", payload)
        at = time.monotonic()
        wait_for(lambda: all(f"f{n}" in tablets.receipts for n in range(150)), timeout=90,
                 what="the flood's receipts")
        with matrix.conn() as conn:
            kept = count(conn, "select coalesce(sum(length(p.payload)), 0)"
                               " from dead_letter_payloads p where p.id in (select payload_id"
                               " from rejections where device_id = %s)", device.device_id)
            letters = count(conn, "select count(*) from rejections where device_id = %s",
                            device.device_id)
            suppressed = count(conn, "select coalesce(sum(suppressed), 0) from"
                                     " dead_letter_budget where device_key = %s",
                               device.device_id)
        row.note = (f"150 messages × 500 bad readings ({offered / 2**20:.1f} MiB): "
                    f"{letters} dead letters, {kept / 2**20:.1f} MiB kept, {suppressed} messages"
                    f" over the device's hourly budget counted, not stored")
        return at

    matrix.run("gateway SIGKILL", kill_gateway)
    matrix.run("broker restart", restart_broker)
    matrix.run("database stop", stop_database)
    matrix.run("poison message", poison, extra_devices=1)
    matrix.run("oversized dead letters", flood, extra_devices=1)

    text = table(matrix.rows)
    print("\n" + text)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "fault-matrix.md").write_text(text + "\n")
    for row in matrix.rows:
        assert row.stored == row.offered, row
        assert row.doubled == 0, row
        assert row.receipts_missing == 0, row
        assert row.api_5xx == 0, row
    assert "internal_error" in matrix.rows[3].note
    assert statistics.fmean(r.recover for r in matrix.rows) < RECOVERY_DEADLINE
