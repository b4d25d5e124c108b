"""Personal limits from a run-in: statistics robust to artefacts, the NaN policy, never stricter
than the current limits, never across the profile's safety limits, and a valid document."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts import personal
from alerts.personal import SAFETY, PersonalLimits, RunInStatistics
from alerts.profiles import PROFILES
from alerts.schemas import ThresholdArrays, Thresholds
from core.measurement_types import MEASUREMENT_TYPES
from simulators.cohort import generate_cohort
from simulators.parameters import POPULATION_MIXES

SPO2, PULSE, WEIGHT = (MEASUREMENT_TYPES[c].index for c in ("spo2", "pulse", "weight"))
DAY = np.timedelta64(1, "D").astype("timedelta64[us]")
T0 = np.datetime64("2026-01-05T08:00", "us")


def _series(patient: int, type_index: int, values: list[float]
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n = len(values)
    return (np.full(n, patient, np.int64), np.full(n, type_index, np.int16),
            T0 + np.arange(n) * DAY, np.array(values, np.float64))


def _stats(*series: tuple[np.ndarray, ...], n_patients: int = 1) -> RunInStatistics:
    p, ty, t, v = (np.concatenate(parts) for parts in zip(*series, strict=True))
    return personal.run_in_statistics(p, ty, t, v, n_patients)


def test_statistics_are_robust_to_artefacts_and_follow_the_nan_policy() -> None:
    clean = [89.0, 90, 88, 89, 90, 89, 89, 88, 90, 89, 89, 90]
    with_artefacts = clean[:5] + [79.0] + clean[6:10] + [81.0, np.nan, np.inf, 90]
    a = _stats(_series(0, SPO2, clean))
    b = _stats(_series(0, SPO2, with_artefacts))
    assert a.spo2_median[0] == b.spo2_median[0] == 89.0
    assert b.spo2_sd[0] == pytest.approx(a.spo2_sd[0], abs=0.75)
    assert b.spo2_n[0] == len(with_artefacts) - 2  # NaN and inf ignored
    # Too few readings (patient 1 has 9): NaN statistics, and nothing is proposed for them.
    s = _stats(_series(0, SPO2, clean), _series(1, SPO2, clean[:9]), n_patients=3)
    assert np.isnan(s.spo2_median[1:]).all()
    assert s.spo2_n.tolist() == [12, 9, 0]
    th = ThresholdArrays.from_documents([PROFILES["kol-standard"]] * 3)
    lim = personal.propose(s, th, SAFETY["kol-standard"])
    assert lim.ready.tolist() == [True, False, False]


def test_weight_spread_comes_from_consecutive_weighings_so_drift_is_not_noise() -> None:
    rng = np.random.default_rng(1)
    drift = 70 + np.arange(20) * 0.3 + rng.normal(0, 0.4, 20)  # 6 kg over 20 days
    s = _stats(_series(0, WEIGHT, drift.tolist()))
    assert s.weight_sd[0] == pytest.approx(0.4, abs=0.2)
    assert s.weight_n[0] == 20


def test_a_stable_hypoxaemic_patient_gets_lower_spo2_limits_down_to_the_safety_floor() -> None:
    s = _stats(_series(0, SPO2, [89.0, 90, 88, 89, 90, 89, 89, 88, 90, 89, 89, 90]),
               _series(1, SPO2, [86.0, 87, 85, 86, 87, 86, 86, 85, 87, 86, 86, 87]),
               _series(2, SPO2, [95.0, 96, 94, 95, 96, 95, 95, 94, 96, 95, 95, 96]),
               n_patients=3)
    th = ThresholdArrays.from_documents([PROFILES["kol-standard"]] * 3)
    lim = personal.propose(s, th, SAFETY["kol-standard"])
    # Patient 0: median 89, robust SD 0.74, at least 1 -> alert below ceil(89 - 2.5) = 87.
    assert lim.spo2_yellow_low[0] == 87.0
    assert lim.spo2_red_low[0] == 85.0
    # Patient 1 lives below the floors: the floors hold.
    assert lim.spo2_yellow_low[1] == SAFETY["kol-standard"].spo2_yellow_low_min
    assert lim.spo2_red_low[1] == SAFETY["kol-standard"].spo2_red_low_min
    # Patient 2 is well above the limits: nothing is proposed (never stricter).
    assert np.isnan(lim.spo2_yellow_low[2])
    assert np.isnan(lim.spo2_red_low[2])
    doc = personal.apply(PROFILES["kol-standard"], lim, 0)
    assert (doc.spo2.absolute.red_low, doc.spo2.absolute.yellow_low) == (85.0, 87.0)
    # Her spread (0.74) is below the profile's SpO2 floor (1.0): the floor stays.
    assert doc.combined == PROFILES["kol-standard"].combined


def test_atrial_fibrillation_pulse_gets_wider_pulse_limits_within_the_safety_limits() -> None:
    rng = np.random.default_rng(3)
    pulse = np.round(rng.normal(105, 12, 20)).tolist()
    s = _stats(_series(0, PULSE, pulse))
    th = ThresholdArrays.from_documents([PROFILES["kol-standard"]])
    lim = personal.propose(s, th, SAFETY["kol-standard"])
    assert 120 < lim.pulse_red_high[0] <= SAFETY["kol-standard"].pulse_red_high_max
    assert 20 < lim.pulse_rise_red[0] <= SAFETY["kol-standard"].pulse_rise_red_max
    assert 5 < lim.pulse_sd_floor[0] <= SAFETY["kol-standard"].pulse_sd_floor_max
    doc = personal.apply(PROFILES["kol-standard"], lim, 0)
    assert doc.pulse.absolute.red_high == lim.pulse_red_high[0]
    assert doc.pulse.absolute.red_low == PROFILES["kol-standard"].pulse.absolute.red_low


def test_a_limit_switched_off_stays_off() -> None:
    off = PROFILES["kol-standard"].model_copy(update={"pulse": Thresholds().pulse})
    s = _stats(_series(0, PULSE, [130.0, 140, 135, 128, 133, 138, 131, 129, 136, 134]))
    lim = personal.propose(s, ThresholdArrays.from_documents([off]), SAFETY["kol-standard"])
    assert np.isnan(lim.pulse_red_high[0])
    assert np.isnan(lim.pulse_rise_red[0])
    assert personal.apply(off, lim, 0).pulse.absolute.red_high is None


def test_a_proposal_changes_only_the_limits_it_personalises() -> None:
    """Everything else of the document stays, such as the SpO2 yellow low being off while the
    diary is kept (a proposal once rebuilt the absolute limits and dropped it: the dashboard
    showed the proposal switching it off)."""
    doc = PROFILES["kol-standard"]
    assert doc.spo2.absolute.yellow_off_while_diary_kept
    nan = np.array([np.nan])
    lim = PersonalLimits(spo2_yellow_low=np.array([87.0]), spo2_red_low=np.array([85.0]),
                         pulse_red_high=nan, pulse_rise_red=nan, spo2_sd_floor=nan,
                         pulse_sd_floor=nan, weight_change_3d_yellow=nan)
    expected = doc.model_dump()
    expected["spo2"]["absolute"].update(red_low=85.0, yellow_low=87.0)
    assert personal.apply(doc, lim, 0).model_dump() == expected


def test_the_profiles_red_floor_is_the_safety_floor() -> None:
    for name, doc in PROFILES.items():
        assert doc.spo2.artefact.red_floor == SAFETY[name].spo2_red_low_min


finite = st.floats(0.0, 40.0)


@settings(max_examples=200, deadline=None)
@given(spo2_median=st.floats(80, 99), spo2_sd=finite, pulse_median=st.floats(40, 140),
       pulse_sd=finite, weight_sd=st.floats(0, 5), profile=st.sampled_from(sorted(PROFILES)))
def test_no_proposal_crosses_the_safety_limits_or_tightens(
        spo2_median: float, spo2_sd: float, pulse_median: float, pulse_sd: float,
        weight_sd: float, profile: str) -> None:
    one = np.array([20])
    s = RunInStatistics(spo2_n=one, spo2_median=np.array([spo2_median]),
                        spo2_sd=np.array([spo2_sd]), pulse_n=one,
                        pulse_median=np.array([pulse_median]), pulse_sd=np.array([pulse_sd]),
                        weight_n=one, weight_sd=np.array([weight_sd]))
    base = PROFILES[profile]
    safety = SAFETY[profile]
    lim: PersonalLimits = personal.propose(s, ThresholdArrays.from_documents([base]), safety)
    doc = personal.apply(base, lim, 0)  # validates the order of the limits
    a, b = doc.spo2.absolute, base.spo2.absolute
    assert a.red_low is not None
    assert b.red_low is not None
    assert a.yellow_low is not None
    assert b.yellow_low is not None
    assert safety.spo2_red_low_min <= a.red_low <= b.red_low
    assert safety.spo2_yellow_low_min <= a.yellow_low <= b.yellow_low
    high, base_high = doc.pulse.absolute.red_high, base.pulse.absolute.red_high
    assert high is not None
    assert base_high is not None
    assert base_high <= high <= max(base_high, safety.pulse_red_high_max)
    assert base.combined.spo2_sd_floor <= doc.combined.spo2_sd_floor <= max(
        base.combined.spo2_sd_floor, safety.spo2_sd_floor_max)
    assert base.combined.pulse_sd_floor <= doc.combined.pulse_sd_floor <= max(
        base.combined.pulse_sd_floor, safety.pulse_sd_floor_max)
    w, base_w = doc.weight.trend.change_3d_yellow, base.weight.trend.change_3d_yellow
    assert w is not None
    assert base_w is not None
    assert base_w <= w <= max(base_w, safety.weight_change_3d_max)


def test_proposals_on_a_simulated_cohort_fit_the_patients_it_was_made_for() -> None:
    """On the hypoxaemic mix, the patients without oxygen stable around 89 % get a yellow limit
    below their everyday values; the standard patients mostly keep the profile's."""
    c = generate_cohort(n_patients=400, days=21, seed=4, start=datetime(2026, 1, 5, tzinfo=UTC),
                        params=POPULATION_MIXES["hypoxaemic"])
    r = c.readings
    s = personal.run_in_statistics(r.patient_index, r.type_index, r.measured_at, r.value, 400)
    std = ~c.patients.ltot
    th = ThresholdArrays.from_documents([PROFILES["kol-standard"]] * 400)
    lim = personal.propose(s, th, SAFETY["kol-standard"])
    hyp = std & c.patients.hypoxaemic & np.isfinite(s.spo2_median)
    plain = std & ~c.patients.hypoxaemic & np.isfinite(s.spo2_median) & (
        c.patients.spo2_baseline + c.patients.spo2_device_bias > 92)
    assert np.isfinite(lim.spo2_yellow_low[hyp]).mean() > 0.9
    assert np.nanmedian(lim.spo2_yellow_low[hyp]) <= 88
    # A patient stable above 92 keeps the profile's limit or gets one a point lower (unless her
    # days vary a lot).
    assert (np.nan_to_num(lim.spo2_yellow_low[plain], nan=90.0) >= 89).mean() > 0.95
    # Not enough readings for poor adherers: no proposal rather than a guess.
    few = s.spo2_n < personal.DEFAULT_RUN_IN.min_sessions
    assert few.any()
    assert not lim.ready[few & (s.weight_n < personal.DEFAULT_RUN_IN.min_sessions)].any()
