"""A message of 500 readings one week apart, back to 2017 (what stalled all ingest for 28.5 s
when every reading was accepted: 500 hypertable chunks created in one transaction): rejected
``too_old`` per reading, answered at once, and no other tablet waits for it."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg

from core.settings import Settings
from gateway.service import Gateway
from tests.gateway.conftest import Device, count
from tests.gateway.test_ingest import Tablet


def old_chunks(conn: psycopg.Connection[Any]) -> int:
    """Chunks of the readings hypertable that end more than 91 days ago."""
    return count(conn, "select count(*) from timescaledb_information.chunks"
                       " where hypertable_name = 'readings'"
                       " and range_end < now() - interval '91 days'")


def test_a_500_week_message_is_rejected_at_once_without_delaying_others(
        settings: Settings, provision: Callable[..., Device], gateway: Gateway,
        committed_conn: psycopg.Connection[Any]) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    old = orjson.dumps({"v": 1, "msg_id": "weeks", "readings": [
        {"type": "weight", "value": 70, "unit": "kg",
         "measured_at": (now - timedelta(weeks=500 - i)).isoformat()} for i in range(500)]})
    before = old_chunks(committed_conn)
    latencies: list[float] = []
    with Tablet(settings, provision()) as slow, Tablet(settings, provision()) as other:
        stop = threading.Event()

        def steady() -> None:
            n = 0
            while not stop.is_set():
                sent = time.monotonic()
                other.send(orjson.dumps({"v": 1, "msg_id": f"s{n}", "readings": [
                    {"type": "spo2", "value": 95, "unit": "%",
                     "measured_at": (now - timedelta(seconds=n)).isoformat()}]}))
                other.receipt()
                latencies.append(time.monotonic() - sent)
                n += 1
                time.sleep(0.02)

        thread = threading.Thread(target=steady)
        thread.start()
        time.sleep(0.5)
        sent = time.monotonic()
        slow.send(old)
        receipt = slow.receipt()
        answered = time.monotonic() - sent
        time.sleep(0.5)
        stop.set()
        thread.join()
    print(f"500-week message answered in {answered * 1000:.0f} ms; other tablet's receipts"
          f" during it: {len(latencies)}, median {statistics.median(latencies) * 1000:.0f} ms,"
          f" max {max(latencies) * 1000:.0f} ms")
    # The readings of the last 90 days (12 weeks) are stored, the 488 older ones rejected one
    # by one.
    assert receipt["accepted"] == 12
    assert len(receipt["rejected"]) == 488
    assert {r["reason"] for r in receipt["rejected"]} == {"too_old"}
    assert old_chunks(committed_conn) == before, "no chunks opened back through the years"
    # Loose bounds (a shared 2-core machine): before the limit the answer took 28.5 s and every
    # other tablet waited as long.
    assert answered < 3
    assert max(latencies) < 3
