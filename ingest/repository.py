"""All SQL of the ingest batch writer. Every function runs inside the caller's transaction.

Parameters go in binary (``%b``): psycopg's text format escapes every element of an array with a
regular expression, about 16 µs per receipt or notice; the binary format copies it as it is."""

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

_STAGING_TYPES = ["bigint", "text", "timestamptz", "double precision", "text", "text",
                  "timestamptz", "boolean"]
ReadingRow = tuple[int, str, datetime, float, str, str, datetime, bool]
InsertedRow = tuple[int, str, int, float, bool, str, str]
"""patient_id, type, measured_at (µs since the epoch, UTC), value, late, device_id, msg_id."""


def active_devices(conn: Connection[Any], device_ids: Sequence[str]) -> dict[str, int]:
    """device_id → patient_id of the active devices among ``device_ids``."""
    cur = conn.cursor(row_factory=tuple_row)
    cur.execute("select device_id, patient_id from devices where device_id = any(%b) and active",
                (list(device_ids),))
    return {device_id: patient_id for device_id, patient_id in cur.fetchall()}


def claim_messages(conn: Connection[Any], keys: Sequence[tuple[str, str]],
                   digests: Sequence[bytes | None], received_at: datetime
                   ) -> set[tuple[str, str]]:
    """Record the messages with their content digests; return those seen for the first time. A
    concurrent transaction holding the same key makes this wait for its outcome, so two gateways
    never both claim."""
    cur = conn.cursor(row_factory=tuple_row)
    cur.execute(
        "insert into ingested_messages (device_id, msg_id, received_at, receipt, content_digest)"
        " select d, m, %b, '{}', h from unnest(%b::text[], %b::text[], %b::bytea[]) as k(d, m, h)"
        " on conflict do nothing returning device_id, msg_id",
        (received_at, [k[0] for k in keys], [k[1] for k in keys], list(digests)))
    return {(d, m) for d, m in cur.fetchall()}


def stored_receipts(conn: Connection[Any], keys: Sequence[tuple[str, str]]
                    ) -> dict[tuple[str, str], tuple[Any, bytes | None]]:
    """``(receipt, content digest)`` of messages already ingested."""
    cur = conn.cursor(row_factory=tuple_row)
    cur.execute(
        "select i.device_id, i.msg_id, i.receipt, i.content_digest from ingested_messages i"
        " join unnest(%b::text[], %b::text[]) as k(d, m) on i.device_id = k.d and i.msg_id = k.m",
        ([k[0] for k in keys], [k[1] for k in keys]))
    return {(d, m): (receipt, None if digest is None else bytes(digest))
            for d, m, receipt, digest in cur.fetchall()}


def save_receipts(conn: Connection[Any], receipts: dict[tuple[str, str], bytes]) -> None:
    if not receipts:
        return
    keys = list(receipts)
    conn.execute(
        "update ingested_messages i set receipt = k.r"
        " from unnest(%b::text[], %b::text[], %b::jsonb[]) as k(d, m, r)"
        " where i.device_id = k.d and i.msg_id = k.m",
        ([k[0] for k in keys], [k[1] for k in keys], [receipts[k].decode() for k in keys]))


def insert_readings(conn: Connection[Any], rows: Iterable[ReadingRow]) -> list[InsertedRow]:
    """COPY into the staging table, then insert what is new; return the rows stored."""
    conn.execute(_STAGING)
    cur = conn.cursor(row_factory=tuple_row)
    # Binary: a tenth of the text format's cost per row (no timestamps formatted as text).
    with cur.copy("copy ingest_staging (patient_id, type, measured_at, value, device_id, msg_id,"
                  " received_at, late) from stdin (format binary)") as copy:
        copy.set_types(_STAGING_TYPES)
        for row in rows:
            copy.write_row(row)
    cur.execute(
        "insert into readings (patient_id, type, measured_at, value, device_id, msg_id,"
        " received_at, late)"
        " select patient_id, type, measured_at, value, device_id, msg_id, received_at, late"
        # Primary-key order: concurrent gateways inserting the same readings wait, not deadlock.
        " from ingest_staging order by patient_id, type, measured_at on conflict do nothing"
        " returning patient_id, type, (extract(epoch from measured_at) * 1000000)::bigint,"
        " value, late, device_id, msg_id", binary=True)
    return cur.fetchall()


def notify(conn: Connection[Any], channel: str, payloads: Sequence[str]) -> None:
    """NOTIFY ``payloads`` on ``channel``; listeners get them when the transaction commits."""
    conn.execute("select pg_notify(%b, p) from unnest(%b::text[]) as p", (channel, list(payloads)))


