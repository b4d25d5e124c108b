"""Message types and encodings of device protocol v1: the version, the limits, the stable
rejection reasons, a parsed message (frozen: judged once, never edited), and the JSON the
tablets and the platform send each other."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

import orjson

from protocol.topics import InboundKind

VERSION = 1
MAX_PAYLOAD_BYTES = 64 * 1024
MAX_READINGS = 500
MAX_MSG_ID_CHARS = 64
FUTURE_TOLERANCE = timedelta(minutes=5)
LATE_AFTER = timedelta(hours=24)
MAX_MESSAGE_CHARS = 1000
"""A patient's message is short: the team's phone is for anything longer."""
MAX_READ_IDS = 500
DEFAULT_MAX_AGE = timedelta(days=90)
"""How long before platform time a reading may have been measured (``too_old`` beyond); the
platform's own figure is ``Settings.max_reading_age_days``."""

Reason = Literal["malformed_json", "unsupported_version", "missing_field", "unknown_type",
                 "bad_unit", "out_of_range", "naive_timestamp", "future_timestamp", "too_old",
                 "too_large", "unknown_device", "msg_id_conflict", "internal_error",
                 # The messages addition (docs/messages.md).
                 "empty_message", "text_too_long", "unknown_reply"]
"""The protocol's stable rejection reasons."""
REASONS: tuple[Reason, ...] = get_args(Reason)

ResponseReason = Literal["unknown_questionnaire", "bad_answer"]
"""Rejection reasons added with questionnaire responses (docs/questionnaires.md): the
questionnaire id is not registered; an item is unknown, repeated, or its answer of the wrong
kind or too long."""
RESPONSE_REASONS: tuple[ResponseReason, ...] = get_args(ResponseReason)
AnyReason = Reason | ResponseReason
"""Every rejection reason: v1's and the additions'."""
ALL_REASONS: tuple[AnyReason, ...] = (*REASONS, *RESPONSE_REASONS)
MAX_RESPONSES = 50
"""Questionnaire responses per message (a tablet replaying weeks offline sends a few dozen)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Reading:
    """One reading that passed validation."""

    index: int
    """Position in the batch's ``readings`` list (receipts and dead letters refer to it)."""
    type_code: str
    measured_at: datetime
    value: float
    late: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Response:
    """One questionnaire response that passed validation (addition, docs/questionnaires.md)."""

    index: int
    """Position in the message's ``responses`` list (receipts and dead letters refer to it)."""
    questionnaire: str
    authored: datetime
    answers: tuple[tuple[str, bool | str], ...]
    """``(link_id, answer)`` in the questionnaire's item order."""
    late: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejection:
    reason: AnyReason
    detail: str
    index: int | None = None
    """The reading's position, or None when the whole message is rejected."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PatientNote:
    """A patient's message to her team (the messages addition): text, a call-back request, or
    both."""

    text: str
    callback: bool
    written_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadReceipt:
    """The patient has read these replies of her team (the messages addition)."""

    reply_ids: tuple[int, ...]
    read_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceStatus:
    state: Literal["online", "offline"]
    battery: float | None
    app: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """A message from the broker after parsing: never raised about, always judged."""

    topic: str
    payload: bytes
    received_at: datetime
    kind: InboundKind
    device_id: str | None
    msg_id: str | None = None
    readings: tuple[Reading, ...] = ()
    rejections: tuple[Rejection, ...] = ()
    """Per-reading (or per-response) rejections, or a single whole-message one (``index``
    None)."""
    responses: tuple[Response, ...] = ()
    """Questionnaire responses of a ``responses`` message."""
    status: DeviceStatus | None = None
    note: PatientNote | None = None
    read: ReadReceipt | None = None
    content_digest: bytes | None = None
    """SHA-256 of a reading batch's ``readings`` (of a message's ``message`` or ``read``; keys
    sorted): a re-sent batch has the same one whatever its ``sent_at``; another batch under the
    same ``msg_id`` has not."""
    retained: bool = False
    """Delivered by the broker as a retained message (on subscribe), not as a live publish."""

    @property
    def rejected_whole(self) -> bool:
        return any(r.index is None for r in self.rejections)

    @property
    def items(self) -> int:
        """Readings or responses: what the receipt counts."""
        return len(self.readings) + len(self.responses)

    def rejected(self, reason: AnyReason, detail: str) -> Message:
        """This message rejected as a whole (its readings dropped), as a new message."""
        return replace(self, readings=(), responses=(),
                       rejections=(Rejection(reason=reason, detail=detail),))


def encode_receipt(msg_id: str, *, accepted: int, duplicates: int,
                   rejections: Iterable[Rejection]) -> bytes:
    """The receipt the platform publishes after the batch is committed."""
    return orjson.dumps({"v": VERSION, "msg_id": msg_id, "accepted": accepted,
                         "duplicates": duplicates,
                         "rejected": [{"index": r.index, "reason": r.reason} for r in rejections]})


def encode_batch(msg_id: str, readings: Sequence[dict[str, Any]], *, sent_at: str) -> bytes:
    """A reading batch as a tablet sends it; ``readings`` are ``{"type", "value", "unit",
    "measured_at"}`` objects."""
    return orjson.dumps({"v": VERSION, "msg_id": msg_id, "sent_at": sent_at,
                         "readings": list(readings)})


def encode_note(msg_id: str, *, text: str, callback: bool, written_at: str, sent_at: str
                ) -> bytes:
    """A patient's message as a tablet sends it on the ``messages`` topic."""
    return orjson.dumps({"v": VERSION, "msg_id": msg_id, "sent_at": sent_at,
                         "message": {"text": text, "callback": callback,
                                     "written_at": written_at}})


def encode_read(msg_id: str, *, reply_ids: Sequence[int], read_at: str, sent_at: str) -> bytes:
    """The patient's read receipt for her team's replies, on the ``messages`` topic."""
    return orjson.dumps({"v": VERSION, "msg_id": msg_id, "sent_at": sent_at,
                         "read": {"reply_ids": list(reply_ids), "read_at": read_at}})


def encode_status(state: Literal["online", "offline"], *, battery: float | None,
                  app: str) -> bytes:
    return orjson.dumps({"v": VERSION, "state": state, "battery": battery, "app": app})


def encode_responses(msg_id: str, responses: Sequence[dict[str, Any]], *, sent_at: str) -> bytes:
    """A questionnaire-response message as a tablet sends it (docs/questionnaires.md);
    ``responses`` are ``{"questionnaire", "authored", "items": [{"id", "answer"}]}`` objects."""
    return orjson.dumps({"v": VERSION, "msg_id": msg_id, "sent_at": sent_at,
                         "responses": list(responses)})
