"""Dead letters: the raw payload once per message and capped, a per-device hourly budget with
its counter, and the retention task."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg

from ingest.schemas import DeadLetterPolicy
from ingest.service import write_batch
from protocol.parsing import parse_message
from protocol.topics import device_topics
from rejections import tasks
from tests.conftest import unique
from tests.gateway.conftest import count

NOW = datetime.now(UTC)


def bad_message(device_id: str, *, readings: int = 1, pad: int = 0) -> Any:
    """A batch whose every reading is out of range."""
    payload = orjson.dumps({"v": 1, "msg_id": unique("m"), "pad": "x" * pad, "readings": [
        {"type": "spo2", "value": 120, "unit": "%",
         "measured_at": (NOW - timedelta(seconds=i)).isoformat()} for i in range(readings)]})
    return parse_message(device_topics(device_id).readings, payload, NOW)


def test_payload_is_stored_once_per_message_not_per_reading(
        conn: psycopg.Connection[Any], make_device: Callable[[], str]) -> None:
    device = make_device()
    message = bad_message(device, readings=500, pad=15_000)
    assert 50_000 < len(message.payload) <= 64 * 1024
    outcome = write_batch(conn, [message])
    assert outcome.rejected == {"out_of_range": 500}
    assert count(conn, "select count(*) from rejections where device_id = %s", device) == 500
    assert count(conn, "select count(distinct payload_id) from rejections where device_id = %s",
                 device) == 1
    # ~64 KB stored, where a copy per reading was ~32 MB.
    assert count(conn, "select sum(length(p.payload)) from dead_letter_payloads p where p.id in"
                       " (select payload_id from rejections where device_id = %s)",
                 device) == len(message.payload)
    assert outcome.dead_letter_bytes == len(message.payload)


def test_payload_is_capped(conn: psycopg.Connection[Any], make_device: Callable[[], str]
                           ) -> None:
    device = make_device()
    message = bad_message(device, pad=5000)
    write_batch(conn, [message], policy=DeadLetterPolicy(payload_bytes=256))
    row = conn.execute(
        "select p.payload, p.payload_bytes, p.sha256 from dead_letter_payloads p"
        " join rejections r on r.payload_id = p.id where r.device_id = %s", (device,)).fetchone()
    assert row is not None
    assert bytes(row["payload"]) == message.payload[:256]
    assert row["payload_bytes"] == len(message.payload)


def test_per_device_budget_counts_what_it_does_not_store(
        conn: psycopg.Connection[Any], make_device: Callable[[], str]) -> None:
    noisy, quiet = make_device(), make_device()
    policy = DeadLetterPolicy(letters_per_hour=3, bytes_per_hour=10**6)
    outcome = write_batch(conn, [bad_message(noisy) for _ in range(5)] + [bad_message(quiet)],
                          policy=policy)
    again = write_batch(conn, [bad_message(noisy)], policy=policy)
    # Every message is still receipted with its reasons; only storage is bounded.
    assert len(outcome.receipts) == 6
    assert outcome.rejected == {"out_of_range": 6}
    assert (outcome.dead_letters_suppressed, again.dead_letters_suppressed) == (2, 1)
    assert count(conn, "select count(*) from rejections where device_id = %s", noisy) == 3
    assert count(conn, "select count(*) from rejections where device_id = %s", quiet) == 1
    budget = conn.execute("select letters, suppressed from dead_letter_budget"
                          " where device_key = %s", (noisy,)).fetchall()
    assert budget == [{"letters": 3, "suppressed": 3}]


def test_budget_counts_dead_letters_not_messages(
        conn: psycopg.Connection[Any], make_device: Callable[[], str]) -> None:
    """A message of 500 bad readings is 500 dead letters: a flood of them is cut early."""
    device = make_device()
    outcome = write_batch(conn, [bad_message(device, readings=500) for _ in range(3)],
                          policy=DeadLetterPolicy(letters_per_hour=1200))
    assert outcome.dead_letters_suppressed == 1
    assert count(conn, "select count(*) from rejections where device_id = %s", device) == 1000


def test_per_device_byte_budget(conn: psycopg.Connection[Any], make_device: Callable[[], str]
                                ) -> None:
    device = make_device()
    policy = DeadLetterPolicy(letters_per_hour=100, bytes_per_hour=5000)
    outcome = write_batch(conn, [bad_message(device, pad=2000) for _ in range(4)],
                          policy=policy)
    assert outcome.dead_letters_suppressed == 2
    assert count(conn, "select bytes from dead_letter_budget where device_key = %s",
                 device) <= 5000


def test_retention_task_prunes_old_dead_letters(
        committed_conn: psycopg.Connection[Any], make_device: Callable[[], str],
        settings: Any) -> None:
    device = make_device()
    old = bad_message(device)
    recent = bad_message(device)
    past = NOW - timedelta(days=settings.dead_letter_retention_days + 1)
    old = parse_message(old.topic, old.payload, past)
    with committed_conn.transaction():
        write_batch(committed_conn, [old, recent])
    assert count(committed_conn, "select count(*) from rejections where device_id = %s",
                 device) == 2
    assert tasks.prune() >= 1
    left = committed_conn.execute(
        "select r.msg_id from rejections r where r.device_id = %s", (device,)).fetchall()
    assert left == [{"msg_id": recent.msg_id}]
    assert count(committed_conn, "select count(*) from dead_letter_payloads where sha256 ="
                                 " sha256(%s::bytea)", old.payload) == 0
