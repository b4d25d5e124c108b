"""The triage cache: pages are shared for a while, and every change to alerts or a write through
the API is seen at once. The app here keeps pages for 60 s, so anything fresh inside a test came
from an invalidation, not from expiry."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.settings import Settings
from tests.api.helpers import User, make_user
from tests.api.test_patients import enrol
from tests.conftest import unique
from triage.cache import CachedPage, TriageCache


@pytest.fixture(scope="module")
def cached_client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings.model_copy(update={"triage_cache_seconds": 60.0}))
    with TestClient(app) as client:
        deadline = time.monotonic() + 10
        while not app.state.alert_hub.connected.is_set():
            assert time.monotonic() < deadline, "the alert-event listener did not connect"
            time.sleep(0.05)
        yield client


def _worst(client: TestClient, nurse: User, team: str, patient_id: int) -> str | None:
    response = client.get("/api/v1/triage", params={"team": team}, headers=nurse.headers)
    assert response.status_code == 200, response.text
    worst: str | None = {r["patient_id"]: r for r in response.json()}[patient_id][
        "worst_severity"]
    return worst


def test_an_alert_event_clears_the_cached_page(
        cached_client: TestClient, committed_conn: psycopg.Connection[Any]) -> None:
    team = unique("team")
    admin = make_user(cached_client, committed_conn, role="admin", teams=[team])
    nurse = make_user(cached_client, committed_conn, role="nurse", teams=[team])
    patient = enrol(cached_client, admin, team)["id"]
    assert _worst(cached_client, nurse, team, patient) is None

    # An alert written without an event (no notification) is not seen: the page is cached.
    alert = committed_conn.execute(
        "insert into alerts (patient_id, rule, type, severity, status, reason)"
        " values (%s, 'absolute', 'spo2', 'red', 'open', 'test') returning id",
        (patient,)).fetchone()
    assert alert is not None
    assert _worst(cached_client, nurse, team, patient) is None

    # Its event, committed by another connection, reaches the listener and clears the cache.
    committed_conn.execute("insert into alert_events (alert_id, patient_id, event, severity)"
                           " values (%s, %s, 'opened', 'red')", (alert["id"], patient))
    deadline = time.monotonic() + 5
    while _worst(cached_client, nurse, team, patient) is None:
        assert time.monotonic() < deadline, "the alert event did not clear the triage cache"
        time.sleep(0.05)


def test_a_write_through_the_api_is_seen_by_the_next_read_and_teams_never_share_pages(
        cached_client: TestClient, committed_conn: psycopg.Connection[Any]) -> None:
    team, other_team = unique("team"), unique("team")
    admin = make_user(cached_client, committed_conn, role="admin", teams=[team])
    nurse = make_user(cached_client, committed_conn, role="nurse", teams=[team])
    other = make_user(cached_client, committed_conn, role="nurse", teams=[other_team])
    first = enrol(cached_client, admin, team)["id"]

    def listed(user: User, team_name: str) -> list[int]:
        response = cached_client.get("/api/v1/triage", params={"team": team_name},
                                     headers=user.headers)
        return [r["patient_id"] for r in response.json()]

    assert listed(nurse, team) == [first]
    assert listed(other, team) == []  # same query, other teams: not the cached page

    # Enrolment raises no alert event; the write itself clears this process's cache.
    second = enrol(cached_client, admin, team)["id"]
    assert listed(nurse, team) == [first, second]


def test_pages_expire_and_a_page_read_before_a_change_is_not_stored() -> None:
    now = [100.0]
    cache = TriageCache(seconds=1.0, clock=lambda: now[0])
    page = CachedPage(body=b"[]", next_cursor=None)
    cache.put("key", page, generation=cache.generation)
    assert cache.get("key") is page
    now[0] += 1.0
    assert cache.get("key") is None

    # A page computed while an alert event arrived may have read the old state.
    generation = cache.generation
    cache.push(42)
    cache.put("key", page, generation=generation)
    assert cache.get("key") is None

    off = TriageCache(seconds=0.0)
    off.put("key", page, generation=off.generation)
    assert off.get("key") is None
