"""Vectorized engine against the reference loop on the same input: times, ratio, readings per
second, and a check that both return identical breaches.

Run from the repository root: ``python -m benchmarks.alerts [--patients 10000 --days 180]``.
The input is a simulated cohort (simulators.cohort) evaluated with the default profiles; with
``--diaries`` its simulated symptom diaries too (simulators.diary), so that the symptom rules run.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime

import numpy as np

from alerts import engine, reference
from alerts.profiles import PROFILES
from alerts.schemas import ThresholdArrays
from simulators.cohort import generate_cohort
from simulators.diary import generate_diaries, with_diaries


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--repeat", type=int, default=3, help="engine runs (best is reported)")
    parser.add_argument("--engine-only", action="store_true",
                        help="time the engine only, without the (slow) reference loop")
    parser.add_argument("--diaries", action="store_true",
                        help="the cohort's symptom diaries in the input too")
    args = parser.parse_args()

    cohort = generate_cohort(n_patients=args.patients, days=args.days, seed=args.seed,
                             start=datetime(2026, 1, 5, tzinfo=UTC))
    c = with_diaries(cohort.readings, generate_diaries(cohort, seed=args.seed)) \
        if args.diaries else cohort.readings
    thresholds = ThresholdArrays.from_documents(
        [PROFILES["kol-ltot" if ltot else "kol-standard"] for ltot in cohort.patients.ltot])
    readings = engine.Readings(patient=c.patient_index, type_index=c.type_index,
                               measured_at=c.measured_at, value=c.value)
    n = len(readings)
    print(f"input: {args.patients} patients x {args.days} days = {n:,} readings"
          + (f" (of which {int((c.type_index == engine.SYMPTOMS).sum()):,} diaries)"
             if args.diaries else ""))

    fast_times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        fast = engine.evaluate(readings, thresholds)
        fast_times.append(time.perf_counter() - t0)
    fast_s = min(fast_times)
    print(f"engine    : {fast_s:8.3f} s  ({n / fast_s / 1e6:.2f} M readings/s, one core)")

    if args.engine_only:
        return 0
    t0 = time.perf_counter()
    slow = reference.evaluate(readings, thresholds)
    slow_s = time.perf_counter() - t0
    print(f"reference : {slow_s:8.3f} s  ({n / slow_s / 1e3:.1f} k readings/s)")
    print(f"ratio     : {slow_s / fast_s:8.1f} x")

    same = all(np.array_equal(getattr(fast, f), getattr(slow, f), equal_nan=True)
               for f in ("reading", "partner", "symptom", "rule", "severity", "metric", "limit",
                         "reference"))
    counts = np.bincount(fast.rule, minlength=len(engine.RULES))
    print("breaches  : " + ", ".join(f"{r} {k:,}" for r, k in zip(engine.RULES, counts,
                                                                  strict=True)))
    print(f"identical : {same} ({len(fast):,} breaches)")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
