"""The fleet driver against the real broker: accelerated and replay runs deliver exactly the
cohort's readings, through outages, with every batch acknowledged."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from core.measurement_types import TYPE_BY_INDEX
from core.settings import Settings
from core.tls import mqtt_context
from simulators.cohort import generate_cohort
from simulators.fleet import Device, Fleet
from simulators.parameters import TabletParameters
from tests.simulators.conftest import PlatformPeer

NO_SKEW = dict(clock_skew_sd_seconds=0.0, large_skew_fraction=0.0)


def _expected(cohort_start: datetime, devices: list[Device], days: int, seed: int,
              lo: datetime, hi: datetime) -> set[tuple[str, str, datetime]]:
    cohort = generate_cohort(n_patients=len(devices), days=days, seed=seed, start=cohort_start)
    r = cohort.readings
    out = set()
    for p, t, m in zip(r.patient_index.tolist(), r.type_index.tolist(),
                       r.measured_at.astype(np.int64).tolist(), strict=True):
        at = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=m)
        if lo < at <= hi:
            out.add((devices[p].device_id, TYPE_BY_INDEX[t].code, at.replace(microsecond=0)))
    return out


def _received(peer: PlatformPeer) -> list[tuple[str, str, datetime]]:
    got = []
    for batch in peer.drain():
        assert batch.body is not None
        for item in batch.body["readings"]:
            got.append((batch.device_id, item["type"],
                        datetime.fromisoformat(item["measured_at"]).astimezone(UTC)))
    return got


@pytest.mark.parametrize("speed", [2 * 86_400.0, None], ids=["accelerated", "replay"])
def test_fleet_delivers_exactly_the_cohort_readings_through_outages(
        settings: Settings, provision: Callable[[int], list[Device]],
        peer_factory: Callable[[bool], PlatformPeer], speed: float | None) -> None:
    peer = peer_factory(True)
    devices = provision(12)
    days, seed = 12, 5
    now = datetime.now(UTC)
    cohort_start = now - timedelta(days=days)
    cohort = generate_cohort(n_patients=len(devices), days=days, seed=seed, start=cohort_start)
    params = TabletParameters(offline_probability_per_day=0.3, offline_hours_mean=30.0,
                              **NO_SKEW)
    fleet = Fleet(cohort=cohort, devices=devices, host=settings.mqtt_host,
                  port=settings.mqtt_port, tls=mqtt_context(settings), seed=seed,
                  params=params)
    run_from = cohort_start + timedelta(days=1)
    end = None if speed is not None else now - timedelta(hours=1)
    try:
        report = fleet.run(start=run_from, speed=speed, end=end, duration=4.0)
        assert fleet.flush(20.0), "every buffered batch got its receipt"
    finally:
        fleet.close()
    assert report.refused == 0
    assert report.stats.offline_periods > 0, "outages happened and were replayed"
    assert report.sim_end > run_from + timedelta(days=7), report.summary()
    got = _received(peer)
    expected = _expected(cohort_start, devices, days, seed, run_from, report.sim_end)
    assert set(got) == expected
    assert fleet.stats.receipts == fleet.stats.batches_sent, "every batch receipted once flushed"
    if speed is not None:
        assert report.achieved_speed > 0.8 * speed
