"""``kol-sim cohort`` writes a CSV cohort that reads back to the same numbers; ``kol-sim plot``
writes a PNG."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from core.measurement_types import MEASUREMENT_TYPES
from simulators.cli import main
from simulators.cohort import LOCAL_TZ, generate_cohort
from simulators.parameters import POPULATION_MIXES


def test_cohort_command_exports_readings_and_ground_truth(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    assert main(["cohort", "--out", str(tmp_path), "--patients", "30", "--days", "60",
                 "--seed", "11", "--start", "2026-03-01"]) == 0
    assert "30 patients × 60 days (seed 11, standard mix)" in capsys.readouterr().out
    cohort = generate_cohort(n_patients=30, days=60, seed=11,
                             start=datetime(2026, 3, 1, tzinfo=LOCAL_TZ))
    with (tmp_path / "readings.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(cohort.readings)
    r = cohort.readings
    np.testing.assert_array_equal([int(x["patient_index"]) for x in rows], r.patient_index)
    np.testing.assert_array_equal([MEASUREMENT_TYPES[x["type"]].index for x in rows],
                                  r.type_index)
    np.testing.assert_array_equal([float(x["value"]) for x in rows], r.value)
    np.testing.assert_array_equal(
        [np.datetime64(x["measured_at"].rstrip("Z"), "us") for x in rows],
        r.measured_at.astype("datetime64[s]").astype("datetime64[us]"))
    assert sum(int(x["artefact"]) for x in rows) == int(r.artefact.sum())
    with (tmp_path / "episodes.csv").open() as f:
        episodes = list(csv.DictReader(f))
    assert len(episodes) == len(cohort.episodes) > 0
    assert all(e["onset"] < e["end"] for e in episodes)
    with (tmp_path / "patients.csv").open() as f:
        patients = list(csv.DictReader(f))
    assert [int(p["ltot"]) for p in patients] == cohort.patients.ltot.astype(int).tolist()


def test_plot_command_writes_a_png(tmp_path: Path) -> None:
    out = tmp_path / "patient.png"
    assert main(["plot", "--out", str(out), "--days", "60", "--cohort-patients", "50"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 20_000


def test_cohort_command_exports_a_population_mix_with_its_traits(tmp_path: Path) -> None:
    assert main(["cohort", "--out", str(tmp_path), "--patients", "200", "--days", "30",
                 "--seed", "5", "--mix", "cardiac"]) == 0
    cohort = generate_cohort(n_patients=200, days=30, seed=5,
                             start=datetime(2026, 1, 1, tzinfo=LOCAL_TZ),
                             params=POPULATION_MIXES["cardiac"])
    with (tmp_path / "patients.csv").open() as f:
        patients = list(csv.DictReader(f))
    assert [int(x["af"]) for x in patients] == cohort.patients.af.astype(int).tolist()
    assert [int(x["rate_lowering"]) for x in patients] == (
        cohort.patients.rate_lowering.astype(int).tolist())
    assert 0 < sum(int(x["heart_failure"]) for x in patients) < 200