ResponseRow = tuple[int, str, datetime, dict[str, bool | str], int | None, str, str, datetime,
                    bool]
"""patient_id, questionnaire, authored_at, answers, symptom mask, device_id, msg_id,
received_at, late."""
InsertedResponse = tuple[int, str, int, int | None, bool, str, str]
"""patient_id, questionnaire, authored_at (µs since the epoch, UTC), symptom mask, late,
device_id, msg_id."""


def insert_responses(conn: Connection[Any], rows: Sequence[ResponseRow]
                     ) -> list[InsertedResponse]:
    """Insert the questionnaire responses that are new; return those stored."""
    cur = conn.cursor(row_factory=tuple_row)
    columns = list(zip(*rows, strict=True))
    cur.execute(
        "insert into questionnaire_responses (patient_id, questionnaire, authored_at, answers,"
        " symptom_mask, device_id, msg_id, received_at, late)"
        " select * from unnest(%b::bigint[], %b::text[], %b::timestamptz[], %b::jsonb[],"
        " %b::smallint[], %b::text[], %b::text[], %b::timestamptz[], %b::boolean[])"
        # Primary-key order: concurrent gateways inserting the same responses wait, not deadlock.
        " order by 1, 2, 3 on conflict do nothing"
        " returning patient_id, questionnaire,"
        " (extract(epoch from authored_at) * 1000000)::bigint, symptom_mask, late, device_id,"
        " msg_id",
        [list(c) for c in columns[:3]] + [[Jsonb(a) for a in columns[3]]]
        + [list(c) for c in columns[4:]])
    return cur.fetchall()


def dead_letter_budget(conn: Connection[Any], keys: Sequence[tuple[str, datetime]]
                       ) -> dict[tuple[str, datetime], tuple[int, int]]:
    """``(dead letters, payload bytes)`` already stored per ``(device key, hour)``, the rows
    locked until the commit so that concurrent gateways count one budget."""
    keys = sorted(set(keys))
    devices, hours = [k[0] for k in keys], [k[1] for k in keys]
    conn.execute("insert into dead_letter_budget (device_key, hour)"
                 " select * from unnest(%b::text[], %b::timestamptz[]) on conflict do nothing",
                 (devices, hours))
    cur = conn.cursor(row_factory=tuple_row)
    cur.execute(
        "select b.device_key, b.hour, b.letters, b.bytes from dead_letter_budget b"
        " join unnest(%b::text[], %b::timestamptz[]) as k(d, h)"
        " on b.device_key = k.d and b.hour = k.h"
        " order by b.device_key, b.hour for update of b", (devices, hours))
    return {(d, h): (letters, size) for d, h, letters, size in cur.fetchall()}


def spend_dead_letter_budget(conn: Connection[Any],
                             rows: Sequence[tuple[str, datetime, int, int, int]]) -> None:
    """Add ``(device key, hour, letters, bytes, suppressed)`` to the budget rows."""
    conn.execute(
        "update dead_letter_budget b set letters = b.letters + k.l, bytes = b.bytes + k.b,"
        " suppressed = b.suppressed + k.s"
        " from unnest(%b::text[], %b::timestamptz[], %b::int[], %b::bigint[], %b::int[])"
        " as k(d, h, l, b, s) where b.device_key = k.d and b.hour = k.h",
        ([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows],
         [r[4] for r in rows]))


def store_dead_letter_payloads(conn: Connection[Any],
                               rows: Sequence[tuple[bytes, bytes, int, datetime]]
                               ) -> dict[bytes, int]:
    """``(sha256, payload as kept, whole size, received_at)``, one per distinct sha256; returns
    sha256 → id. A payload already stored is kept and marked received again."""
    cur = conn.cursor(row_factory=tuple_row)
    cur.execute(
        "insert into dead_letter_payloads (sha256, payload, payload_bytes, received_at)"
        " select * from unnest(%b::bytea[], %b::bytea[], %b::int[], %b::timestamptz[])"
        " order by 1"
        " on conflict (sha256) do update set received_at ="
        " greatest(dead_letter_payloads.received_at, excluded.received_at)"
        " returning sha256, id",
        ([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows]))
    return {bytes(sha): payload_id for sha, payload_id in cur.fetchall()}


