"""Poison isolation in the batch writer: a message the database refuses costs only itself; a
transient failure retries the whole group. The fault is injected in the database itself, by a
test-only trigger on ``readings`` that refuses one device's rows (``tests.faults``)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import psycopg
import pytest
from psycopg_pool import ConnectionPool

from ingest.schemas import BatchOutcome
from ingest.writer import BatchWriter, Item, WriterConfig
from protocol.topics import device_topics
from tests.faults import RefusedDevices, refused_devices
from tests.ingest.conftest import readings_message


@pytest.fixture
def refusing(owner_conn: psycopg.Connection[Any]) -> Iterator[RefusedDevices]:
    with refused_devices(owner_conn) as refused:
        yield refused


class Committed:
    def __init__(self) -> None:
        self.calls: list[tuple[list[Item[int]], BatchOutcome]] = []
        self.done = threading.Event()
        self.expected = 0

    def __call__(self, items: list[Item[int]], outcome: BatchOutcome, seconds: float) -> None:
        self.calls.append((items, outcome))
        if sum(len(i) for i, _ in self.calls) >= self.expected:
            self.done.set()


def run_group(pool: ConnectionPool, messages: list[Any], **config: Any
              ) -> tuple[Committed, BatchWriter[int]]:
    """Queue the messages before the writer starts, so that they form one group."""
    committed = Committed()
    committed.expected = len(messages)
    writer: BatchWriter[int] = BatchWriter(pool, on_committed=committed,
                                           config=WriterConfig(**config))
    for n, message in enumerate(messages):
        writer.put(Item(message=message, token=n))
    writer.start()
    assert committed.done.wait(60), committed.calls
    writer.stop()
    return committed, writer


def test_poison_message_alone_is_dead_lettered_and_the_rest_commit(
        pool: ConnectionPool, make_device: Callable[[], str], refusing: RefusedDevices,
        committed_conn: psycopg.Connection[Any]) -> None:
    devices = [make_device() for _ in range(7)]
    poison = devices[4]
    refusing.refuse(poison)
    messages = [readings_message(d, n=3) for d in devices]
    committed, writer = run_group(pool, messages)

    assert writer.poisoned == 1
    assert len(committed.calls) > 1, "the group was split"
    tokens = sorted(item.token for items, _ in committed.calls for item in items)
    assert tokens == list(range(len(devices))), "every message reported committed once"
    # Arrival order kept.
    assert [item.token for items, _ in committed.calls for item in items] == tokens
    stored = {r["device_id"]: r["n"] for r in committed_conn.execute(
        "select device_id, count(*) as n from readings where device_id = any(%s)"
        " group by device_id", (devices,)).fetchall()}
    assert stored == {d: 3 for d in devices if d != poison}
    dead = committed_conn.execute(
        "select r.reason, r.reading_index, r.msg_id, r.detail, p.payload from rejections r"
        " join dead_letter_payloads p on p.id = r.payload_id where r.device_id = %s",
        (poison,)).fetchall()
    assert [(d["reason"], d["reading_index"]) for d in dead] == [("internal_error", None)]
    assert "test trigger refuses" in dead[0]["detail"]
    assert bytes(dead[0]["payload"]) == messages[4].payload
    receipts = {topic: orjson.loads(p) for _, o in committed.calls for topic, p in o.receipts}
    assert receipts[device_topics(poison).receipts] == {
        "v": 1, "msg_id": messages[4].msg_id, "accepted": 0, "duplicates": 0,
        "rejected": [{"index": None, "reason": "internal_error"}]}
    assert all(receipts[device_topics(d).receipts]["accepted"] == 3
               for d in devices if d != poison)


def test_transient_failure_retries_the_whole_group(
        pool: ConnectionPool, make_device: Callable[[], str], refusing: RefusedDevices) -> None:
    devices = [make_device() for _ in range(4)]
    refusing.refuse(devices[1], "flaky")
    timer = threading.Timer(1.0, lambda: refusing.accept(devices[1]))
    timer.start()
    committed, writer = run_group(pool, [readings_message(d, n=2) for d in devices],
                                  backoff_initial=0.05, backoff_max=0.2)
    timer.join()
    assert writer.retries >= 2
    assert writer.poisoned == 0
    assert len(committed.calls) == 1, "retried whole, not split"
    assert committed.calls[0][1].accepted == 8
    assert committed.calls[0][1].rejected == {}
