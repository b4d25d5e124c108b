"""Alert lifecycle against the real database: streaming evaluation of committed batches, one
unresolved alert per (patient, rule, type), escalation, resolve then re-open, concurrent
batches, recovery of left-over hand-offs."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from alerts.evaluation import evaluate_new
from alerts.streaming import AlertEvaluator, evaluate_committed
from ingest.schemas import ReadingColumns
from tests.alerts.conftest import alerts_of, commit_readings, events_of
from tests.conftest import insert_patient

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def test_evaluator_opens_one_alert_and_deletes_the_pending_row(
        pool: ConnectionPool, committed_conn: psycopg.Connection[Any]) -> None:
    patient = insert_patient(committed_conn)
    batch = commit_readings(committed_conn, [(patient, "spo2", T0, 89.0),
                                             (patient, "pulse", T0, 80.0)])
    evaluator = AlertEvaluator(pool)
    evaluator.submit(batch)
    evaluator.close()

    (alert,) = alerts_of(committed_conn, patient)
    assert (alert["rule"], alert["type"], alert["severity"], alert["status"]) == (
        "absolute", "spo2", "yellow", "open")
    assert alert["value"] == 89.0
    assert alert["threshold_version"] == 1
    assert not alert["late"]
    assert "below the yellow limit 90" in alert["reason"]
    assert events_of(committed_conn, patient) == [("opened", "yellow")]
    kept = committed_conn.execute("select type, value from alert_readings where alert_id = %s",
                                  (alert["id"],)).fetchall()
    assert kept == [{"type": "spo2", "value": 89.0}]
    assert committed_conn.execute("select 1 from pending_evaluations where id = %s",
                                  (batch.pending_evaluation_id,)).fetchone() is None


def test_new_breach_updates_then_escalates_instead_of_duplicating(
        pool: ConnectionPool, committed_conn: psycopg.Connection[Any]) -> None:
    patient = insert_patient(committed_conn)
    for day, value in enumerate((89.5, 89.0, 87.0)):
        evaluate_committed(pool, commit_readings(
            committed_conn, [(patient, "spo2", T0 + timedelta(days=day), value)]))

    (alert,) = alerts_of(committed_conn, patient)
    assert alert["severity"] == "red"
    assert alert["breach_count"] == 3
    assert alert["value"] == 87.0
    assert alert["first_measured_at"] == T0
    assert alert["last_measured_at"] == T0 + timedelta(days=2)
    assert events_of(committed_conn, patient) == [
        ("opened", "yellow"), ("updated", "yellow"), ("escalated", "red")]


def test_resolved_alert_is_not_updated_a_new_breach_opens_a_new_one(
        pool: ConnectionPool, committed_conn: psycopg.Connection[Any]) -> None:
    patient = insert_patient(committed_conn)
    evaluate_committed(pool, commit_readings(committed_conn, [(patient, "pulse", T0, 125.0)]))
    committed_conn.execute("update alerts set status = 'resolved' where patient_id = %s",
                           (patient,))
    evaluate_committed(pool, commit_readings(
        committed_conn, [(patient, "pulse", T0 + timedelta(days=1), 126.0)]))
    first, second = alerts_of(committed_conn, patient)
    assert (first["status"], first["breach_count"]) == ("resolved", 1)
    assert (second["status"], second["breach_count"], second["value"]) == ("open", 1, 126.0)


def test_late_readings_raise_late_alerts(pool: ConnectionPool,
                                         committed_conn: psycopg.Connection[Any]) -> None:
    patient = insert_patient(committed_conn)
    evaluate_committed(pool, commit_readings(committed_conn, [(patient, "pulse", T0, 130.0)],
                                             late=True))
    (alert,) = alerts_of(committed_conn, patient)
    assert alert["late"]
    assert alert["severity"] == "red"


def test_concurrent_batches_of_one_patient_make_one_alert(
        pool: ConnectionPool, committed_conn: psycopg.Connection[Any]) -> None:
    """Two gateway instances evaluating batches of the same patient at the same moment."""
    patient = insert_patient(committed_conn)
    batches = [commit_readings(committed_conn, [(patient, "spo2", T0 + timedelta(seconds=s),
                                                 86.0 + s % 3)])
               for s in range(8)]
    evaluators = [AlertEvaluator(pool), AlertEvaluator(pool)]
    start = threading.Barrier(2)

    def run(k: int) -> None:
        start.wait()
        for batch in batches[k::2]:
            evaluators[k].submit(batch)
        evaluators[k].close()

    threads = [threading.Thread(target=run, args=(k,)) for k in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert all(e.failed_batches == 0 for e in evaluators)
    (alert,) = alerts_of(committed_conn, patient)
    assert alert["breach_count"] == 8
    assert alert["severity"] == "red"
    assert [e for e, _ in events_of(committed_conn, patient)].count("opened") == 1


def test_evaluating_the_same_batch_twice_changes_nothing(
        pool: ConnectionPool, committed_conn: psycopg.Connection[Any]) -> None:
    patient = insert_patient(committed_conn)
    batch = commit_readings(committed_conn, [(patient, "spo2", T0, 85.0)])
    evaluate_committed(pool, batch)
    with pool.connection() as conn:
        outcome = evaluate_new(conn, ReadingColumns(
            patient_id=batch.patient_id, type_index=batch.type_index,
            measured_at=batch.measured_at, value=batch.value, late=batch.late))
    assert outcome.breaches == 1
    assert (outcome.opened, outcome.updated) == (0, 0)
    (alert,) = alerts_of(committed_conn, patient)
    assert alert["breach_count"] == 1
