"""Labelled cohorts of simulated KOL patients: readings plus the ground truth (exacerbation onsets
and ends, artefacts, bad days), generated vectorized with numpy from one seed.

The model and every number it uses are in :mod:`simulators.parameters`; ``docs/simulators.md``
describes it. A cohort is the same for the same ``(n_patients, days, seed, start, params)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray
from scipy.signal import lfilter

from core.measurement_types import MEASUREMENT_TYPES
from simulators.parameters import DEFAULT_PHYSIOLOGY, PhysiologyParameters

LOCAL_TZ = ZoneInfo("Europe/Copenhagen")
US_PER_DAY = 86_400_000_000
US_PER_HOUR = 3_600_000_000
DAYS_PER_YEAR = 365.25
BURN_IN_DAYS = 90.0
"""Exacerbations are simulated from this long before the start, so the process is stationary
at the start (some patients are already in an episode or recovering)."""
MON_WED_FRI = np.array([True, False, True, False, True, False, False])
SPO2 = MEASUREMENT_TYPES["spo2"].index
PULSE = MEASUREMENT_TYPES["pulse"].index
WEIGHT = MEASUREMENT_TYPES["weight"].index

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int64]
TimeArray = NDArray[np.datetime64]


@dataclass(frozen=True, slots=True, kw_only=True)
class Patients:
    """Per-patient parameters, one entry per patient index."""

    ltot: BoolArray
    spo2_baseline: FloatArray
    spo2_sd: FloatArray
    pulse_baseline: FloatArray
    pulse_sd: FloatArray
    weight_baseline: FloatArray
    exacerbation_rate: FloatArray
    """Personal mean exacerbations per year."""
    adherence: FloatArray
    """Probability of measuring on a scheduled day."""
    schedule: BoolArray
    """Shape ``(n, 7)``: scheduled weekdays, Monday first."""
    measure_hour: FloatArray
    """Usual local (Europe/Copenhagen) hour of the morning measurement."""
    af: BoolArray
    """Permanent atrial fibrillation: higher, more variable pulse."""
    heart_failure: BoolArray
    hypoxaemic: BoolArray
    """Chronic moderate hypoxaemia without long-term oxygen."""
    rate_lowering: BoolArray
    """On a rate-lowering drug: lower pulse, blunted pulse rise in exacerbations."""
    irregular_time: BoolArray
    """Measures at any time of day instead of in the morning."""
    repeats_low: BoolArray
    """Measures again, minutes later, when the oximeter shows a low SpO2."""
    artefact_rate: FloatArray
    """Share of this patient's SpO2 readings with a motion artefact."""
    spo2_device_bias: FloatArray
    """Constant offset of this patient's oximeter, %-points."""
    weight_sd: FloatArray
    """Day-to-day weighing noise, kg."""

    def __len__(self) -> int:
        return len(self.ltot)


@dataclass(frozen=True, slots=True, kw_only=True)
class Readings:
    """One row per reading, sorted by patient, then ``measured_at``."""

    patient_index: IntArray
    type_index: NDArray[np.int16]
    measured_at: TimeArray
    """``datetime64[us]``, UTC."""
    value: FloatArray
    artefact: BoolArray
    """Ground truth: a reading with a motion artefact (SpO2 false low, pulse false high)."""
    bad_day: BoolArray
    """Ground truth: measured on a bad day that is not an exacerbation."""

    def __len__(self) -> int:
        return len(self.patient_index)


@dataclass(frozen=True, slots=True, kw_only=True)
class Episodes:
    """Ground-truth exacerbations whose prodrome or course overlaps the cohort's period (an onset
    may lie before the start or after the end). Sorted by patient, then onset."""

    patient_index: IntArray
    onset: TimeArray
    end: TimeArray
    ramp_days: FloatArray
    spo2_drop: FloatArray
    pulse_rise: FloatArray

    def __len__(self) -> int:
        return len(self.patient_index)


