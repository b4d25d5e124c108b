"""The notification API: the team admin edits the rota, chain and policy (a nurse may read but
not change them, another team's admin sees 404, people outside the team are refused), contact
details and push subscriptions, and the delivery status of an alert."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from api.app import create_app
from core.settings import Settings
from simulators.receivers import SmsGatewaySink
from tests.api.helpers import make_user
from tests.notifications.conftest import Team, raise_alert, run
from users import repository as users_repository


@pytest.fixture(scope="module")
def client(settings: Settings, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[TestClient]:
    app_settings = settings.model_copy(update={
        "vapid_private_key_file": tmp_path_factory.mktemp("vapid") / "vapid.pem"})
    with TestClient(create_app(app_settings)) as test_client:
        yield test_client


def _id(pool: ConnectionPool, username: str) -> int:
    with pool.connection() as conn:
        row = users_repository.find_by_username(conn, username)
    assert row is not None
    return int(row["id"])


def test_team_admin_edits_rota_chain_and_policy(client: TestClient, pool: ConnectionPool,
                                                committed_conn: Any, team: Team) -> None:
    admin = make_user(client, committed_conn, role="admin", teams=[team.name])
    nurse = make_user(client, committed_conn, role="nurse", teams=[team.name])
    other_admin = make_user(client, committed_conn, role="admin", teams=["Et andet team"])
    nurse_id = _id(pool, nurse.username)
    url = f"/api/v1/teams/{team.id}/notifications"

    rota = {"slots": [
        {"user_id": nurse_id, "role": "primary", "day": "holiday", "starts": "07:00",
         "ends": "07:00"},
        {"user_id": team.second, "role": "secondary", "day": "sat", "starts": "22:00",
         "ends": "06:00"}]}
    response = client.put(f"{url}/rota", json=rota, headers=admin.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(s["user_id"], s["day"], s["starts"], s["ends"]) for s in body["rota"]] == [
        (team.second, "sat", "22:00:00", "06:00:00"), (nurse_id, "holiday", "07:00:00",
                                                       "07:00:00")]

    chain = {"steps": [{"target": "primary", "after_minutes": 0},
                       {"target": "secondary", "after_minutes": 5},
                       {"target": "user", "user_id": team.lead, "after_minutes": 15}]}
    response = client.put(f"{url}/escalation", json=chain, headers=admin.headers)
    assert response.status_code == 200, response.text
    assert [s["after_minutes"] for s in response.json()["escalation"]] == [0, 5, 15]

    policy = client.get(url, headers=nurse.headers).json()["policy"]
    assert policy["red"]["mode"] == "escalate"
    policy["yellow"]["mode"] = "escalate"
    response = client.put(f"{url}/policy", json=policy, headers=admin.headers)
    assert response.status_code == 200, response.text
    assert response.json()["policy_is_default"] is False

    # A nurse reads but does not change; another team's admin does not see the team.
    assert client.put(f"{url}/rota", json=rota, headers=nurse.headers).json()["type"] == \
        "urn:kol:problem:not-team-admin"
    assert client.get(url, headers=other_admin.headers).status_code == 404
    assert client.put(f"{url}/rota", json=rota, headers=other_admin.headers).status_code == 404

    # Bad input: a stranger in the rota, a decreasing chain, day hours the wrong way round.
    stranger = _id(pool, other_admin.username)
    bad = client.put(f"{url}/rota", json={"slots": [{**rota["slots"][0], "user_id": stranger}]},
                     headers=admin.headers)
    assert bad.status_code == 409
    assert bad.json()["type"] == "urn:kol:problem:team-member-not-found"
    bad = client.put(f"{url}/escalation", json={"steps": [
        {"target": "primary", "after_minutes": 10}, {"target": "secondary", "after_minutes": 5}]},
        headers=admin.headers)
    assert bad.status_code == 422
    assert "must not decrease" in bad.text
    bad = client.put(f"{url}/policy", json={**policy, "day_starts": "18:00",
                                             "day_ends": "08:00"}, headers=admin.headers)
    assert bad.status_code == 422
    # Nothing of the refused requests was kept.
    assert len(client.get(url, headers=admin.headers).json()["rota"]) == 2


def test_contact_push_subscription_and_delivery_status(
        client: TestClient, pool: ConnectionPool, committed_conn: Any, notify_settings: Settings,
        team: Team, sms: SmsGatewaySink) -> None:
    nurse = make_user(client, committed_conn, role="nurse", teams=[team.name])
    outsider = make_user(client, committed_conn, role="nurse", teams=["Et andet team"])
    response = client.put("/api/v1/me/contact", json={"email": "anne@kommune.example",
                                                      "phone": "+4520123456"},
                          headers=nurse.headers)
    assert response.status_code == 200, response.text
    bad = client.put("/api/v1/me/contact", json={"phone": "20123456"}, headers=nurse.headers)
    assert bad.status_code == 422

    key = client.get("/api/v1/notifications/vapid-public-key", headers=nurse.headers).json()
    assert len(key["public_key"]) == 87  # 65 bytes, base64url
    sub: dict[str, Any] = {"endpoint": "https://push.example/abc",
                           "keys": {"p256dh": "B" * 87, "auth": "A" * 22}}
    response = client.post("/api/v1/me/push-subscriptions", json=sub, headers=nurse.headers)
    assert response.status_code == 201
    assert response.json()["push_subscriptions"] == 1
    assert client.delete("/api/v1/me/push-subscriptions", params={"endpoint": sub["endpoint"]},
                         headers=nurse.headers).status_code == 204

    alert_id = raise_alert(pool, team.patients[0])
    run(pool, notify_settings)
    sms.wait_for(1, timeout=5)
    response = client.get(f"/api/v1/alerts/{alert_id}/notifications", headers=nurse.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["chain_state"] == "active"
    assert body["next_step"] == 2
    assert {(d["channel"], d["status"]) for d in body["deliveries"]} == {("email", "sent"),
                                                                         ("sms", "sent")}
    status = client.get("/api/v1/notifications/status", params={"alert_id": [alert_id]},
                        headers=nurse.headers).json()
    assert status == {str(alert_id): {"sent": 2}}
    assert client.get(f"/api/v1/alerts/{alert_id}/notifications",
                      headers=outsider.headers).status_code == 404
    assert client.get("/api/v1/notifications/status", params={"alert_id": [alert_id]},
                      headers=outsider.headers).json() == {}


def test_times_with_an_offset_are_refused(client: TestClient, committed_conn: Any,
                                          team: Team) -> None:
    admin = make_user(client, committed_conn, role="admin", teams=[team.name])
    bad = client.put(f"/api/v1/teams/{team.id}/notifications/policy",
                     json={"day_starts": "07:00:00+02:00"}, headers=admin.headers)
    assert bad.status_code == 422
    assert "without an offset" in bad.text
