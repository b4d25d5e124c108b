"""Route permissions for every endpoint of the contract and every role: another team's patient
is invisible (404, absent from lists) on every path, to admins too, role limits answer 403, and
bad tokens
(expired, tampered, wrong key, alg none) answer 401 problem+json."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import psycopg
import pytest
from fastapi.testclient import TestClient

from api.auth import tokens
from core.settings import Settings
from tests.api.helpers import User, make_user
from tests.conftest import insert_patient, unique

PATIENT_NOT_FOUND = "urn:kol:problem:patient-not-found"
SCHEDULE = {"days": ["mon"], "deadline": "12:00", "types": ["spo2"]}


@dataclass(frozen=True, slots=True, kw_only=True)
class World:
    team_a: str
    nurse: User
    clinician: User
    admin: User
    admin_b: User
    patient_a: int
    patient_b: int
    alert_b: int
    pause_b: int
    device_b: str


def _alert(conn: psycopg.Connection[Any], patient: int, severity: str) -> int:
    row = conn.execute("insert into alerts (patient_id, rule, type, severity, reason)"
                       " values (%s, %s, 'spo2', %s, 'test') returning id",
                       (patient, unique("rule"), severity)).fetchone()
    assert row is not None
    return int(row["id"])


@pytest.fixture(scope="module")
def world(client: TestClient, settings: Settings) -> World:
    with psycopg.connect(settings.database_url, autocommit=True,
                         row_factory=psycopg.rows.dict_row) as conn:
        team_a, team_b = unique("team"), unique("team")
        patient_a = insert_patient(conn, team=team_a)
        patient_b = insert_patient(conn, team=team_b)
        alert_b = _alert(conn, patient_b, "green")
        device_b = unique("tab")
        conn.execute("insert into devices (device_id, patient_id, password_hash)"
                     " values (%s, %s, 'x')", (device_b, patient_b))
        pause = conn.execute(
            "insert into patient_pauses (patient_id, starts_at, ends_at, reason)"
            " values (%s, now() + interval '1 day', now() + interval '2 days', 'holiday')"
            " returning id", (patient_b,)).fetchone()
        assert pause is not None
        return World(team_a=team_a,
                     nurse=make_user(client, conn, role="nurse", teams=[team_a]),
                     clinician=make_user(client, conn, role="clinician", teams=[team_a]),
                     admin=make_user(client, conn, role="admin", teams=[team_a]),
                     admin_b=make_user(client, conn, role="admin", teams=[team_b]),
                     patient_a=patient_a, patient_b=patient_b, alert_b=alert_b,
                     pause_b=int(pause["id"]), device_b=device_b)


def _thresholds(client: TestClient, world: World) -> dict[str, Any]:
    response = client.get(f"/api/v1/patients/{world.patient_a}/thresholds",
                          headers=world.clinician.headers)
    assert response.status_code == 200, response.text
    return dict(response.json()["thresholds"])


def _patient_paths(world: World) -> list[tuple[str, str, dict[str, Any] | None]]:
    """Every patient-scoped request of the contract, aimed at team B's patient."""
    b = f"/api/v1/patients/{world.patient_b}"
    return [
        ("GET", b, None),
        ("GET", f"{b}/measurements", None),
        ("GET", f"{b}/measurements?bucket=1d", None),
        ("GET", f"{b}/fhir", None),
        ("GET", f"{b}/thresholds", None),
        ("GET", f"{b}/thresholds/history", None),
        ("GET", f"{b}/access-log", None),
        ("POST", f"{b}/pauses", {"starts_at": (soon := datetime.now(UTC) + timedelta(days=30)
                                               ).isoformat(),
                                 "ends_at": (soon + timedelta(days=1)).isoformat(),
                                 "reason": "x"}),
        ("DELETE", f"{b}/pauses/{world.pause_b}", None),
    ]


