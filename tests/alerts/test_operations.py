"""Seeded profiles, recovery of left-over hand-offs, and ``kol-alerts evaluate``."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from alerts.profiles import PROFILES
from alerts.recovery import RecoveryPolicy
from alerts.schemas import Thresholds
from alerts.tasks import recover_pending_with
from tests.alerts.conftest import alerts_of, commit_readings
from tests.alerts.test_lifecycle import T0
from tests.conftest import insert_patient
from tests.stack import ROOT


def test_seeded_profiles_are_the_documented_defaults(conn: psycopg.Connection[Any]) -> None:
    rows = conn.execute("select name, thresholds from profiles").fetchall()
    seeded = {r["name"]: Thresholds.model_validate(r["thresholds"]) for r in rows}
    assert seeded["kol-standard"] == PROFILES["kol-standard"]
    assert seeded["kol-ltot"] == PROFILES["kol-ltot"]


def test_recovery_evaluates_a_left_over_hand_off_once(
        pool: ConnectionPool, committed_conn: psycopg.Connection[Any]) -> None:
    patient = insert_patient(committed_conn)
    batch = commit_readings(committed_conn, [(patient, "pulse", T0, 130.0)])
    # The gateway died before evaluating: nothing but the recovery sees this batch.
    assert recover_pending_with(pool, RecoveryPolicy(older_than_seconds=0)) >= 1
    (alert,) = alerts_of(committed_conn, patient)
    assert alert["severity"] == "red"
    assert committed_conn.execute("select 1 from pending_evaluations where id = %s",
                                  (batch.pending_evaluation_id,)).fetchone() is None
    assert recover_pending_with(pool, RecoveryPolicy(older_than_seconds=0)) == 0


def test_cli_evaluates_a_period_for_one_patient(
        committed_conn: psycopg.Connection[Any]) -> None:
    patient = insert_patient(committed_conn, profile="kol-ltot")
    other = insert_patient(committed_conn)
    commit_readings(committed_conn, [(patient, "spo2", T0, 85.0), (other, "spo2", T0, 80.0),
                                     (patient, "spo2", T0 + timedelta(days=9), 80.0)])
    result = subprocess.run(
        [str(ROOT / ".venv/bin/kol-alerts"), "evaluate", "--from", "2026-03-01",
         "--to", "2026-03-05", "--patient", str(patient)],
        capture_output=True, text=True, check=True)
    assert "evaluated 1 readings" in result.stdout
    (alert,) = alerts_of(committed_conn, patient)
    assert (alert["severity"], alert["value"]) == ("yellow", 85.0)  # kol-ltot: yellow < 86
    assert alerts_of(committed_conn, other) == []


def test_beat_schedules_recovery_and_missing_checks_in_copenhagen_time() -> None:
    from alerts import tasks
    from core.celery_app import celery_app
    from worker import main  # noqa: F401  (the worker's entry point registers the tasks)

    assert {tasks.recover_pending.name, tasks.check_missing.name} <= set(celery_app.tasks)
    schedule = celery_app.conf.beat_schedule
    assert schedule["alerts-recover-pending"]["task"] == tasks.recover_pending.name
    assert schedule["alerts-check-missing"]["task"] == tasks.check_missing.name
    assert celery_app.conf.timezone == "Europe/Copenhagen"
