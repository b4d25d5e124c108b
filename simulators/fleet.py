"""The fleet driver: many simulated tablets in one process, each sending its patient's cohort
readings as a simulated clock passes their measurement times.

The clock runs at ``speed`` simulated seconds per real second (1 = real time, 86 400 = a day per
second), never ahead of the wall clock (the platform rejects readings from the future), or, with
``speed=None``, as fast as the broker acknowledges (replay of a date range).
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import numpy as np

from core.measurement_types import TYPE_BY_INDEX
from core.questionnaires import SYMPTOM_SERIES
from simulators.cohort import US_PER_DAY, Cohort
from simulators.diary import generate_diaries, with_diaries
from simulators.mqtt_loop import SelectorLoop
from simulators.parameters import DEFAULT_TABLET, TabletParameters
from simulators.tablet import Reading, Tablet, TabletStats

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US_PER_HOUR = 3_600_000_000
REPLAY_STEP_US = 6 * US_PER_HOUR
"""Replay advances the clock in steps of this much while the broker keeps up."""


def to_us(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


@dataclass(frozen=True, slots=True, kw_only=True)
class Device:
    """A tablet's broker identity and the cohort patient it measures."""

    device_id: str
    password: str
    patient_index: int
    patient_id: int | None = None
    """The platform's patient id when provisioned through the API; None for broker-only
    (load-test) devices."""


@dataclass(slots=True, kw_only=True)
class FleetReport:
    tablets: int
    connected: int
    refused: int
    connect_seconds: float
    wall_seconds: float
    sim_start: datetime
    sim_end: datetime
    speed: float | None
    stats: TabletStats
    """A snapshot at the end of the run."""
    emission_lags: list[float] = field(default_factory=list)
    """Real seconds between when a slice of readings was due and when it was sent."""
    drained: bool = False
    """Every publish of the connected tablets acknowledged by the broker at the end."""

    @property
    def achieved_speed(self) -> float:
        return (self.sim_end - self.sim_start).total_seconds() / max(self.wall_seconds, 1e-9)

    @property
    def publish_rate(self) -> float:
        return (self.stats.batches_sent + self.stats.resends) / max(self.wall_seconds, 1e-9)

    @property
    def reading_rate(self) -> float:
        return self.stats.readings_sent / max(self.wall_seconds, 1e-9)

    def lag(self, quantile: float) -> float:
        return float(np.quantile(self.emission_lags, quantile)) if self.emission_lags else 0.0

    @property
    def kept_up(self) -> bool:
        """Readings went out within a real second of being due, and the broker acknowledged
        everything."""
        return self.drained and self.lag(0.99) < 1.0

    def summary(self) -> str:
        s = self.stats
        speed = "as fast as possible" if self.speed is None else f"{self.speed:g}x"
        return "\n".join([
            f"tablets: {self.tablets} ({self.connected} connected, {self.refused} refused) "
            f"in {self.connect_seconds:.1f} s",
            f"simulated: {self.sim_start:%Y-%m-%d %H:%M} → {self.sim_end:%Y-%m-%d %H:%M} UTC "
            f"in {self.wall_seconds:.1f} s; target {speed}, achieved {self.achieved_speed:,.0f}x",
            f"published: {s.batches_sent} batches + {s.resends} resends, {s.readings_sent} "
            f"readings; {self.publish_rate:,.0f} publishes/s, {self.reading_rate:,.0f} readings/s",
            f"broker acks: {s.pubacks}, outstanding {s.outstanding}; receipts: {s.receipts} "
            f"(accepted {s.accepted}, duplicates {s.duplicates}, rejected {s.rejected})",
            f"offline periods: {s.offline_periods}, connection losses: {s.connection_losses}, "
            f"malformed sent: {s.malformed_sent}, bad readings sent: {s.bad_readings_sent}",
            f"emission lag: p50 {self.lag(0.5):.3f} s, p99 {self.lag(0.99):.3f} s, "
            f"max {self.lag(1.0):.3f} s; kept up: {'yes' if self.kept_up else 'NO'}",
        ])


