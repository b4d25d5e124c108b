"""The API through a database outage: 503 problem+json with Retry-After while the database is
unreachable, never any other 5xx, and no 500 afterwards from connections that died with the old
server; a request whose connection is lost before its commit runs once more."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
import psycopg
import pytest
from fastapi import Body
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from api.app import create_app
from api.auth import service as auth_service
from api.deps import DbConn
from core.settings import Settings
from tests.api.helpers import PASSWORD, create_user
from tests.api.live_server import serve
from tests.conftest import insert_patient, unique
from tests.stack import stack


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    at: float
    status: int
    content_type: str
    retry_after: str | None


def hammer(base: str, paths: list[tuple[str, str, dict[str, Any] | None]],
           headers: dict[str, str], stop: threading.Event, answers: list[Answer]) -> None:
    """One client: the paths in turn until told to stop; connection errors are not answers."""
    with httpx.Client(base_url=base, timeout=30) as client:
        n = 0
        while not stop.is_set():
            method, path, form = paths[n % len(paths)]
            n += 1
            try:
                response = client.request(method, path, data=form, headers=headers)
            except httpx.TransportError:
                continue
            answers.append(Answer(at=time.monotonic(), status=response.status_code,
                                  content_type=response.headers.get("content-type", ""),
                                  retry_after=response.headers.get("retry-after")))
            time.sleep(0.02)


@pytest.mark.slow
def test_database_stopped_for_ten_seconds_under_load(
        settings: Settings, pool: ConnectionPool, committed_conn: psycopg.Connection[Any]
        ) -> None:
    team = unique("team")
    patient = insert_patient(committed_conn, team=team)
    # Six nurses, each logging in again now and then (one user's concurrent logins from one
    # address would meet the login throttle's in-flight limit, which is not what this is about).
    usernames = [create_user(committed_conn, role="nurse", teams=[team]) for _ in range(6)]
    committed_conn.close()
    with serve(settings) as (base, _app):
        answers: list[Answer] = []
        stop = threading.Event()
        clients = []
        for username in usernames:
            token = httpx.post(f"{base}/api/v1/auth/token",
                               data={"username": username, "password": PASSWORD}).json()
            paths: list[tuple[str, str, dict[str, Any] | None]] = [
                ("GET", f"/api/v1/patients/{patient}", None),
                ("GET", "/api/v1/triage", None),
                ("POST", "/api/v1/auth/token", {"username": username, "password": PASSWORD}),
                ("GET", f"/api/v1/patients/{patient}/measurements", None),
            ]
            clients.append(threading.Thread(target=hammer, args=(
                base, paths, {"Authorization": f"Bearer {token['access_token']}"}, stop,
                answers)))
        for client in clients:
            client.start()
        time.sleep(3)
        stack("down", "pg")
        down_at = time.monotonic()
        try:
            time.sleep(10)
        finally:
            restart_at = time.monotonic()
            stack("up", "pg")
            up_at = time.monotonic()
        time.sleep(12)
        stop.set()
        for client in clients:
            client.join(60)
    pool.check()  # the session's pool is shared with later tests

    def window(start: float, end: float) -> list[Answer]:
        return [a for a in answers if start <= a.at < end]

    # From a second after the stop (an answer computed just before it may arrive just after) to
    # the restart's start (the server accepts connections before stack.sh returns).
    during = window(down_at + 1, restart_at)
    after = window(up_at + 5, float("inf"))
    counts: dict[int, int] = {}
    for answer in answers:
        counts[answer.status] = counts.get(answer.status, 0) + 1
    print(f"answers by status: {dict(sorted(counts.items()))}; during the outage"
          f" {len(during)}, of which 503: {sum(a.status == 503 for a in during)}")
    other_5xx = [a for a in answers if a.status >= 500 and a.status != 503]
    assert other_5xx == [], other_5xx
    unavailable = [a for a in answers if a.status == 503]
    assert unavailable, "the outage was answered"
    assert all(a.content_type == "application/problem+json" and a.retry_after == str(
        settings.db_retry_after_seconds) for a in unavailable)
    assert during
    assert all(a.status == 503 for a in during)
    # Five seconds after the restart everything answers again, first time.
    assert after
    assert all(a.status == 200 for a in after), {a.status for a in after}


@dataclass(slots=True, kw_only=True)
class Terminating:
    client: TestClient
    calls: int = 0
    kills: int = 1
    """How many calls in a row lose their connection."""


@pytest.fixture
def terminating(settings: Settings) -> Iterator[Terminating]:
    """The app with one more route whose first ``kills`` calls kill their own database
    connection before anything is committed (as a database restart would)."""
    app = create_app(settings)
    state: list[Terminating] = []

    def echo(conn: DbConn, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        state[0].calls += 1
        if state[0].calls <= state[0].kills:
            conn.execute("select pg_terminate_backend(pg_backend_pid())")
        row = conn.execute("select 1 as ok").fetchone()
        return {"echo": body, "ok": row["ok"] if row else None}

    app.add_api_route("/test/echo", echo, methods=["POST"])
    with TestClient(app) as client:
        state.append(Terminating(client=client))
        yield state[0]


def test_a_request_whose_connection_dies_before_the_commit_is_run_again(
        terminating: Terminating) -> None:
    response = terminating.client.post("/test/echo", json={"n": 42})
    assert response.status_code == 200, response.text
    assert response.json() == {"echo": {"n": 42}, "ok": 1}
    assert terminating.calls == 2


def test_it_is_run_again_only_once_then_answered_503(
        settings: Settings, terminating: Terminating) -> None:
    terminating.kills = 2
    response = terminating.client.post("/test/echo", json={"n": 1})
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == str(settings.db_retry_after_seconds)
    assert response.json()["type"] == "urn:kol:problem:database-unavailable"
    assert terminating.calls == 2
    assert terminating.client.post("/test/echo", json={"n": 2}).status_code == 200


def test_logins_the_database_failed_do_not_lock_the_user_out(
        settings: Settings, pool: ConnectionPool, committed_conn: psycopg.Connection[Any]
        ) -> None:
    """Each login reserves a try before it checks the password; one that the database failed
    (answered 503, and maybe run again) gives it back instead of counting as a wrong password."""
    username = create_user(committed_conn, role="nurse", teams=[unique("team")])
    address = f"10.9.{uuid.uuid4().int % 250}.1"
    for _ in range(settings.login_attempts_per_user_and_address + 2):
        lost = psycopg.connect(settings.database_url)
        lost.close()
        with pytest.raises(psycopg.OperationalError):
            auth_service.login(lost, settings, username=username, password=PASSWORD,
                               address=address)
    with pool.connection() as conn:
        token = auth_service.login(conn, settings, username=username, password=PASSWORD,
                                   address=address)
    assert token.access_token