@dataclass(frozen=True, slots=True, kw_only=True)
class Cohort:
    patients: Patients
    readings: Readings
    episodes: Episodes
    start: datetime
    days: int
    seed: int
    params: PhysiologyParameters = field(default=DEFAULT_PHYSIOLOGY)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)


def utc64(moment: datetime) -> np.datetime64:
    """An aware datetime as the cohort's ``datetime64[us]`` (UTC)."""
    return np.datetime64(moment.astimezone(UTC).replace(tzinfo=None), "us")


def _to_us(moment: datetime) -> np.int64:
    return np.int64((moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1))


def _local_midnights_us(start: datetime, n_days: int) -> tuple[IntArray, IntArray]:
    """UTC microseconds of the local morning clock's zero for each local day from ``start``'s local
    date, and each day's weekday (Monday 0). The offset is the one in force at 08:00, so morning
    times are exact also on daylight-saving change days."""
    first = start.astimezone(LOCAL_TZ).date()
    zeros = np.empty(n_days, dtype=np.int64)
    weekdays = np.empty(n_days, dtype=np.int64)
    for d in range(n_days):  # one step per day, not per reading
        day = first + timedelta(days=d)
        morning = datetime.combine(day, time(8), tzinfo=LOCAL_TZ)
        offset = morning.utcoffset()
        assert offset is not None
        naive_midnight = datetime.combine(day, time(0), tzinfo=UTC)
        zeros[d] = _to_us(naive_midnight - offset)
        weekdays[d] = day.weekday()
    return zeros, weekdays