class Fleet:
    def __init__(self, *, cohort: Cohort, devices: list[Device], host: str, port: int,
                 tls: ssl.SSLContext | None, seed: int,
                 params: TabletParameters = DEFAULT_TABLET, diaries: bool = False) -> None:
        """``diaries``: the tablets also answer the symptom diary (``simulators.diary``)."""
        self.loop = SelectorLoop()
        self.stats = TabletStats()
        self.params = params
        self.tablets = [
            Tablet(device_id=d.device_id, password=d.password, host=host, port=port, tls=tls,
                   loop=self.loop, rng=np.random.default_rng([seed, 1, i]), stats=self.stats,
                   params=params)
            for i, d in enumerate(devices)]
        # Readings of the patients that have a tablet, in measurement order.
        tablet_of = np.full(len(cohort.patients), -1, dtype=np.int64)
        tablet_of[[d.patient_index for d in devices]] = np.arange(len(devices))
        r = with_diaries(cohort.readings, generate_diaries(cohort, seed=seed)) if diaries \
            else cohort.readings
        owned = tablet_of[r.patient_index]
        keep = owned >= 0
        times = r.measured_at.astype(np.int64)[keep]
        order = np.argsort(times, kind="stable")
        self._t_us = times[order]
        self._tablet = owned[keep][order]
        self._type = r.type_index[keep][order]
        self._value = r.value[keep][order]
        self._codes = [*(t.code for t in TYPE_BY_INDEX), SYMPTOM_SERIES]
        self._events = self._offline_events(np.random.default_rng([seed, 0]), len(devices),
                                            to_us(cohort.start), cohort.days)

    def _offline_events(self, rng: np.random.Generator, n: int, start_us: int, days: int
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Network outages as sorted (time, tablet, +1 going offline / -1 back) events."""
        ti, di = np.nonzero(rng.random((n, days)) < self.params.offline_probability_per_day)
        begin = start_us + ((di + rng.random(len(di))) * US_PER_DAY).astype(np.int64)
        length = (rng.exponential(self.params.offline_hours_mean, len(di)) * US_PER_HOUR)
        times = np.concatenate([begin, begin + length.astype(np.int64)])
        order = np.argsort(times, kind="stable")
        tablets = np.concatenate([ti, ti])[order]
        deltas = np.concatenate([np.ones(len(ti), np.int64), -np.ones(len(ti), np.int64)])
        return times[order], tablets, deltas[order]

    def connect(self, start_us: int, timeout: float = 120.0) -> float:
        """Connect every tablet not in an outage at ``start_us``; wait for the CONNACKs."""
        times, tablets, deltas = self._events
        first = int(np.searchsorted(times, start_us, side="right"))
        self._depth = np.zeros(len(self.tablets), dtype=np.int64)
        np.add.at(self._depth, tablets[:first], deltas[:first])
        self._event_ptr = first
        began = time.monotonic()
        for i, tablet in enumerate(self.tablets):
            if self._depth[i] == 0:
                tablet.connect()
                self.loop.poll(0)
        wanted = int(np.sum(self._depth == 0))
        while time.monotonic() - began < timeout and \
                self.stats.connects + self.stats.refused < wanted:
            self.loop.poll(0.05)
        return time.monotonic() - began

    def run(self, *, start: datetime, speed: float | None, end: datetime | None = None,
            duration: float | None = None, stop: Callable[[], bool] = lambda: False,
            progress: Callable[[datetime, TabletStats], None] | None = None,
            progress_every: float = 10.0, drain_timeout: float = 15.0) -> FleetReport:
        """Drive the fleet from ``start`` until ``end`` (simulated), ``duration`` (real seconds)
        or ``stop()``, then wait up to ``drain_timeout`` for the broker's acknowledgements."""
        start_us = to_us(start)
        end_us = to_us(end) if end is not None else None
        connect_seconds = self.connect(start_us)
        ptr = int(np.searchsorted(self._t_us, start_us, side="right"))
        cursor = start_us
        lags: list[float] = []
        t0 = last_misc = last_progress = time.monotonic()
        while not stop():
            now = time.monotonic()
            if duration is not None and now - t0 >= duration:
                break
            if speed is None:
                if self.stats.outstanding < 2 * len(self.tablets) + 100:
                    target = cursor + REPLAY_STEP_US
                else:
                    target = cursor
            else:
                target = start_us + int((now - t0) * speed * 1e6)
            target = min(target, to_us(datetime.now(UTC)))
            if end_us is not None:
                target = min(target, end_us)
            if target > cursor:
                self._apply_outages(target)
                hi = int(np.searchsorted(self._t_us, target, side="right"))
                if hi > ptr:
                    if speed is not None:
                        due = t0 + (int(self._t_us[ptr]) - start_us) / 1e6 / speed
                        lags.append(max(now - due, 0.0))
                    self._emit(ptr, hi, target)
                    ptr = hi
                cursor = target
            if now - last_misc >= 0.5:
                for tablet in self.tablets:
                    tablet.tick()
                self.loop.misc()
                last_misc = now
            if progress is not None and now - last_progress >= progress_every:
                progress(from_us(cursor), self.stats)
                last_progress = now
            if end_us is not None and cursor >= end_us:
                break
            # Ticks of at most ~7 simulated minutes, and no busy loop at low speeds.
            self.loop.poll(0.0 if speed is None else min(0.1, 432.0 / speed))
        wall = time.monotonic() - t0
        drained = self._drain(drain_timeout)
        return FleetReport(
            tablets=len(self.tablets), connected=sum(t.connected for t in self.tablets),
            refused=self.stats.refused, connect_seconds=connect_seconds, wall_seconds=wall,
            sim_start=start, sim_end=from_us(cursor), speed=speed, stats=replace(self.stats),
            emission_lags=lags, drained=drained)

    def _apply_outages(self, target: int) -> None:
        times, tablets, deltas = self._events
        hi = int(np.searchsorted(times, target, side="right"))
        for i, delta in zip(tablets[self._event_ptr:hi].tolist(),
                            deltas[self._event_ptr:hi].tolist(), strict=True):
            self._depth[i] += delta
            if delta > 0 and self._depth[i] == 1:
                self.tablets[i].go_offline()
            elif delta < 0 and self._depth[i] == 0:
                self.tablets[i].go_online()
        self._event_ptr = hi

    def _emit(self, lo: int, hi: int, sim_now: int) -> None:
        """Hand each tablet its readings in ``[lo, hi)``: one batch per tablet per slice."""
        tablets = self._tablet[lo:hi]
        order = np.argsort(tablets, kind="stable")
        cuts = np.flatnonzero(np.diff(tablets[order])) + 1
        times = self._t_us[lo:hi].tolist()
        types = self._type[lo:hi].tolist()
        values = self._value[lo:hi].tolist()
        codes = self._codes
        for group in np.split(order, cuts):
            idx = group.tolist()
            self.tablets[int(tablets[idx[0]])].measure(
                [Reading(type=codes[types[j]], value=values[j], measured_at_us=times[j])
                 for j in idx], sim_now)

    def flush(self, timeout: float) -> bool:
        """End every outage and wait until all buffered batches have their receipts."""
        for tablet in self.tablets:
            tablet.go_online()
        began = time.monotonic()
        while any(t.pending for t in self.tablets) and time.monotonic() - began < timeout:
            self.loop.poll(0.05)
            for tablet in self.tablets:
                tablet.tick()
        return not any(t.pending for t in self.tablets)

    def _unacked_online(self) -> int:
        # A tablet that went offline with a publish in flight resends it when it is back.
        return sum(t.awaiting_puback for t in self.tablets if t.online)

    def _drain(self, timeout: float) -> bool:
        began = time.monotonic()
        while self._unacked_online() > 0 and time.monotonic() - began < timeout:
            self.loop.poll(0.05)
            for tablet in self.tablets:
                tablet.tick()
        return self._unacked_online() == 0

    def close(self) -> None:
        for tablet in self.tablets:
            tablet.disconnect()
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and self.loop.poll(0.05):
            pass
        self.loop.close()
