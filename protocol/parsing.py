"""Parsing and validation of device payloads (protocol v1). Driven by the measurement-type
registry; every defect becomes a :class:`~protocol.messages.Rejection` with a stable reason, and
no input makes these functions raise."""

from __future__ import annotations

import hashlib
import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from core.measurement_types import MEASUREMENT_TYPES
from core.questionnaires import QUESTIONNAIRES
from protocol.messages import (
    DEFAULT_MAX_AGE,
    FUTURE_TOLERANCE,
    LATE_AFTER,
    MAX_MESSAGE_CHARS,
    MAX_MSG_ID_CHARS,
    MAX_PAYLOAD_BYTES,
    MAX_READ_IDS,
    MAX_READINGS,
    MAX_RESPONSES,
    VERSION,
    DeviceStatus,
    Message,
    PatientNote,
    Reading,
    ReadReceipt,
    Reason,
    Rejection,
    Response,
)
from protocol.topics import parse_inbound

_DETAIL_CHARS = 200


def _clean(text: str) -> str:
    """Short, and without NUL, which PostgreSQL text and jsonb refuse."""
    return text[:_DETAIL_CHARS].replace("\x00", "\ufffd")


def _timestamp(raw: object) -> datetime | Reason:
    """The parsed timestamp, or the rejection reason."""
    if not isinstance(raw, str):
        return "missing_field"
    try:
        parsed = datetime.fromisoformat(raw)
        if parsed.tzinfo is None:
            return "naive_timestamp"
        # Normalising also catches offsets that push year 1 or 9999 out of range.
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return "missing_field"


def _instant(index: int, field: str, raw: object, received_at: datetime, max_age: timedelta
             ) -> datetime | Rejection:
    """An item's own timestamp (a reading's ``measured_at``, a response's ``authored``), or why
    it is refused: not RFC 3339 with an offset, too far ahead or too old."""
    stamp = _timestamp(raw)
    if not isinstance(stamp, datetime):
        return Rejection(index=index, reason=stamp,
                         detail=f"{field} must be RFC 3339 with an explicit offset")
    refused = _when(index, field, str(raw), stamp, received_at, max_age)
    return stamp if refused is None else refused


def _when(index: int, label: str, raw: str, at: datetime, received_at: datetime,
          max_age: timedelta) -> Rejection | None:
    """The rejection of a reading's or response's time, None if it is acceptable."""
    if at - received_at > FUTURE_TOLERANCE:
        return Rejection(index=index, reason="future_timestamp",
                         detail=_clean(f"{label} {raw[:40]} is ahead of platform time"))
    if received_at - at > max_age:
        # Bounded so that one message cannot make the hypertable open chunks back through years
        # (each in the ingest transaction, holding up every other tablet).
        return Rejection(index=index, reason="too_old",
                         detail=_clean(f"{label} {raw[:40]} is more than {max_age.days} days"
                                       " before platform time"))
    return None


def _reading(index: int, raw: object, received_at: datetime, max_age: timedelta
             ) -> Reading | Rejection:
    if not isinstance(raw, dict):
        return Rejection(index=index, reason="missing_field", detail="a reading must be an object")
    missing = [k for k in ("type", "value", "unit", "measured_at") if k not in raw]
    if missing:
        return Rejection(index=index, reason="missing_field",
                         detail=f"missing {', '.join(missing)}")
    mtype = MEASUREMENT_TYPES.get(raw["type"]) if isinstance(raw["type"], str) else None
    if mtype is None:
        return Rejection(index=index, reason="unknown_type",
                         detail=_clean(f"type {str(raw['type'])[:40]!r} is not registered"))
    if raw["unit"] != mtype.unit:
        return Rejection(index=index, reason="bad_unit",
                         detail=_clean(f"{mtype.code} is in {mtype.unit!r},"
                                       f" not {str(raw['unit'])[:20]!r}"))
    value = raw["value"]
    # bool is an int in Python but never a measurement.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return Rejection(index=index, reason="missing_field", detail="value must be a number")
    value = float(value)
    if not math.isfinite(value) or not mtype.min_value <= value <= mtype.max_value:
        return Rejection(index=index, reason="out_of_range",
                         detail=f"{mtype.code} {value:g} outside {mtype.min_value:g}"
                                f"-{mtype.max_value:g} {mtype.unit}")
    measured = _instant(index, "measured_at", raw["measured_at"], received_at, max_age)
    if isinstance(measured, Rejection):
        return measured
    return Reading(index=index, type_code=mtype.code, measured_at=measured, value=value,
                   late=received_at - measured > LATE_AFTER)


