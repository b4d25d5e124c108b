"""Request bodies limited before parsing, pauses bounded, /readyz cheap and discreet."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.health import HEALTH_CLIENT_PREFIX
from core.settings import Settings
from tests.api.helpers import make_user
from tests.conftest import insert_patient, unique


@pytest.fixture(scope="module")
def small_client(settings: Settings) -> Iterator[TestClient]:
    limited = settings.model_copy(update={"max_request_body_bytes": 4096,
                                          "readyz_cache_seconds": 60.0})
    with TestClient(create_app(limited)) as client:
        yield client


def _is_413_problem(response: Any) -> None:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:kol:problem:payload-too-large"


def test_a_declared_oversized_body_is_refused_before_it_is_read(small_client: TestClient
                                                                 ) -> None:
    # Even an endpoint that needs no authentication: the limit comes before everything.
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    _is_413_problem(small_client.post("/api/v1/auth/token", content=b"u" * 5000, headers=form))


def test_a_chunked_oversized_body_is_refused(small_client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b"x" * 1000

    _is_413_problem(small_client.post("/api/v1/patients", content=chunks(),
                                      headers={"Content-Type": "application/json"}))


def test_bodies_within_the_limit_are_served(small_client: TestClient) -> None:
    answer = small_client.post("/api/v1/auth/token", data={"username": "x", "password": "y"})
    assert answer.status_code == 401


def test_pauses_are_bounded_in_length(small_client: TestClient,
                                      committed_conn: psycopg.Connection[Any]) -> None:
    client = small_client
    team = unique("team")
    nurse = make_user(client, committed_conn, role="nurse", teams=[team])
    patient = insert_patient(committed_conn, team=team)
    start = datetime.now(UTC) + timedelta(days=1)
    for days, status in ((90, 201), (91, 422), (3650, 422)):
        answer = client.post(f"/api/v1/patients/{patient}/pauses", headers=nurse.headers, json={
            "starts_at": start.isoformat(), "ends_at": (start + timedelta(days=days)).isoformat(),
            "reason": "indlagt"})
        assert answer.status_code == status, (days, answer.text)
    far = datetime.now(UTC) + timedelta(days=400)
    answer = client.post(f"/api/v1/patients/{patient}/pauses", headers=nurse.headers, json={
        "starts_at": far.isoformat(), "ends_at": (far + timedelta(days=1)).isoformat(),
        "reason": "ferie"})
    assert answer.status_code == 422


def _broker_connections() -> int:
    log = Path(os.environ["KOL_STACK_DIR"]) / "mosquitto" / "mosquitto.log"
    # Only the health probe's connections: a gateway reconnecting meanwhile is not /readyz's.
    return log.read_text(errors="replace").count(f"as {HEALTH_CLIENT_PREFIX}")


def test_readyz_answers_from_cached_checks(small_client: TestClient) -> None:
    before = _broker_connections()
    for _ in range(20):
        assert small_client.get("/readyz").status_code == 200
    assert _broker_connections() - before <= 1


def test_readyz_reveals_no_internals(settings: Settings) -> None:
    wrong = settings.redis_url.replace("redis://:", "redis://:wrong")
    with TestClient(create_app(settings.model_copy(update={"redis_url": wrong}))) as client:
        answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json() == {"status": "not ready",
                             "checks": {"database": "ok", "broker": "ok", "redis": "failing"}}
    assert "timescale" not in answer.text.lower()