def insert_rejections(conn: Connection[Any], rows: Sequence[dict[str, Any]]) -> None:
    """Dead letters, in one statement (a message can reject 500 readings); one already stored
    under the same key is kept as it is."""
    if not rows:
        return
    columns = ("received_at", "topic", "device_id", "msg_id", "reading_index", "reason",
               "detail", "payload_id", "dedupe_key")
    conn.execute(
        "insert into rejections (received_at, topic, device_id, msg_id, reading_index, reason,"
        " detail, payload_id, dedupe_key)"
        " select * from unnest(%b::timestamptz[], %b::text[], %b::text[], %b::text[],"
        " %b::int[], %b::text[], %b::text[], %b::bigint[], %b::text[])"
        " on conflict (dedupe_key) do nothing",
        [[row[c] for row in rows] for c in columns])


def update_statuses(conn: Connection[Any],
                    rows: Sequence[tuple[str, dict[str, Any], datetime, bool]]) -> None:
    """``(device_id, status, received_at, retained)``. The newest status wins, whatever order
    they are written in. A retained status the broker delivers again (on every resubscribe)
    that says what is stored already keeps its time: the device did not send it again."""
    if not rows:
        return
    with conn.cursor() as cur:
        cur.executemany(
            "update devices set status = %(status)s, status_at = %(at)s"
            " where device_id = %(device)s and (status_at is null or status_at <= %(at)s)"
            " and not (%(retained)s and status is not distinct from %(status)s)",
            [{"status": Jsonb(status), "at": at, "device": device_id, "retained": retained}
             for device_id, status, at, retained in rows])


def mark_seen(conn: Connection[Any], seen: dict[str, datetime]) -> None:
    """Devices heard from; written at most once a minute per device, so that a busy tablet does
    not rewrite its row on every batch."""
    if not seen:
        return
    ids = sorted(seen)
    conn.execute(
        "update devices d set last_seen_at = k.at"
        " from unnest(%b::text[], %b::timestamptz[]) as k(id, at)"
        " where d.device_id = k.id"
        " and (d.last_seen_at is null or d.last_seen_at < k.at - interval '1 minute')",
        (ids, [seen[i] for i in ids]))


def insert_pending_evaluation(conn: Connection[Any], *, patient_ids: list[int],
                              first_measured_at: datetime, last_measured_at: datetime,
                              received_from: datetime, received_to: datetime) -> int:
    cur = conn.cursor(row_factory=tuple_row)
    cur.execute(
        "insert into pending_evaluations (patient_ids, first_measured_at, last_measured_at,"
        " received_from, received_to) values (%b, %b, %b, %b, %b) returning id",
        (patient_ids, first_measured_at, last_measured_at, received_from, received_to))
    row = cur.fetchone()
    assert row is not None
    return int(row[0])


NoteRow = tuple[int, str, bool, datetime, datetime, str, str]
"""patient_id, body, callback, written_at, received_at, device_id, msg_id."""


def insert_patient_messages(conn: Connection[Any], rows: Sequence[NoteRow]
                            ) -> dict[tuple[str, str], int]:
    """The patients' messages (the messages addition); returns (device_id, msg_id) → id."""
    cur = conn.cursor(row_factory=tuple_row)
    cur.execute(
        "insert into patient_messages (patient_id, direction, body, callback, written_at,"
        " received_at, device_id, msg_id)"
        " select p, 'patient', b, c, w, r, d, m from unnest(%b::bigint[], %b::text[],"
        " %b::boolean[], %b::timestamptz[], %b::timestamptz[], %b::text[], %b::text[])"
        " as k(p, b, c, w, r, d, m)"
        " on conflict (device_id, msg_id) do nothing returning device_id, msg_id, id",
        [[row[i] for row in rows] for i in range(7)])
    return {(d, m): message_id for d, m, message_id in cur.fetchall()}


def mark_replies_read(conn: Connection[Any], patient_id: int, reply_ids: Sequence[int],
                      read_at: datetime) -> list[int] | None:
    """Mark the team's replies to ``patient_id`` read by her (a first read is kept); the ids
    newly marked, or None if any id is not a reply to her (nothing is marked then)."""
    cur = conn.cursor(row_factory=tuple_row)
    cur.execute("select id, read_at is null from patient_messages where id = any(%b)"
                " and patient_id = %b and direction = 'team' order by id for update",
                (list(reply_ids), patient_id))
    found = cur.fetchall()
    if len(found) != len(reply_ids):
        return None
    unread = [message_id for message_id, is_unread in found if is_unread]
    conn.execute("update patient_messages set read_at = %b, read_by = 'patient'"
                 " where id = any(%b)", (read_at, unread))
    return unread
