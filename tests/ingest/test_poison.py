"""Poison isolation in the batch writer: a message the database refuses costs only itself; a
transient failure retries the whole group. The fault is injected in the database itself, by a
test-only trigger on ``readings`` that refuses one device's rows."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import orjson
import psycopg
import pytest
from psycopg_pool import ConnectionPool

from ingest.schemas import BatchOutcome
from ingest.writer import BatchWriter, Item, WriterConfig
from protocol.topics import device_topics
from tests.ingest.conftest import readings_message

REFUSE = """
create or replace function test_refuse_device() returns trigger language plpgsql as $$
begin
    if new.device_id = any(string_to_array(current_setting('kol_test.refuse', true), ',')) then
        raise exception 'test trigger refuses device %', new.device_id;
    end if;
    if new.device_id = any(string_to_array(current_setting('kol_test.flaky', true), ','))
       and exists (select 1 from test_flaky) then
        raise exception 'test trigger: serialization' using errcode = '40001';
    end if;
    return new;
end $$;
create table if not exists test_flaky (x int);
drop trigger if exists test_refuse on readings;
create trigger test_refuse before insert on readings
    for each row execute function test_refuse_device();
"""


@pytest.fixture
def refusing_trigger(committed_conn: psycopg.Connection[Any],
                     settings: Any) -> Iterator[Callable[..., None]]:
    """``refuse(poison=[...], flaky=[...])``: the devices whose readings the database refuses
    for good, and those refused with a serialization failure while ``test_flaky`` has a row."""
    committed_conn.execute(REFUSE)
    dbname = committed_conn.info.dbname

    def refuse(*, poison: Sequence[str] = (), flaky: Sequence[str] = ()) -> None:
        committed_conn.execute(f'alter database "{dbname}" set kol_test.refuse = '
                               f"'{','.join(poison)}'")
        committed_conn.execute(f'alter database "{dbname}" set kol_test.flaky = '
                               f"'{','.join(flaky)}'")

    yield refuse
    committed_conn.execute("drop trigger if exists test_refuse on readings")
    committed_conn.execute(f'alter database "{dbname}" reset kol_test.refuse')
    committed_conn.execute(f'alter database "{dbname}" reset kol_test.flaky')
    committed_conn.execute("delete from test_flaky")


class Committed:
    def __init__(self) -> None:
        self.calls: list[tuple[list[Item[int]], BatchOutcome]] = []
        self.done = threading.Event()
        self.expected = 0

    def __call__(self, items: list[Item[int]], outcome: BatchOutcome, seconds: float) -> None:
        self.calls.append((items, outcome))
        if sum(len(i) for i, _ in self.calls) >= self.expected:
            self.done.set()


def run_group(settings: Any, messages: list[Any], **config: Any
              ) -> tuple[Committed, BatchWriter[int]]:
    """Queue the messages before the writer starts, so that they form one group; a pool of its
    own, opened after the trigger's settings so that its sessions see them."""
    committed = Committed()
    committed.expected = len(messages)
    with ConnectionPool(settings.database_url, min_size=1, max_size=2) as pool:
        writer: BatchWriter[int] = BatchWriter(pool, on_committed=committed,
                                               config=WriterConfig(**config))
        for n, message in enumerate(messages):
            writer.put(Item(message=message, token=n))
        writer.start()
        assert committed.done.wait(60), committed.calls
        writer.stop()
    return committed, writer


def test_poison_message_alone_is_dead_lettered_and_the_rest_commit(
        settings: Any, make_device: Callable[[], str], refusing_trigger: Callable[..., None],
        committed_conn: psycopg.Connection[Any]) -> None:
    devices = [make_device() for _ in range(7)]
    poison = devices[4]
    refusing_trigger(poison=[poison])
    messages = [readings_message(d, n=3) for d in devices]
    committed, writer = run_group(settings, messages)

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
        settings: Any, make_device: Callable[[], str], refusing_trigger: Callable[..., None],
        committed_conn: psycopg.Connection[Any]) -> None:
    devices = [make_device() for _ in range(4)]
    refusing_trigger(flaky=[devices[1]])
    committed_conn.execute("insert into test_flaky values (1)")
    timer = threading.Timer(1.0, lambda: committed_conn.execute("delete from test_flaky"))
    timer.start()
    committed, writer = run_group(settings, [readings_message(d, n=2) for d in devices],
                                  backoff_initial=0.05, backoff_max=0.2)
    timer.join()
    assert writer.retries >= 2
    assert writer.poisoned == 0
    assert len(committed.calls) == 1, "retried whole, not split"
    assert committed.calls[0][1].accepted == 8
    assert committed.calls[0][1].rejected == {}
