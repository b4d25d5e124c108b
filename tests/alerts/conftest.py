"""Alert-test helpers: readings stored the way ingest stores them (rows plus the pending
evaluation hand-off), returned as the ``CommittedReadings`` ingest would hand over."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import psycopg

from core.measurement_types import MEASUREMENT_TYPES
from ingest.schemas import CommittedReadings
from tests.api.conftest import client as client  # the app fixture, shared with tests/api

Reading = tuple[int, str, datetime, float]
"""(patient_id, type code, measured_at, value)"""


def commit_readings(conn: psycopg.Connection[Any], readings: Sequence[Reading], *,
                    late: bool = False) -> CommittedReadings:
    """Insert readings and their ``pending_evaluations`` row in the caller's transaction."""
    received = max(r[2] for r in readings) + (timedelta(days=2) if late else timedelta(0))
    with conn.cursor() as cur:
        cur.executemany(
            "insert into readings (patient_id, type, measured_at, value, device_id, msg_id,"
            " received_at, late) values (%s, %s, %s, %s, 'test-device', 'm', %s, %s)",
            [(p, t, at, v, received, late) for p, t, at, v in readings])
    row = conn.execute(
        "insert into pending_evaluations (patient_ids, first_measured_at, last_measured_at,"
        " received_from, received_to) values (%s, %s, %s, %s, %s) returning id",
        (sorted({r[0] for r in readings}), min(r[2] for r in readings),
         max(r[2] for r in readings), received, received)).fetchone()
    assert row is not None
    return CommittedReadings(
        pending_evaluation_id=row["id"],
        patient_id=np.array([r[0] for r in readings], np.int64),
        type_index=np.array([MEASUREMENT_TYPES[r[1]].index for r in readings], np.int16),
        measured_at=np.array([r[2].replace(tzinfo=None) for r in readings], "datetime64[us]"),
        value=np.array([r[3] for r in readings], np.float64),
        late=np.full(len(readings), late))


def alerts_of(conn: psycopg.Connection[Any], patient_id: int) -> list[dict[str, Any]]:
    return conn.execute(
        "select * from alerts where patient_id = %s order by id", (patient_id,)).fetchall()


def events_of(conn: psycopg.Connection[Any], patient_id: int) -> list[tuple[str, str]]:
    return [(r["event"], r["severity"]) for r in conn.execute(
        "select event, severity from alert_events where patient_id = %s order by id",
        (patient_id,)).fetchall()]
