"""Ingest fixtures: devices straight in SQL (no broker client: these tests give the writer parsed
messages themselves) and messages as the gateway would parse them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg
import pytest

from protocol.messages import Message
from protocol.parsing import parse_message
from protocol.topics import device_topics
from tests.conftest import insert_patient, unique


@pytest.fixture
def make_device(committed_conn: psycopg.Connection[Any]) -> Callable[[], str]:
    def make() -> str:
        device_id = unique("tab")
        committed_conn.execute(
            "insert into devices (device_id, patient_id, password_hash) values (%s, %s, 'x')",
            (device_id, insert_patient(committed_conn)))
        return device_id
    return make


def readings_message(device_id: str, *, msg_id: str | None = None, n: int = 1,
                     start: datetime | None = None, step: timedelta = timedelta(seconds=1),
                     received_at: datetime | None = None) -> Message:
    received = received_at or datetime.now(UTC)
    first = start or received - timedelta(hours=1)
    payload = orjson.dumps({"v": 1, "msg_id": msg_id or unique("m"), "readings": [
        {"type": "spo2", "value": 90 + i % 10, "unit": "%",
         "measured_at": (first + i * step).isoformat()} for i in range(n)]})
    return parse_message(device_topics(device_id).readings, payload, received)
