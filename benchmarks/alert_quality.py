"""Alert quality of the default profiles on a simulated cohort with labelled exacerbations.

Prints episode sensitivity (an alert from 7 days before to 2 days after onset), median lead time
of the first true alert, and false alert episodes per patient-month. An alert episode is a run of
one patient's red or yellow breaches with no gap longer than ``EPISODE_GAP_DAYS`` (the nurse
handles it as one case; the lifecycle keeps one alert open per rule meanwhile). It is false when
it starts outside every exacerbation's window (7 days before onset to ``RECOVERY_DAYS`` after the
end). Run from the repository root: ``python -m benchmarks.alert_quality [--seed N]``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

import numpy as np

from alerts import engine
from alerts.profiles import PROFILES
from alerts.schemas import ThresholdArrays, Thresholds
from simulators.cohort import Cohort, generate_cohort

DAY = np.timedelta64(1, "D")
BEFORE_DAYS, AFTER_DAYS = 7, 2
RECOVERY_DAYS = 14
EPISODE_GAP_DAYS = 3
WARM_UP_DAYS = 30
"""Exacerbations with onset in the first month are not scored: there is no baseline yet."""


def score(cohort: Cohort, profiles: dict[str, Thresholds]) -> dict[str, float]:
    c, e = cohort.readings, cohort.episodes
    th = ThresholdArrays.from_documents(
        [profiles["kol-ltot" if ltot else "kol-standard"] for ltot in cohort.patients.ltot])
    b = engine.evaluate(engine.Readings(patient=c.patient_index, type_index=c.type_index,
                                        measured_at=c.measured_at, value=c.value), th)
    bp = c.patient_index[b.reading]
    bt = c.measured_at[b.reading]
    order = np.lexsort((bt, bp))
    bp, bt = bp[order], bt[order]

    # Alert episodes: a new one when the patient changes or after a gap.
    new = np.r_[True, (bp[1:] != bp[:-1]) | (bt[1:] - bt[:-1] > EPISODE_GAP_DAYS * DAY)]
    ep_patient, ep_start = bp[new], bt[new]

    # For each alert episode start, is it inside any exacerbation window of its patient?
    start = np.datetime64(cohort.start.replace(tzinfo=None), "us")
    end = start + cohort.days * DAY
    lo = e.onset - BEFORE_DAYS * DAY
    hi = e.end + RECOVERY_DAYS * DAY
    true_alert = np.zeros(ep_start.size, bool)
    # Pair every alert episode with the exacerbations of its patient via a merge on patient.
    ep_first = np.searchsorted(e.patient_index, ep_patient, "left")
    ep_last = np.searchsorted(e.patient_index, ep_patient, "right")
    for k in range(int((ep_last - ep_first).max(initial=0))):  # exacerbations per patient, ~5
        j = ep_first + k
        ok = j < ep_last
        jj = np.where(ok, j, 0)
        true_alert |= ok & (ep_start >= lo[jj]) & (ep_start <= hi[jj])
    months = len(cohort.patients) * cohort.days / 30.44
    false_per_month = float((~true_alert).sum() / months)

    # Sensitivity: first breach of the patient at or after onset - 7 d, within onset + 2 d.
    scored = (e.onset >= start + WARM_UP_DAYS * DAY) & (e.onset <= end - AFTER_DAYS * DAY)
    key_b = bp.astype(np.int64) * 10**15 + (bt - start).astype(np.int64)
    key_lo = e.patient_index.astype(np.int64) * 10**15 + (lo - start).astype(np.int64)
    pos = np.minimum(np.searchsorted(key_b, key_lo), max(key_b.size - 1, 0))
    first_t = bt[pos] if bt.size else np.full(e.onset.size, np.datetime64("NaT"), "datetime64[us]")
    hit = (bt.size > 0) & (bp[pos] == e.patient_index) & (first_t >= lo) & (
        first_t <= e.onset + AFTER_DAYS * DAY)
    hit &= scored
    lead = (e.onset[hit] - first_t[hit]) / DAY
    return {
        "patients": len(cohort.patients), "days": cohort.days,
        "episodes": int(scored.sum()), "detected": int(hit.sum()),
        "sensitivity": float(hit.sum() / max(scored.sum(), 1)),
        "median_lead_days": float(np.median(lead)) if lead.size else float("nan"),
        "false_per_patient_month": false_per_month,
        "alert_episodes": int(ep_start.size),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=20261123,
                        help="the reported seed; the defaults were tuned on seeds 7, 11 and 13")
    args = parser.parse_args()
    cohort = generate_cohort(n_patients=args.patients, days=args.days, seed=args.seed,
                             start=datetime(2026, 1, 5, tzinfo=UTC))
    r = score(cohort, dict(PROFILES))
    print(f"cohort: {r['patients']} patients x {r['days']} days, seed {args.seed}, "
          f"{r['episodes']} scored exacerbations")
    print(f"episode sensitivity (-{BEFORE_DAYS} d .. +{AFTER_DAYS} d): {r['sensitivity']:.1%}"
          f" ({r['detected']}/{r['episodes']})")
    print(f"median lead time of the first true alert: {r['median_lead_days']:.1f} days")
    print(f"false alert episodes per patient-month: {r['false_per_patient_month']:.2f}")
    ok = r["sensitivity"] >= 0.8 and r["false_per_patient_month"] <= 1.0
    print(f"target (>= 80 % and <= 1 per patient-month): {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
