"""Symptom diaries of a simulated cohort: when each patient answers ``kol-symptoms-v1`` and what,
from the cohort's ground truth (its exacerbations and bad days) and the published behaviour in
:class:`simulators.parameters.DiaryParameters`. The answers are readings of the alert engine's
symptom series (value: the symptom mask), so that the engine and the alert-quality benchmark
take them as they take readings."""

from __future__ import annotations

import numpy as np

from core.questionnaires import SYMPTOM_ITEMS, SYMPTOM_SERIES_INDEX
from simulators.cohort import SPO2, US_PER_DAY, Cohort, Readings, episode_profile
from simulators.parameters import DEFAULT_DIARY, DiaryParameters

ANSWER_DELAY_US = 60_000_000
"""The diary is answered a minute after the oximeter (the tablet asks it after measuring)."""


def generate_diaries(cohort: Cohort, *, seed: int, params: DiaryParameters = DEFAULT_DIARY
                     ) -> Readings:
    """The diaries of ``cohort``: at most one per patient and measuring day, sorted by patient
    then time; ``bad_day`` marks a diary of a bad day.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> from simulators.cohort import generate_cohort
    >>> c = generate_cohort(n_patients=20, days=60, seed=3,
    ...                     start=datetime(2026, 1, 5, tzinfo=UTC))
    >>> d = generate_diaries(c, seed=3)
    >>> bool(0 < len(d) < 20 * 60), int(d.value.max()) < 128
    (True, True)
    """
    rng = np.random.default_rng(seed)
    p = params
    r = cohort.readings
    # One measuring session per patient and day: its first SpO2 reading (a repeat is the same
    # session).
    spo2 = np.flatnonzero(r.type_index == SPO2)
    t = r.measured_at[spo2].view(np.int64)
    day = (t - t.min()) // US_PER_DAY if t.size else t
    key = r.patient_index[spo2] * (int(day.max(initial=0)) + 1) + day
    _, first = np.unique(key, return_index=True)
    sessions = spo2[np.sort(first)]
    answered = sessions[rng.random(sessions.size) < p.answer_when_measuring]
    patient = r.patient_index[answered]
    at = r.measured_at[answered].view(np.int64) + ANSWER_DELAY_US

    # The exacerbations' share of their full deviation at the answer (prodrome, plateau,
    # recovery), the largest of the patient's episodes.
    e = cohort.episodes
    share = np.zeros(answered.size)
    lo = np.searchsorted(e.patient_index, patient, "left")
    hi = np.searchsorted(e.patient_index, patient, "right")
    onset_us, end_us = e.onset.view(np.int64), e.end.view(np.int64)
    for k in range(int((hi - lo).max(initial=0))):  # episodes per patient, a handful
        j = np.minimum(lo + k, max(len(e) - 1, 0))
        ok = (lo + k) < hi
        if not ok.any():
            continue
        tau = (at - onset_us[j]) / US_PER_DAY
        duration = (end_us[j] - onset_us[j]) / US_PER_DAY
        s = episode_profile(tau, e.ramp_days[j], duration, cohort.params)
        share = np.maximum(share, np.where(ok, np.nan_to_num(s), 0.0))
    bad = r.bad_day[answered]
    share = np.maximum(share, bad * p.bad_day_share)

    reporter = rng.gamma(p.reporter_shape, 1.0 / p.reporter_shape, len(cohort.patients))
    quiet = np.minimum(np.array(p.quiet)[None, :] * reporter[patient][:, None], 1.0)
    peak = np.array(p.peak)[None, :]
    chance = quiet + (np.maximum(peak - quiet, 0.0)) * share[:, None]
    bits = rng.random((answered.size, len(SYMPTOM_ITEMS))) < chance
    mask = bits @ (1 << np.arange(len(SYMPTOM_ITEMS)))
    return Readings(patient_index=patient.astype(np.int64),
                    type_index=np.full(answered.size, SYMPTOM_SERIES_INDEX, np.int16),
                    measured_at=at.astype("datetime64[us]"), value=mask.astype(np.float64),
                    artefact=np.zeros(answered.size, np.bool_), bad_day=bad)


def with_diaries(readings: Readings, diaries: Readings) -> Readings:
    """Readings and diaries together, sorted by patient then time."""
    order = np.lexsort((np.r_[readings.measured_at, diaries.measured_at],
                        np.r_[readings.patient_index, diaries.patient_index]))
    return Readings(**{name: np.r_[getattr(readings, name), getattr(diaries, name)][order]
                       for name in ("patient_index", "type_index", "measured_at", "value",
                                    "artefact", "bad_day")})
