"""The payload parser on its own: each reason, the edges of the rules, and fuzzing (it must
judge anything without raising)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.measurement_types import MEASUREMENT_TYPES
from protocol.messages import REASONS, DeviceStatus
from protocol.parsing import parse_message
from protocol.topics import parse_inbound

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
TOPIC = "kol/v1/d/tab-1/readings"


def parse(doc: Any, topic: str = TOPIC) -> Any:
    return parse_message(topic, doc if isinstance(doc, bytes) else orjson.dumps(doc), NOW)


def one(reading: dict[str, Any]) -> Any:
    return parse({"v": 1, "msg_id": "m", "readings": [reading]})


def good(**over: Any) -> dict[str, Any]:
    return {"type": "spo2", "value": 93, "unit": "%",
            "measured_at": "2026-11-22T12:00:00+01:00", **over}


def test_a_valid_batch() -> None:
    message = parse({"v": 1, "msg_id": "m1", "sent_at": "x", "readings": [
        good(), good(type="weight", value=71.4, unit="kg")]})
    assert message.device_id == "tab-1"
    assert message.msg_id == "m1"
    assert message.rejections == ()
    assert [(r.type_code, r.value, r.late) for r in message.readings] == [
        ("spo2", 93.0, False), ("weight", 71.4, False)]
    assert message.readings[0].measured_at == datetime(2026, 11, 22, 11, 0, tzinfo=UTC)


@pytest.mark.parametrize(("reading", "reason"), [
    ({"type": "spo2", "unit": "%", "measured_at": "2026-11-22T12:00:00Z"}, "missing_field"),
    (good(value="93"), "missing_field"),
    (good(value=True), "missing_field"),
    (good(measured_at="yesterday"), "missing_field"),
    (good(type="fev1"), "unknown_type"),
    (good(unit="percent"), "bad_unit"),
    (good(value=49.9), "out_of_range"),
    (good(value=100.1), "out_of_range"),
    (good(measured_at="2026-11-22T12:00:00"), "naive_timestamp"),
    (good(measured_at="2026-11-22T12:05:01Z"), "future_timestamp"),
    (good(measured_at="2026-08-24T11:59:59Z"), "too_old"),
    ("not an object", "missing_field"),
])
def test_reading_rejections(reading: Any, reason: str) -> None:
    message = one(reading)
    assert message.readings == ()
    assert [(r.index, r.reason) for r in message.rejections] == [(0, reason)]


def test_range_edges_come_from_the_registry() -> None:
    for mtype in MEASUREMENT_TYPES.values():
        for value in (mtype.min_value, mtype.max_value):
            message = one(good(type=mtype.code, unit=mtype.unit, value=value))
            assert message.rejections == (), (mtype.code, value)


def test_ninety_days_back_is_accepted_and_the_age_is_configurable() -> None:
    assert one(good(measured_at="2026-08-24T12:00:00Z")).rejections == ()
    message = parse_message(TOPIC, orjson.dumps({"v": 1, "msg_id": "m", "readings": [
        good(measured_at="2026-11-20T11:00:00Z")]}), NOW, max_age=timedelta(days=2))
    assert [r.reason for r in message.rejections] == ["too_old"]


def test_content_digest_ignores_sent_at_and_key_order() -> None:
    a = parse({"v": 1, "msg_id": "m", "sent_at": "a", "readings": [good()]})
    b = parse(b'{"readings": [{"unit": "%", "value": 93, "type": "spo2",'
              b' "measured_at": "2026-11-22T12:00:00+01:00"}], "msg_id": "m", "v": 1}')
    c = parse({"v": 1, "msg_id": "m", "readings": [good(value=94)]})
    assert a.content_digest is not None
    assert a.content_digest == b.content_digest != c.content_digest


def test_five_minutes_ahead_is_accepted_and_late_after_24_hours() -> None:
    assert one(good(measured_at="2026-11-22T12:05:00Z")).rejections == ()
    assert one(good(measured_at="2026-11-21T12:00:00Z")).readings[0].late is False
    assert one(good(measured_at="2026-11-21T11:59:59Z")).readings[0].late is True


@pytest.mark.parametrize(("payload", "reason"), [
    (b"{not json", "malformed_json"),
    (b"\xff\xfe", "malformed_json"),
    (b"[1, 2]", "malformed_json"),
    (orjson.dumps({"v": 2, "msg_id": "m", "readings": [good()]}), "unsupported_version"),
    (orjson.dumps({"msg_id": "m", "readings": [good()]}), "missing_field"),
    (orjson.dumps({"v": 1, "readings": [good()]}), "missing_field"),
    (orjson.dumps({"v": 1, "msg_id": "x" * 65, "readings": [good()]}), "missing_field"),
    (orjson.dumps({"v": 1, "msg_id": "m", "readings": []}), "missing_field"),
    (orjson.dumps({"v": 1, "msg_id": "m", "readings": [good()] * 501}), "too_large"),
    (b" " * (64 * 1024 + 1), "too_large"),
])
def test_whole_message_rejections(payload: bytes, reason: str) -> None:
    message = parse(payload)
    assert message.rejected_whole
    assert [(r.index, r.reason) for r in message.rejections] == [(None, reason)]
    assert message.readings == ()


def test_topics() -> None:
    assert parse_inbound("kol/v1/d/tab-1/readings") == ("tab-1", "readings")
    assert parse_inbound("kol/v1/d/tab-1/status") == ("tab-1", "status")
    assert parse_inbound("kol/v1/d/a/readings") is None
    assert parse_inbound("kol/v1/d/tab-1/receipts") is None
    assert parse({"v": 1}, topic="elsewhere").rejections[0].reason == "unknown_device"


def test_status() -> None:
    message = parse({"v": 1, "state": "offline", "battery": 12, "app": "1.0.0"},
                    topic="kol/v1/d/tab-1/status")
    assert message.kind == "status"
    assert message.status == DeviceStatus(state="offline", battery=12, app="1.0.0")
    assert parse({"v": 1, "state": "asleep"}, topic="kol/v1/d/tab-1/status").rejected_whole


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children,
                                                                      max_size=4),
    max_leaves=20)
readings = st.fixed_dictionaries({}, optional={
    "type": st.sampled_from([*MEASUREMENT_TYPES, "x"]) | json_values,
    "value": st.floats() | st.integers() | json_values,
    "unit": st.sampled_from(["%", "/min", "kg"]) | json_values,
    "measured_at": st.datetimes(timezones=st.none() | st.timezones()).map(
        lambda d: d.isoformat()) | st.text() | json_values,
})
batches = st.fixed_dictionaries({}, optional={
    "v": st.sampled_from([1, 2]) | json_values,
    "msg_id": st.text(max_size=70) | json_values,
    "readings": st.lists(readings | json_values, max_size=8) | json_values,
})


@settings(max_examples=400, deadline=None)
@given(batches, st.sampled_from([TOPIC, "kol/v1/d/tab-1/status", "kol/v1/d/x/y"]))
def test_fuzzed_documents_are_judged_never_raised(doc: dict[str, Any], topic: str) -> None:
    message = parse_message(topic, json.dumps(doc).encode(), NOW)
    assert {r.reason for r in message.rejections} <= set(REASONS)
    if message.kind == "readings" and not message.rejected_whole:
        indices = sorted([r.index for r in message.readings] +
                         [r.index for r in message.rejections if r.index is not None])
        assert indices == list(range(len(doc["readings"])))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_fuzzed_bytes_are_judged_never_raised(payload: bytes) -> None:
    message = parse_message(TOPIC, payload, NOW)
    assert message.rejections or message.readings
