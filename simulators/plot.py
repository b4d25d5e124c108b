"""A picture of one simulated patient: SpO2, pulse and weight over the period, exacerbations
shaded (prodrome lighter), motion artefacts and bad days marked."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simulators.cohort import PULSE, SPO2, WEIGHT, Cohort, utc64


def pick_patient(cohort: Cohort, episodes: int = 3) -> int:
    """A patient worth looking at: not on oxygen, measuring daily on most days, with
    ``episodes`` exacerbations starting inside the period (or as close to it as any)."""
    e, p = cohort.episodes, cohort.patients
    start = utc64(cohort.start)
    inside = e.onset >= start
    counts = np.bincount(e.patient_index[inside], minlength=len(p))
    eligible = ~p.ltot & (p.adherence > 0.8) & p.schedule.all(axis=1)
    distance = np.where(eligible, np.abs(counts - episodes), np.iinfo(np.int64).max)
    return int(np.argmin(distance))


def plot_patient(cohort: Cohort, patient: int, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    r, e = cohort.readings, cohort.episodes
    mine = r.patient_index == patient
    fig, axes = plt.subplots(3, 1, figsize=(12, 8), sharex=True, constrained_layout=True)
    panels = ((SPO2, "SpO2 (%)", "tab:blue"), (PULSE, "Pulse (/min)", "tab:red"),
              (WEIGHT, "Weight (kg)", "tab:green"))
    ep = e.patient_index == patient
    for ax, (type_index, label, colour) in zip(axes, panels, strict=True):
        sel = mine & (r.type_index == type_index)
        t, v = r.measured_at[sel], r.value[sel]
        plain = ~(r.artefact[sel] | r.bad_day[sel])
        ax.plot(t, v, color=colour, lw=0.6, alpha=0.5)
        ax.plot(t[plain], v[plain], "o", color=colour, ms=3)
        ax.plot(t[r.bad_day[sel]], v[r.bad_day[sel]], "s", color="orange", ms=4,
                label="bad day (not an exacerbation)")
        if type_index == SPO2:
            ax.plot(t[r.artefact[sel]], v[r.artefact[sel]], "x", color="black", ms=6,
                    label="motion artefact")
        for onset, end, ramp in zip(e.onset[ep], e.end[ep], e.ramp_days[ep], strict=True):
            prodrome = onset - np.timedelta64(int(ramp * 86_400e6), "us")
            ax.axvspan(prodrome, onset, color="grey", alpha=0.15, lw=0)
            ax.axvspan(onset, end, color="grey", alpha=0.35, lw=0)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    handles, _ = axes[0].get_legend_handles_labels()
    handles += [Patch(color="grey", alpha=0.15, label="prodrome"),
                Patch(color="grey", alpha=0.35, label="exacerbation (onset → end)")]
    fig.legend(handles=handles, loc="outside lower center", fontsize=9, ncols=4)
    axes[0].set_xlim(utc64(cohort.start), utc64(cohort.end))
    p = cohort.patients
    axes[0].set_title(
        f"Simulated patient {patient} (seed {cohort.seed}): {cohort.days} days from "
        f"{cohort.start:%Y-%m-%d}, {int(ep.sum())} exacerbations; stable SpO2 "
        f"{p.spo2_baseline[patient]:.1f} %, pulse {p.pulse_baseline[patient]:.0f}/min, "
        f"adherence {p.adherence[patient]:.0%}")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
