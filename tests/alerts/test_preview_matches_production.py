"""The threshold preview shows the alerts the engine raises: the same readings and thresholds give
the same alerts through the preview as through the production evaluation (one shared grouping)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import psycopg

from alerts import thresholds
from alerts.evaluation import evaluate_new, evaluate_period
from alerts.schemas import PreviewIn, SymptomLimits
from core.access import SYSTEM
from tests.alerts.conftest import alerts_of, commit_readings
from tests.conftest import insert_patient


def test_preview_and_production_raise_the_same_alerts(conn: psycopg.Connection[Any]) -> None:
    patient = insert_patient(conn)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=40)
    rng = np.random.default_rng(20261129)
    readings = []
    for day in range(40):  # stable for a month, then a 4-day fall of SpO2 with a pulse rise
        at = start + timedelta(days=day, hours=8)
        fall = max(0, day - 35)
        readings += [(patient, "spo2", at, float(round(94 - 2.5 * fall + rng.normal(0, 0.7)))),
                     (patient, "pulse", at, float(round(78 + 6 * fall + rng.normal(0, 2)))),
                     (patient, "weight", at, round(70 + 0.4 * fall, 1))]
    evaluate_new(conn, commit_readings(conn, readings))
    produced = {(a["rule"], a["type"], a["severity"], a["first_measured_at"],
                 a["last_measured_at"], a["breach_count"]) for a in alerts_of(conn, patient)}

    in_force = thresholds.current(conn, SYSTEM, patient).thresholds
    preview = thresholds.preview(conn, SYSTEM, patient, PreviewIn(thresholds=in_force, days=45))
    previewed = {(a.rule, a.type, a.severity, a.first_measured_at, a.last_measured_at,
                  a.breach_count) for a in preview.alerts}

    assert produced, "the fall must raise alerts, or the comparison says nothing"
    assert {a[2] for a in produced} >= {"red"}
    assert previewed == produced, (sorted(previewed), sorted(produced))


def test_stored_diaries_raise_symptom_alerts_and_the_preview_shows_them(
        conn: psycopg.Connection[Any]) -> None:
    """Diaries stored by ingest reach the engine through the ``alert_series`` view (the same path
    as recovery and re-evaluation), and the preview of the symptom thresholds shows the same
    alerts; the starting profile has the symptom rules on."""
    patient = insert_patient(conn)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=10)
    # Quiet diaries, then breathlessness and a cold (criterion met), then more and discoloured
    # sputum the next morning (met again: two consecutive days).
    masks = [0, 0, 0, 0, 0, 0, 0b0001001, 0b0000110]
    for day, mask in enumerate(masks):
        conn.execute(
            "insert into questionnaire_responses (patient_id, questionnaire, authored_at,"
            " answers, symptom_mask, device_id, msg_id)"
            " values (%s, 'kol-symptoms-v1', %s, '{}', %s, 'tab', %s)",
            (patient, start + timedelta(days=day, hours=8), mask, f"m{day}"))
    evaluate_period(conn, measured_from=start, measured_to=start + timedelta(days=9),
                    patient_id=patient)
    produced = {(a["rule"], a["type"], a["severity"], a["first_measured_at"],
                 a["last_measured_at"], a["breach_count"]) for a in alerts_of(conn, patient)}
    day6, day7 = start + timedelta(days=6, hours=8), start + timedelta(days=7, hours=8)
    assert produced == {("symptoms", "symptoms", "yellow", day6, day7, 2),
                        ("seemungal", "symptoms", "red", day7, day7, 1)}
    reasons = {a["rule"]: a["reason"] for a in alerts_of(conn, patient)}
    assert reasons["seemungal"] == ("Seemungal criterion met in the diary 2 day(s) in a row"
                                    " (red at 2)")

    in_force = thresholds.current(conn, SYSTEM, patient).thresholds
    assert in_force.symptoms.seemungal_days_red == 2
    preview = thresholds.preview(conn, SYSTEM, patient, PreviewIn(thresholds=in_force, days=12))
    assert {(a.rule, a.type, a.severity, a.first_measured_at, a.last_measured_at,
             a.breach_count) for a in preview.alerts} == produced
    # Without the symptom rules the preview shows nothing: the preview follows the document.
    off = in_force.model_copy(update={"symptoms": SymptomLimits()})
    assert thresholds.preview(conn, SYSTEM, patient, PreviewIn(thresholds=off, days=12)
                              ).alerts == []
