"""The simulated fleet through the real gateway into TimescaleDB: every cohort reading stored
exactly once through outages, replays and resends; receipts honoured; broken input dead-lettered
with its reason and counted by the tablets from the receipts."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg_pool import ConnectionPool

from core.access import SYSTEM
from core.measurement_types import TYPE_BY_INDEX
from core.settings import Settings
from core.tls import mqtt_context
from devices import service as devices_service
from devices.broker import BrokerAdmin
from gateway.service import Gateway, GatewayConfig
from protocol.topics import device_topics
from simulators.cohort import Cohort, generate_cohort
from simulators.diary import generate_diaries
from simulators.fleet import Device, Fleet, FleetReport
from simulators.parameters import TabletParameters
from tests.conftest import insert_patient, unique, wait_for

NO_SKEW = dict(clock_skew_sd_seconds=0.0, large_skew_fraction=0.0)
# Offline on about a third of the days and quick to resend what was not receipted.
OUTAGES = TabletParameters(offline_probability_per_day=0.3, receipt_timeout_seconds=2.0,
                           **NO_SKEW)
# Two simulated days a second.
FAST = 2 * 86_400.0


@pytest.fixture(scope="module")
def gateway(settings: Settings, pool: ConnectionPool) -> Iterator[Gateway]:
    gw = Gateway(settings=settings, pool=pool, hand_off=lambda committed: None,
                 config=GatewayConfig(client_id=f"sim-gw-{uuid.uuid4().hex[:8]}"))
    gw.start()
    assert gw.connected.wait(10)
    time.sleep(0.3)  # SUBACK
    yield gw
    gw.stop(end_session=True)


@pytest.fixture
def enrol(settings: Settings, pool: ConnectionPool) -> Iterator[Callable[[int], list[Device]]]:
    """Patients (test data in SQL) with tablets provisioned by the platform's device service."""
    made: list[str] = []

    def make(n: int) -> list[Device]:
        devices = []
        team = unique("simteam")
        with pool.connection() as conn, BrokerAdmin.from_settings(settings) as broker:
            for i in range(n):
                patient_id = insert_patient(conn, team=team)
                created = devices_service.provision(conn, viewer=SYSTEM, broker=broker,
                                                    patient_id=patient_id)
                devices.append(Device(device_id=created.device_id,
                                      password=created.mqtt_password, patient_index=i,
                                      patient_id=patient_id))
        made.extend(d.device_id for d in devices)
        return devices

    yield make
    with BrokerAdmin.from_settings(settings) as broker:
        broker.revoke_devices(made)


def _fleet(settings: Settings, devices: list[Device], *, days: int, seed: int,
           params: TabletParameters, end: datetime | None = None, diaries: bool = False
           ) -> tuple[Cohort, Fleet]:
    """The cohort of ``devices``' patients over the ``days`` before ``end`` (default now) and
    the fleet of their tablets, connected to the stack's broker."""
    start = (end or datetime.now(UTC)) - timedelta(days=days)
    cohort = generate_cohort(n_patients=len(devices), days=days, seed=seed, start=start)
    return cohort, Fleet(cohort=cohort, devices=devices, host=settings.mqtt_host,
                         port=settings.mqtt_port, tls=mqtt_context(settings), seed=seed,
                         params=params, diaries=diaries)


def _run(fleet: Fleet, *, start: datetime, speed: float | None, end: datetime | None = None,
         duration: float | None = None) -> FleetReport:
    """Drive the fleet, wait until the platform has receipted everything it sent, close it."""
    try:
        report = fleet.run(start=start, speed=speed, end=end, duration=duration)
        assert fleet.flush(30.0), "every message receipted by the platform"
    finally:
        fleet.close()
    return report


def _stored(conn: psycopg.Connection[Any], devices: list[Device]
            ) -> list[tuple[int, str, datetime, float]]:
    rows = conn.execute(
        "select patient_id, type, measured_at, value from readings where patient_id = any(%s)",
        ([d.patient_id for d in devices],)).fetchall()
    return [(r["patient_id"], r["type"], r["measured_at"], r["value"]) for r in rows]


def _expected(cohort: Cohort, devices: list[Device], lo: datetime, hi: datetime
              ) -> set[tuple[int, str, datetime, float]]:
    r = cohort.readings
    out = set()
    for p, t, m, v in zip(r.patient_index.tolist(), r.type_index.tolist(),
                          r.measured_at.astype(np.int64).tolist(), r.value.tolist(),
                          strict=True):
        at = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=m)
        if lo < at <= hi:
            patient_id = devices[p].patient_id
            assert patient_id is not None
            out.add((patient_id, TYPE_BY_INDEX[t].code, at.replace(microsecond=0), v))
    return out


