"""The threshold preview shows the alerts the engine raises: the same readings and thresholds give
the same alerts through the preview as through the production evaluation (one shared grouping)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import psycopg

from alerts import thresholds
from alerts.evaluation import evaluate_new
from alerts.schemas import PreviewIn
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
