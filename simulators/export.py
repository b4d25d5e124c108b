"""Cohort export as CSV for offline evaluation of the alert engine (no extra dependency)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from core.measurement_types import TYPE_BY_INDEX
from simulators.cohort import Cohort

_TRAITS = ("af", "heart_failure", "hypoxaemic", "rate_lowering", "irregular_time", "repeats_low")


def _iso(times: np.ndarray) -> list[str]:
    return list(np.datetime_as_string(times, unit="s", timezone="UTC"))


def write_csv(cohort: Cohort, out_dir: Path) -> dict[str, Path]:
    """Write ``readings.csv``, ``episodes.csv`` and ``patients.csv`` into ``out_dir``.

    ``readings.csv``: patient_index, type, measured_at (RFC 3339, UTC), value, artefact,
    bad_day (ground-truth flags, 0/1). ``episodes.csv``: patient_index, onset, end,
    ramp_days, spo2_drop, pulse_rise. ``patients.csv``: the per-patient parameters, with the
    sub-population and habit flags (0/1) of the population mixes.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    r, e, p = cohort.readings, cohort.episodes, cohort.patients
    codes = np.array([t.code for t in TYPE_BY_INDEX])
    paths = {name: out_dir / f"{name}.csv" for name in ("readings", "episodes", "patients")}
    with paths["readings"].open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["patient_index", "type", "measured_at", "value", "artefact", "bad_day"])
        w.writerows(zip(r.patient_index.tolist(), codes[r.type_index].tolist(),
                        _iso(r.measured_at), r.value.tolist(), r.artefact.astype(int).tolist(),
                        r.bad_day.astype(int).tolist(), strict=True))
    with paths["episodes"].open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["patient_index", "onset", "end", "ramp_days", "spo2_drop", "pulse_rise"])
        w.writerows(zip(e.patient_index.tolist(), _iso(e.onset), _iso(e.end),
                        np.round(e.ramp_days, 3).tolist(), np.round(e.spo2_drop, 3).tolist(),
                        np.round(e.pulse_rise, 3).tolist(), strict=True))
    with paths["patients"].open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["patient_index", "ltot", "spo2_baseline", "spo2_sd", "pulse_baseline",
                    "pulse_sd", "weight_baseline", "exacerbation_rate", "adherence",
                    "schedule", "measure_hour", *_TRAITS, "artefact_rate", "spo2_device_bias",
                    "weight_sd"])
        days = ["".join("MTWTFSS"[i] if on else "-" for i, on in enumerate(row))
                for row in p.schedule.tolist()]
        w.writerows(zip(range(len(p)), p.ltot.astype(int).tolist(),
                        *(np.round(a, 3).tolist() for a in (
                            p.spo2_baseline, p.spo2_sd, p.pulse_baseline, p.pulse_sd,
                            p.weight_baseline, p.exacerbation_rate, p.adherence)),
                        days, np.round(p.measure_hour, 3).tolist(),
                        *(getattr(p, name).astype(int).tolist() for name in _TRAITS),
                        *(np.round(a, 3).tolist() for a in (
                            p.artefact_rate, p.spo2_device_bias, p.weight_sd)), strict=True))
    return paths
