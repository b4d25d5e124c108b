"""The ingest of one batch of parsed messages, inside the caller's transaction (never commits):
message dedupe, readings through COPY and ``on conflict do nothing``, dead letters, device
status, the hand-off row for the alert engine, and the receipts to send after the commit."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
from psycopg import Connection

from core.measurement_types import MEASUREMENT_TYPES
from ingest import repository
from ingest.repository import InsertedRow
from ingest.schemas import BatchOutcome, CommittedReadings
from protocol.messages import Message, Rejection, encode_receipt
from protocol.topics import device_topics

Key = tuple[str, str]


def _receipt(device_id: str, payload: bytes) -> tuple[str, bytes]:
    return device_topics(device_id).receipts, payload


def _dedupe_key(message: Message, rejection: Rejection) -> str:
    if message.msg_id is not None and message.device_id is not None and rejection.index is not None:
        return f"r:{message.device_id}:{rejection.index}:{message.msg_id}"
    digest = hashlib.sha256(message.topic.encode() + b"\0" + message.payload).hexdigest()
    return f"m:{digest}"


def _dead_letters(message: Message) -> list[dict[str, Any]]:
    return [{"received_at": message.received_at, "topic": message.topic,
             "device_id": message.device_id, "msg_id": message.msg_id,
             "reading_index": r.index, "reason": r.reason, "detail": r.detail,
             "payload": message.payload, "dedupe_key": _dedupe_key(message, r)}
            for r in message.rejections]


def _key(message: Message) -> Key:
    assert message.device_id is not None
    assert message.msg_id is not None
    return message.device_id, message.msg_id


def write_batch(conn: Connection[Any], batch: Sequence[Message]) -> BatchOutcome:
    """Store a batch; the caller commits, then publishes ``outcome.receipts``."""
    patients = repository.active_devices(
        conn, sorted({m.device_id for m in batch if m.device_id is not None}))
    messages = [m.rejected("unknown_device", "device not provisioned or deactivated")
                if m.device_id is not None and m.device_id not in patients
                and not m.rejected_whole else m
                for m in batch]

    receipts: list[tuple[str, bytes]] = []
    dead: list[dict[str, Any]] = []
    statuses: list[tuple[str, dict[str, Any], datetime]] = []
    firsts: dict[Key, Message] = {}
    repeats: list[Message] = []
    for m in messages:
        if m.rejected_whole:
            dead += _dead_letters(m)
            if m.msg_id is not None and m.device_id is not None and m.kind == "readings":
                receipts.append(_receipt(m.device_id, encode_receipt(
                    m.msg_id, accepted=0, duplicates=0, rejections=m.rejections)))
        elif m.kind == "status":
            assert m.device_id is not None
            assert m.status is not None
            statuses.append((m.device_id, {"state": m.status.state, "battery": m.status.battery,
                                           "app": m.status.app}, m.received_at))
        else:
            key = _key(m)
            if key in firsts:
                repeats.append(m)
            else:
                firsts[key] = m

    # Keys in one order in every gateway, so that two claiming overlapping batches queue rather
    # than deadlock.
    claimed = repository.claim_messages(conn, sorted(firsts), min(
        (m.received_at for m in messages), default=datetime.now(UTC))) if firsts else set()
    fresh = [(k, m) for k, m in firsts.items() if k in claimed]
    inserted = repository.insert_readings(conn, (
        (patients[device_id], r.type_code, r.measured_at, r.value, device_id, msg_id,
         m.received_at, r.late)
        for (device_id, msg_id), m in fresh for r in m.readings)) \
        if any(m.readings for _, m in fresh) else []
    accepted = Counter((row[5], row[6]) for row in inserted)

    new_receipts: dict[Key, bytes] = {}
    duplicates = 0
    for key, m in fresh:
        n = accepted[key]
        new_receipts[key] = encode_receipt(key[1], accepted=n, duplicates=len(m.readings) - n,
                                           rejections=m.rejections)
        duplicates += len(m.readings) - n
        dead += _dead_letters(m)
    repository.save_receipts(conn, new_receipts)

    resent = [k for k in firsts if k not in claimed] + [_key(m) for m in repeats]
    stored = repository.stored_receipts(conn, resent) if resent else {}
    for key in resent:
        receipts.append(_receipt(key[0], new_receipts.get(key) or orjson.dumps(stored[key])))
    receipts += [_receipt(k[0], p) for k, p in new_receipts.items()]

    repository.insert_rejections(conn, dead)
    repository.update_statuses(conn, statuses)
    committed = None
    if inserted:
        received = [m.received_at for _, m in fresh]
        committed = _committed(conn, inserted, min(received), max(received))
    return BatchOutcome(receipts=tuple(receipts), accepted=len(inserted), duplicates=duplicates,
                        duplicate_messages=len(resent),
                        rejected=Counter(letter["reason"] for letter in dead),
                        committed=committed)


_TYPE_INDEX = {code: t.index for code, t in MEASUREMENT_TYPES.items()}


def _committed(conn: Connection[Any], rows: list[InsertedRow], received_from: datetime,
               received_to: datetime) -> CommittedReadings:
    patient, type_code, measured_us, value, late, _, _ = zip(*rows, strict=True)
    measured_at = np.array(measured_us, dtype=np.int64).astype("datetime64[us]")
    patient_id = np.array(patient, dtype=np.int64)
    pending = repository.insert_pending_evaluation(
        conn, patient_ids=np.unique(patient_id).tolist(),
        first_measured_at=measured_at.min().item().replace(tzinfo=UTC),
        last_measured_at=measured_at.max().item().replace(tzinfo=UTC),
        received_from=received_from, received_to=received_to)
    return CommittedReadings(
        pending_evaluation_id=pending, patient_id=patient_id,
        type_index=np.array([_TYPE_INDEX[t] for t in type_code], dtype=np.int16),
        measured_at=measured_at, value=np.array(value, dtype=np.float64),
        late=np.array(late, dtype=np.bool_))
