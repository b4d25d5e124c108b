"""The gateway: an MQTT v5 client on a persistent session that feeds the ingest batch writer and
acknowledges each message to the broker only after the transaction holding it has committed.

paho's callbacks only decode (parse and validate) and enqueue; the writer thread commits, then
publishes the receipts, sends the PUBACKs and hands the newly stored readings to the alert engine
through the injected ``hand_off``."""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from psycopg_pool import ConnectionPool

from core.settings import Settings
from core.tls import secure_mqtt
from gateway import metrics
from ingest.schemas import BatchOutcome, CommittedReadings, DeadLetterPolicy
from ingest.writer import BatchWriter, Item, WriterConfig
from protocol.messages import Message
from protocol.parsing import parse_message
from protocol.topics import INBOUND_KINDS, inbound_subscriptions

log = logging.getLogger(__name__)

SESSION_EXPIRY_SECONDS = 7 * 86400


@dataclass(frozen=True, slots=True, kw_only=True)
class Ack:
    mid: int
    qos: int
    connection: int
    """Which broker connection delivered the message: a PUBACK is only valid on that one."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayConfig:
    client_id: str = "kol-gateway-1"
    """Stable across restarts: it names the persistent session the broker keeps."""
    shared_group: str | None = None
    """Subscribe as ``$share/{group}/…`` so that several gateways split the load; None for a
    plain subscription (one gateway; survives a broker restart on Mosquitto 2.0.11, see
    docs/gateway.md)."""
    receive_maximum: int = 10000
    """Unacknowledged messages the broker may have in flight to us: bounds the gateway's memory
    while the database is down. Mosquitto 2.0.11 honours it only until the first PUBACK and
    then applies its own ``max_inflight_messages`` (10 000 in deploy/), the same figure."""
    session_expiry: int = SESSION_EXPIRY_SECONDS
    """How long the broker keeps our session while we are away. Mosquitto goes on handing a
    shared group's messages to an absent member's session, so a gateway of a group that others
    can cover takes a short expiry: a crashed member then stops taking messages within seconds,
    and what it held unacknowledged comes again from the tablets, which keep every batch until
    its receipt (device protocol v1)."""
    writer: WriterConfig = field(default_factory=WriterConfig)


def end_session(settings: Settings, client_id: str) -> None:
    """Make the broker forget the persistent session of a gateway that is gone without
    :meth:`Gateway.stop` (a killed process, a retired instance): it would queue for it forever."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.username_pw_set(settings.mqtt_gateway_username,
                           settings.mqtt_gateway_password.get_secret_value())
    secure_mqtt(client, settings)
    client.connect(settings.mqtt_host, settings.mqtt_port, clean_start=True)
    client.loop_start()
    time.sleep(0.3)
    client.disconnect()
    client.loop_stop()


