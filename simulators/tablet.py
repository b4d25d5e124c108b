"""A simulated home tablet speaking device protocol v1 (``../shared/docs/device-protocol.md``).

It publishes reading batches at QoS 1 with a fresh ``msg_id`` each, keeps every batch in its
buffer until the platform's receipt for that ``msg_id`` arrives, resends the *same* batch (same
``msg_id``, same bytes) when no receipt comes in time, buffers while offline and replays the
buffer on reconnect. Symptom diaries (readings of the series ``symptoms``, value the symptom mask)
go as questionnaire responses to the ``responses`` topic with the same guarantees
(docs/questionnaires.md). Its clock may be off, and it can be told to send broken input at given
rates. Network I/O is driven by a :class:`~simulators.mqtt_loop.SelectorLoop`, so one process can
run thousands of tablets.
"""

from __future__ import annotations

import logging
import ssl
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np
import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from core.measurement_types import MEASUREMENT_TYPES
from core.questionnaires import SYMPTOM_DIARY, SYMPTOM_ITEMS, SYMPTOM_SERIES
from protocol.messages import Reason, encode_batch, encode_responses, encode_status
from protocol.topics import device_topics
from simulators.cohort import LOCAL_TZ
from simulators.mqtt_loop import SelectorLoop
from simulators.parameters import DEFAULT_TABLET, TabletParameters

log = logging.getLogger(__name__)

APP_VERSION = "0.1.0"
SESSION_EXPIRY_SECONDS = 7 * 86_400
"""The broker keeps the session (and queued receipts) this long while a tablet is offline."""
MAX_RESEND_INTERVAL = 3600.0
"""Longest wait, real seconds, before resending an unreceipted batch again."""
BAD_READING_KINDS: tuple[Reason, ...] = ("bad_unit", "naive_timestamp", "out_of_range",
                                         "unknown_type", "missing_field")


@dataclass(frozen=True, slots=True, kw_only=True)
class Reading:
    type: str
    value: float
    measured_at_us: int
    """True measurement time, UTC microseconds; the tablet reports it through its own clock."""


@dataclass(slots=True)
class TabletStats:
    """Counters shared by every tablet of a fleet (single-threaded: no locking)."""

    batches_sent: int = 0
    resends: int = 0
    readings_sent: int = 0
    diaries_sent: int = 0
    pubacks: int = 0
    receipts: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    bad_receipts: int = 0
    malformed_sent: int = 0
    bad_readings_sent: int = 0
    connects: int = 0
    refused: int = 0
    connection_losses: int = 0
    offline_periods: int = 0
    outstanding: int = 0
    """Publishes (batches and status) not yet acknowledged by the broker."""


@dataclass(slots=True)
class _Pending:
    topic: str
    payload: bytes
    last_sent: float | None
    """Monotonic time of the latest send in the current connection, None if not sent in it."""
    attempts: int = 0


def rfc3339_local(us: int) -> str:
    """Copenhagen local time with its offset, to the second, as a tablet would write it."""
    return datetime.fromtimestamp(us / 1e6, tz=LOCAL_TZ).isoformat(timespec="seconds")


