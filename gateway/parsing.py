"""Parsing and validation of device payloads (protocol v1). Driven by the measurement-type
registry; every defect becomes a :class:`~ingest.schemas.Rejection` with a stable reason, and no
input makes these functions raise."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args

import orjson

from core.measurement_types import MEASUREMENT_TYPES
from ingest.schemas import Message, Reading, Rejection

PROTOCOL_VERSION = 1
MAX_PAYLOAD_BYTES = 64 * 1024
MAX_READINGS = 500
MAX_MSG_ID_CHARS = 64
FUTURE_TOLERANCE = timedelta(minutes=5)
LATE_AFTER = timedelta(hours=24)

Reason = Literal["malformed_json", "unsupported_version", "missing_field", "unknown_type",
                 "bad_unit", "out_of_range", "naive_timestamp", "future_timestamp", "too_large",
                 "unknown_device"]
"""The protocol's stable rejection reasons."""
REASONS: tuple[str, ...] = get_args(Reason)

_TOPIC = re.compile(r"^kol/v1/d/([A-Za-z0-9_-]{3,64})/(readings|status)$")
_DETAIL_CHARS = 200


def topic_device(topic: str) -> tuple[str | None, str]:
    """``(device_id, kind)`` of a device topic; device None if the topic is not one."""
    match = _TOPIC.match(topic)
    if match is None:
        return None, "readings"
    return match.group(1), match.group(2)


def _clean(text: str) -> str:
    """Short, and without NUL, which PostgreSQL text and jsonb refuse."""
    return text[:_DETAIL_CHARS].replace("\x00", "\ufffd")


def _whole(message: Message, reason: str, detail: str) -> Message:
    message.rejections = [Rejection(reason=reason, detail=_clean(detail))]
    message.readings = []
    return message


def _timestamp(raw: object) -> datetime | str:
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


def _reading(index: int, raw: object, received_at: datetime) -> Reading | Rejection:
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
    measured = _timestamp(raw["measured_at"])
    if isinstance(measured, str):
        return Rejection(index=index, reason=measured,
                         detail="measured_at must be RFC 3339 with an explicit offset")
    if measured - received_at > FUTURE_TOLERANCE:
        return Rejection(index=index, reason="future_timestamp",
                         detail=_clean(f"measured_at {raw['measured_at'][:40]}"
                                       " is ahead of platform time"))
    return Reading(index=index, type_code=mtype.code, measured_at=measured, value=value,
                   late=received_at - measured > LATE_AFTER)


def parse_message(topic: str, payload: bytes, received_at: datetime) -> Message:
    """Judge one broker message. ``received_at`` is platform time (aware)."""
    device_id, kind = topic_device(topic)
    message = Message(topic=topic, payload=payload, received_at=received_at, kind=kind,
                      device_id=device_id)
    if device_id is None:
        return _whole(message, "unknown_device", f"not a device topic: {topic[:100]}")
    if len(payload) > MAX_PAYLOAD_BYTES:
        return _whole(message, "too_large", f"{len(payload)} bytes > {MAX_PAYLOAD_BYTES}")
    try:
        doc: Any = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        return _whole(message, "malformed_json", str(exc))
    if not isinstance(doc, dict):
        return _whole(message, "malformed_json", "the payload must be a JSON object")
    if doc.get("v") != PROTOCOL_VERSION:
        return _whole(message, "unsupported_version" if "v" in doc else "missing_field",
                      f"v={str(doc.get('v'))[:20]}, expected {PROTOCOL_VERSION}")
    if kind == "status":
        return _status(message, doc)
    msg_id = doc.get("msg_id")
    if (not isinstance(msg_id, str) or not 1 <= len(msg_id) <= MAX_MSG_ID_CHARS
            or "\x00" in msg_id):
        return _whole(message, "missing_field", f"msg_id must be 1-{MAX_MSG_ID_CHARS} characters")
    message.msg_id = msg_id
    readings = doc.get("readings")
    if not isinstance(readings, list) or not readings:
        return _whole(message, "missing_field", "readings must be a non-empty list")
    if len(readings) > MAX_READINGS:
        return _whole(message, "too_large", f"{len(readings)} readings > {MAX_READINGS}")
    for index, raw in enumerate(readings):
        judged = _reading(index, raw, received_at)
        if isinstance(judged, Reading):
            message.readings.append(judged)
        else:
            message.rejections.append(judged)
    return message


def _status(message: Message, doc: dict[str, Any]) -> Message:
    state = doc.get("state")
    if state not in ("online", "offline"):
        return _whole(message, "missing_field", "state must be online or offline")
    battery = doc.get("battery")
    if battery is not None and (isinstance(battery, bool) or not isinstance(battery, int | float)
                                or not 0 <= battery <= 100):
        return _whole(message, "out_of_range", "battery must be 0-100")
    app = doc.get("app")
    message.status = {"state": state, "battery": battery,
                      "app": _clean(app[:40]) if isinstance(app, str) else None}
    return message


def receipt(msg_id: str, *, accepted: int, duplicates: int,
            rejections: list[Rejection]) -> bytes:
    return orjson.dumps({"v": PROTOCOL_VERSION, "msg_id": msg_id, "accepted": accepted,
                         "duplicates": duplicates,
                         "rejected": [{"index": r.index, "reason": r.reason} for r in rejections]})
