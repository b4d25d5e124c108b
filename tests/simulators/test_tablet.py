"""Simulated tablets against the real broker: protocol v1 batches at QoS 1, receipts honoured,
the same batch resent when no receipt comes, offline buffering and replay, clock skew and
configurable broken input."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import pytest

from core.measurement_types import MEASUREMENT_TYPES
from core.settings import Settings
from core.tls import mqtt_context
from simulators.fleet import Device, to_us
from simulators.mqtt_loop import SelectorLoop
from simulators.parameters import TabletParameters
from simulators.tablet import Reading, Tablet
from tests.simulators.conftest import PlatformPeer
from tests.stack import STACK_SCRIPT

NOW = to_us(datetime(2026, 11, 20, 7, 30, tzinfo=UTC))
QUIET = TabletParameters(clock_skew_sd_seconds=0.0, large_skew_fraction=0.0,
                         receipt_timeout_seconds=3600.0)


def _run(loop: SelectorLoop, tablet: Tablet, until: Callable[[], bool], timeout: float = 10.0
         ) -> None:
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, "timed out"
        loop.poll(0.02)
        tablet.tick()


def _tablet(settings: Settings, device: Device, params: TabletParameters = QUIET
            ) -> tuple[SelectorLoop, Tablet]:
    loop = SelectorLoop()
    tablet = Tablet(device_id=device.device_id, password=device.password,
                    host=settings.mqtt_host, port=settings.mqtt_port,
                    tls=mqtt_context(settings), loop=loop,
                    rng=np.random.default_rng(7), params=params)
    tablet.connect()
    _run(loop, tablet, lambda: tablet.connected)
    return loop, tablet


def _morning(offset_s: int = 0) -> list[Reading]:
    t = NOW + offset_s * 1_000_000
    return [Reading(type="weight", value=71.4, measured_at_us=t - 300_000_000),
            Reading(type="spo2", value=93.0, measured_at_us=t),
            Reading(type="pulse", value=88.0, measured_at_us=t)]


def test_batches_follow_protocol_v1_and_stay_buffered_until_the_receipt(
        settings: Settings, provision: Callable[[int], list[Device]],
        peer_factory: Callable[[bool], PlatformPeer]) -> None:
    peer = peer_factory(True)
    (device,) = provision(1)
    loop, tablet = _tablet(settings, device)
    tablet.measure(_morning(), NOW + 60_000_000)
    assert len(tablet.pending) == 1
    _run(loop, tablet, lambda: not tablet.pending)
    batch = peer.batches.get(timeout=5)
    assert batch.device_id == device.device_id
    body = batch.body
    assert body is not None
    assert body["v"] == 1
    assert len(body["msg_id"]) <= 64
    assert body["sent_at"] == "2026-11-20T08:31:00+01:00"
    assert [(r["type"], r["value"], r["unit"]) for r in body["readings"]] == [
        ("weight", 71.4, MEASUREMENT_TYPES["weight"].unit), ("spo2", 93, "%"),
        ("pulse", 88, "/min")]
    assert body["readings"][1]["measured_at"] == "2026-11-20T08:30:00+01:00"
    assert tablet.stats.receipts == 1
    assert tablet.stats.accepted == 3
    status = peer.next_status(device.device_id)
    assert (status["v"], status["state"], status["app"]) == (1, "online", "0.1.0")
    assert 0 <= status["battery"] <= 100
    tablet.disconnect()


def test_a_batch_without_receipt_is_resent_with_the_same_msg_id_and_backoff(
        settings: Settings, provision: Callable[[int], list[Device]],
        peer_factory: Callable[[bool], PlatformPeer]) -> None:
    peer = peer_factory(False)
    (device,) = provision(1)
    loop, tablet = _tablet(settings, device, TabletParameters(
        clock_skew_sd_seconds=0.0, large_skew_fraction=0.0, receipt_timeout_seconds=0.3))
    tablet.measure(_morning(), NOW)
    _run(loop, tablet, lambda: tablet.stats.resends >= 2)
    _run(loop, tablet, lambda: tablet.stats.outstanding == 0)
    sent = [b for b in peer.drain() if b.device_id == device.device_id]
    assert len(sent) >= 3
    assert len({b.raw for b in sent}) == 1, "every resend is byte-identical, same msg_id"
    first_wait, second_wait = (sent[1].received - sent[0].received,
                               sent[2].received - sent[1].received)
    assert first_wait >= 0.28
    # Against the configured timeout, not the first wait: a loaded machine lengthens a wait but
    # never shortens one, and without backoff the second wait would be about 0.3 s again.
    assert second_wait > 1.5 * 0.3, "resends back off"
    assert len(tablet.pending) == 1
    tablet.disconnect()


def test_offline_tablet_buffers_and_replays_in_order_on_reconnect(
        settings: Settings, provision: Callable[[int], list[Device]],
        peer_factory: Callable[[bool], PlatformPeer]) -> None:
    peer = peer_factory(True)
    (device,) = provision(1)
    loop, tablet = _tablet(settings, device)
    assert peer.next_status(device.device_id)["state"] == "online"
    tablet.go_offline()
    _run(loop, tablet, lambda: not tablet.connected)
    assert peer.next_status(device.device_id)["state"] == "offline", "the will is published"
    for day in range(3):
        tablet.measure(_morning(day * 86_400), NOW + day * 86_400_000_000)
    for _ in range(20):
        loop.poll(0.02)
        tablet.tick()
    assert peer.drain(0.3) == []
    assert len(tablet.pending) == 3
    tablet.go_online()
    _run(loop, tablet, lambda: not tablet.pending)
    replayed = [b.body for b in peer.drain() if b.body is not None]
    assert [r["readings"][1]["measured_at"][:10] for r in replayed] == [
        "2026-11-20", "2026-11-21", "2026-11-22"]
    assert tablet.stats.offline_periods == 1
    tablet.disconnect()


def test_clock_skew_shifts_the_reported_times(
        settings: Settings, provision: Callable[[int], list[Device]],
        peer_factory: Callable[[bool], PlatformPeer]) -> None:
    peer = peer_factory(True)
    (device,) = provision(1)
    loop, tablet = _tablet(settings, device, TabletParameters(
        clock_skew_sd_seconds=0.0, large_skew_fraction=1.0, large_skew_seconds=600.0))
    assert abs(tablet.clock_skew_us) == 600_000_000
    tablet.measure(_morning(), NOW)
    _run(loop, tablet, lambda: not tablet.pending)
    body = peer.batches.get(timeout=5).body
    assert body is not None
    reported = datetime.fromisoformat(body["readings"][1]["measured_at"])
    assert to_us(reported) - NOW == tablet.clock_skew_us
    tablet.disconnect()


@pytest.mark.parametrize("kind", ["malformed", "bad_readings"])
def test_broken_input_at_configured_rates(
        settings: Settings, provision: Callable[[int], list[Device]],
        peer_factory: Callable[[bool], PlatformPeer], kind: str) -> None:
    peer = peer_factory(True)
    (device,) = provision(1)
    params = TabletParameters(
        clock_skew_sd_seconds=0.0, large_skew_fraction=0.0,
        malformed_rate=1.0 if kind == "malformed" else 0.0,
        bad_reading_rate=1.0 if kind == "bad_readings" else 0.0)
    loop, tablet = _tablet(settings, device, params)
    tablet.measure(_morning(), NOW)
    _run(loop, tablet, lambda: tablet.stats.outstanding == 0)
    batch = peer.batches.get(timeout=5)
    if kind == "malformed":
        assert batch.body is None
        assert tablet.stats.malformed_sent == 1
        assert not tablet.pending, "a broken batch is not kept for a receipt that cannot come"
    else:
        assert batch.body is not None
        units = {m.code: m.unit for m in MEASUREMENT_TYPES.values()}
        for item in batch.body["readings"]:
            defective = (item.get("type") not in units or "value" not in item
                         or item.get("unit") != units[item["type"]]
                         or "+" not in item["measured_at"][19:]
                         or item["value"] > MEASUREMENT_TYPES[item["type"]].max_value)
            assert defective, item
        assert tablet.stats.bad_readings_sent == 3
    tablet.disconnect()


@pytest.mark.slow
def test_tablet_reconnects_after_a_broker_restart_and_replays_its_buffer(
        settings: Settings, provision: Callable[[int], list[Device]],
        peer_factory: Callable[[bool], PlatformPeer]) -> None:
    (device,) = provision(1)
    loop, tablet = _tablet(settings, device)
    subprocess.run(["bash", str(STACK_SCRIPT), "down", "mqtt"], check=True,
                   stdout=subprocess.DEVNULL)
    try:
        _run(loop, tablet, lambda: not tablet.connected)
        tablet.measure(_morning(), NOW)
        tablet.measure(_morning(86_400), NOW + 86_400_000_000)
        assert tablet.stats.connection_losses == 1
    finally:
        subprocess.run(["bash", str(STACK_SCRIPT), "up", "mqtt"], check=True,
                       stdout=subprocess.DEVNULL)
    # The tablet reconnects only when ticked, so the peer is listening before the replay.
    peer = peer_factory(True)
    _run(loop, tablet, lambda: not tablet.pending, timeout=60)
    days = [b.body["readings"][1]["measured_at"][:10] for b in peer.drain()
            if b.body is not None and b.device_id == device.device_id]
    assert days == ["2026-11-20", "2026-11-21"]
    tablet.disconnect()
