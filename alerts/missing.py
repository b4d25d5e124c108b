"""Missing measurements: blue alerts for scheduled measurements not taken by their local
deadline. Never commits."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

from psycopg import Connection

from alerts import repository
from alerts.lifecycle import AlertRaise, Outcome, raise_alerts
from alerts.reasons import describe_missing

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