def test_fleet_readings_are_stored_exactly_once_through_outages(
        settings: Settings, gateway: Gateway, enrol: Callable[[int], list[Device]],
        committed_conn: psycopg.Connection[Any]) -> None:
    devices = enrol(6)
    cohort, fleet = _fleet(settings, devices, days=10, seed=21, params=OUTAGES)
    run_from = cohort.start + timedelta(days=1)
    report = _run(fleet, start=run_from, speed=FAST, duration=4.0)
    stored = _stored(committed_conn, devices)
    assert len(stored) == len(set(stored)), "no reading stored twice"
    assert set(stored) == _expected(cohort, devices, run_from, report.sim_end)
    stats = fleet.stats
    assert stats.offline_periods > 0
    assert stats.receipts == stats.batches_sent
    assert stats.accepted == len(stored)
    assert stats.rejected == 0
    batches = committed_conn.execute(
        "select count(*) as n from ingested_messages where device_id = any(%s)",
        ([d.device_id for d in devices],)).fetchone()
    assert batches is not None
    assert batches["n"] == stats.batches_sent, "resent batches are stored once"


def test_broken_input_is_dead_lettered_with_reasons_and_counted_from_receipts(
        settings: Settings, gateway: Gateway, enrol: Callable[[int], list[Device]],
        committed_conn: psycopg.Connection[Any]) -> None:
    devices = enrol(4)
    cohort, fleet = _fleet(
        settings, devices, days=8, seed=22, end=datetime.now(UTC) - timedelta(hours=1),
        params=TabletParameters(offline_probability_per_day=0.0, malformed_rate=0.2,
                                bad_reading_rate=0.15, **NO_SKEW))
    _run(fleet, start=cohort.start, end=cohort.end, speed=None)
    stats = fleet.stats
    assert stats.malformed_sent > 0
    assert stats.rejected > 0

    def rejections() -> list[dict[str, Any]]:
        return committed_conn.execute(
            "select reason, reading_index from rejections where topic = any(%s)",
            ([device_topics(d.device_id).readings for d in devices],)).fetchall()

    # A malformed message gets no receipt to wait for: its rejection may still be on its way to
    # the database when the fleet has its last receipt (seen on a loaded machine).
    wait_for(lambda: sum(r["reading_index"] is None for r in rejections())
             >= stats.malformed_sent, what="the malformed messages' rejections")
    rows = rejections()
    per_reading = [r["reason"] for r in rows if r["reading_index"] is not None]
    whole = [r["reason"] for r in rows if r["reading_index"] is None]
    assert len(per_reading) == stats.rejected
    assert set(per_reading) <= {"bad_unit", "naive_timestamp", "out_of_range", "unknown_type",
                                "missing_field"}
    assert whole == ["malformed_json"] * stats.malformed_sent
    assert stats.accepted == len(_stored(committed_conn, devices))


def test_fleet_tablets_answer_the_diary_stored_exactly_once_through_outages(
        settings: Settings, gateway: Gateway, enrol: Callable[[int], list[Device]],
        committed_conn: psycopg.Connection[Any]) -> None:
    devices = enrol(4)
    cohort, fleet = _fleet(settings, devices, days=8, seed=23, params=OUTAGES, diaries=True)
    run_from = cohort.start + timedelta(days=1)
    report = _run(fleet, start=run_from, speed=FAST, duration=3.0)
    rows = committed_conn.execute(
        "select patient_id, authored_at, symptom_mask from questionnaire_responses"
        " where patient_id = any(%s)", ([d.patient_id for d in devices],)).fetchall()
    stored = [(r["patient_id"], r["authored_at"], float(r["symptom_mask"])) for r in rows]
    diaries = generate_diaries(cohort, seed=cohort.seed)
    expected = set()
    for p, m, v in zip(diaries.patient_index.tolist(),
                       diaries.measured_at.astype(np.int64).tolist(), diaries.value.tolist(),
                       strict=True):
        at = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=m)
        if run_from < at <= report.sim_end:
            expected.add((devices[p].patient_id, at.replace(microsecond=0), v))
    assert expected, "the run must cover some diaries"
    assert len(stored) == len(set(stored)) == len(expected)
    assert set(stored) == expected
    assert fleet.stats.diaries_sent == len(expected)
    assert fleet.stats.receipts == fleet.stats.batches_sent
    assert fleet.stats.rejected == 0
