from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from tests.api.helpers import make_user
from tests.api.test_patients import enrol
from tests.conftest import unique


def _alert(conn: psycopg.Connection[Any], pid: int, *, rule: str, severity: str,
           status: str = "open", opened_hours_ago: float = 1) -> None:
    conn.execute(
        "insert into alerts (patient_id, rule, type, severity, status, reason, opened_at)"
        " values (%s, %s, 'spo2', %s, %s, 'test', %s)",
        (pid, rule, severity, status, datetime.now(UTC) - timedelta(hours=opened_hours_ago)))


def test_worst_severity_first_then_oldest_unhandled(
        client: TestClient, committed_conn: psycopg.Connection[Any]) -> None:
    team = unique("team")
    admin = make_user(client, committed_conn, role="admin", teams=[team])
    nurse = make_user(client, committed_conn, role="nurse", teams=[team])
    quiet, yellow_old, yellow_new, red, handled = (enrol(client, admin, team)["id"]
                                                   for _ in range(5))
    _alert(committed_conn, yellow_old, rule="absolute", severity="yellow", opened_hours_ago=30)
    _alert(committed_conn, yellow_new, rule="absolute", severity="yellow", opened_hours_ago=2)
    _alert(committed_conn, red, rule="absolute", severity="red", opened_hours_ago=1)
    _alert(committed_conn, red, rule="baseline", severity="yellow", opened_hours_ago=5)
    _alert(committed_conn, red, rule="trend", severity="green", status="resolved")
    _alert(committed_conn, handled, rule="absolute", severity="red", status="acknowledged",
           opened_hours_ago=50)
    committed_conn.execute(
        "insert into readings (patient_id, type, measured_at, value, device_id, msg_id)"
        " values (%s, 'weight', '2026-11-01T08:00:00Z', 70, 'd', 'm')", (quiet,))

    response = client.get("/api/v1/triage", params={"team": team}, headers=nurse.headers)
    assert response.status_code == 200, response.text
    rows = response.json()
    # Red first: of the two red patients the one waiting for a nurse (open) comes first.
    assert [r["patient_id"] for r in rows] == [red, handled, yellow_old, yellow_new, quiet]
    by_id = {r["patient_id"]: r for r in rows}
    assert by_id[red]["open_counts"] == {"red": 1, "yellow": 1, "blue": 0, "green": 0}
    assert by_id[handled]["worst_severity"] == "red"
    assert by_id[handled]["oldest_unhandled_at"] is None
    assert by_id[quiet]["worst_severity"] is None
    assert by_id[quiet]["last_measured_at"].startswith("2026-11-01T08:00:00")

    other = make_user(client, committed_conn, role="nurse", teams=[unique("team")])
    assert client.get("/api/v1/triage", params={"team": team}, headers=other.headers).json() == []

    paged: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"team": team, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/v1/triage", params=params, headers=nurse.headers)
        paged += [r["patient_id"] for r in page.json()]
        cursor = page.headers.get("x-next-cursor")
        if cursor is None:
            break
    assert paged == [r["patient_id"] for r in rows]
