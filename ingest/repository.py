"""All SQL of the ingest batch writer. Every function runs inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from psycopg import Connection
from psycopg.rows import tuple_row
from psycopg.types.json import Jsonb

_STAGING = """
create temp table if not exists ingest_staging (
    patient_id bigint, type text, measured_at timestamptz, value double precision,
    device_id text, msg_id text, received_at timestamptz, late boolean
) on commit delete rows
"""

ReadingRow = tuple[int, str, datetime, float, str, str, datetime, bool]
InsertedRow = tuple[int, str, int, float, bool, str, str]
"""patient_id, type, measured_at (µs since the epoch, UTC), value, late, device_id, msg_id."""


def active_devices(conn: Connection[Any], device_ids: Sequence[str]) -> dict[str, int]:
    """device_id → patient_id of the active devices among ``device_ids``."""
    cur = conn.cursor(row_factory=tuple_row)
    cur.execute("select device_id, patient_id from devices where device_id = any(%s) and active",
                (list(device_ids),))
    return {device_id: patient_id for device_id, patient_id in cur.fetchall()}


def claim_messages(conn: Connection[Any], keys: Sequence[tuple[str, str]],
                   received_at: datetime) -> set[tuple[str, str]]:
    """Record the messages; return those seen for the first time. A concurrent transaction
    holding the same key makes this wait for its outcome, so two gateways never both claim."""
    cur = conn.cursor(row_factory=tuple_row)
    cur.execute(
        "insert into ingested_messages (device_id, msg_id, received_at, receipt)"
        " select d, m, %s, '{}' from unnest(%s::text[], %s::text[]) as k(d, m)"
        " on conflict do nothing returning device_id, msg_id",
        (received_at, [k[0] for k in keys], [k[1] for k in keys]))
    return {(d, m) for d, m in cur.fetchall()}


def stored_receipts(conn: Connection[Any], keys: Sequence[tuple[str, str]]
                    ) -> dict[tuple[str, str], Any]:
    cur = conn.cursor(row_factory=tuple_row)
    cur.execute(
        "select i.device_id, i.msg_id, i.receipt from ingested_messages i"
        " join unnest(%s::text[], %s::text[]) as k(d, m) on i.device_id = k.d and i.msg_id = k.m",
        ([k[0] for k in keys], [k[1] for k in keys]))
    return {(d, m): receipt for d, m, receipt in cur.fetchall()}


def save_receipts(conn: Connection[Any], receipts: dict[tuple[str, str], bytes]) -> None:
    if not receipts:
        return
    keys = list(receipts)
    conn.execute(
        "update ingested_messages i set receipt = k.r"
        " from unnest(%s::text[], %s::text[], %s::jsonb[]) as k(d, m, r)"
        " where i.device_id = k.d and i.msg_id = k.m",
        ([k[0] for k in keys], [k[1] for k in keys], [receipts[k].decode() for k in keys]))


def insert_readings(conn: Connection[Any], rows: Iterable[ReadingRow]) -> list[InsertedRow]:
    """COPY into the staging table, then insert what is new; return the rows stored."""
    conn.execute(_STAGING)
    cur = conn.cursor(row_factory=tuple_row)
    with cur.copy("copy ingest_staging (patient_id, type, measured_at, value, device_id, msg_id,"
                  " received_at, late) from stdin") as copy:
        for row in rows:
            copy.write_row(row)
    cur.execute(
        "insert into readings (patient_id, type, measured_at, value, device_id, msg_id,"
        " received_at, late)"
        " select patient_id, type, measured_at, value, device_id, msg_id, received_at, late"
        # Primary-key order: concurrent gateways inserting the same readings wait, not deadlock.
        " from ingest_staging order by patient_id, type, measured_at on conflict do nothing"
        " returning patient_id, type, (extract(epoch from measured_at) * 1000000)::bigint,"
        " value, late, device_id, msg_id")
    return cur.fetchall()


def insert_rejections(conn: Connection[Any], rows: Sequence[dict[str, Any]]) -> None:
    """Dead letters; one already stored under the same key is kept as it is."""
    if not rows:
        return
    with conn.cursor() as cur:
        cur.executemany(
            "insert into rejections (received_at, topic, device_id, msg_id, reading_index,"
            " reason, detail, payload, dedupe_key)"
            " values (%(received_at)s, %(topic)s, %(device_id)s, %(msg_id)s, %(reading_index)s,"
            " %(reason)s, %(detail)s, %(payload)s, %(dedupe_key)s)"
            " on conflict (dedupe_key) do nothing", rows)


def update_statuses(conn: Connection[Any], rows: Sequence[tuple[str, dict[str, Any], datetime]]
                    ) -> None:
    """The newest status wins, whatever order they are written in."""
    if not rows:
        return
    with conn.cursor() as cur:
        cur.executemany(
            "update devices set status = %s, status_at = %s"
            " where device_id = %s and (status_at is null or status_at <= %s)",
            [(Jsonb(status), at, device_id, at) for device_id, status, at in rows])


def insert_pending_evaluation(conn: Connection[Any], *, patient_ids: list[int],
                              first_measured_at: datetime, last_measured_at: datetime,
                              received_from: datetime, received_to: datetime) -> int:
    cur = conn.cursor(row_factory=tuple_row)
    cur.execute(
        "insert into pending_evaluations (patient_ids, first_measured_at, last_measured_at,"
        " received_from, received_to) values (%s, %s, %s, %s, %s) returning id",
        (patient_ids, first_measured_at, last_measured_at, received_from, received_to))
    row = cur.fetchone()
    assert row is not None
    return int(row[0])
