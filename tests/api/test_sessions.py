"""Dashboard sessions: a rotating refresh token in an HttpOnly, Secure, SameSite=Strict cookie
renews short access tokens; reuse, idle time, the session's end, logout and deactivation end it,
and with it its access tokens and open streams."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.settings import Settings
from tests.api.helpers import PASSWORD, create_user
from tests.conftest import unique


@pytest.fixture(scope="module")
def app_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"session_refresh_grace_seconds": 0.5})


@pytest.fixture
def browser(app_settings: Settings) -> Iterator[TestClient]:
    """One browser: its own cookie jar, over HTTPS (the cookie is Secure)."""
    with TestClient(create_app(app_settings), base_url="https://testserver") as client:
        yield client


def _session(client: TestClient, username: str) -> dict[str, Any]:
    response = client.post("/api/v1/auth/session",
                           data={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return dict(response.json())


def _set_cookie(client: TestClient, value: str) -> None:
    client.cookies.set("kol_refresh", value, domain="testserver.local", path="/api/v1/auth")


def _me(client: TestClient, token: str) -> int:
    return client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code


def test_login_sets_a_strict_http_only_secure_cookie_and_refresh_rotates_it(
        browser: TestClient, committed_conn: psycopg.Connection[Any]) -> None:
    nurse = create_user(committed_conn, role="nurse", teams=[unique("team")])
    response = browser.post("/api/v1/auth/session", data={"username": nurse, "password": PASSWORD})
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    for attribute in ("HttpOnly", "Secure", "SameSite=strict", "Path=/api/v1/auth"):
        assert attribute.lower() in cookie.lower(), cookie
    body = response.json()
    assert body["expires_in"] > 0
    assert body["idle_timeout"] == 3600
    first = browser.cookies["kol_refresh"]

    renewed = browser.post("/api/v1/auth/refresh", json={"active": True})
    assert renewed.status_code == 200, renewed.text
    assert browser.cookies["kol_refresh"] != first
    assert _me(browser, renewed.json()["access_token"]) == 200
    # The replaced token, presented after the grace period, is taken as stolen: the session
    # ends, and with it the access tokens renewed from it.

    time.sleep(0.6)
    current = browser.cookies["kol_refresh"]
    _set_cookie(browser, first)
    thief = browser.post("/api/v1/auth/refresh", json={"active": True})
    assert thief.status_code == 401
    assert thief.json()["type"] == "urn:kol:problem:session-ended"
    assert _me(browser, renewed.json()["access_token"]) == 401
    _set_cookie(browser, current)
    assert browser.post("/api/v1/auth/refresh", json={"active": True}).status_code == 401


def test_two_tabs_renewing_at_once_both_get_a_token(
        browser: TestClient, committed_conn: psycopg.Connection[Any]) -> None:
    nurse = create_user(committed_conn, role="nurse", teams=[unique("team")])
    _session(browser, nurse)
    old = browser.cookies["kol_refresh"]
    assert browser.post("/api/v1/auth/refresh", json={"active": True}).status_code == 200
    new = browser.cookies["kol_refresh"]
    # The other tab's request left with the old cookie, within the grace period.
    _set_cookie(browser, old)
    other = browser.post("/api/v1/auth/refresh", json={"active": True})
    assert other.status_code == 200
    assert "set-cookie" not in other.headers  # the browser keeps the newer token
    _set_cookie(browser, new)
    assert browser.post("/api/v1/auth/refresh", json={"active": True}).status_code == 200


def test_logout_revokes_the_session_and_its_access_tokens(
        browser: TestClient, committed_conn: psycopg.Connection[Any]) -> None:
    nurse = create_user(committed_conn, role="nurse", teams=[unique("team")])
    token = _session(browser, nurse)["access_token"]
    assert _me(browser, token) == 200
    assert browser.post("/api/v1/auth/logout").status_code == 204
    assert _me(browser, token) == 401
    assert browser.post("/api/v1/auth/refresh", json={"active": True}).status_code == 401


def test_idle_timeout_is_the_shortest_of_the_users_teams(
        browser: TestClient, committed_conn: psycopg.Connection[Any]) -> None:
    quiet, busy = unique("team"), unique("team")
    nurse = create_user(committed_conn, role="nurse", teams=[quiet, busy])
    committed_conn.execute("update teams set idle_timeout_minutes = 10 where name = %s", (busy,))
    assert _session(browser, nurse)["idle_timeout"] == 600
    # Eleven minutes without work: a renewal that reports no work ends the session.
    committed_conn.execute(
        "update user_sessions set last_active_at = now() - interval '11 minutes'"
        " where user_id = (select id from users where username = %s)", (nurse,))
    ended = browser.post("/api/v1/auth/refresh", json={"active": False})
    assert ended.status_code == 401
    assert "idle" in ended.json()["detail"]


def test_work_reported_with_the_renewal_keeps_the_session(
        browser: TestClient, committed_conn: psycopg.Connection[Any]) -> None:
    nurse = create_user(committed_conn, role="nurse", teams=[unique("team")])
    _session(browser, nurse)
    committed_conn.execute(
        "update user_sessions set last_active_at = now() - interval '2 hours'"
        " where user_id = (select id from users where username = %s)", (nurse,))
    assert browser.post("/api/v1/auth/refresh", json={"active": True}).status_code == 200
    assert browser.post("/api/v1/auth/refresh", json={"active": False}).status_code == 200


@pytest.mark.parametrize("change", [
    "update users set active = false where username = %(user)s",
    "update user_sessions set expires_at = now() where user_id ="
    " (select id from users where username = %(user)s)",
])
def test_a_deactivated_user_or_an_expired_session_is_not_renewed(
        browser: TestClient, committed_conn: psycopg.Connection[Any], change: str) -> None:
    nurse = create_user(committed_conn, role="nurse", teams=[unique("team")])
    _session(browser, nurse)
    committed_conn.execute(change, {"user": nurse})
    assert browser.post("/api/v1/auth/refresh", json={"active": True}).status_code == 401


def test_no_cookie_no_session(browser: TestClient) -> None:
    response = browser.post("/api/v1/auth/refresh", json={"active": True})
    assert response.status_code == 401
    assert response.json()["type"] == "urn:kol:problem:session-ended"
