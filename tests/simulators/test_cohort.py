"""The generated cohort matches its documented parameters, and a seed reproduces it exactly."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from simulators.cohort import PULSE, SPO2, WEIGHT, Cohort, episode_profile, generate_cohort
from simulators.parameters import DEFAULT_PHYSIOLOGY as P

START = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
DAYS = 180
N = 4000
US_PER_DAY = 86_400_000_000


@pytest.fixture(scope="module")
def cohort() -> Cohort:
    return generate_cohort(n_patients=N, days=DAYS, seed=20261122, start=START)


def _quiet(c: Cohort) -> np.ndarray:
    """Readings outside any episode's prodrome, course and 21 days of recovery, and not on bad
    days or with artefacts: the patients' stable state."""
    r, e = c.readings, c.episodes
    t = r.measured_at.astype(np.int64)
    disturbed = r.artefact | r.bad_day
    onset, end = e.onset.astype(np.int64), e.end.astype(np.int64)
    lo = onset - (e.ramp_days * US_PER_DAY).astype(np.int64)
    hi = end + 21 * US_PER_DAY
    order = np.argsort(r.patient_index, kind="stable")
    assert np.all(order == np.arange(len(order))), "readings are sorted by patient"
    for p_idx, a, b in zip(e.patient_index, lo, hi, strict=True):
        s, f = np.searchsorted(r.patient_index, [p_idx, p_idx + 1])
        disturbed[s:f] |= (t[s:f] >= a) & (t[s:f] < b)
    return ~disturbed


def _per_patient(c: Cohort, mask: np.ndarray, type_index: int) -> tuple[np.ndarray, np.ndarray]:
    sel = mask & (c.readings.type_index == type_index)
    idx, vals = c.readings.patient_index[sel], c.readings.value[sel]
    count = np.bincount(idx, minlength=N)
    total = np.bincount(idx, weights=vals, minlength=N)
    square = np.bincount(idx, weights=vals ** 2, minlength=N)
    ok = count >= 20
    mean = total[ok] / count[ok]
    sd = np.sqrt((square[ok] - count[ok] * mean ** 2) / (count[ok] - 1))
    return mean, sd


def test_same_seed_reproduces_the_cohort_exactly(cohort: Cohort) -> None:
    again = generate_cohort(n_patients=N, days=DAYS, seed=20261122, start=START)
    for part in ("readings", "episodes", "patients"):
        for f in fields(getattr(cohort, part)):
            np.testing.assert_array_equal(getattr(getattr(again, part), f.name),
                                          getattr(getattr(cohort, part), f.name))
    other = generate_cohort(n_patients=N, days=DAYS, seed=20261123, start=START)
    assert not np.array_equal(other.readings.value[:1000], cohort.readings.value[:1000])


def test_stable_spo2_and_pulse_match_the_published_figures(cohort: Cohort) -> None:
    quiet = _quiet(cohort)
    ltot = cohort.patients.ltot
    spo2_mean, spo2_sd = _per_patient(cohort, quiet & ~ltot[cohort.readings.patient_index], SPO2)
    assert abs(np.mean(spo2_mean) - P.spo2_mean) < 0.15
    assert 92.0 <= np.median(spo2_mean) <= 94.0
    assert abs(np.std(spo2_mean) - P.spo2_between_sd) < 0.2
    # Integer rounding adds 1/12 to the variance.
    assert abs(np.median(spo2_sd) - np.sqrt(P.spo2_day_sd ** 2 + 1 / 12)) < 0.1
    pulse_mean, pulse_sd = _per_patient(cohort, quiet, PULSE)
    assert abs(np.mean(pulse_mean) - P.pulse_mean) < 0.6
    assert abs(np.median(pulse_sd) - P.pulse_day_sd) < 0.3


def test_long_term_oxygen_patients_are_a_lower_sub_population(cohort: Cohort) -> None:
    ltot = cohort.patients.ltot
    assert abs(ltot.mean() - P.ltot_fraction) < 0.02
    spo2_mean, _ = _per_patient(cohort, _quiet(cohort) & ltot[cohort.readings.patient_index],
                                SPO2)
    assert abs(np.mean(spo2_mean) - P.ltot_spo2_mean) < 0.25


def test_weight_has_small_daily_noise_and_slow_drift(cohort: Cohort) -> None:
    r = cohort.readings
    sel = r.type_index == WEIGHT
    idx, val = r.patient_index[sel], r.value[sel]
    same = idx[1:] == idx[:-1]
    steps = np.diff(val)[same]
    # Consecutive weighings differ by two noise draws plus a few days of drift.
    assert 0.5 < np.std(steps) < 0.75
    count = np.bincount(idx, minlength=N)
    mean_w = np.bincount(idx, weights=val, minlength=N)[count > 0] / count[count > 0]
    assert abs(np.mean(mean_w) - P.weight_mean) < 1.0


