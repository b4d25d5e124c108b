"""The access log: every read of one patient's data is recorded (who, when, what, from where)
in an append-only table; the patient's team reads it per patient, the team's admins per user;
old entries go after the configured retention, never under a year."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from psycopg import errors
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from access_log.tasks import purge_with
from api.app import create_app
from core.settings import Settings
from tests.api.helpers import User, make_user
from tests.conftest import insert_patient, unique

ADDRESS = "10.20.30.40"


@pytest.fixture(scope="module")
def app(settings: Settings) -> Iterator[FastAPI]:
    app = create_app(settings)
    with TestClient(app):
        yield app


@pytest.fixture
def ward(app: FastAPI, committed_conn: psycopg.Connection[Any]
         ) -> tuple[TestClient, int, User, User, User]:
    """A client at ADDRESS, a patient of a new team, its nurse and admin, and another team's
    admin."""
    http = TestClient(app, client=(ADDRESS, 51000))
    team = unique("team")
    patient = insert_patient(committed_conn, team=team)
    nurse = make_user(http, committed_conn, role="nurse", teams=[team])
    admin = make_user(http, committed_conn, role="admin", teams=[team])
    stranger = make_user(http, committed_conn, role="admin", teams=[unique("other")])
    return http, patient, nurse, admin, stranger


def _user_id(conn: psycopg.Connection[Any], username: str) -> int:
    row = conn.execute("select id from users where username = %s", (username,)).fetchone()
    assert row is not None
    return int(row["id"])


def test_every_read_of_a_patients_data_is_recorded_and_listed_for_the_teams_admins(
        ward: tuple[TestClient, int, User, User, User],
        committed_conn: psycopg.Connection[Any]) -> None:
    http, patient, nurse, admin, stranger = ward
    reads = [(f"/api/v1/patients/{patient}", "overview"),
             (f"/api/v1/patients/{patient}/measurements?type=spo2", "measurements"),
             (f"/api/v1/patients/{patient}/measurements?bucket=1d", "measurements"),
             (f"/api/v1/patients/{patient}/fhir", "fhir"),
             (f"/api/v1/alerts?patient_id={patient}", "alerts"),
             (f"/api/v1/patients/{patient}/thresholds", "thresholds"),
             (f"/api/v1/patients/{patient}/thresholds/history", "threshold-history")]
    before = datetime.now(UTC)
    for path, _what in reads:
        assert http.get(path, headers=nurse.headers).status_code == 200, path
    # A read refused (another team's patient) or of a list of many patients is not one.
    assert http.get(f"/api/v1/patients/{patient}", headers=stranger.headers).status_code == 404
    assert http.get("/api/v1/triage", headers=nurse.headers).status_code == 200

    listed = http.get(f"/api/v1/patients/{patient}/access-log", headers=admin.headers)
    assert listed.status_code == 200, listed.text
    entries = listed.json()[::-1]
    assert [(e["username"], e["what"]) for e in entries] == [
        (nurse.username, what) for _path, what in reads]
    assert {e["address"] for e in entries} == {ADDRESS}
    assert all(before <= datetime.fromisoformat(e["at"]) <= datetime.now(UTC) for e in entries)
    assert entries[1]["detail"] == {"type": "spo2"}
    assert entries[2]["detail"] == {"bucket": "1d"}

    nurse_id = _user_id(committed_conn, nurse.username)
    by_user = http.get(f"/api/v1/users/{nurse_id}/access-log?limit=3", headers=admin.headers)
    assert [e["what"] for e in by_user.json()] == ["threshold-history", "thresholds", "alerts"]
    rest = http.get(f"/api/v1/users/{nurse_id}/access-log?limit=10&cursor="
                    f"{by_user.headers['X-Next-Cursor']}", headers=admin.headers)
    assert len(rest.json()) == 4
    assert "X-Next-Cursor" not in rest.headers


def test_a_patients_log_is_read_by_her_whole_team_and_by_nobody_outside_it(
        ward: tuple[TestClient, int, User, User, User],
        committed_conn: psycopg.Connection[Any]) -> None:
    """The access log is part of the patient's audit trail, which her team reads: nurses and
    clinicians of her team list it; nobody of another team does, whatever the role (404, as for
    any of another team's patients)."""
    http, patient, nurse, admin, stranger = ward
    team = committed_conn.execute(
        "select t.name from teams t join patients p on p.team_id = t.id where p.id = %s",
        (patient,)).fetchone()
    assert team is not None
    clinician = make_user(http, committed_conn, role="clinician", teams=[team["name"]])
    assert http.get(f"/api/v1/patients/{patient}", headers=admin.headers).status_code == 200
    for member in (nurse, clinician, admin):
        listed = http.get(f"/api/v1/patients/{patient}/access-log", headers=member.headers)
        assert listed.status_code == 200, (member.username, listed.text)
        assert [e["username"] for e in listed.json()] == [admin.username], member.username
    other_team = unique("other")
    for role in ("nurse", "clinician"):
        outsider = make_user(http, committed_conn, role=role, teams=[other_team])
        refused = http.get(f"/api/v1/patients/{patient}/access-log", headers=outsider.headers)
        assert refused.status_code == 404, (role, refused.text)
    assert http.get(f"/api/v1/patients/{patient}/access-log",
                    headers=stranger.headers).status_code == 404
    # What one user read across patients stays with the team's admins.
    nurse_id = _user_id(committed_conn, nurse.username)
    assert http.get(f"/api/v1/users/{nurse_id}/access-log",
                    headers=nurse.headers).status_code == 403
    assert http.get(f"/api/v1/users/{nurse_id}/access-log",
                    headers=stranger.headers).json() == []


@pytest.mark.parametrize("statement", [
    "update access_log set username = 'someone else'",
    "delete from access_log",
    "truncate access_log",
    "select purge_access_log(interval '30 days')",
    "insert into access_log (at, username, patient_id, what, address)"
    " select now() - interval '20 years', 'x', id, 'overview', 'x' from patients limit 1",
])
def test_the_services_cannot_change_or_empty_the_log(settings: Settings,
                                                      statement: str) -> None:
    with psycopg.connect(settings.database_url, autocommit=True) as conn, \
            pytest.raises((errors.InsufficientPrivilege, errors.RaiseException)):
        conn.execute(statement)


def test_retention_removes_only_what_is_older_than_configured(
        pool: ConnectionPool, owner_url: str, committed_conn: psycopg.Connection[Any]) -> None:
    patient = insert_patient(committed_conn)
    now = datetime.now(UTC)
    with psycopg.connect(owner_url, autocommit=True, row_factory=dict_row) as owner:
        ids = [owner.execute(
            "insert into access_log (at, username, patient_id, what, address)"
            " values (%s, 'anne', %s, 'overview', '10.0.0.1') returning id",
            (at, patient)).fetchone()["id"]  # type: ignore[index]
            for at in (now - timedelta(days=800), now - timedelta(days=400), now)]
    assert purge_with(pool, older_than_days=730) >= 1
    left = [r["id"] for r in committed_conn.execute(
        "select id from access_log where id = any(%s) order by id", (ids,))]
    assert left == ids[1:]
