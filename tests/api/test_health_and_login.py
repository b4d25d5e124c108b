from __future__ import annotations

from typing import Any

import psycopg
from fastapi.testclient import TestClient

from core.access import SYSTEM
from tests.conftest import unique
from users import service
from users.schemas import UserCreate


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_reports_database_and_broker(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {"database": "ok", "broker": "ok", "redis": "ok"}


def test_login_issues_a_bearer_token(client: TestClient,
                                     committed_conn: psycopg.Connection[Any]) -> None:
    username = unique("nurse")
    service.create_user(committed_conn, viewer=SYSTEM, data=UserCreate(
        username=username, password="correct horse battery", role="nurse", teams=[unique("t")]))
    ok = client.post("/api/v1/auth/token",
                     data={"username": username, "password": "correct horse battery"})
    assert ok.status_code == 200
    body = ok.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] > 0
    assert body["access_token"]

    bad = client.post("/api/v1/auth/token", data={"username": username, "password": "nope"})
    assert bad.status_code == 401
    assert bad.headers["content-type"] == "application/problem+json"
    assert bad.json()["type"] == "urn:kol:problem:invalid-credentials"