def parse_message(topic: str, payload: bytes, received_at: datetime, *,
                  max_age: timedelta = DEFAULT_MAX_AGE, retained: bool = False) -> Message:
    """Judge one broker message. ``received_at`` is platform time (aware); readings measured
    more than ``max_age`` before it are ``too_old``; ``retained``: the broker delivered a
    retained message."""
    inbound = parse_inbound(topic)
    if inbound is None:
        return Message(topic=topic, payload=payload, received_at=received_at, kind="readings",
                       device_id=None, retained=retained).rejected(
            "unknown_device", _clean(f"not a device topic: {topic[:100]}"))
    device_id, kind = inbound

    def rejected(reason: Reason, detail: str, msg_id: str | None = None) -> Message:
        return Message(topic=topic, payload=payload, received_at=received_at, kind=kind,
                       device_id=device_id, msg_id=msg_id, retained=retained,
                       rejections=(Rejection(reason=reason, detail=detail),))

    if len(payload) > MAX_PAYLOAD_BYTES:
        return rejected("too_large", f"{len(payload)} bytes > {MAX_PAYLOAD_BYTES}")
    try:
        doc: Any = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        return rejected("malformed_json", _clean(str(exc)))
    if not isinstance(doc, dict):
        return rejected("malformed_json", "the payload must be a JSON object")
    if doc.get("v") != VERSION:
        return rejected("unsupported_version" if "v" in doc else "missing_field",
                        _clean(f"v={str(doc.get('v'))[:20]}, expected {VERSION}"))
    if kind == "status":
        return _status(Message(topic=topic, payload=payload, received_at=received_at, kind=kind,
                               device_id=device_id, retained=retained), doc)
    msg_id = doc.get("msg_id")
    if (not isinstance(msg_id, str) or not 1 <= len(msg_id) <= MAX_MSG_ID_CHARS
            or "\x00" in msg_id):
        return rejected("missing_field", f"msg_id must be 1-{MAX_MSG_ID_CHARS} characters")
    if kind in ("messages", "responses"):
        message = Message(topic=topic, payload=payload, received_at=received_at, kind=kind,
                          device_id=device_id, msg_id=msg_id, retained=retained)
        return _patient_message(message, doc) if kind == "messages" else \
            _responses(message, doc, max_age)
    # Readings, nearly every message: one Message made, not one per step (a frozen dataclass of
    # 15 fields costs microseconds).
    raw_readings = doc.get("readings")
    if not isinstance(raw_readings, list) or not raw_readings:
        return rejected("missing_field", "readings must be a non-empty list", msg_id)
    if len(raw_readings) > MAX_READINGS:
        return rejected("too_large", f"{len(raw_readings)} readings > {MAX_READINGS}", msg_id)
    judged = [_reading(index, raw, received_at, max_age)
              for index, raw in enumerate(raw_readings)]
    return Message(topic=topic, payload=payload, received_at=received_at, kind=kind,
                   device_id=device_id, msg_id=msg_id, retained=retained,
                   content_digest=hashlib.sha256(
                       orjson.dumps(raw_readings, option=orjson.OPT_SORT_KEYS)).digest(),
                   readings=tuple(j for j in judged if isinstance(j, Reading)),
                   rejections=tuple(j for j in judged if isinstance(j, Rejection)))


def _status(message: Message, doc: dict[str, Any]) -> Message:
    state = doc.get("state")
    if state not in ("online", "offline"):
        return message.rejected("missing_field", "state must be online or offline")
    battery = doc.get("battery")
    if battery is not None and (isinstance(battery, bool) or not isinstance(battery, int | float)
                                or not 0 <= battery <= 100):
        return message.rejected("out_of_range", "battery must be 0-100")
    app = doc.get("app")
    return Message(topic=message.topic, payload=message.payload,
                   received_at=message.received_at, kind=message.kind,
                   device_id=message.device_id, retained=message.retained,
                   status=DeviceStatus(state="online" if state == "online" else "offline",
                                       battery=battery,
                                       app=_clean(app[:40]) if isinstance(app, str) else None))


def _digest(doc: object) -> bytes:
    return hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).digest()


def _patient_message(message: Message, doc: dict[str, Any]) -> Message:
    """The messages addition (docs/messages.md): a ``message`` to the team, or a ``read``
    receipt for the team's replies. Either is judged whole: it is one thing the patient did."""
    note, read = doc.get("message"), doc.get("read")
    if isinstance(note, dict) and read is None:
        text, callback = note.get("text", ""), note.get("callback", False)
        if not isinstance(text, str) or not isinstance(callback, bool):
            return message.rejected("missing_field", "text must be a string, callback a boolean")
        text = text.strip()
        if len(text) > MAX_MESSAGE_CHARS:
            return message.rejected("text_too_long",
                                    f"{len(text)} characters > {MAX_MESSAGE_CHARS}")
        if not text and not callback:
            return message.rejected("empty_message", "neither text nor a call-back request")
        written = _stamp(note.get("written_at"), message.received_at)
        if not isinstance(written, datetime):
            return message.rejected(*written)
        return replace(message, content_digest=_digest(note), note=PatientNote(
            text=text.replace("\x00", "\ufffd"), callback=callback, written_at=written))
    if isinstance(read, dict) and note is None:
        ids = read.get("reply_ids")
        if (not isinstance(ids, list) or not 1 <= len(ids) <= MAX_READ_IDS
                or not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2 ** 63
                           for i in ids)):
            return message.rejected("missing_field",
                                    f"reply_ids must be 1-{MAX_READ_IDS} message ids")
        read_at = _stamp(read.get("read_at"), message.received_at)
        if not isinstance(read_at, datetime):
            return message.rejected(*read_at)
        return replace(message, content_digest=_digest(read), read=ReadReceipt(
            reply_ids=tuple(sorted(set(ids))), read_at=read_at))
    return message.rejected("missing_field", "exactly one of message and read must be an object")