@pytest.mark.parametrize("role", ["nurse", "clinician", "admin"])
def test_another_teams_patient_is_not_found_on_every_path(
        client: TestClient, world: World, role: str) -> None:
    user = {"nurse": world.nurse, "clinician": world.clinician, "admin": world.admin}[role]
    thresholds = _thresholds(client, world)
    requests = _patient_paths(world)
    b = f"/api/v1/patients/{world.patient_b}"
    if role != "nurse":  # the clinician-only writes, which a nurse is refused earlier (403)
        requests += [("PUT", f"{b}/thresholds", {"thresholds": thresholds, "reason": "x"}),
                     ("POST", f"{b}/thresholds/preview", {"thresholds": thresholds, "days": 7})]
    if role == "admin":  # and the admin-only ones
        requests += [("POST", f"{b}/devices", None)]
    for method, path, body in requests:
        response = client.request(method, path, json=body, headers=user.headers)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["type"] == PATIENT_NOT_FOUND, (method, path)
    for action in ("acknowledge", "resolve"):
        response = client.post(f"/api/v1/alerts/{world.alert_b}/{action}", json={"note": "x"},
                               headers=user.headers)
        assert response.status_code == 404, (action, response.text)
    if role == "admin":
        response = client.delete(f"/api/v1/devices/{world.device_b}", headers=user.headers)
        assert response.status_code == 404, response.text


@pytest.mark.parametrize("role", ["nurse", "admin"])
def test_another_teams_patient_is_absent_from_lists(client: TestClient, world: World,
                                                    role: str) -> None:
    user = world.nurse if role == "nurse" else world.admin
    for path, key in (("/api/v1/patients?limit=500", "id"), ("/api/v1/triage?limit=500",
                                                            "patient_id"),
                      ("/api/v1/alerts?limit=500", "patient_id")):
        rows = client.get(path, headers=user.headers).json()
        assert world.patient_b not in {r[key] for r in rows}, path
    assert client.get(f"/api/v1/alerts?patient_id={world.patient_b}",
                      headers=user.headers).json() == []
    bulk = client.post("/api/v1/alerts/acknowledge-green",
                       json={"patient_id": world.patient_b, "note": "x"},
                       headers=user.headers)
    assert bulk.status_code in (200, 404)
    if bulk.status_code == 200:
        assert bulk.json() == {"acknowledged": 0}
    # Team B's admin sees it, which shows the lists above could have contained it.
    assert world.patient_b in {r["id"] for r in client.get(
        "/api/v1/patients?limit=500", headers=world.admin_b.headers).json()}


def test_an_admin_enrols_only_into_her_own_teams(client: TestClient, world: World) -> None:
    body = {"display_name": "x", "profile": "kol-standard", "schedule": SCHEDULE}
    refused = client.post("/api/v1/patients", json={**body, "team": world.team_a},
                          headers=world.admin_b.headers)
    assert refused.status_code == 403, refused.text
    assert refused.json()["type"] == "urn:kol:problem:not-team-member"
    new_team = unique("team")
    created = client.post("/api/v1/patients", json={**body, "team": new_team},
                          headers=world.admin_b.headers)
    assert created.status_code == 201, created.text
    assert created.json()["team"] == new_team
    assert client.get(f"/api/v1/patients/{created.json()['id']}",
                      headers=world.admin_b.headers).status_code == 200


def test_nurse_cannot_change_thresholds_and_clinician_can(
        client: TestClient, world: World) -> None:
    thresholds = _thresholds(client, world)
    a = f"/api/v1/patients/{world.patient_a}"
    body = {"thresholds": thresholds, "reason": "permission test"}
    for method, path, payload in (("PUT", f"{a}/thresholds", body),
                                  ("POST", f"{a}/thresholds/preview",
                                   {"thresholds": thresholds, "days": 7})):
        refused = client.request(method, path, json=payload, headers=world.nurse.headers)
        assert refused.status_code == 403, (path, refused.text)
        assert refused.json()["type"] == "urn:kol:problem:forbidden"
        allowed = client.request(method, path, json=payload, headers=world.clinician.headers)
        assert allowed.status_code == 200, (path, allowed.text)