def collect_less() -> None:
    """Tune the cyclic garbage collector for the gateway process; call once after start-up.

    Each message in flight is a few dozen container objects (paho's message and info, ours, its
    readings) that live until their commit: up to 10 000 messages, so hundreds of thousands of
    objects the default thresholds (700, 10, 10) kept traversing — 12 % of the gateway's CPU in
    the ingest benchmark (``gc.callbacks``). Freezing moves what start-up made (modules,
    settings, pools) out of every collection; a larger young generation collects 70 times less
    often; the old generations are still collected, less often. The messages themselves hold no
    reference cycles (they are freed by reference counting), so this delays little garbage."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 50)


RECEIPTS_IN_FLIGHT = 10_000
"""Receipts published and not yet acknowledged by the broker: paho queues beyond this."""
_PUBACK_SUCCESS = ReasonCode(PacketTypes.PUBACK)
_NO_PROPERTIES = Properties(PacketTypes.PUBACK)  # type: ignore[no-untyped-call]


class _Client(mqtt.Client):
    """paho's client with shortcuts on the paths every message takes (a tablet's QoS 1 PUBLISH
    in; its receipt, QoS 1, out and the receipt's PUBACK in), found with py-spy in the ingest
    benchmark. Each is taken only for the common packet and leaves any other to paho."""

    on_qos1: Callable[[str, bytes, int, bool], None] | None = None
    """Takes a QoS 1 PUBLISH without properties as (topic, payload, packet id, retained), in
    place of ``on_message`` (manual acks only)."""

    def _handle_publish(self) -> MQTTErrorCode:
        # Every message the gateway takes is a tablet's QoS 1 PUBLISH, without properties: read
        # as it is rather than decoded by paho into a Properties, an MQTTMessage and an
        # MQTTMessageInfo with its own Condition (15 % of the gateway's Python time with single
        # readings). Anything else (QoS 0 or 2, properties, a topic alias) goes through paho.
        header, packet = self._in_packet["command"], self._in_packet["packet"]
        handler = self.on_qos1
        if handler is not None and header & 0x06 == 0x02 and self._manual_ack \
                and self._protocol == mqtt.MQTTv5:
            end = 2 + int.from_bytes(packet[:2], "big")  # topic length, topic, packet id
            if len(packet) >= end + 3 and packet[end + 2] == 0:  # no properties
                try:
                    topic = packet[2:end].decode()
                except UnicodeDecodeError:
                    return super()._handle_publish()
                with self._in_callback_mutex:
                    handler(topic, bytes(packet[end + 3:]),
                            int.from_bytes(packet[end:end + 2], "big"), bool(header & 0x01))
                return MQTTErrorCode.MQTT_ERR_SUCCESS
        return super()._handle_publish()

    def _handle_pubackcomp(self, cmd: Literal["PUBACK", "PUBCOMP"]) -> MQTTErrorCode:
        # A v5 PUBACK of success without properties is just the packet id (two bytes); paho
        # decodes each into a new ReasonCode and Properties, 8 % of the gateway's Python time
        # with single-reading messages. Anything else goes through paho's decoding.
        packet = self._in_packet["packet"]
        if cmd == "PUBACK" and len(packet) == 2:
            mid = int.from_bytes(packet, "big")
            with self._out_message_mutex:
                if mid in self._out_messages:
                    return self._do_on_publish(mid, _PUBACK_SUCCESS, _NO_PROPERTIES)
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        return super()._handle_pubackcomp(cmd)

    def limit_in_flight(self, connack: Properties | None) -> None:
        """At most as many of our QoS 1 publishes in flight as the broker takes: the Receive
        Maximum of its CONNACK (Mosquitto's ``max_inflight_messages``), which paho ignores."""
        receive_maximum = getattr(connack, "ReceiveMaximum", None)
        if receive_maximum:
            self._max_inflight_messages = min(RECEIPTS_IN_FLIGHT, receive_maximum)

    def _update_inflight(self) -> MQTTErrorCode:
        # paho calls this after every PUBACK of a receipt and walks all its outgoing messages,
        # the hundreds in flight included, looking for queued ones to send: 3-5 % of the
        # gateway's CPU. When every outgoing message is in flight none is queued, and there is
        # nothing to look for.
        if len(self._out_messages) <= self._inflight_messages:
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        return super()._update_inflight()


class Gateway:
    def __init__(self, *, settings: Settings, pool: ConnectionPool,
                 hand_off: Callable[[CommittedReadings], None],
                 config: GatewayConfig | None = None) -> None:
        self._settings = settings
        self._config = config or GatewayConfig()
        self._hand_off = hand_off
        self._max_age = timedelta(days=settings.max_reading_age_days)
        self._connection = 0
        self._connected = threading.Event()
        self._writer: BatchWriter[Ack] = BatchWriter(
            pool, on_committed=self._committed, config=replace(
                self._config.writer, dead_letters=DeadLetterPolicy.from_settings(settings)))
        client = _Client(CallbackAPIVersion.VERSION2, client_id=self._config.client_id,
                         protocol=mqtt.MQTTv5, manual_ack=True)
        client.username_pw_set(settings.mqtt_gateway_username,
                               settings.mqtt_gateway_password.get_secret_value())
        secure_mqtt(client, settings)
        # Receipts are QoS 1 too; let as many be in flight as the broker takes from a client
        # (on_connect applies its Receive Maximum) rather than queue them in paho.
        client.max_inflight_messages_set(RECEIPTS_IN_FLIGHT)
        client.reconnect_delay_set(1, 5)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_qos1 = self._receive
        self._client = client
        # Resolved once: a label lookup takes a lock and a dict per message.
        self._received = {kind: metrics.MESSAGES_RECEIVED.labels(kind) for kind in INBOUND_KINDS}
        metrics.COMMIT_RETRIES.set_function(lambda: self._writer.retries)
        metrics.POISONED.set_function(lambda: self._writer.poisoned)

    @property
    def connected(self) -> threading.Event:
        return self._connected

    def start(self) -> None:
        self._writer.start()
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self._config.session_expiry
        props.ReceiveMaximum = self._config.receive_maximum
        # clean_start False from the very first connect: Mosquitto 2.0.11 persists a session
        # across its own restart only if the client never asked for a clean start.
        self._client.connect_async(self._settings.mqtt_host, self._settings.mqtt_port,
                                   keepalive=30, clean_start=False, properties=props)
        self._client.loop_start()

    def stop(self, *, end_session: bool = False) -> None:
        """Commit and acknowledge what has been received, then disconnect. The broker keeps the
        session (and queues for it) unless ``end_session``: a gateway leaving for good."""
        self._writer.stop()
        props = None
        if end_session:
            props = Properties(PacketTypes.DISCONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = 0
        self._client.disconnect(properties=props)
        self._client.loop_stop()

    def _topics(self) -> list[str]:
        return inbound_subscriptions(self._config.shared_group)

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode,
                    properties: Any) -> None:
        if reason.is_failure:
            log.error("broker refused the gateway", extra={"reason": str(reason)})
            return
        self._connection += 1
        self._client.limit_in_flight(properties)
        # Always subscribe again: Mosquitto 2.0.11 does not restore shared subscriptions of a
        # persistent session after a broker restart even when it reports the session present.
        client.subscribe([(t, 1) for t in self._topics()])
        metrics.CONNECTED.set(1)
        self._connected.set()
        log.info("connected to the broker", extra={
            "client_id": self._config.client_id, "session_present": flags.session_present,
            "topics": self._topics()})

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int,
                      reasons: list[ReasonCode], properties: Any) -> None:
        refused = [str(r) for r in reasons if r.is_failure]
        if refused:
            log.error("broker refused a subscription", extra={"reasons": refused})
        else:
            log.info("subscribed", extra={"topics": self._topics()})

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode,
                       properties: Any) -> None:
        self._connected.clear()
        metrics.CONNECTED.set(0)
        log.warning("disconnected from the broker", extra={"reason": str(reason)})

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self._receive(msg.topic, bytes(msg.payload), msg.mid, bool(msg.retain), qos=msg.qos)

    def _receive(self, topic: str, payload: bytes, mid: int, retained: bool, qos: int = 1
                 ) -> None:
        received_at = datetime.now(UTC)
        try:
            message = parse_message(topic, payload, received_at, max_age=self._max_age,
                                    retained=retained)
        except Exception as exc:  # the parser is fuzzed never to raise; this keeps paho alive
            message = Message(topic=topic, payload=payload, received_at=received_at,
                              kind="readings", device_id=None).rejected("malformed_json",
                                                                        repr(exc)[:200])
            log.exception("parser raised", extra={"payload": payload[:200]})
        if message.rejected_whole:
            log.info("message rejected", extra={
                "topic": topic, "reason": message.rejections[0].reason,
                "payload": payload[:200]})
        self._received[message.kind].inc()
        metrics.BACKLOG.inc()
        self._writer.put(Item(message=message,
                              token=Ack(mid=mid, qos=qos, connection=self._connection)))

    def _committed(self, items: list[Item[Ack]], outcome: BatchOutcome, seconds: float) -> None:
        for topic, payload in outcome.receipts:
            self._client.publish(topic, payload, qos=1)
        current = self._connection
        for item in items:
            # A message delivered on an earlier connection is delivered again on this one; the
            # copy is acknowledged when it is committed (as a duplicate).
            if item.token.qos > 0 and item.token.connection == current:
                self._client.ack(item.token.mid, item.token.qos)
        metrics.BACKLOG.dec(len(items))
        metrics.BATCH_MESSAGES.observe(len(items))
        metrics.BATCH_READINGS.observe(sum(len(i.message.readings) for i in items))
        metrics.COMMIT_SECONDS.observe(seconds)
        metrics.READINGS_ACCEPTED.inc(outcome.accepted)
        metrics.READINGS_DUPLICATE.inc(outcome.duplicates)
        metrics.MESSAGES_DUPLICATE.inc(outcome.duplicate_messages)
        for reason, n in outcome.rejected.items():
            metrics.REJECTED.labels(reason).inc(n)
        metrics.DEAD_LETTER_BYTES.inc(outcome.dead_letter_bytes)
        metrics.DEAD_LETTERS_SUPPRESSED.inc(outcome.dead_letters_suppressed)
        if outcome.committed is not None:
            self._hand_off(outcome.committed)
