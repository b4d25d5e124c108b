"""The population mixes: the standard mix is the original population, and each switched-on
sub-population or habit shows in the readings with its documented size."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import UTC, datetime

import numpy as np
import pytest

from simulators.cohort import PULSE, SPO2, WEIGHT, Cohort, generate_cohort
from simulators.parameters import DEFAULT_PHYSIOLOGY, POPULATION_MIXES

START = datetime(2026, 1, 5, tzinfo=UTC)
N, DAYS = 2000, 120
EVERYTHING = replace(
    DEFAULT_PHYSIOLOGY, af_fraction=0.3, hf_fraction=0.3, hypoxaemic_fraction=0.3,
    rate_lowering_fraction=0.3, irregular_time_fraction=0.3, repeat_fraction=0.3,
    artefact_prone_fraction=0.3, pulse_artefact_probability=0.02, device_bias_sd=1.0,
    diurnal_pulse_amplitude=5.0, diurnal_spo2_amplitude=0.5)


@pytest.fixture(scope="module")
def mixed() -> Cohort:
    return generate_cohort(n_patients=N, days=DAYS, seed=3, start=START, params=EVERYTHING)


def _clean(c: Cohort, type_index: int) -> np.ndarray:
    r = c.readings
    return (r.type_index == type_index) & ~r.artefact & ~r.bad_day


def _patient_median(c: Cohort, type_index: int) -> np.ndarray:
    sel = _clean(c, type_index)
    p, v = c.readings.patient_index[sel], c.readings.value[sel]
    return np.array([np.median(v[p == i]) if np.any(p == i) else np.nan
                     for i in range(len(c.patients))])


def test_the_standard_mix_is_the_original_population() -> None:
    assert POPULATION_MIXES["standard"] == DEFAULT_PHYSIOLOGY
    a = generate_cohort(n_patients=200, days=60, seed=9, start=START)
    b = generate_cohort(n_patients=200, days=60, seed=9, start=START,
                        params=POPULATION_MIXES["standard"])
    for f in fields(a.readings):
        np.testing.assert_array_equal(getattr(a.readings, f.name), getattr(b.readings, f.name))
    assert not a.patients.af.any()
    assert not a.patients.repeats_low.any()


def test_every_mix_is_reproducible_and_differs_from_the_standard() -> None:
    base = generate_cohort(n_patients=300, days=60, seed=5, start=START)
    for name, params in POPULATION_MIXES.items():
        one = generate_cohort(n_patients=300, days=60, seed=5, start=START, params=params)
        two = generate_cohort(n_patients=300, days=60, seed=5, start=START, params=params)
        np.testing.assert_array_equal(one.readings.value, two.readings.value)
        same = (len(one.readings) == len(base.readings)
                and np.array_equal(one.readings.value, base.readings.value))
        assert same == (name == "standard"), name


def test_shares_of_the_sub_populations(mixed: Cohort) -> None:
    pt = mixed.patients
    for flag in (pt.af, pt.heart_failure, pt.rate_lowering, pt.irregular_time, pt.repeats_low):
        assert abs(flag.mean() - 0.3) < 0.04
    # Hypoxaemia without oxygen is drawn among the patients not on long-term oxygen.
    assert not (pt.hypoxaemic & pt.ltot).any()
    assert abs(pt.hypoxaemic.mean() - 0.3 * (1 - pt.ltot.mean())) < 0.04


def test_atrial_fibrillation_gives_a_higher_more_variable_pulse(mixed: Cohort) -> None:
    pt = mixed.patients
    plain = ~pt.af & ~pt.rate_lowering & ~pt.heart_failure
    af = pt.af & ~pt.rate_lowering & ~pt.heart_failure
    assert np.median(pt.pulse_sd[af]) == pytest.approx(EVERYTHING.af_pulse_day_sd, rel=0.1)
    assert np.median(pt.pulse_sd[plain]) == pytest.approx(EVERYTHING.pulse_day_sd, rel=0.1)
    med = _patient_median(mixed, PULSE)
    assert np.nanmean(med[af]) - np.nanmean(med[plain]) == pytest.approx(
        EVERYTHING.af_pulse_mean - EVERYTHING.pulse_mean, abs=2.5)


def test_rate_lowering_drugs_lower_the_pulse(mixed: Cohort) -> None:
    pt = mixed.patients
    med = _patient_median(mixed, PULSE)
    sinus = ~pt.af & ~pt.heart_failure
    shift = np.nanmean(med[sinus & pt.rate_lowering]) - np.nanmean(med[sinus & ~pt.rate_lowering])
    assert shift == pytest.approx(EVERYTHING.rate_lowering_pulse_shift, abs=2.0)


def test_chronic_hypoxaemia_without_oxygen_sits_around_89(mixed: Cohort) -> None:
    pt = mixed.patients
    med = _patient_median(mixed, SPO2)
    assert np.nanmedian(med[pt.hypoxaemic & ~pt.heart_failure]) == pytest.approx(89.5, abs=0.7)


def test_heart_failure_weight_moves_more_from_day_to_day(mixed: Cohort) -> None:
    r, pt = mixed.readings, mixed.patients
    sel = r.type_index == WEIGHT
    p, v = r.patient_index[sel], r.value[sel]
    same = p[1:] == p[:-1]
    step = np.diff(v)[same] / np.sqrt(2)
    hf = pt.heart_failure[p[1:][same]]
    assert np.std(step[hf]) == pytest.approx(EVERYTHING.hf_weight_day_sd, rel=0.15)
    assert np.std(step[~hf]) == pytest.approx(EVERYTHING.weight_day_sd, rel=0.15)


def test_artefact_prone_patients_and_pulse_artefacts(mixed: Cohort) -> None:
    r, pt = mixed.readings, mixed.patients
    spo2 = r.type_index == SPO2
    prone = pt.artefact_rate[r.patient_index] > EVERYTHING.artefact_probability
    assert r.artefact[spo2 & prone].mean() == pytest.approx(
        EVERYTHING.artefact_prone_probability, abs=0.015)
    assert r.artefact[spo2 & ~prone].mean() == pytest.approx(
        EVERYTHING.artefact_probability, abs=0.005)
    assert r.artefact[r.type_index == PULSE].mean() == pytest.approx(
        EVERYTHING.pulse_artefact_probability, abs=0.005)


def test_repeaters_measure_again_minutes_after_a_low_reading(mixed: Cohort) -> None:
    r, pt = mixed.readings, mixed.patients
    sel = np.flatnonzero(r.type_index == SPO2)
    p, t, v = r.patient_index[sel], r.measured_at[sel], r.value[sel]
    gap = (t[1:] - t[:-1]) / np.timedelta64(1, "m")
    repeat = (p[1:] == p[:-1]) & (gap < 10)
    assert repeat.sum() > 100
    assert pt.repeats_low[p[1:][repeat]].all()
    assert (gap[repeat] >= EVERYTHING.repeat_minutes_min).all()
    assert (v[:-1][repeat] <= pt.spo2_baseline[p[:-1][repeat]] - EVERYTHING.repeat_if_below).all()
    # Every SpO2 reading still has its pulse at the same instant, and readings stay sorted.
    pulse = r.type_index == PULSE
    assert (r.measured_at[r.type_index == SPO2] == r.measured_at[pulse]).all()
    key = r.patient_index * 10**18 + r.measured_at.astype(np.int64) % 10**18
    assert (np.diff(key) >= 0).all()


def test_irregular_measurers_and_the_diurnal_swing(mixed: Cohort) -> None:
    r, pt = mixed.readings, mixed.patients
    sel = _clean(mixed, PULSE) & pt.irregular_time[r.patient_index]
    local_hour = ((r.measured_at[sel].astype("datetime64[m]").astype(np.int64) / 60 + 1) % 24)
    assert local_hour.min() < 8
    assert local_hour.max() > 19
    # Pulse is higher in the afternoon than in the morning, by about the documented swing.
    resid = r.value[sel] - pt.pulse_baseline[r.patient_index[sel]]
    afternoon = resid[(local_hour > 14) & (local_hour < 18)].mean()
    morning = resid[(local_hour > 7) & (local_hour < 9)].mean()
    assert afternoon - morning == pytest.approx(
        EVERYTHING.diurnal_pulse_amplitude * (1 - np.cos(2 * np.pi * 8 / 24)), abs=1.5)


def test_device_bias_shifts_a_patients_spo2_consistently(mixed: Cohort) -> None:
    pt = mixed.patients
    assert np.std(pt.spo2_device_bias) == pytest.approx(EVERYTHING.device_bias_sd, rel=0.1)
    med = _patient_median(mixed, SPO2)
    plain = ~pt.ltot & ~pt.hypoxaemic & ~pt.heart_failure
    slope = np.polyfit(pt.spo2_device_bias[plain], med[plain] - pt.spo2_baseline[plain], 1)[0]
    assert slope == pytest.approx(1.0, abs=0.15)
