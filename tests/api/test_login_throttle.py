"""Login throttling with the real Redis: lockout per username + address and per address, a
slower per-username limit that never locks the account for everyone, 429 problem+json with
Retry-After, and atomic: concurrent guesses cost at most the configured number of password
checks."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import throttle
from core.settings import Settings
from tests.api.helpers import PASSWORD, make_user
from tests.api.live_server import serve


@pytest.fixture(scope="module")
def app(settings: Settings) -> Iterator[FastAPI]:
    app = create_app(settings)
    with TestClient(app):  # runs the lifespan once (the pool) for the clients below
        yield app


def client_from(app: FastAPI) -> TestClient:
    """A client at an address of its own, so address counts do not leak between tests."""
    return TestClient(app, client=(f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}."
                                   f"{uuid.uuid4().int % 250}", 40000))


def login(client: TestClient, username: str, password: str) -> Any:
    return client.post("/api/v1/auth/token", data={"username": username, "password": password})


def test_username_and_address_locked_after_repeated_failures_and_reset_by_success(
        app: FastAPI, settings: Settings, client: TestClient,
        committed_conn: psycopg.Connection[Any]) -> None:
    limit = settings.login_attempts_per_user_and_address
    nurse = make_user(client, committed_conn, role="nurse", teams=[])
    http = client_from(app)
    for _ in range(limit - 1):
        assert login(http, nurse.username, "wrong").status_code == 401
    # Below the limit, the right password still works and clears the count.
    assert login(http, nurse.username, PASSWORD).status_code == 200
    for _ in range(limit):
        assert login(http, nurse.username, "wrong").status_code == 401
    locked = login(http, nurse.username, PASSWORD)  # locked: the password is not even checked
    assert locked.status_code == 429
    assert locked.headers["content-type"] == "application/problem+json"
    assert locked.json()["type"] == "urn:kol:problem:too-many-login-attempts"
    assert 0 < int(locked.headers["Retry-After"]) <= throttle.PAIR_WINDOW_SECONDS


def test_others_failures_do_not_lock_out_a_correct_login_from_a_clean_address(
        app: FastAPI, settings: Settings, client: TestClient,
        committed_conn: psycopg.Connection[Any]) -> None:
    nurse = make_user(client, committed_conn, role="nurse", teams=[])
    attackers = [client_from(app) for _ in range(3)]
    assert 3 * settings.login_attempts_per_user_and_address < settings.login_attempts_per_user
    for attacker in attackers:
        for _ in range(settings.login_attempts_per_user_and_address):
            assert login(attacker, nurse.username, "wrong").status_code == 401
        assert login(attacker, nurse.username, PASSWORD).status_code == 429
    assert login(client_from(app), nurse.username, PASSWORD).status_code == 200


def test_beyond_the_per_username_limit_the_account_is_slowed_not_locked(
        settings: Settings, client: TestClient, committed_conn: psycopg.Connection[Any]) -> None:
    slow = settings.model_copy(update={"login_attempts_per_user": 4, "login_slow_seconds": 1.5})
    app = create_app(slow)
    with TestClient(app):
        nurse = make_user(client, committed_conn, role="nurse", teams=[])
        for _ in range(4):  # spread over addresses: no address is locked out
            assert login(client_from(app), nurse.username, "wrong").status_code == 401
        assert login(client_from(app), nurse.username, "wrong").status_code == 401  # the slot
        slowed = login(client_from(app), nurse.username, PASSWORD)
        assert slowed.status_code == 429
        assert int(slowed.headers["Retry-After"]) <= 2
        time.sleep(1.6)
        assert login(client_from(app), nurse.username, PASSWORD).status_code == 200


def test_address_locked_after_guessing_many_usernames(
        app: FastAPI, settings: Settings, client: TestClient,
        committed_conn: psycopg.Connection[Any]) -> None:
    nurse = make_user(client, committed_conn, role="nurse", teams=[])
    http = client_from(app)
    for i in range(settings.login_attempts_per_address):
        assert login(http, f"guess-{uuid.uuid4().hex[:8]}-{i}", "wrong").status_code == 401
    assert login(http, nurse.username, PASSWORD).status_code == 429
    # The same user from another address is not affected.
    assert login(client_from(app), nurse.username, PASSWORD).status_code == 200


def test_concurrent_guesses_cost_at_most_the_configured_password_checks(
        settings: Settings, client: TestClient, committed_conn: psycopg.Connection[Any]) -> None:
    """40 wrong passwords at once for one username from one address: a 401 means the password
    was checked (a 429 answers before the check), so at most the limit may be 401."""
    nurse = make_user(client, committed_conn, role="nurse", teams=[])
    with serve(settings) as (url, _app):
        def guess(_: int) -> int:
            return httpx.post(f"{url}/api/v1/auth/token", timeout=60, data={
                "username": nurse.username, "password": "wrong"}).status_code

        with ThreadPoolExecutor(max_workers=40) as pool:
            answers = list(pool.map(guess, range(40)))
    assert sorted(set(answers)) == [401, 429]
    assert answers.count(401) == settings.login_attempts_per_user_and_address
