"""Missing measurements: blue alerts for scheduled measurements not taken by their local
deadline. Never commits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import groupby
from typing import Any

from psycopg import Connection

from alerts import repository
from alerts.engine import SERIES_CODES
from alerts.lifecycle import AlertRaise, Outcome, raise_alerts
from alerts.reasons import describe_missing
from ingest.schemas import ReadingColumns

MISSING_LOOKBACK = timedelta(days=7)
"""Deadlines this far back are checked on every run, so that a worker outage is caught up;
deadlines already covered by a 'missing' alert are not counted again."""


def check_missing(conn: Connection[Any], *, now: datetime, timezone: str) -> Outcome:
    """Blue alerts for scheduled measurements not taken by their local deadline: one open alert
    per (patient, type), updated with each further missed deadline."""
    rows = repository.missed_deadlines(conn, since=now - MISSING_LOOKBACK, until=now,
                                       timezone=timezone)
    raises = []
    for (patient_id, type_), group in groupby(rows, key=lambda r: (r["patient_id"], r["type"])):
        deadlines = [r["deadline"] for r in group]  # one step per missed (patient, type)
        raises.append(AlertRaise(
            patient_id=patient_id, rule="missing", type=type_, severity="blue",
            first_measured_at=deadlines[0], last_measured_at=deadlines[-1], value=None,
            late=False, count=len(deadlines), threshold_version=None,
            reason=describe_missing(type_=type_, deadline=deadlines[-1], timezone=timezone)))
    return raise_alerts(conn, raises)


AUTO_RESOLVE_NOTE = "Løst automatisk: den manglende måling er modtaget"
"""The note of the 'resolved' event of a missing-measurement alert that resolved itself."""


def resolve_arrived(conn: Connection[Any], new: ReadingColumns, *, timezone: str) -> int:
    """Resolve the blue alerts that newly stored readings answer (the missing measurement
    arrived), each with a 'resolved' event without an actor and a note saying so."""
    if len(new) == 0:
        return 0
    micros = new.measured_at.astype("datetime64[us]").view("int64").tolist()
    rows = repository.resolve_missing_arrived(
        conn, patient_ids=new.patient_id.tolist(),
        types=[SERIES_CODES[int(i)] for i in new.type_index],
        measured_at=[datetime.fromtimestamp(us / 1e6, tz=UTC) for us in micros],
        timezone=timezone, note=AUTO_RESOLVE_NOTE)
    if rows:
        repository.insert_alert_events(
            conn, alert_ids=[r["id"] for r in rows], patient_ids=[r["patient_id"] for r in rows],
            events=["resolved"] * len(rows), severities=[r["severity"] for r in rows],
            note=AUTO_RESOLVE_NOTE)
    return len(rows)