def test_admin_only_endpoints_refuse_nurse_and_clinician(
        client: TestClient, world: World) -> None:
    admin_requests: list[tuple[str, str, dict[str, Any] | None]] = [
        ("POST", "/api/v1/patients", {"display_name": "x", "team": world.team_a,
                                      "profile": "kol-standard", "schedule": SCHEDULE}),
        ("POST", f"/api/v1/patients/{world.patient_a}/devices", None),
        ("DELETE", f"/api/v1/devices/{world.device_b}", None),
        ("GET", "/api/v1/rejections", None),
    ]
    for user in (world.nurse, world.clinician):
        for method, path, body in admin_requests:
            response = client.request(method, path, json=body, headers=user.headers)
            assert response.status_code == 403, (user.role, method, path, response.text)
            assert response.headers["content-type"] == "application/problem+json"
    assert client.get("/api/v1/rejections", headers=world.admin.headers).status_code == 200


def _bad_tokens(settings: Settings, user_id: int, good: str) -> dict[str, str]:
    now = datetime.now(UTC)
    key = settings.jwt_secret.get_secret_value()
    claims = {"sub": str(user_id), "iss": tokens.ISSUER, "iat": now - timedelta(hours=2),
              "exp": now - timedelta(hours=1)}
    header, payload, signature = good.split(".")
    flipped = signature[:5] + ("A" if signature[5] != "A" else "B") + signature[6:]
    live = {**claims, "iat": now, "exp": now + timedelta(minutes=5)}
    return {
        "expired": jwt.encode(claims, key, algorithm=tokens.ALGORITHM),
        "tampered signature": f"{header}.{payload}.{flipped}",
        "wrong key": jwt.encode(live, "another key of at least thirty-two chars!",
                                algorithm=tokens.ALGORITHM),
        "alg none": jwt.encode(live, None, algorithm="none"),
        "other issuer": jwt.encode({**live, "iss": "someone-else"}, key,
                                   algorithm=tokens.ALGORITHM),
        "garbage": "not-a-token",
    }


def test_bad_tokens_answer_401_problem(client: TestClient, world: World,
                                       settings: Settings) -> None:
    good = world.admin.headers["Authorization"].removeprefix("Bearer ")
    user_id = tokens.verify(settings, good).user_id
    paths = ["/api/v1/patients", "/api/v1/triage", "/api/v1/alerts", "/api/v1/rejections",
             f"/api/v1/patients/{world.patient_a}/fhir"]
    for name, token in _bad_tokens(settings, user_id, good).items():
        for path in paths:
            response = client.get(path, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 401, (name, path, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert response.headers["WWW-Authenticate"] == "Bearer"
    # The same requests with the good token work: the refusals above are the token's doing.
    for path in paths:
        assert client.get(path, headers=world.admin.headers).status_code == 200, path


def test_dead_letters_are_scoped_to_the_admins_teams(
        client: TestClient, world: World, committed_conn: psycopg.Connection[Any]) -> None:
    def dead_letter(device_id: str) -> int:
        # The payload stored once (dead_letter_payloads), keyed by its hash: one per topic here.
        row = committed_conn.execute(
            "with p as (insert into dead_letter_payloads (sha256, payload, payload_bytes)"
            " values (sha256(convert_to(%(topic)s, 'UTF8')), '{\"spo2\": 80}', 12) returning id)"
            " insert into rejections (received_at, topic, device_id, msg_id, reason, detail,"
            " payload_id, dedupe_key) select now(), %(topic)s, %(device)s, 'm', 'out_of_range',"
            " 'x', p.id, %(key)s from p returning id",
            {"topic": f"t/{device_id}", "device": device_id, "key": unique("key")}).fetchone()
        assert row is not None
        return int(row["id"])

    of_team_b, of_nobody = dead_letter(world.device_b), dead_letter(unique("ghost"))

    def listed(user: User) -> dict[int, Any]:
        response = client.get("/api/v1/rejections?limit=500", headers=user.headers)
        assert response.status_code == 200, response.text
        return {r["id"]: r["payload"] for r in response.json()}

    assert of_team_b not in listed(world.admin)
    assert listed(world.admin_b)[of_team_b] == '{"spo2": 80}'
    # Input of no known patient is listed for every admin, without its content.
    assert listed(world.admin)[of_nobody] is None
    assert listed(world.admin_b)[of_nobody] is None