def draw_patients(rng: np.random.Generator, n: int, p: PhysiologyParameters,
                  traits_rng: np.random.Generator | None = None) -> Patients:
    """Personal parameters for ``n`` patients.

    Comorbidities, drugs, habits and devices are drawn from ``traits_rng`` (default: a generator
    seeded from ``rng``), so that a mix with every share at 0 draws the original population
    exactly.

    Examples
    --------
    >>> pts = draw_patients(np.random.default_rng(1), 3, DEFAULT_PHYSIOLOGY)
    >>> pts.schedule.shape
    (3, 7)
    """
    tr = traits_rng if traits_rng is not None else np.random.default_rng(rng.integers(2 ** 63))
    ltot = rng.random(n) < p.ltot_fraction
    spo2 = np.where(ltot, rng.normal(p.ltot_spo2_mean, p.ltot_spo2_between_sd, n),
                    rng.normal(p.spo2_mean, p.spo2_between_sd, n))
    poor = rng.random(n) < p.poor_adherence_fraction
    mean_adh = np.where(poor, p.adherence_mean_poor, p.adherence_mean_good)
    rate = rng.gamma(p.exacerbation_rate_shape, p.exacerbation_rate / p.exacerbation_rate_shape, n)
    daily = rng.random(n) < p.daily_schedule_fraction
    spo2_sd = p.spo2_day_sd * rng.lognormal(0.0, p.day_sd_spread, n)
    pulse = rng.normal(p.pulse_mean, p.pulse_between_sd, n)
    pulse_spread = rng.lognormal(0.0, p.day_sd_spread, n)
    weight = np.clip(rng.normal(p.weight_mean, p.weight_between_sd, n), p.weight_min,
                     p.weight_max)

    af = tr.random(n) < p.af_fraction
    hf = tr.random(n) < p.hf_fraction
    hypoxaemic = ~ltot & (tr.random(n) < p.hypoxaemic_fraction)
    rate_lowering = tr.random(n) < p.rate_lowering_fraction
    spo2 = np.where(hypoxaemic, tr.normal(p.hypoxaemic_spo2_mean, p.hypoxaemic_spo2_between_sd, n),
                    spo2) + np.where(hf, p.hf_spo2_shift, 0.0)
    pulse = (np.where(af, tr.normal(p.af_pulse_mean, p.af_pulse_between_sd, n), pulse)
             + np.where(hf, p.hf_pulse_shift, 0.0)
             + np.where(rate_lowering, p.rate_lowering_pulse_shift, 0.0))
    prone = tr.random(n) < p.artefact_prone_fraction
    return Patients(
        ltot=ltot,
        spo2_baseline=np.clip(spo2, p.spo2_min_stable, p.spo2_max_stable),
        spo2_sd=spo2_sd,
        pulse_baseline=pulse,
        pulse_sd=np.where(af, p.af_pulse_day_sd, p.pulse_day_sd) * pulse_spread,
        weight_baseline=weight,
        exacerbation_rate=np.minimum(rate, p.exacerbation_rate_max),
        adherence=rng.beta(mean_adh * p.adherence_concentration,
                           (1 - mean_adh) * p.adherence_concentration),
        schedule=np.where(daily[:, None], True, MON_WED_FRI[None, :]),
        measure_hour=np.clip(rng.normal(p.measure_hour_mean, p.measure_hour_sd, n),
                             p.measure_hour_min, p.measure_hour_max),
        af=af,
        heart_failure=hf,
        hypoxaemic=hypoxaemic,
        rate_lowering=rate_lowering,
        irregular_time=tr.random(n) < p.irregular_time_fraction,
        repeats_low=tr.random(n) < p.repeat_fraction,
        artefact_rate=np.where(prone, p.artefact_prone_probability, p.artefact_probability),
        spo2_device_bias=tr.normal(0.0, p.device_bias_sd, n),
        weight_sd=np.where(hf, p.hf_weight_day_sd, p.weight_day_sd),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class _EpisodeMatrix:
    """Episodes as ``(n, k)`` matrices in days since the start; ``valid`` marks real entries."""

    onset: FloatArray
    duration: FloatArray
    ramp: FloatArray
    spo2_drop: FloatArray
    pulse_rise: FloatArray
    valid: BoolArray


def draw_episodes(rng: np.random.Generator, rate_per_year: FloatArray, horizon_days: float,
                  p: PhysiologyParameters) -> _EpisodeMatrix:
    """A renewal process per patient: exponential waiting times at the at-risk rate, then the
    episode and a refractory period. The at-risk rate ``r`` is chosen so that the long-run rate,
    ``r / (1 + r * dead_time)``, equals the patient's personal rate."""
    n = len(rate_per_year)
    mean_duration = p.duration_median_days * np.exp(p.duration_sigma ** 2 / 2)
    dead = (mean_duration + p.refractory_days) / DAYS_PER_YEAR
    at_risk = rate_per_year / np.maximum(1.0 - rate_per_year * dead, 0.05)
    scale_days = DAYS_PER_YEAR / np.maximum(at_risk, 1e-9)

    onset_cols: list[FloatArray] = []
    duration_cols: list[FloatArray] = []
    last_free = np.full(n, -BURN_IN_DAYS)
    while not onset_cols or np.any(onset_cols[-1] < horizon_days):
        onset = last_free + rng.exponential(scale_days)
        duration = np.clip(
            rng.lognormal(np.log(p.duration_median_days), p.duration_sigma, n),
            p.duration_min_days, p.duration_max_days)
        onset_cols.append(onset)
        duration_cols.append(duration)
        last_free = onset + duration + p.refractory_days
    onsets = np.stack(onset_cols, axis=1)
    shape = onsets.shape
    return _EpisodeMatrix(
        onset=onsets,
        duration=np.stack(duration_cols, axis=1),
        ramp=rng.uniform(p.ramp_days_min, p.ramp_days_max, shape),
        spo2_drop=rng.uniform(p.spo2_drop_min, p.spo2_drop_max, shape),
        pulse_rise=rng.uniform(p.pulse_rise_min, p.pulse_rise_max, shape),
        valid=onsets < horizon_days,
    )


def episode_profile(tau: FloatArray, ramp: FloatArray, duration: FloatArray,
                    p: PhysiologyParameters = DEFAULT_PHYSIOLOGY) -> FloatArray:
    """Share (0–1) of an episode's full deviation at ``tau`` days after onset: a linear prodrome
    over ``ramp`` days, a plateau, then exponential recovery that leaves ``residual_at_end`` at
    the episode's end and keeps decaying after it. NaN in gives NaN out.

    Examples
    --------
    >>> episode_profile(np.array([-4.0, -1.0, 0.0, 9.0]), np.array(4.0), np.array(9.0))
    array([0.  , 0.75, 1.  , 0.25])
    """
    recovery_tau = (duration - p.plateau_days) / np.log(1.0 / p.residual_at_end)
    with np.errstate(over="ignore", invalid="ignore"):
        rising = np.clip((tau + ramp) / ramp, 0.0, 1.0)
        decaying = np.exp(-np.maximum(tau - p.plateau_days, 0.0) / recovery_tau)
    return np.where(tau < 0, rising, decaying)


def _ar1(rng: np.random.Generator, shape: tuple[int, int], phi: float) -> FloatArray:
    """Unit-variance AR(1) noise along the last axis."""
    innovations = rng.standard_normal(shape) * np.sqrt(1.0 - phi ** 2)
    innovations[:, 0] = rng.standard_normal(shape[0])
    out: FloatArray = lfilter([1.0], [1.0, -phi], innovations, axis=1)
    return out


def _oximeter(rng: np.random.Generator, rng_extra: np.random.Generator, spo2_true: FloatArray,
              pulse_true: FloatArray, artefact_rate: FloatArray, p: PhysiologyParameters
              ) -> tuple[FloatArray, FloatArray, BoolArray, BoolArray]:
    """What the oximeter shows for true SpO2 and pulse: motion artefacts (false low SpO2 from
    ``rng``, false high pulse from ``rng_extra``), rounded to integers, clipped to the protocol's
    range."""
    k = spo2_true.size
    spo2_artefact = rng.random(k) < artefact_rate
    spo2_drop = spo2_artefact * rng.uniform(p.artefact_drop_min, p.artefact_drop_max, k)
    pulse_artefact = rng_extra.random(k) < p.pulse_artefact_probability
    pulse_rise = pulse_artefact * rng_extra.uniform(p.pulse_artefact_rise_min,
                                                    p.pulse_artefact_rise_max, k)
    spo2_t, pulse_t = MEASUREMENT_TYPES["spo2"], MEASUREMENT_TYPES["pulse"]
    spo2 = np.clip(np.round(spo2_true - spo2_drop), spo2_t.min_value, spo2_t.max_value)
    pulse = np.clip(np.round(pulse_true + pulse_rise), pulse_t.min_value, pulse_t.max_value)
    return spo2, pulse, spo2_artefact, pulse_artefact


def generate_cohort(*, n_patients: int, days: int, seed: int, start: datetime,
                    params: PhysiologyParameters = DEFAULT_PHYSIOLOGY) -> Cohort:
    """Simulate ``n_patients`` for ``days`` local days from ``start`` (timezone-aware).

    Each patient measures once in the morning (Europe/Copenhagen) on scheduled days they adhere
    to: SpO2 and pulse from the oximeter at the same instant, weight a few minutes before. Values
    include exacerbations, bad days and motion artefacts; readings before ``start`` or from
    ``start + days`` on are left out.

    Examples
    --------
    >>> c = generate_cohort(n_patients=2, days=7, seed=1,
    ...                     start=datetime(2026, 1, 5, tzinfo=UTC))
    >>> c.readings.measured_at.dtype
    dtype('<M8[us]')
    """
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    if n_patients < 1 or days < 1:
        raise ValueError("n_patients and days must be positive")
    p = params
    # Children 0-5 drive the original population; 6-7 the sub-populations and habits, so a mix
    # with those switched off reproduces the original cohort bit for bit.
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(8)]
    r_patients, r_episodes, r_noise, r_days, r_times, r_values, r_traits, r_extra = rngs
    patients = draw_patients(r_patients, n_patients, p, r_traits)
    n, d = n_patients, days + 1  # one spare local day: `start` may fall late in a local day
    zeros, weekdays = _local_midnights_us(start, d)
    start_us = _to_us(start)
    episodes = draw_episodes(r_episodes, patients.exacerbation_rate, d + p.ramp_days_max, p)

    spo2_noise = _ar1(r_noise, (n, d), p.day_autocorrelation) * patients.spo2_sd[:, None]
    pulse_noise = _ar1(r_noise, (n, d), p.day_autocorrelation) * patients.pulse_sd[:, None]
    weight_true = (patients.weight_baseline[:, None]
                   + np.cumsum(r_noise.normal(0.0, p.weight_drift_sd, (n, d)), axis=1))
    bad = r_days.random((n, d)) < p.bad_day_probability
    adheres = r_days.random((n, d)) < patients.adherence[:, None]
    measured = patients.schedule[:, weekdays] & adheres

    pi, di = np.nonzero(measured)
    m = len(pi)
    jitter = r_times.normal(0.0, p.measure_jitter_minutes / 60, m)
    hour = np.clip(patients.measure_hour[pi] + jitter, p.measure_hour_min, p.measure_hour_max)
    any_time = r_extra.uniform(p.irregular_hour_min, p.irregular_hour_max, m)
    hour = np.where(patients.irregular_time[pi], any_time, hour)
    oxi_us = zeros[di] + (hour * US_PER_HOUR).astype(np.int64)
    weight_us = oxi_us - (r_times.uniform(0.0, p.weight_before_minutes_max, m) * 60e6).astype(
        np.int64)
    t_days = (oxi_us - start_us) / US_PER_DAY

    spo2_dev = np.zeros(m)
    pulse_dev = np.zeros(m)
    for k in range(episodes.onset.shape[1]):  # a handful of episode slots, each vectorized
        share = episode_profile(t_days - episodes.onset[pi, k], episodes.ramp[pi, k],
                                episodes.duration[pi, k], p)
        share = np.where(episodes.valid[pi, k], share, 0.0)
        spo2_dev -= share * episodes.spo2_drop[pi, k]
        pulse_dev += share * episodes.pulse_rise[pi, k]
    pulse_dev *= np.where(patients.rate_lowering[pi], p.rate_lowering_rise_factor, 1.0)
    is_bad = bad[pi, di]
    spo2_dev -= is_bad * r_values.uniform(p.bad_day_spo2_drop_min, p.bad_day_spo2_drop_max, m)
    pulse_dev += is_bad * r_values.uniform(p.bad_day_pulse_rise_min, p.bad_day_pulse_rise_max, m)
    diurnal = np.cos(2 * np.pi * (hour - p.diurnal_peak_hour) / 24)
    spo2_dev += p.diurnal_spo2_amplitude * diurnal + patients.spo2_device_bias[pi]
    pulse_dev += p.diurnal_pulse_amplitude * diurnal

    spo2_true = patients.spo2_baseline[pi] + spo2_noise[pi, di] + spo2_dev
    pulse_true = patients.pulse_baseline[pi] + pulse_noise[pi, di] + pulse_dev
    spo2, pulse, spo2_artefact, pulse_artefact = _oximeter(
        r_values, r_extra, spo2_true, pulse_true, patients.artefact_rate[pi], p)
    weight_t = MEASUREMENT_TYPES["weight"]
    weight_noise = r_values.normal(0.0, p.weight_day_sd, m)
    # Heart failure: fluid adds to the scale's noise (independent parts add in variance).
    weight_noise += r_extra.normal(0.0, 1.0, m) * np.sqrt(
        np.maximum(patients.weight_sd[pi] ** 2 - p.weight_day_sd ** 2, 0.0))
    weight = np.clip(np.round(weight_true[pi, di] + weight_noise, 1),
                     weight_t.min_value, weight_t.max_value)

    # A patient who repeats low readings measures again a few minutes later: the same day's
    # state, a fresh artefact draw and a little session-to-session difference.
    again = patients.repeats_low[pi] & (
        spo2 <= patients.spo2_baseline[pi] - p.repeat_if_below)
    r = np.flatnonzero(again)
    re_us = oxi_us[r] + (r_extra.uniform(p.repeat_minutes_min, p.repeat_minutes_max, r.size)
                         * 60e6).astype(np.int64)
    re_spo2, re_pulse, re_spo2_art, re_pulse_art = _oximeter(
        r_extra, r_extra, spo2_true[r] + r_extra.normal(0.0, p.repeat_spo2_sd, r.size),
        pulse_true[r] + r_extra.normal(0.0, p.repeat_pulse_sd, r.size),
        patients.artefact_rate[pi[r]], p)

    # Per measuring session: weight first (earlier), then the oximeter's SpO2 and pulse.
    no_flag = np.zeros(m, dtype=bool)
    session_patient = np.r_[np.repeat(pi.astype(np.int64), 3), np.repeat(pi[r], 2)]
    stacked_us = np.r_[np.stack([weight_us, oxi_us, oxi_us], axis=1).ravel(),
                       np.repeat(re_us, 2)]
    types = np.r_[np.tile(np.array([WEIGHT, SPO2, PULSE], dtype=np.int16), m),
                  np.tile(np.array([SPO2, PULSE], dtype=np.int16), r.size)]
    values = np.r_[np.stack([weight, spo2, pulse], axis=1).ravel(),
                   np.stack([re_spo2, re_pulse], axis=1).ravel()]
    artefacts = np.r_[np.stack([no_flag, spo2_artefact, pulse_artefact], axis=1).ravel(),
                      np.stack([re_spo2_art, re_pulse_art], axis=1).ravel()]
    bad_days = np.r_[np.repeat(is_bad, 3), np.repeat(is_bad[r], 2)]
    # Sorted by patient, then time (weight, SpO2, pulse within an instant); without repeats the
    # rows are already in this order.
    rank = np.array([1, 2, 0], dtype=np.int8)[types]  # SpO2 0 -> 1, pulse 1 -> 2, weight 2 -> 0
    order = np.lexsort((rank, stacked_us, session_patient)) if r.size else np.arange(3 * m)
    in_period = (stacked_us >= start_us) & (stacked_us < start_us + days * US_PER_DAY)
    keep = order[in_period[order]]
    readings = Readings(
        patient_index=session_patient[keep],
        type_index=types[keep],
        measured_at=stacked_us[keep].astype("datetime64[us]"),
        value=values[keep],
        artefact=artefacts[keep],
        bad_day=bad_days[keep],
    )

    overlaps = (episodes.valid
                & (episodes.onset - episodes.ramp < days)
                & (episodes.onset + episodes.duration > 0))
    ep_p, ep_k = np.nonzero(overlaps)

    def at(days_since_start: FloatArray) -> TimeArray:
        return (start_us + np.round(days_since_start * US_PER_DAY).astype(np.int64)).astype(
            "datetime64[us]")

    return Cohort(
        patients=patients,
        readings=readings,
        episodes=Episodes(
            patient_index=ep_p.astype(np.int64),
            onset=at(episodes.onset[ep_p, ep_k]),
            end=at(episodes.onset[ep_p, ep_k] + episodes.duration[ep_p, ep_k]),
            ramp_days=episodes.ramp[ep_p, ep_k],
            spo2_drop=episodes.spo2_drop[ep_p, ep_k],
            pulse_rise=episodes.pulse_rise[ep_p, ep_k],
        ),
        start=start,
        days=days,
        seed=seed,
        params=p,
    )
