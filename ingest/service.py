"""The ingest of one batch of parsed messages, inside the caller's transaction (never commits):
message dedupe, readings through COPY and ``on conflict do nothing``, dead letters, device
status, the hand-off row for the alert engine, and the receipts to send after the commit."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson
from psycopg import Connection

from core import audit
from core.measurement_types import MEASUREMENT_TYPES
from core.questionnaires import SYMPTOM_DIARY, SYMPTOM_SERIES, SYMPTOM_SERIES_INDEX, symptom_mask
from ingest import repository
from ingest.repository import InsertedRow, ResponseRow
from ingest.schemas import (
    LATE_READINGS_CHANNEL,
    LATE_READINGS_PER_NOTICE,
    BatchOutcome,
    CommittedReadings,
    DeadLetterPolicy,
)
from protocol.messages import Message, Rejection, Response, encode_receipt
from protocol.topics import device_topics

Key = tuple[str, str]


def _receipt(device_id: str, payload: bytes) -> tuple[str, bytes]:
    return device_topics(device_id).receipts, payload


def _dedupe_key(message: Message, rejection: Rejection) -> str:
    if message.msg_id is not None and message.device_id is not None and rejection.index is not None:
        return f"r:{message.device_id}:{rejection.index}:{message.msg_id}"
    digest = hashlib.sha256(message.topic.encode() + b"\0" + message.payload).hexdigest()
    return f"m:{digest}"


def _key(message: Message) -> Key:
    assert message.device_id is not None
    assert message.msg_id is not None
    return message.device_id, message.msg_id


def _rejected_receipt(message: Message) -> tuple[str, bytes] | None:
    """The receipt of a message rejected as a whole, if it can be addressed to a batch."""
    if message.msg_id is None or message.device_id is None or message.kind == "status":
        return None
    return _receipt(message.device_id, encode_receipt(
        message.msg_id, accepted=0, duplicates=0, rejections=message.rejections))


@dataclass(frozen=True, slots=True, kw_only=True)
class _DeadLetters:
    stored_bytes: int
    suppressed: int


def _store_dead_letters(conn: Connection[Any], messages: Sequence[Message],
                        policy: DeadLetterPolicy) -> _DeadLetters:
    """The rejections of ``messages``, each message's payload once (cut at
    ``policy.payload_bytes``), within each device's hourly budget of dead letters and payload
    bytes: a message that would exceed it is counted, not stored (its receipt is unchanged)."""
    rejected = [m for m in messages if m.rejections]
    if not rejected:
        return _DeadLetters(stored_bytes=0, suppressed=0)

    def budget_key(m: Message) -> tuple[str, datetime]:
        return m.device_id or "", m.received_at.replace(minute=0, second=0, microsecond=0)

    spent = repository.dead_letter_budget(conn, [budget_key(m) for m in rejected])
    spending: dict[tuple[str, datetime], list[int]] = {}
    payloads: dict[bytes, tuple[bytes, bytes, int, datetime]] = {}
    kept: list[tuple[Message, bytes]] = []
    for m in rejected:
        key = budget_key(m)
        letters, size = spent[key]
        step = spending.setdefault(key, [0, 0, 0])
        sha = hashlib.sha256(m.payload).digest()
        cost = 0 if sha in payloads else min(len(m.payload), policy.payload_bytes)
        if (letters + step[0] + len(m.rejections) > policy.letters_per_hour
                or size + step[1] + cost > policy.bytes_per_hour):
            step[2] += 1
            continue
        step[0] += len(m.rejections)
        step[1] += cost
        payloads.setdefault(sha, (sha, m.payload[:policy.payload_bytes], len(m.payload),
                                  m.received_at))
        kept.append((m, sha))
    repository.spend_dead_letter_budget(
        conn, [(device, hour, v[0], v[1], v[2]) for (device, hour), v in spending.items()])
    ids = repository.store_dead_letter_payloads(conn, list(payloads.values()))
    repository.insert_rejections(conn, [
        {"received_at": m.received_at, "topic": m.topic, "device_id": m.device_id,
         "msg_id": m.msg_id, "reading_index": r.index, "reason": r.reason, "detail": r.detail,
         "payload_id": ids[sha], "dedupe_key": _dedupe_key(m, r)}
        for m, sha in kept for r in m.rejections])
    return _DeadLetters(stored_bytes=sum(v[1] for v in spending.values()),
                        suppressed=sum(v[2] for v in spending.values()))


def _conflict(message: Message) -> Message:
    return message.rejected("msg_id_conflict",
                            "this device already sent other readings under this msg_id")


def _patient_messages(conn: Connection[Any], fresh: Sequence[tuple[Key, Message]],
                      patients: dict[str, int]) -> dict[Key, Message]:
    """Store the patients' messages and read receipts among the newly claimed ``fresh``
    (docs/messages.md), each audited; returns them as judged (a read receipt naming a message
    that is no reply to her is rejected ``unknown_reply``)."""
    judged: dict[Key, Message] = {}
    notes = [(k, m) for k, m in fresh if m.note is not None]
    stored = repository.insert_patient_messages(conn, [
        (patients[k[0]], m.note.text, m.note.callback, m.note.written_at, m.received_at, *k)
        for k, m in notes if m.note is not None]) if notes else {}
    for key, m in notes:
        assert m.note is not None
        judged[key] = m
        if key in stored:
            audit.record_device(conn, device_id=key[0], action="message.received",
                                entity_type="patient", entity_id=patients[key[0]],
                                detail={"message_id": stored[key], "msg_id": key[1],
                                        "callback": m.note.callback})
    for key, m in fresh:
        if m.read is None:
            continue
        marked = repository.mark_replies_read(conn, patients[key[0]], m.read.reply_ids,
                                              m.read.read_at)
        if marked is None:
            judged[key] = m.rejected("unknown_reply", "a reply_id is not a reply to this patient")
            continue
        judged[key] = m
        if marked:
            audit.record_device(conn, device_id=key[0], action="message.read_by_patient",
                                entity_type="patient", entity_id=patients[key[0]],
                                detail={"message_ids": marked, "msg_id": key[1]})
    return judged


def write_batch(conn: Connection[Any], batch: Sequence[Message], *,
                policy: DeadLetterPolicy | None = None) -> BatchOutcome:
    """Store a batch; the caller commits, then publishes ``outcome.receipts``."""
    patients = repository.active_devices(
        conn, sorted({m.device_id for m in batch if m.device_id is not None}))
    messages = [m.rejected("unknown_device", "device not provisioned or deactivated")
                if m.device_id is not None and m.device_id not in patients
                and not m.rejected_whole else m
                for m in batch]

    receipts: list[tuple[str, bytes]] = []
    dead: list[Message] = []
    statuses: list[tuple[str, dict[str, Any], datetime, bool]] = []
    seen: dict[str, datetime] = {}
    firsts: dict[Key, Message] = {}
    repeats: list[Message] = []
    for m in messages:
        if m.device_id in patients and not m.retained:
            seen[m.device_id] = max(m.received_at, seen.get(m.device_id, m.received_at))
        if m.rejected_whole:
            dead.append(m)
            if (rejected_receipt := _rejected_receipt(m)) is not None:
                receipts.append(rejected_receipt)
        elif m.kind == "status":
            assert m.device_id is not None
            assert m.status is not None
            statuses.append((m.device_id, {"state": m.status.state, "battery": m.status.battery,
                                           "app": m.status.app}, m.received_at, m.retained))
        else:
            key = _key(m)
            if key in firsts:
                repeats.append(m)
            else:
                firsts[key] = m

    # Keys in one order in every gateway, so that two claiming overlapping batches queue rather
    # than deadlock.
    order = sorted(firsts)
    claimed = repository.claim_messages(
        conn, order, [firsts[k].content_digest for k in order],
        min((m.received_at for m in messages), default=datetime.now(UTC))) if firsts else set()
    fresh = [(k, m) for k, m in firsts.items() if k in claimed]
    inserted = repository.insert_readings(conn, (
        (patients[device_id], r.type_code, r.measured_at, r.value, device_id, msg_id,
         m.received_at, r.late)
        for (device_id, msg_id), m in fresh for r in m.readings)) \
        if any(m.readings for _, m in fresh) else []
    responses = [_response_row(patients[device_id], device_id, msg_id, m.received_at, r)
                 for (device_id, msg_id), m in fresh for r in m.responses]
    answered = repository.insert_responses(conn, responses) if responses else []
    accepted = Counter((row[5], row[6]) for row in [*inserted, *answered])
    conversation = _patient_messages(conn, fresh, patients) \
        if any(m.kind == "messages" for _, m in fresh) else {}
    # Late measurements go to open patient pages (the diaries' symptom series is not plotted).
    late_notices = late_reading_notices(inserted)
    # The diaries stored join the readings the alert engine evaluates, as its symptom series.
    inserted += [(p, SYMPTOM_SERIES, at, float(mask), late, d, mid)
                 for p, _, at, mask, late, d, mid in answered if mask is not None]

    new_receipts: dict[Key, bytes] = {}
    duplicates = 0
    for key, m in fresh:
        if key in conversation:
            # A message or a read receipt is one item: accepted, or rejected as a whole.
            m = conversation[key]
            new_receipts[key] = encode_receipt(key[1], accepted=0 if m.rejected_whole else 1,
                                               duplicates=0, rejections=m.rejections)
            dead.append(m)
            continue
        n = accepted[key]
        new_receipts[key] = encode_receipt(key[1], accepted=n, duplicates=m.items - n,
                                           rejections=m.rejections)
        duplicates += m.items - n
        dead.append(m)
    repository.save_receipts(conn, new_receipts)

    # Messages whose msg_id was used before: a re-send (same content) is answered with the first
    # receipt; other content under the same msg_id is a conflict, dead-lettered and receipted as
    # such, never silently dropped.
    resent = [m for k, m in firsts.items() if k not in claimed] + repeats
    stored = repository.stored_receipts(conn, [_key(m) for m in resent]) if resent else {}
    duplicate_messages = 0
    for m in resent:
        key = _key(m)
        receipt, digest = (new_receipts[key], firsts[key].content_digest) \
            if key in new_receipts else (orjson.dumps(stored[key][0]), stored[key][1])
        if digest is not None and digest != m.content_digest:
            conflict = _conflict(m)
            dead.append(conflict)
            receipts.append(_receipt(key[0], encode_receipt(
                key[1], accepted=0, duplicates=0, rejections=conflict.rejections)))
        else:
            duplicate_messages += 1
            receipts.append(_receipt(key[0], receipt))
    receipts += [_receipt(k[0], p) for k, p in new_receipts.items()]

    letters = _store_dead_letters(conn, dead, policy or DeadLetterPolicy())
    repository.update_statuses(conn, statuses)
    repository.mark_seen(conn, seen)
    committed = None
    if inserted:
        if late_notices:
            repository.notify(conn, LATE_READINGS_CHANNEL, late_notices)
        received = [m.received_at for _, m in fresh]
        committed = _committed(conn, inserted, min(received), max(received))
    return BatchOutcome(receipts=tuple(receipts), accepted=sum(accepted.values()),
                        duplicates=duplicates,
                        duplicate_messages=duplicate_messages,
                        rejected=Counter(r.reason for m in dead for r in m.rejections),
                        dead_letter_bytes=letters.stored_bytes,
                        dead_letters_suppressed=letters.suppressed,
                        committed=committed)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def late_reading_notices(rows: Sequence[InsertedRow]) -> list[str]:
    """The ``LATE_READINGS_CHANNEL`` payloads of the late ones among stored ``rows``: an open
    patient page places them in its plots without reading the series again."""
    late: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for patient_id, type_code, measured_us, value, is_late, _, _ in rows:
        if is_late:
            late[patient_id].append({
                "type": type_code, "value": value, "late": True,
                "measured_at": (_EPOCH + timedelta(microseconds=measured_us)).isoformat()})
    return [orjson.dumps({"patient_id": patient_id,
                          "readings": readings[i:i + LATE_READINGS_PER_NOTICE]}).decode()
            for patient_id, readings in late.items()
            for i in range(0, len(readings), LATE_READINGS_PER_NOTICE)]


_TYPE_INDEX = {**{code: t.index for code, t in MEASUREMENT_TYPES.items()},
               SYMPTOM_SERIES: SYMPTOM_SERIES_INDEX}


def _response_row(patient_id: int, device_id: str, msg_id: str, received_at: datetime,
                  r: Response) -> ResponseRow:
    answers = dict(r.answers)
    return (patient_id, r.questionnaire, r.authored, answers,
            symptom_mask(answers) if r.questionnaire == SYMPTOM_DIARY else None, device_id,
            msg_id, received_at, r.late)


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
