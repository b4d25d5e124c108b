"""Faults injected in the database itself, for tests: a test-only trigger on ``readings`` that
refuses the rows of chosen devices, for good (``poison``: a non-transient error, as a row the
database will never take) or with a serialization failure (``flaky``: transient) while they are
listed. Read by every session at once, whatever process holds it (the gateway's too)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import psycopg

_INSTALL = """
create table if not exists test_refused_devices (device_id text primary key, mode text not null);
create or replace function test_refuse_device() returns trigger language plpgsql as $$
declare
    refusal text;
begin
    select mode into refusal from test_refused_devices where device_id = new.device_id;
    if refusal = 'poison' then
        raise exception 'test trigger refuses the readings of device %', new.device_id;
    elsif refusal = 'flaky' then
        raise exception 'test trigger: serialization failure' using errcode = '40001';
    end if;
    return new;
end $$;
drop trigger if exists test_refuse on readings;
create trigger test_refuse before insert on readings
    for each row execute function test_refuse_device();
"""


class RefusedDevices:
    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def refuse(self, device_id: str, mode: Literal["poison", "flaky"] = "poison") -> None:
        self._conn.execute("insert into test_refused_devices values (%s, %s)"
                           " on conflict (device_id) do update set mode = excluded.mode",
                           (device_id, mode))

    def accept(self, device_id: str) -> None:
        self._conn.execute("delete from test_refused_devices where device_id = %s",
                           (device_id,))


@contextmanager
def refused_devices(conn: psycopg.Connection[Any]) -> Iterator[RefusedDevices]:
    """The trigger installed on an autocommit connection of the schema's owner; removed
    afterwards."""
    conn.execute(_INSTALL)
    try:
        yield RefusedDevices(conn)
    finally:
        conn.execute("drop trigger if exists test_refuse on readings")
        conn.execute("delete from test_refused_devices")
