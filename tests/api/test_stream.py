"""The alert event stream against a real uvicorn server: events inserted by another connection
arrive within a second, reconnecting replays exactly what was missed, and other teams' events
never reach a nurse."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from ingest import repository as ingest_repository
from ingest.schemas import LATE_READINGS_CHANNEL
from ingest.service import late_reading_notices
from tests.api.helpers import User, make_user
from tests.api.live_server import serve
from tests.conftest import insert_patient, unique


@dataclass(frozen=True, slots=True, kw_only=True)
class Sse:
    id: int | None
    """None on ``readings`` events (not replayed)."""
    event: str
    data: dict[str, Any]


@pytest.fixture(scope="module")
def live_url(settings: Settings) -> Iterator[str]:
    with serve(settings) as (url, _):
        yield url


def events(lines: Iterator[str]) -> Iterator[Sse]:
    """Parse SSE lines; comments and the retry field are skipped."""
    fields: dict[str, str] = {}
    for line in lines:
        if line == "":
            if "data" in fields:
                yield Sse(id=int(fields["id"]) if "id" in fields else None, event=fields["event"],
                          data=json.loads(fields["data"]))
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            fields[name] = value


def add_event(conn: psycopg.Connection[Any], patient_id: int, event: str = "opened") -> int:
    """An alert and one lifecycle event, committed by this (other) connection."""
    alert = conn.execute(
        "insert into alerts (patient_id, rule, type, severity, reason)"
        " values (%s, %s, 'spo2', 'yellow', 'test') returning id",
        (patient_id, unique("rule"))).fetchone()
    assert alert is not None
    row = conn.execute(
        "insert into alert_events (alert_id, patient_id, event, severity)"
        " values (%s, %s, %s, 'yellow') returning id", (alert["id"], patient_id, event)).fetchone()
    assert row is not None
    return int(row["id"])


@pytest.fixture
def teams(client: TestClient, committed_conn: psycopg.Connection[Any]
          ) -> tuple[User, int, int]:
    """A nurse of team A, a patient of team A and one of team B."""
    team_a, team_b = unique("team"), unique("team")
    patient_a = insert_patient(committed_conn, team=team_a)
    patient_b = insert_patient(committed_conn, team=team_b)
    return make_user(client, committed_conn, role="nurse", teams=[team_a]), patient_a, patient_b


def test_events_arrive_within_a_second_and_only_for_the_viewers_teams(
        live_url: str, teams: tuple[User, int, int],
        committed_conn: psycopg.Connection[Any]) -> None:
    nurse, patient_a, patient_b = teams
    with httpx.Client(base_url=live_url, timeout=10) as http, http.stream(
            "GET", "/api/v1/alerts/stream", headers=nurse.headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = events(response.iter_lines())
        add_event(committed_conn, patient_b)
        committed = time.monotonic()
        mine = add_event(committed_conn, patient_a, "escalated")
        received = next(stream)
        latency = time.monotonic() - committed
        # Team B's event was committed first: the next event seen being team A's shows it was
        # never delivered.
        assert received.id == mine
        assert received.event == "escalated"
        assert received.data["alert"]["patient_id"] == patient_a
        assert received.data["event_id"] == mine
        assert latency < 1.0, f"event took {latency:.3f} s"


def test_late_readings_arrive_with_their_values_and_only_for_the_viewers_teams(
        live_url: str, teams: tuple[User, int, int],
        committed_conn: psycopg.Connection[Any]) -> None:
    """Readings stored late come as ``event: readings`` with what a page needs to place them
    (type, time, value), without an id: the stream's position stays the last alert event's."""
    nurse, patient_a, patient_b = teams
    measured = datetime(2026, 11, 20, 8, 30, 15, 123456, tzinfo=UTC)
    us = int((measured - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()) * 1_000_000 \
        + measured.microsecond
    rows = [(patient, "spo2", us + i, 93.0 + i, late, "dev", "m1")
            for patient in (patient_b, patient_a) for i, late in ((0, True), (1, False))]
    rows += [(patient_a, "weight", us + i, 80.0, True, "dev", "m2") for i in range(60)]
    with httpx.Client(base_url=live_url, timeout=10) as http, http.stream(
            "GET", "/api/v1/alerts/stream", headers=nurse.headers) as response:
        stream = events(response.iter_lines())
        with committed_conn.transaction():
            ingest_repository.notify(committed_conn, LATE_READINGS_CHANNEL,
                                     late_reading_notices(rows))
        mine = add_event(committed_conn, patient_a)
        received = [next(stream) for _ in range(3)]
    # Team B's notice came first and never arrived; the late one of two readings only; 61 late
    # readings of patient A in two events (a notice stays under PostgreSQL's payload limit).
    assert [(e.event, e.id) for e in received] == [("readings", None), ("readings", None),
                                                   ("opened", mine)]
    first, second = received[0].data, received[1].data
    assert first["patient_id"] == second["patient_id"] == patient_a
    readings = first["readings"] + second["readings"]
    assert len(readings) == 61
    assert readings[0] == {"type": "spo2", "measured_at": "2026-11-20T08:30:15.123456Z",
                           "value": 93.0, "late": True}
    assert {r["type"] for r in readings[1:]} == {"weight"}


def test_a_conversation_change_names_the_patient_and_reaches_only_her_team(
        live_url: str, client: TestClient, teams: tuple[User, int, int],
        committed_conn: psycopg.Connection[Any]) -> None:
    """Her message (written as ingest stores it), a colleague's reply through the API and the
    read receipt it makes each notify, in their transactions; a stream sends ``event: messages``
    naming the patient, never the text, and only to viewers who see her."""
    nurse, patient_a, patient_b = teams
    secret = unique("text")

    def message_from(patient: int) -> int:
        row = committed_conn.execute(
            "insert into patient_messages (patient_id, direction, body, written_at, device_id,"
            " msg_id) values (%s, 'patient', %s, now(), 'dev', %s) returning id",
            (patient, secret, unique("m"))).fetchone()
        assert row is not None
        return int(row["id"])

    with httpx.Client(base_url=live_url, timeout=10) as http, http.stream(
            "GET", "/api/v1/alerts/stream", headers=nurse.headers) as response:
        stream = events(response.iter_lines())
        message_from(patient_b)
        hers = message_from(patient_a)
        first = next(stream)
        # A reply marks her message read in the same transaction: one notice for both.
        reply = client.post(f"/api/v1/patients/{patient_a}/messages", headers=nurse.headers,
                            json={"text": "Vi ringer i eftermiddag", "reply_to": hers})
        assert reply.status_code == 201, reply.text
        second = next(stream)
        mine = add_event(committed_conn, patient_a)
        third = next(stream)
    assert [(e.event, e.id, e.data) for e in (first, second)] == \
        [("messages", None, {"patient_id": patient_a})] * 2
    assert (third.event, third.id) == ("opened", mine)
    assert secret not in json.dumps(first.data)


def test_reconnect_replays_exactly_the_missed_events(
        live_url: str, teams: tuple[User, int, int],
        committed_conn: psycopg.Connection[Any]) -> None:
    nurse, patient_a, patient_b = teams
    with httpx.Client(base_url=live_url, timeout=10) as http:
        with http.stream("GET", "/api/v1/alerts/stream", headers=nurse.headers) as response:
            stream = events(response.iter_lines())
            add_event(committed_conn, patient_a)
            seen = next(stream).id
        missed = []
        for event in ("opened", "acknowledged", "resolved"):
            missed.append(add_event(committed_conn, patient_a, event))
            add_event(committed_conn, patient_b, event)
        with http.stream("GET", "/api/v1/alerts/stream",
                         headers={**nurse.headers, "Last-Event-ID": str(seen)}) as response:
            stream = events(response.iter_lines())
            replayed = [next(stream) for _ in missed]
            assert [e.id for e in replayed] == missed
            assert [e.event for e in replayed] == ["opened", "acknowledged", "resolved"]
            # And the stream goes on live after the replay, with nothing in between.
            after = add_event(committed_conn, patient_a)
            assert next(stream).id == after


def test_query_token_and_last_event_id_for_eventsource_clients(
        live_url: str, teams: tuple[User, int, int],
        committed_conn: psycopg.Connection[Any]) -> None:
    nurse, patient_a, _ = teams
    before = add_event(committed_conn, patient_a)
    missed = add_event(committed_conn, patient_a)
    token = nurse.headers["Authorization"].removeprefix("Bearer ")
    with httpx.Client(base_url=live_url, timeout=10) as http:
        with http.stream("GET", "/api/v1/alerts/stream",
                         params={"access_token": token, "last_event_id": before}) as response:
            assert response.status_code == 200
            assert next(events(response.iter_lines())).id == missed
        refused = http.get("/api/v1/alerts/stream", params={"access_token": token + "x"})
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        assert http.get("/api/v1/alerts/stream").status_code == 401