class Tablet:
    def __init__(self, *, device_id: str, password: str, host: str, port: int,
                 tls: ssl.SSLContext | None, loop: SelectorLoop, rng: np.random.Generator,
                 stats: TabletStats | None = None,
                 params: TabletParameters = DEFAULT_TABLET,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.device_id = device_id
        self.params = params
        self.stats = stats or TabletStats()
        self._rng = rng
        self._clock = clock
        self._topics = device_topics(device_id)
        self._host, self._port = host, port
        large = rng.random() < params.large_skew_fraction
        skew_s = (rng.choice([-1.0, 1.0]) * params.large_skew_seconds if large
                  else rng.normal(0.0, params.clock_skew_sd_seconds))
        self.clock_skew_us = int(skew_s * 1e6)
        self.battery = int(rng.integers(60, 101))
        self.pending: dict[str, _Pending] = {}
        self.online = False
        """The tablet wants a connection (it is not in a simulated network outage)."""
        self.connected = False
        self.refused: str | None = None
        self._inbox: deque[bytes] = deque()
        self._unacked: set[int] = set()
        self._started = False
        self._reconnect_at: float | None = None
        self._backoff = 1.0

        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device_id,
                                  protocol=mqtt.MQTTv5)
        self.client.username_pw_set(device_id, password)
        if tls is not None:
            self.client.tls_set_context(tls)
        self.client.will_set(self._topics.status, self._status("offline"), qos=1, retain=True)
        self.client.max_inflight_messages_set(100)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_publish = self._on_publish
        loop.attach(self.client)

    # --- paho callbacks: record and hand off, no work ---------------------------------------
    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode,
                    properties: Any) -> None:
        if reason.is_failure:
            self.refused = str(reason)
            self.online = False
            self.stats.refused += 1
            log.warning("tablet %s refused by the broker: %s", self.device_id, reason)
            return
        self.connected = True
        self._backoff = 1.0
        self.stats.connects += 1
        client.subscribe(self._topics.receipts, qos=1)
        self._publish(self._topics.status, self._status("online"), retain=True)
        for pending in self.pending.values():
            pending.last_sent = None  # replayed by the next tick, oldest first

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode,
                       properties: Any) -> None:
        self.connected = False
        if self.online:
            self.stats.connection_losses += 1
            self._reconnect_at = self._clock() + self._backoff
            self._backoff = min(self._backoff * 2, 30.0)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self._inbox.append(bytes(message.payload))

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason: ReasonCode,
                    properties: Any) -> None:
        if mid in self._unacked:
            self._unacked.discard(mid)
            self.stats.pubacks += 1
            self.stats.outstanding -= 1

    @property
    def awaiting_puback(self) -> int:
        return len(self._unacked)

    # --- behaviour ----------------------------------------------------------------------------
    def connect(self) -> None:
        """Open the connection (blocking only for the TCP handshake); CONNACK comes via the loop."""
        self.online = True
        self._started = True
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = SESSION_EXPIRY_SECONDS
        try:
            self.client.connect(self._host, self._port, keepalive=60, properties=properties)
        except OSError as exc:
            log.warning("tablet %s cannot reach the broker: %s", self.device_id, exc)
            self._reconnect_at = self._clock() + self._backoff

    def go_offline(self) -> None:
        """A network outage: the tablet keeps measuring into its buffer. The broker is told to
        publish the will, so the platform sees the tablet offline at once."""
        if not self.online:
            return
        self.online = False
        self.stats.offline_periods += 1
        if self.connected:
            self.client.disconnect(reasoncode=ReasonCode(PacketTypes.DISCONNECT, identifier=4))

    def go_online(self) -> None:
        if self.online or self.refused:
            return
        if not self._started:
            self.connect()
            return
        self.online = True
        self._reconnect()

    def _reconnect(self) -> None:
        self._reconnect_at = None
        try:
            self.client.reconnect()
        except OSError as exc:
            log.warning("tablet %s reconnect failed: %s", self.device_id, exc)
            self._reconnect_at = self._clock() + self._backoff
            self._backoff = min(self._backoff * 2, 30.0)

    def measure(self, readings: Sequence[Reading], sim_now_us: int) -> None:
        """Record readings taken up to ``sim_now_us`` (true simulated time) and send them as
        batches of at most the protocol's limit; offline, they wait in the buffer."""
        diaries = [r for r in readings if r.type == SYMPTOM_SERIES]
        if diaries:
            self._answer(diaries, sim_now_us)
            readings = [r for r in readings if r.type != SYMPTOM_SERIES]
        limit = self.params.max_batch_readings
        for i in range(0, len(readings), limit):
            payload = self._batch(readings[i:i + limit], sim_now_us)
            if payload is None:
                continue
            msg_id, body = payload
            self.pending[msg_id] = _Pending(topic=self._topics.readings, payload=body,
                                            last_sent=None)
            self.stats.readings_sent += min(limit, len(readings) - i)
            if self.connected:
                self._send(msg_id)

    def _answer(self, diaries: Sequence[Reading], sim_now_us: int) -> None:
        """The diaries as one questionnaire-response message, kept until its receipt."""
        msg_id = str(uuid.UUID(bytes=self._rng.bytes(16), version=4))
        responses = [{
            "questionnaire": SYMPTOM_DIARY,
            "authored": rfc3339_local(d.measured_at_us + self.clock_skew_us),
            "items": [{"id": item.link_id, "answer": bool(int(d.value) >> bit & 1)}
                      for bit, item in enumerate(SYMPTOM_ITEMS)]} for d in diaries]
        body = encode_responses(msg_id, responses,
                                sent_at=rfc3339_local(sim_now_us + self.clock_skew_us))
        self.pending[msg_id] = _Pending(topic=self._topics.responses, payload=body,
                                        last_sent=None)
        self.stats.diaries_sent += len(diaries)
        if self.connected:
            self._send(msg_id)

    def _batch(self, readings: Sequence[Reading], sim_now_us: int) -> tuple[str, bytes] | None:
        msg_id = str(uuid.UUID(bytes=self._rng.bytes(16), version=4))
        items = [self._reading_json(r) for r in readings]
        body = encode_batch(msg_id, items,
                            sent_at=rfc3339_local(sim_now_us + self.clock_skew_us))
        if self._rng.random() < self.params.malformed_rate:
            # A firmware bug: the broken batch is fired once and forgotten (no msg_id to receipt).
            if self.connected:
                self.stats.malformed_sent += 1
                self._publish(self._topics.readings, body[: len(body) // 2])
            return None
        return msg_id, body

    def _reading_json(self, reading: Reading) -> dict[str, Any]:
        mtype = MEASUREMENT_TYPES[reading.type]
        value: float | int = (int(reading.value) if float(reading.value).is_integer()
                              else round(reading.value, 1))
        item: dict[str, Any] = {
            "type": reading.type, "value": value, "unit": mtype.unit,
            "measured_at": rfc3339_local(reading.measured_at_us + self.clock_skew_us)}
        if self._rng.random() < self.params.bad_reading_rate:
            self.stats.bad_readings_sent += 1
            kind = BAD_READING_KINDS[int(self._rng.integers(len(BAD_READING_KINDS)))]
            if kind == "bad_unit":
                item["unit"] = "mmHg"
            elif kind == "naive_timestamp":
                item["measured_at"] = item["measured_at"][:19]
            elif kind == "out_of_range":
                item["value"] = mtype.max_value * 2
            elif kind == "unknown_type":
                item["type"] = "glucose"
            else:
                del item["value"]
        return item

    def _send(self, msg_id: str) -> None:
        pending = self.pending[msg_id]
        if pending.attempts == 0:
            self.stats.batches_sent += 1
        else:
            self.stats.resends += 1
        pending.attempts += 1
        pending.last_sent = self._clock()
        self._publish(pending.topic, pending.payload)

    def _publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        if info.rc == mqtt.MQTT_ERR_SUCCESS:
            self._unacked.add(info.mid)
            self.stats.outstanding += 1

    def tick(self) -> None:
        """Handle receipts, reconnect after a lost connection, replay and resend. Call often."""
        while self._inbox:
            self._handle_receipt(self._inbox.popleft())
        now = self._clock()
        if self.online and not self.connected and self._reconnect_at is not None \
                and now >= self._reconnect_at:
            self._reconnect()
        if not self.connected:
            return
        timeout = self.params.receipt_timeout_seconds
        for msg_id, pending in self.pending.items():
            # Exponential backoff per batch, so a platform outage is not met with a storm.
            wait = min(timeout * 2 ** max(pending.attempts - 1, 0), MAX_RESEND_INTERVAL)
            if pending.last_sent is None or now - pending.last_sent >= wait:
                self._send(msg_id)

    def _handle_receipt(self, payload: bytes) -> None:
        try:
            receipt = orjson.loads(payload)
            msg_id = receipt["msg_id"]
            accepted, duplicates = int(receipt["accepted"]), int(receipt["duplicates"])
            rejected = len(receipt.get("rejected", []))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            self.stats.bad_receipts += 1
            log.warning("tablet %s: bad receipt %r", self.device_id, payload[:200])
            return
        if self.pending.pop(msg_id, None) is not None:
            self.stats.receipts += 1
            self.stats.accepted += accepted
            self.stats.duplicates += duplicates
            self.stats.rejected += rejected

    def _status(self, state: Literal["online", "offline"]) -> bytes:
        return encode_status(state, battery=self.battery, app=APP_VERSION)

    def disconnect(self) -> None:
        """Leave for good (end of the simulation), with the offline status."""
        self.online = False
        if self.connected:
            self._publish(self._topics.status, self._status("offline"), retain=True)
            self.client.disconnect()
