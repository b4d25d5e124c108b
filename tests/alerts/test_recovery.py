"""Recovery of left-over hand-offs when an evaluation keeps failing: attempts counted with
backoff, the row parked after the last one (listed by the API, counted in /metrics), later rows
evaluated meanwhile, and an operator's retry. The failure is injected in the database: a
test-only trigger refuses alerts for one patient."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from alerts.recovery import RecoveryPolicy
from alerts.tasks import recover_pending_with
from tests.alerts.conftest import alerts_of, commit_readings
from tests.alerts.test_lifecycle import T0
from tests.api.helpers import make_user
from tests.conftest import insert_patient, unique


@pytest.fixture
def refuse_alerts_for(owner_conn: psycopg.Connection[Any]) -> Iterator[None]:
    """Patients in ``test_refused_patients`` get no alert: the database refuses them (a trigger
    on ``alerts``, installed by the schema's owner)."""
    owner_conn.execute("create table if not exists test_refused_patients (id bigint)")
    owner_conn.execute(
        "create or replace function test_refuse_alert() returns trigger language plpgsql as $$"
        " begin if exists (select 1 from test_refused_patients where id = new.patient_id) then"
        " raise exception 'test trigger refuses alerts of patient %', new.patient_id; end if;"
        " return new; end $$")
    owner_conn.execute("drop trigger if exists test_refuse_alert on alerts")
    owner_conn.execute("create trigger test_refuse_alert before insert on alerts"
                       " for each row execute function test_refuse_alert()")
    yield
    owner_conn.execute("drop trigger if exists test_refuse_alert on alerts")
    owner_conn.execute("delete from test_refused_patients")


def pending(conn: psycopg.Connection[Any], pending_id: int) -> dict[str, Any] | None:
    row: dict[str, Any] | None = conn.execute(
        "select attempts, parked_at, last_error, next_attempt_at > now() as waiting"
        " from pending_evaluations where id = %s", (pending_id,)).fetchone()
    return row


def test_a_failing_evaluation_backs_off_is_parked_and_does_not_block_later_ones(
        pool: ConnectionPool, client: TestClient, committed_conn: psycopg.Connection[Any],
        refuse_alerts_for: None) -> None:
    poisoned, healthy = insert_patient(committed_conn), insert_patient(committed_conn)
    committed_conn.execute("insert into test_refused_patients values (%s)", (poisoned,))
    bad = commit_readings(committed_conn, [(poisoned, "spo2", T0, 80.0)])
    good = commit_readings(committed_conn, [(healthy, "pulse", T0, 130.0)])
    policy = RecoveryPolicy(older_than_seconds=0, max_attempts=3, backoff_seconds=60)

    recover_pending_with(pool, policy)
    # The older row failed once and waits its backoff; the later one was evaluated meanwhile.
    row = pending(committed_conn, bad.pending_evaluation_id)
    assert row is not None
    assert (row["attempts"], row["parked_at"], row["waiting"]) == (1, None, True)
    assert "test trigger refuses alerts" in row["last_error"]
    assert pending(committed_conn, good.pending_evaluation_id) is None
    assert [a["severity"] for a in alerts_of(committed_conn, healthy)] == ["red"]

    recover_pending_with(pool, policy)
    assert pending(committed_conn, bad.pending_evaluation_id)["attempts"] == 1  # type: ignore[index]
    for attempt in (2, 3):
        committed_conn.execute("update pending_evaluations set next_attempt_at = now()"
                               " where id = %s", (bad.pending_evaluation_id,))
        recover_pending_with(pool, policy)
        row = pending(committed_conn, bad.pending_evaluation_id)
        assert row is not None
        assert row["attempts"] == attempt
    assert row["parked_at"] is not None
    committed_conn.execute("update pending_evaluations set next_attempt_at = now()"
                           " where id = %s", (bad.pending_evaluation_id,))
    recover_pending_with(pool, policy)
    assert pending(committed_conn, bad.pending_evaluation_id)["attempts"] == 3  # type: ignore[index]

    admin = make_user(client, committed_conn, role="admin", teams=[unique("team")])
    parked = client.get("/api/v1/pending-evaluations/parked", headers=admin.headers).json()
    mine = [p for p in parked if p["id"] == bad.pending_evaluation_id]
    assert [(p["attempts"], p["patients"]) for p in mine] == [(3, 1)]
    assert "test trigger refuses alerts" in mine[0]["last_error"]
    metrics = client.get("/metrics").text
    parked_gauge = next(line for line in metrics.splitlines()
                        if line.startswith('kol_alert_evaluations{state="parked"}'))
    assert float(parked_gauge.rsplit(" ", 1)[1]) >= 1

    # The cause fixed, an operator sends it back; the next run evaluates it.
    committed_conn.execute("delete from test_refused_patients")
    nurse = make_user(client, committed_conn, role="nurse", teams=[unique("team")])
    assert client.post(f"/api/v1/pending-evaluations/{bad.pending_evaluation_id}/retry",
                       headers=nurse.headers).status_code == 403
    assert client.post(f"/api/v1/pending-evaluations/{bad.pending_evaluation_id}/retry",
                       headers=admin.headers).status_code == 204
    assert client.post(f"/api/v1/pending-evaluations/{bad.pending_evaluation_id}/retry",
                       headers=admin.headers).status_code == 404
    recover_pending_with(pool, policy)
    assert pending(committed_conn, bad.pending_evaluation_id) is None
    assert [a["severity"] for a in alerts_of(committed_conn, poisoned)] == ["red"]
