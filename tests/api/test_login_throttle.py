"""Login throttling with the real Redis: lockout per username and per client address, 429
problem+json with Retry-After, and a successful login clearing the username's failures."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import throttle
from core.settings import Settings
from tests.api.helpers import PASSWORD, make_user


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


def test_username_locked_after_repeated_failures_and_reset_by_success(
        app: FastAPI, client: TestClient, committed_conn: psycopg.Connection[Any]) -> None:
    nurse = make_user(client, committed_conn, role="nurse", teams=[])
    http = client_from(app)
    for _ in range(throttle.USER_LIMIT - 1):
        assert login(http, nurse.username, "wrong").status_code == 401
    # Below the limit, the right password still works and clears the count.
    assert login(http, nurse.username, PASSWORD).status_code == 200
    for _ in range(throttle.USER_LIMIT):
        assert login(http, nurse.username, "wrong").status_code == 401
    locked = login(client_from(app), nurse.username, PASSWORD)  # from any address
    assert locked.status_code == 429
    assert locked.headers["content-type"] == "application/problem+json"
    assert locked.json()["type"] == "urn:kol:problem:too-many-login-attempts"
    assert 0 < int(locked.headers["Retry-After"]) <= throttle.WINDOW_SECONDS


def test_address_locked_after_guessing_many_usernames(
        app: FastAPI, client: TestClient, committed_conn: psycopg.Connection[Any]) -> None:
    nurse = make_user(client, committed_conn, role="nurse", teams=[])
    http = client_from(app)
    for i in range(throttle.ADDRESS_LIMIT):
        assert login(http, f"guess-{uuid.uuid4().hex[:8]}-{i}", "wrong").status_code == 401
    assert login(http, nurse.username, PASSWORD).status_code == 429
    # The same user from another address is not affected.
    assert login(client_from(app), nurse.username, PASSWORD).status_code == 200