def test_exacerbation_rate_and_between_patient_spread(cohort: Cohort) -> None:
    e = cohort.episodes
    start = np.datetime64(START.replace(tzinfo=None), "us")
    inside = (e.onset >= start) & (e.onset < start + np.timedelta64(DAYS, "D"))
    patient_years = N * DAYS / 365.25
    assert abs(inside.sum() / patient_years - P.exacerbation_rate) < 0.1
    counts = np.bincount(e.patient_index[inside], minlength=N)
    assert counts.var() > 1.2 * counts.mean(), "personal rates vary: over-dispersed counts"
    duration_days = (e.end - e.onset).astype(np.int64) / US_PER_DAY
    assert abs(np.median(duration_days) - P.duration_median_days) < 0.4
    assert P.ramp_days_min <= e.ramp_days.min()
    assert e.ramp_days.max() <= P.ramp_days_max


def test_prodrome_lowers_spo2_and_raises_pulse_before_onset(cohort: Cohort) -> None:
    """Readings within half a day before onset, against the patient's own stable mean."""
    r, e = cohort.readings, cohort.episodes
    t = r.measured_at.astype(np.int64)
    deviations: dict[int, list[float]] = {SPO2: [], PULSE: []}
    baseline = {SPO2: cohort.patients.spo2_baseline, PULSE: cohort.patients.pulse_baseline}
    clean = ~(r.artefact | r.bad_day)
    for p_idx, onset in zip(e.patient_index, e.onset.astype(np.int64), strict=True):
        s, f = np.searchsorted(r.patient_index, [p_idx, p_idx + 1])
        near = clean[s:f] & (t[s:f] <= onset) & (t[s:f] > onset - US_PER_DAY // 2)
        for ti in deviations:
            vals = r.value[s:f][near & (r.type_index[s:f] == ti)]
            deviations[ti].extend(vals - baseline[ti][p_idx])
    spo2, pulse = np.array(deviations[SPO2]), np.array(deviations[PULSE])
    assert len(spo2) > 500
    # Near the full deviation at onset: the drop and rise midpoints, less the ramp's last hours.
    assert -3.0 < spo2.mean() < -2.0
    assert 7.0 < pulse.mean() < 9.5


def test_adherence_motion_artefacts_and_bad_days(cohort: Cohort) -> None:
    r, pts = cohort.readings, cohort.patients
    local = ZoneInfo("Europe/Copenhagen")
    first = START.astimezone(local).date()
    spo2 = r.type_index == SPO2
    measured_days = np.bincount(r.patient_index[spo2], minlength=N)
    weekday_counts = np.bincount(
        (np.arange(DAYS) + first.weekday()) % 7, minlength=7)
    scheduled_days = pts.schedule.astype(np.int64) @ weekday_counts
    adherence = measured_days / scheduled_days
    assert abs(adherence.mean() - P.adherence_mean) < 0.02
    assert np.mean(adherence < 0.45) > 0.08, "some patients measure far less"
    assert abs(r.artefact[spo2].mean() - P.artefact_probability) < 0.003
    assert not r.artefact[~spo2].any()
    assert abs(r.bad_day[spo2].mean() - P.bad_day_probability) < 0.004


def test_measurements_are_in_the_local_morning_on_scheduled_days(cohort: Cohort) -> None:
    r = cohort.readings
    sample = np.linspace(0, len(r) - 1, 3000).astype(np.int64)
    local = ZoneInfo("Europe/Copenhagen")
    for i in sample:
        moment = r.measured_at[i].astype(datetime).replace(tzinfo=UTC).astimezone(local)
        assert 5.7 <= moment.hour + moment.minute / 60 <= P.measure_hour_max
        assert cohort.patients.schedule[r.patient_index[i], moment.weekday()]
    assert r.measured_at.min() >= np.datetime64(START.replace(tzinfo=None), "us")
    same = r.patient_index[1:] == r.patient_index[:-1]
    assert np.all(np.diff(r.measured_at.astype(np.int64))[same] >= 0)


def test_episode_profile_ramps_plateaus_and_recovers_slowly() -> None:
    tau = np.array([-8.0, -3.0, 0.0, 1.5, 9.0, 20.0])
    share = episode_profile(tau, np.array(6.0), np.array(9.0))
    np.testing.assert_allclose(share[:4], [0.0, 0.5, 1.0, 1.0])
    assert share[4] == pytest.approx(P.residual_at_end)
    assert 0 < share[5] < share[4]


def test_naive_start_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        generate_cohort(n_patients=1, days=1, seed=1, start=datetime(2026, 1, 1))  # noqa: DTZ001
