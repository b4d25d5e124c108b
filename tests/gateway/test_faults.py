"""Faults mid-stream, each ending with an exact count: every batch stored once, every reading
once. The gateway runs as its own process (``kol-gateway``) so that it can be killed."""

from __future__ import annotations

import signal
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psutil
import psycopg
import pytest
from psycopg_pool import ConnectionPool

from core.settings import Settings
from tests.conftest import wait_for
from tests.gateway.conftest import Device, Gateways, Publisher, count
from tests.stack import stack

pytestmark = pytest.mark.slow


def stored(conn: psycopg.Connection[Any], devices: list[Device]) -> tuple[int, int]:
    ids = [d.device_id for d in devices]
    return (count(conn, "select count(*) from readings where device_id = any(%s)", ids),
            count(conn, "select count(*) from ingested_messages where device_id = any(%s)", ids))


def assert_exact(conn: psycopg.Connection[Any], devices: list[Device], publisher: Publisher
                 ) -> None:
    expected = (publisher.expected_readings, publisher.messages)
    wait_for(lambda: stored(conn, devices) == expected, timeout=90,
             what=f"{expected} stored (now {stored(conn, devices)})")
    time.sleep(1.5)  # nothing more trickles in
    assert stored(conn, devices) == expected
    dupes = count(conn, "select count(*) from (select 1 from readings where device_id = any(%s)"
                        " group by msg_id, measured_at having count(*) > 1) d",
                  [d.device_id for d in devices])
    assert dupes == 0


@pytest.fixture
def fleet(provision: Callable[..., Device]) -> list[Device]:
    return [provision() for _ in range(4)]


def started(proc: subprocess.Popen[bytes], conn: psycopg.Connection[Any],
            devices: list[Device], publisher: Publisher) -> None:
    """Wait until the gateway is storing."""
    wait_for(lambda: stored(conn, devices)[1] > 0, timeout=30, what="first batches stored")
    assert proc.poll() is None


def test_gateway_sigkill_mid_stream(settings: Settings, fleet: list[Device], gateways: Gateways,
                                    committed_conn: psycopg.Connection[Any]) -> None:
    client_id = f"fault-kill-{uuid.uuid4().hex[:8]}"
    first = gateways.start(client_id)
    publisher = Publisher(settings, fleet, messages=3000, readings_per_message=10).start()
    started(first, committed_conn, fleet, publisher)
    publisher.wait_until_sent(1000)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    killed_at = stored(committed_conn, fleet)
    publisher.wait_until_sent(1800)
    gateways.start(client_id)
    publisher.join()
    assert_exact(committed_conn, fleet, publisher)
    assert 0 < killed_at[1] < publisher.messages


def test_database_down_for_ten_seconds(settings: Settings, fleet: list[Device],
                                       gateways: Gateways, pool: ConnectionPool,
                                       committed_conn: psycopg.Connection[Any]) -> None:
    port = 19183
    proc = gateways.start(f"fault-db-{uuid.uuid4().hex[:8]}", "--metrics-port", str(port))
    # Paced so that the stream goes on through the whole outage.
    publisher = Publisher(settings, fleet, messages=3000, readings_per_message=10,
                          rate=200).start()
    started(proc, committed_conn, fleet, publisher)
    publisher.wait_until_sent(400)
    committed_conn.close()
    stack("down", "pg")
    backlog, rss = [], []
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            backlog.append(scrape(port, "kol_gateway_backlog_messages"))
            rss.append(psutil.Process(proc.pid).memory_info().rss)
            time.sleep(0.5)
    finally:
        stack("up", "pg")
        pool.check()  # the session's pool is shared with later tests
    publisher.join()
    # While the database was down the stream went on: the gateway held what it had received,
    # unacknowledged (at most the broker's in-flight window, max_inflight_messages 10 000), the
    # broker the rest, and the gateway's memory did not grow with the stream.
    assert 0 < max(backlog) <= 10_000, backlog
    assert max(backlog) > backlog[0], "the publisher kept publishing during the outage"
    assert max(rss) - rss[0] < 50 * 2**20
    with psycopg.connect(settings.database_url, autocommit=True,
                         row_factory=psycopg.rows.dict_row) as conn:
        assert_exact(conn, fleet, publisher)
    assert proc.poll() is None, "the gateway must ride out the outage"


def test_broker_restart_mid_stream(settings: Settings, fleet: list[Device], gateways: Gateways,
                                   committed_conn: psycopg.Connection[Any]) -> None:
    proc = gateways.start(f"fault-mqtt-{uuid.uuid4().hex[:8]}")
    publisher = Publisher(settings, fleet, messages=3000, readings_per_message=10).start()
    started(proc, committed_conn, fleet, publisher)
    publisher.wait_until_sent(1000)
    stack("down", "mqtt")
    time.sleep(2)
    stack("up", "mqtt")
    publisher.join()
    assert_exact(committed_conn, fleet, publisher)
    assert proc.poll() is None


def scrape(port: int, metric: str) -> float:
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in body.splitlines()
               if line.startswith(metric) and not line.startswith("#"))


def test_two_gateways_share_the_load_and_store_everything_once(
        settings: Settings, provision: Callable[..., Device], gateways: Gateways,
        committed_conn: psycopg.Connection[Any]) -> None:
    devices = [provision() for _ in range(8)]
    group = f"g{uuid.uuid4().hex[:6]}"
    ports = (19181, 19182)
    for i, port in enumerate(ports):
        gateways.start(f"share-{group}-{i}", "--shared-group", group, "--metrics-port",
                       str(port))
    time.sleep(1.5)
    start = datetime.now(UTC) - timedelta(days=1)
    publisher = Publisher(settings, devices, messages=3000, readings_per_message=10,
                          start=start).start()
    publisher.join()
    assert_exact(committed_conn, devices, publisher)
    # Every batch again, byte for byte (tablets that missed their receipts): the copies land on
    # either gateway and are recognised as duplicates there, whichever one stored the original.
    again = Publisher(settings, devices, messages=3000, readings_per_message=10,
                      start=start).start()
    again.join()
    wait_for(lambda: sum(scrape(p, "kol_gateway_messages_duplicate_total") for p in ports)
             >= again.messages, timeout=60, what="duplicates recognised")
    assert_exact(committed_conn, devices, publisher)
    received = [scrape(p, 'kol_gateway_messages_received_total{kind="readings"}') for p in ports]
    assert all(r > 600 for r in received), received
    assert sum(received) >= 2 * publisher.messages
