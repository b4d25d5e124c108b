"""Patient administration (details, schedule, pauses ended early, transfer, discharge) and a team
admin's administration of users and teams, each audited and scoped to the admin's teams."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from tests.api.helpers import PASSWORD, make_user
from tests.conftest import unique

SCHEDULE = {"days": ["mon", "thu"], "deadline": "12:00", "types": ["spo2", "pulse", "weight"]}


def _audit(conn: psycopg.Connection[Any], entity: str, entity_id: int) -> list[str]:
    return [r["action"] for r in conn.execute(
        "select action from audit_log where entity_type = %s and entity_id = %s order by id",
        (entity, str(entity_id))).fetchall()]


def test_enrol_with_details_edit_schedule_pause_transfer_and_discharge(
        client: TestClient, committed_conn: psycopg.Connection[Any]) -> None:
    team, other = unique("team"), unique("team")
    admin = make_user(client, committed_conn, role="admin", teams=[team])
    nurse = make_user(client, committed_conn, role="nurse", teams=[team])
    clinician = make_user(client, committed_conn, role="clinician", teams=[team])
    make_user(client, committed_conn, role="nurse", teams=[other])  # the other team exists
    enrolled = client.post("/api/v1/patients", headers=admin.headers, json={
        "display_name": "Inger Hansen", "team": team, "schedule": SCHEDULE,
        "phone": "+45 20 30 40 50", "contact_person": "Søren Hansen (søn)",
        "contact_phone": "+45 60 70 80 90", "gp": "Lægehuset Nørrebro", "notes": "Hørenedsat"})
    assert enrolled.status_code == 201, enrolled.text
    patient = enrolled.json()
    assert (patient["phone"], patient["gp"]) == ("+45 20 30 40 50", "Lægehuset Nørrebro")
    url = f"/api/v1/patients/{patient['id']}"

    edited = client.patch(url, headers=nurse.headers, json={"notes": "Ring efter kl. 10"})
    assert edited.status_code == 200
    assert edited.json()["notes"] == "Ring efter kl. 10"
    assert edited.json()["contact_person"] == "Søren Hansen (søn)"

    new_schedule = {**SCHEDULE, "days": ["mon", "wed", "fri"]}
    assert client.put(f"{url}/schedule", headers=nurse.headers,
                      json={"schedule": new_schedule}).status_code == 403
    changed = client.put(f"{url}/schedule", headers=clinician.headers,
                         json={"schedule": new_schedule})
    assert changed.status_code == 200
    assert changed.json()["schedule"]["days"] == ["mon", "wed", "fri"]

    now = datetime.now(UTC)
    pause = client.post(f"{url}/pauses", headers=nurse.headers, json={
        "starts_at": (now - timedelta(days=1)).isoformat(),
        "ends_at": (now + timedelta(days=5)).isoformat(), "reason": "Indlagt"}).json()
    assert client.post(f"{url}/pauses/{pause['id']}/end",
                       headers=nurse.headers).status_code == 204
    assert client.get(url, headers=nurse.headers).json()["pauses"] == []
    # Ended, it is still there: ending it again is a conflict with its state, not a 404.
    again = client.post(f"{url}/pauses/{pause['id']}/end", headers=nurse.headers)
    assert again.status_code == 409
    assert again.json()["type"] == "urn:kol:problem:pause-ended"
    assert client.post(f"{url}/pauses/999999999/end", headers=nurse.headers).status_code == 404

    assert client.post(f"{url}/discharge", headers=nurse.headers,
                       json={"reason": "x"}).status_code == 403
    discharged = client.post(f"{url}/discharge", headers=admin.headers,
                             json={"reason": "Flyttet på plejehjem"})
    assert discharged.status_code == 200, discharged.text
    assert discharged.json()["active"] is False
    assert discharged.json()["discharged_at"] is not None
    # No longer in triage, her history stays readable.
    triage = client.get("/api/v1/triage", headers=nurse.headers).json()
    assert patient["id"] not in [r["patient_id"] for r in triage]
    assert client.get(url, headers=nurse.headers).status_code == 200
    assert client.post(f"{url}/discharge", headers=admin.headers,
                       json={"reason": "again"}).status_code == 409

    moved = client.post(f"{url}/transfer", headers=admin.headers,
                        json={"team": other, "reason": "Flyttet kommune"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["team"] == other
    assert client.get(url, headers=nurse.headers).status_code == 404  # not her team any more
    assert client.post(f"{url}/transfer", headers=admin.headers,
                       json={"team": unique("nowhere"), "reason": "x"}).status_code == 404
    assert _audit(committed_conn, "patient", patient["id"]) == [
        "patient.enrol", "patient.edit", "patient.schedule", "patient.pause.add",
        "patient.pause.end", "patient.discharge", "patient.transfer"]


def test_team_admin_creates_changes_resets_and_deactivates_users(
        client: TestClient, committed_conn: psycopg.Connection[Any]) -> None:
    team, other = unique("team"), unique("team")
    admin = make_user(client, committed_conn, role="admin", teams=[team])
    stranger = make_user(client, committed_conn, role="nurse", teams=[other])
    created = client.post("/api/v1/users", headers=admin.headers, json={
        "username": unique("anne"), "display_name": "Anne Sygeplejerske", "role": "nurse",
        "teams": [team]})
    assert created.status_code == 201, created.text
    user, code = created.json()["user"], created.json()["reset"]["code"]
    assert client.post("/api/v1/users", headers=admin.headers, json={
        "username": unique("bo"), "role": "nurse", "teams": [other]}).status_code == 403

    # She sets her password with the code, once.
    assert client.post("/api/v1/auth/password",
                       json={"code": code, "password": PASSWORD}).status_code == 204
    assert client.post("/api/v1/auth/password",
                       json={"code": code, "password": PASSWORD}).status_code == 404
    token = client.post("/api/v1/auth/token", data={"username": user["username"],
                                                    "password": PASSWORD})
    assert token.status_code == 200
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}

    listed = client.get("/api/v1/users", headers=admin.headers).json()
    assert user["id"] in [u["id"] for u in listed]
    assert stranger.username not in [u["username"] for u in listed]
    stranger_id = committed_conn.execute("select id from users where username = %s",
                                         (stranger.username,)).fetchone()
    assert stranger_id is not None
    assert client.patch(f"/api/v1/users/{stranger_id['id']}", headers=admin.headers,
                        json={"active": False}).status_code == 404

    promoted = client.patch(f"/api/v1/users/{user['id']}", headers=admin.headers,
                            json={"role": "clinician"})
    assert promoted.json()["role"] == "clinician"
    reset = client.post(f"/api/v1/users/{user['id']}/password-reset", headers=admin.headers)
    assert reset.status_code == 201
    assert len(reset.json()["code"]) >= 16

    assert client.get("/api/v1/me", headers=headers).status_code == 200
    deactivated = client.patch(f"/api/v1/users/{user['id']}", headers=admin.headers,
                               json={"active": False})
    assert deactivated.json()["active"] is False
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    me = committed_conn.execute("select id from users where username = %s",
                                (admin.username,)).fetchone()
    assert me is not None
    assert client.patch(f"/api/v1/users/{me['id']}", headers=admin.headers,
                        json={"active": False}).status_code == 403
    assert _audit(committed_conn, "user", user["id"]) == [
        "user.create", "user.password-set", "user.change", "user.password-reset", "user.change"]


def test_team_idle_timeout_is_set_by_its_admin(
        client: TestClient, committed_conn: psycopg.Connection[Any]) -> None:
    team = unique("team")
    admin = make_user(client, committed_conn, role="admin", teams=[team])
    nurse = make_user(client, committed_conn, role="nurse", teams=[team])
    (mine,) = client.get("/api/v1/teams", headers=nurse.headers).json()
    assert mine["idle_timeout_minutes"] is None
    assert client.patch(f"/api/v1/teams/{mine['id']}", headers=nurse.headers,
                        json={"idle_timeout_minutes": 480}).status_code == 403
    changed = client.patch(f"/api/v1/teams/{mine['id']}", headers=admin.headers,
                           json={"idle_timeout_minutes": 480})
    assert changed.json()["idle_timeout_minutes"] == 480
    created = client.post("/api/v1/teams", headers=admin.headers, json={"name": unique("nat")})
    assert created.status_code == 201
    assert client.post("/api/v1/teams", headers=admin.headers,
                       json={"name": team}).status_code == 409

