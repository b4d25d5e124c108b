"""Threshold and alert routes through the real app and database: roles, team scoping (another
team's patient or alert answers 404), validation, versions with audit, preview, the alert list
with its cursor, acknowledge and resolve."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from alerts.profiles import PROFILES
from alerts.streaming import evaluate_committed
from core.access import SYSTEM
from tests.alerts.conftest import commit_readings, events_of
from tests.conftest import insert_patient, unique
from users import service as users
from users.schemas import UserCreate

PASSWORD = "correct horse battery"


def login(client: TestClient, conn: psycopg.Connection[Any], role: str, team: str
          ) -> dict[str, str]:
    username = unique(role)
    users.create_user(conn, viewer=SYSTEM, data=UserCreate(
        username=username, password=PASSWORD, role=role, teams=[team]))  # type: ignore[arg-type]
    token = client.post("/api/v1/auth/token",
                        data={"username": username, "password": PASSWORD}).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def team(committed_conn: psycopg.Connection[Any]) -> str:
    name = unique("team")
    insert_patient(committed_conn, team=name)  # creates the team
    return name


def test_thresholds_read_change_history_and_scoping(
        client: TestClient, committed_conn: psycopg.Connection[Any], team: str) -> None:
    patient = insert_patient(committed_conn, team=team)
    nurse = login(client, committed_conn, "nurse", team)
    clinician = login(client, committed_conn, "clinician", team)
    stranger = login(client, committed_conn, "clinician", unique("other-team"))
    url = f"/api/v1/patients/{patient}/thresholds"

    current = client.get(url, headers=nurse).json()
    assert current["version"] == 1
    assert current["thresholds"] == PROFILES["kol-standard"].model_dump()

    proposed = PROFILES["kol-standard"].model_dump()
    proposed["spo2"]["absolute"]["yellow_low"] = 91.0
    body = {"thresholds": proposed, "reason": "usual SpO2 93-95, earlier warning wanted"}
    assert client.put(url, json=body, headers=nurse).status_code == 403
    assert client.put(url, json=body, headers=stranger).status_code == 404
    assert client.put(url, json={"thresholds": proposed}, headers=clinician).status_code == 422
    bad = {**body, "thresholds": {**proposed, "spo2": {"absolute": {"red_low": 92,
                                                                    "yellow_low": 90}}}}
    rejected = client.put(url, json=bad, headers=clinician)
    assert rejected.status_code == 422
    assert "red_low (92) must be below yellow_low (90)" in rejected.text

    changed = client.put(url, json=body, headers=clinician)
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == 2
    history = client.get(f"{url}/history", headers=nurse).json()
    assert [h["version"] for h in history] == [2, 1]
    assert history[0]["diff"] == [{"path": "spo2.absolute.yellow_low", "old": 90.0,
                                   "new": 91.0}]
    assert history[0]["reason"] == body["reason"]
    assert history[1]["diff"] == []
    audit = committed_conn.execute(
        "select actor, detail from audit_log where action = 'thresholds.update'"
        " and entity_id = %s", (str(patient),)).fetchone()
    assert audit is not None
    assert audit["detail"]["version"] == 2
    assert client.get(url, headers=stranger).status_code == 404


def test_preview_answers_from_history_without_writing(
        client: TestClient, committed_conn: psycopg.Connection[Any], team: str) -> None:
    patient = insert_patient(committed_conn, team=team)
    clinician = login(client, committed_conn, "clinician", team)
    today = datetime.now(UTC).replace(microsecond=0)
    rows = []
    for day in range(90):  # SpO2 91 every day, 89.5 on two consecutive days 10 days ago
        at = today - timedelta(days=day, hours=1)
        rows.append((patient, "spo2", at, 89.5 if day in (10, 11) else 91.0))
        rows.append((patient, "pulse", at, 80.0))
        rows.append((patient, "weight", at - timedelta(minutes=5), 70.0))
    commit_readings(committed_conn, rows)
    proposed = PROFILES["kol-standard"].model_dump()
    url = f"/api/v1/patients/{patient}/thresholds/preview"

    current = client.post(url, json={"thresholds": proposed, "days": 90}, headers=clinician)
    assert current.status_code == 200, current.text
    (alert,) = current.json()["alerts"]
    assert (alert["rule"], alert["type"], alert["severity"], alert["breach_count"]) == (
        "absolute", "spo2", "yellow", 2)
    assert current.json()["readings_evaluated"] == 270

    proposed["spo2"]["absolute"]["yellow_low"] = 92.0
    stricter = client.post(url, json={"thresholds": proposed, "days": 30}, headers=clinician)
    (alert,) = stricter.json()["alerts"]
    assert alert["breach_count"] == 30  # every day of the last 30 now breaches
    assert committed_conn.execute("select count(*) as n from alerts where patient_id = %s",
                                  (patient,)).fetchone() == {"n": 0}

    started = time.perf_counter()
    for _ in range(10):
        client.post(url, json={"thresholds": proposed, "days": 90}, headers=clinician)
    per_call = (time.perf_counter() - started) / 10
    print(f"preview of 90 days, one patient: {per_call * 1000:.1f} ms per request (test client)")


def test_alert_list_cursor_acknowledge_resolve(
        client: TestClient, pool: ConnectionPool, committed_conn: psycopg.Connection[Any],
        team: str) -> None:
    patient = insert_patient(committed_conn, team=team)
    nurse = login(client, committed_conn, "nurse", team)
    stranger = login(client, committed_conn, "nurse", unique("other-team"))
    t0 = datetime(2026, 4, 6, 8, tzinfo=UTC)
    evaluate_committed(pool, commit_readings(committed_conn, [
        (patient, "spo2", t0, 85.0), (patient, "pulse", t0, 130.0),
        (patient, "weight", t0 - timedelta(days=1), 80.0), (patient, "weight", t0, 83.0)]))

    listed = client.get(f"/api/v1/alerts?patient_id={patient}&limit=2", headers=nurse)
    assert listed.status_code == 200
    first_page = listed.json()
    assert len(first_page) == 2
    assert set(first_page[0]) == {"id", "patient_id", "rule", "type", "severity", "status",
                                  "opened_at", "first_measured_at", "last_measured_at", "value",
                                  "late", "reason", "reason_code", "reason_params"}
    # Newest first: the weight gain of 3 kg in a day, as a code with its parameters.
    assert first_page[0]["reason_code"] == "change_3d"
    assert first_page[0]["reason_params"] == {
        "type": "weight", "severity": "yellow", "unit": "kg", "metric": 3.0,
        "limit": first_page[0]["reason_params"]["limit"], "reference": 80.0}
    cursor = listed.headers["X-Next-Cursor"]
    second = client.get(f"/api/v1/alerts?patient_id={patient}&limit=2&cursor={cursor}",
                        headers=nurse)
    assert "X-Next-Cursor" not in second.headers
    alerts = first_page + second.json()
    assert sorted((a["rule"], a["type"], a["severity"]) for a in alerts) == [
        ("absolute", "pulse", "red"), ("absolute", "spo2", "red"),
        ("change_3d", "weight", "yellow")]
    assert client.get(f"/api/v1/alerts?patient_id={patient}", headers=stranger).json() == []
    red = client.get(f"/api/v1/alerts?patient_id={patient}&severity=red&status=open",
                     headers=nurse).json()
    assert len(red) == 2

    alert_id = red[0]["id"]
    assert client.post(f"/api/v1/alerts/{alert_id}/acknowledge", json={"note": "x"},
                       headers=stranger).status_code == 404
    acked = client.post(f"/api/v1/alerts/{alert_id}/acknowledge",
                        json={"note": "called, GP informed"}, headers=nurse)
    assert acked.json()["status"] == "acknowledged"
    again = client.post(f"/api/v1/alerts/{alert_id}/acknowledge", json={"note": ""},
                        headers=nurse)
    assert again.status_code == 409
    assert again.json()["type"] == "urn:kol:problem:alert-state-conflict"
    resolved = client.post(f"/api/v1/alerts/{alert_id}/resolve", json={"note": "better"},
                           headers=nurse)
    assert resolved.json()["status"] == "resolved"
    steps = committed_conn.execute(
        "select event, note, actor_id is not null as by_user from alert_events"
        " where alert_id = %s order by id", (alert_id,)).fetchall()
    assert [(s["event"], s["note"], s["by_user"]) for s in steps] == [
        ("opened", None, False), ("acknowledged", "called, GP informed", True),
        ("resolved", "better", True)]
    assert ("resolved", red[0]["severity"]) in events_of(committed_conn, patient)
    audited = committed_conn.execute(
        "select action from audit_log where entity_type = 'alert' and entity_id = %s"
        " order by id", (str(alert_id),)).fetchall()
    assert [a["action"] for a in audited] == ["alert.acknowledge", "alert.resolve"]


def test_bulk_acknowledge_of_green_alerts_is_team_scoped(
        client: TestClient, committed_conn: psycopg.Connection[Any], team: str) -> None:
    patient = insert_patient(committed_conn, team=team)
    other = insert_patient(committed_conn)
    for pid in (patient, other):
        committed_conn.execute(
            "insert into alerts (patient_id, rule, type, severity, reason)"
            " values (%s, 'in-range', 'spo2', 'green', 'within limits')", (pid,))
    nurse = login(client, committed_conn, "nurse", team)
    done = client.post("/api/v1/alerts/acknowledge-green", json={"note": "seen"}, headers=nurse)
    assert done.json()["acknowledged"] == 1
    statuses = {r["patient_id"]: r["status"] for r in committed_conn.execute(
        "select patient_id, status from alerts where patient_id = any(%s)",
        ([patient, other],)).fetchall()}
    assert statuses == {patient: "acknowledged", other: "open"}


def test_acknowledge_or_resolve_of_an_alert_that_escalated_since_it_was_seen_is_refused(
        client: TestClient, pool: ConnectionPool, committed_conn: psycopg.Connection[Any],
        team: str) -> None:
    patient = insert_patient(committed_conn, team=team)
    nurse = login(client, committed_conn, "nurse", team)
    t0 = datetime(2026, 4, 7, 8, tzinfo=UTC)
    evaluate_committed(pool, commit_readings(committed_conn, [(patient, "spo2", t0, 89.0)]))
    [shown] = client.get(f"/api/v1/alerts?patient_id={patient}", headers=nurse).json()
    assert shown["severity"] == "yellow"
    # A second later the alert escalates; the nurse's click was made on the yellow one.
    evaluate_committed(pool, commit_readings(committed_conn, [
        (patient, "spo2", t0 + timedelta(hours=1), 87.0)]))
    for step in ("acknowledge", "resolve"):
        refused = client.post(f"/api/v1/alerts/{shown['id']}/{step}", headers=nurse,
                              json={"note": "ok", "seen_severity": shown["severity"]})
        assert refused.status_code == 409, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"] == "urn:kol:problem:alert-changed"
        assert refused.json()["severity"] == "red"
    [now] = client.get(f"/api/v1/alerts?patient_id={patient}", headers=nurse).json()
    assert (now["status"], now["severity"]) == ("open", "red")
    # Seen as it is now, it is acknowledged; without the field, as before.
    acked = client.post(f"/api/v1/alerts/{shown['id']}/acknowledge", headers=nurse,
                        json={"note": "called", "seen_severity": "red"})
    assert acked.status_code == 200, acked.text
    resolved = client.post(f"/api/v1/alerts/{shown['id']}/resolve", headers=nurse,
                           json={"note": "better"})
    assert resolved.status_code == 200, resolved.text