def _stamp(raw: object, received_at: datetime) -> datetime | tuple[Reason, str]:
    """A message's own timestamp, or why it is refused (never in the future)."""
    stamp = _timestamp(raw)
    if not isinstance(stamp, datetime):
        return stamp, "the timestamp must be RFC 3339 with an explicit offset"
    if stamp - received_at > FUTURE_TOLERANCE:
        return "future_timestamp", "the timestamp is ahead of platform time"
    return stamp
# --- questionnaire responses: an addition to v1 (docs/questionnaires.md) ----------------------

def _answers(index: int, raw: object, questionnaire: str
             ) -> tuple[tuple[str, bool | str], ...] | Rejection:
    """The answers in the questionnaire's item order, or why they are refused."""
    definition = QUESTIONNAIRES[questionnaire]
    if not isinstance(raw, list):
        return Rejection(index=index, reason="missing_field", detail="items must be a list")
    given: dict[str, bool | str] = {}
    for entry in raw:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) \
                or "answer" not in entry:
            return Rejection(index=index, reason="missing_field",
                             detail="an item is an object with id and answer")
        item = definition.item(entry["id"])
        answer = entry["answer"]
        if item is None or item.link_id in given:
            return Rejection(index=index, reason="bad_answer", detail=_clean(
                f"item {entry['id'][:40]!r} is unknown or repeated in {questionnaire}"))
        if item.kind == "boolean" and not isinstance(answer, bool) or item.kind == "text" and (
                not isinstance(answer, str) or len(answer) > item.max_chars):
            return Rejection(index=index, reason="bad_answer", detail=_clean(
                f"{item.link_id} takes a {item.kind}"
                + (f" of at most {item.max_chars} characters" if item.kind == "text" else "")))
        if item.kind == "text":
            answer = answer.replace("\x00", "\ufffd").strip()
            if not answer:
                continue
        given[item.link_id] = answer
    missing = [i.link_id for i in definition.items if i.required and i.link_id not in given]
    if missing:
        return Rejection(index=index, reason="missing_field",
                         detail=_clean(f"missing answers: {', '.join(missing)}"))
    return tuple((i.link_id, given[i.link_id]) for i in definition.items if i.link_id in given)


def _response(index: int, raw: object, received_at: datetime, max_age: timedelta
              ) -> Response | Rejection:
    if not isinstance(raw, dict):
        return Rejection(index=index, reason="missing_field",
                         detail="a response must be an object")
    missing = [k for k in ("questionnaire", "authored", "items") if k not in raw]
    if missing:
        return Rejection(index=index, reason="missing_field",
                         detail=f"missing {', '.join(missing)}")
    questionnaire = raw["questionnaire"]
    if not isinstance(questionnaire, str) or questionnaire not in QUESTIONNAIRES:
        return Rejection(index=index, reason="unknown_questionnaire", detail=_clean(
            f"questionnaire {str(questionnaire)[:40]!r} is not registered"))
    authored = _instant(index, "authored", raw["authored"], received_at, max_age)
    if isinstance(authored, Rejection):
        return authored
    answers = _answers(index, raw["items"], questionnaire)
    if isinstance(answers, Rejection):
        return answers
    return Response(index=index, questionnaire=questionnaire, authored=authored, answers=answers,
                    late=received_at - authored > LATE_AFTER)


def _responses(message: Message, doc: dict[str, Any], max_age: timedelta) -> Message:
    raw = doc.get("responses")
    if not isinstance(raw, list) or not raw:
        return message.rejected("missing_field", "responses must be a non-empty list")
    if len(raw) > MAX_RESPONSES:
        return message.rejected("too_large", f"{len(raw)} responses > {MAX_RESPONSES}")
    judged = [_response(index, r, message.received_at, max_age) for index, r in enumerate(raw)]
    return replace(message, content_digest=hashlib.sha256(
                       orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)).digest(),
                   responses=tuple(j for j in judged if isinstance(j, Response)),
                   rejections=tuple(j for j in judged if isinstance(j, Rejection)))
