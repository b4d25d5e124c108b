"""The robustness benchmark's scoring: how much of the lead is luck (issue 13, seventh round)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from alerts import engine
from benchmarks.alert_quality import DAY, score
from simulators.cohort import Cohort, generate_cohort


@pytest.fixture(scope="module")
def cohort() -> Cohort:
    return generate_cohort(n_patients=80, days=240, seed=5,
                           start=datetime(2026, 1, 5, tzinfo=UTC))


def _breaches_at(rows: np.ndarray) -> engine.Breaches:
    n = rows.size
    return engine.Breaches(reading=np.sort(rows).astype(np.int64), partner=np.full(n, -1),
                           symptom=np.full(n, -1),
                           rule=np.full(n, engine.ABSOLUTE, np.int8),
                           severity=np.full(n, engine.YELLOW, np.int8), metric=np.zeros(n),
                           limit=np.zeros(n), reference=np.zeros(n))


def test_alerts_from_the_prodromes_start_are_no_luck(cohort: Cohort) -> None:
    """An alert at each patient's first reading once a prodrome has begun: every detection is
    within the prodrome, so none is counted as before it and both leads agree."""
    r, e = cohort.readings, cohort.episodes
    key = r.patient_index.astype(np.int64) * 10**15 + r.measured_at.view(np.int64)
    began = e.onset - (e.ramp_days * DAY / np.timedelta64(1, "us")).astype("timedelta64[us]")
    first = np.searchsorted(key, e.patient_index.astype(np.int64) * 10**15 + began.view(np.int64))
    inside = first < key.size
    inside[inside] = r.patient_index[first[inside]] == e.patient_index[inside]
    first = first[inside]
    result = score(cohort, _breaches_at(np.unique(first)))
    assert result["detected"] > 50
    assert result["before_prodrome_share"] == 0.0
    assert result["prodrome_lead_days"] == result["median_lead_days"]


def test_alerts_on_every_reading_are_mostly_luck(cohort: Cohort) -> None:
    """A platform alerting on every reading detects everything 'early': its first alert lies
    before the prodrome began for most exacerbations, and the benchmark says so."""
    result = score(cohort, _breaches_at(np.arange(len(cohort.readings.value))))
    assert result["sensitivity"] > 0.95
    assert result["before_prodrome_share"] > 0.5
    assert result["prodrome_lead_days"] < result["median_lead_days"]
