from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import User, make_user
from tests.conftest import unique

SCHEDULE = {"days": ["mon", "thu"], "deadline": "12:00", "types": ["spo2", "pulse", "weight"],
            "diary_days": []}


@pytest.fixture
def other_nurse(client: TestClient, committed_conn: psycopg.Connection[Any]) -> User:
    return make_user(client, committed_conn, role="nurse", teams=[unique("team")])


def enrol(client: TestClient, admin: User, team: str, **overrides: Any) -> dict[str, Any]:
    body = {"display_name": unique("Patient"), "team": team, "profile": "kol-standard",
            "schedule": SCHEDULE, **overrides}
    response = client.post("/api/v1/patients", json=body, headers=admin.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_enrolment_copies_the_profile_and_is_audited(
        client: TestClient, admin: User, team: str,
        committed_conn: psycopg.Connection[Any]) -> None:
    patient = enrol(client, admin, team, profile="kol-ltot")
    assert patient["team"] == team
    assert patient["profile"] == "kol-ltot"
    assert patient["schedule"] == SCHEDULE
    version = committed_conn.execute(
        "select v.version, v.thresholds = p.thresholds as copied, u.username"
        " from threshold_versions v join profiles p on p.name = 'kol-ltot'"
        " left join users u on u.id = v.changed_by where v.patient_id = %s",
        (patient["id"],)).fetchall()
    assert version == [{"version": 1, "copied": True, "username": admin.username}]
    audit = committed_conn.execute(
        "select actor, action from audit_log where entity_type = 'patient' and entity_id = %s",
        (str(patient["id"]),)).fetchall()
    assert audit == [{"actor": admin.username, "action": "patient.enrol"}]


@pytest.mark.parametrize(("override", "slug"), [
    ({"profile": "no-such-profile"}, "unknown-profile"),
    ({"schedule": {**SCHEDULE, "deadline": "25:00"}}, "validation-error"),
    ({"schedule": {**SCHEDULE, "types": ["spo2", "glucose"]}}, "validation-error"),
    ({"schedule": {**SCHEDULE, "days": []}}, "validation-error"),
    ({"display_name": ""}, "validation-error"),
])
def test_enrolment_rejects_bad_input_with_a_reason(client: TestClient, admin: User, team: str,
                                                   override: dict[str, Any], slug: str) -> None:
    body = {"display_name": "A", "team": team, "profile": "kol-standard", "schedule": SCHEDULE,
            **override}
    response = client.post("/api/v1/patients", json=body, headers=admin.headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == f"urn:kol:problem:{slug}"


def test_only_admins_enrol(client: TestClient, nurse: User, team: str) -> None:
    body = {"display_name": "A", "team": team, "schedule": SCHEDULE}
    assert client.post("/api/v1/patients", json=body, headers=nurse.headers).status_code == 403


def test_overview_shows_latest_readings_alerts_thresholds_devices_and_pauses(
        client: TestClient, admin: User, nurse: User, team: str,
        committed_conn: psycopg.Connection[Any]) -> None:
    patient = enrol(client, admin, team)
    pid = patient["id"]
    now = datetime.now(UTC).replace(microsecond=0)
    with committed_conn.cursor().copy(
            "copy readings (patient_id, type, measured_at, value, device_id, msg_id)"
            " from stdin") as copy:
        for days_ago, spo2 in [(3, 94.0), (2, 93.0), (1, 89.0)]:
            copy.write_row((pid, "spo2", now - timedelta(days=days_ago), spo2, "d", "m"))
        copy.write_row((pid, "weight", now - timedelta(days=5), 70.5, "d", "m"))
    committed_conn.execute(
        "insert into alerts (patient_id, rule, type, severity, reason, value)"
        " values (%s, 'absolute', 'spo2', 'yellow', 'SpO2 89 < 90', 89),"
        "        (%s, 'baseline', 'pulse', 'red', 'pulse +22', 110)", (pid, pid))
    committed_conn.execute(
        "insert into devices (device_id, patient_id, password_hash) values (%s, %s, 'x')",
        (unique("dev"), pid))
    pause = client.post(f"/api/v1/patients/{pid}/pauses", headers=nurse.headers, json={
        "starts_at": (now + timedelta(days=1)).isoformat(),
        "ends_at": (now + timedelta(days=8)).isoformat(), "reason": "ferie"})
    assert pause.status_code == 201, pause.text

    response = client.get(f"/api/v1/patients/{pid}", headers=nurse.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    latest = {r["type"]: (r["value"], r["unit"]) for r in body["latest_readings"]}
    assert latest == {"spo2": (89.0, "%"), "weight": (70.5, "kg")}
    assert [(a["severity"], a["type"]) for a in body["open_alerts"]] == [("red", "pulse"),
                                                                         ("yellow", "spo2")]
    assert body["thresholds"]["version"] == 1
    assert body["thresholds"]["thresholds"]["spo2"]["absolute"]["red_low"] is not None
    assert len(body["devices"]) == 1
    assert body["devices"][0]["active"] is True
    assert [p["reason"] for p in body["pauses"]] == ["ferie"]

    removed = client.delete(f"/api/v1/patients/{pid}/pauses/{pause.json()['id']}",
                            headers=nurse.headers)
    assert removed.status_code == 204
    assert client.get(f"/api/v1/patients/{pid}", headers=nurse.headers).json()["pauses"] == []


def test_pause_must_end_after_it_starts(client: TestClient, admin: User, nurse: User,
                                        team: str) -> None:
    pid = enrol(client, admin, team)["id"]
    now = datetime.now(UTC)
    response = client.post(f"/api/v1/patients/{pid}/pauses", headers=nurse.headers, json={
        "starts_at": now.isoformat(), "ends_at": (now - timedelta(hours=1)).isoformat(),
        "reason": "x"})
    assert response.status_code == 422


def test_another_teams_patient_is_not_found(client: TestClient, admin: User, team: str,
                                            other_nurse: User, nurse: User) -> None:
    pid = enrol(client, admin, team)["id"]
    for path in (f"/api/v1/patients/{pid}", f"/api/v1/patients/{pid}/measurements",
                 f"/api/v1/patients/{pid}/measurements?bucket=1d"):
        response = client.get(path, headers=other_nurse.headers)
        assert response.status_code == 404, path
        assert response.json()["type"] == "urn:kol:problem:patient-not-found"
        assert client.get(path, headers=nurse.headers).status_code == 200, path
    pause = client.post(f"/api/v1/patients/{pid}/pauses", headers=other_nurse.headers, json={
        "starts_at": "2026-12-01T00:00:00+01:00", "ends_at": "2026-12-02T00:00:00+01:00",
        "reason": "x"})
    assert pause.status_code == 404
    listed = client.get("/api/v1/patients?limit=500", headers=other_nurse.headers).json()
    assert pid not in {p["id"] for p in listed}
    assert pid in {p["id"] for p in client.get(f"/api/v1/patients?team={team}",
                                                headers=nurse.headers).json()}


def test_patient_list_pages_with_a_cursor(client: TestClient, admin: User, nurse: User,
                                          team: str) -> None:
    ids = {enrol(client, admin, team)["id"] for _ in range(5)}
    seen: list[int] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = client.get("/api/v1/patients", params=params, headers=nurse.headers)
        seen += [p["id"] for p in response.json()]
        cursor = response.headers.get("x-next-cursor")
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids)
