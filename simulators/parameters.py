"""Every number the patient and tablet simulators use, in one place, each with where it comes from.

The published figures are the ones collected in ``../shared/docs/alerting.md`` ("What good looks
like"); the references below are the studies those figures come from. Numbers marked
*assumption* are the project's own modelling choices (no published figure fits a tablet fleet),
chosen to be plausible and kept here so that a reviewer can challenge them in one place.

References
----------
Hurst 2010
    Hurst JR, Donaldson GC, Quint JK, Goldring JJP, Patel ARC, Wedzicha JA. Domiciliary
    pulse-oximetry at exacerbation of chronic obstructive pulmonary disease: prospective pilot
    study. BMC Pulm Med 2010;10:52. Stable SpO2 ≈ 92–94 %, day-to-day SD ≈ 1 point; pulse
    ≈ 87/min, SD ≈ 5; before onset SpO2 falls ≈ 1–4 points and pulse rises ≈ 7–10/min; combined
    z-score rule: 71 % sensitivity / 74 % specificity.
Seemungal 2000
    Seemungal TAR, Donaldson GC, Bhowmik A, Jeffries DJ, Wedzicha JA. Time course and recovery of
    exacerbations in patients with COPD. Am J Respir Crit Care Med 2000;161:1608–13. Prodrome of
    up to a week, median duration ≈ 7–10 days, slow and sometimes incomplete recovery.
Hurst 2010b (ECLIPSE)
    Hurst JR et al. Susceptibility to exacerbation in COPD. N Engl J Med 2010;363:1128–38.
    ≈ 2 exacerbations per patient-year with a stable between-patient spread ("frequent
    exacerbators"): a gamma-distributed personal rate (negative binomial counts).
BTS 2017
    O'Driscoll BR et al. BTS guideline for oxygen use in adults. Thorax 2017;72:i1–i90. Target
    88–92 % for patients at risk of hypercapnia (the ``kol-ltot`` profile).
alerting.md
    The project's alerting contract: patients measure on ≈ 75 % of scheduled days; oximeter motion
    artefacts give false lows of 5–10 points; episodes last ≈ 9 days.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class PhysiologyParameters:
    """Patient physiology. Units: SpO2 in %-points, pulse in /min, weight in kg, time in days."""

    # Stable state (Hurst 2010).
    spo2_mean: float = 93.0
    """Mean of the patients' personal stable SpO2 (Hurst 2010: 92–94 %)."""
    spo2_between_sd: float = 1.0
    """Between-patient SD of the personal stable SpO2 (assumption, keeps most in 91–95 %)."""
    spo2_day_sd: float = 1.0
    """Median personal day-to-day SD of SpO2 (Hurst 2010: ≈ 1 point)."""
    pulse_mean: float = 87.0
    """Mean of the personal stable pulse (Hurst 2010: ≈ 87/min)."""
    pulse_between_sd: float = 8.0
    """Between-patient SD of the personal stable pulse (assumption)."""
    pulse_day_sd: float = 5.0
    """Median personal day-to-day SD of pulse (Hurst 2010: ≈ 5/min)."""
    day_sd_spread: float = 0.2
    """Log-normal sigma of the personal day-to-day SDs around their medians (assumption)."""
    day_autocorrelation: float = 0.3
    """Lag-1 autocorrelation of the day-to-day noise: good and bad stretches (assumption)."""

    weight_mean: float = 72.0
    """Mean body weight, kg (assumption; COPD outpatients, mixed sexes)."""
    weight_between_sd: float = 15.0
    weight_min: float = 38.0
    weight_max: float = 150.0
    weight_day_sd: float = 0.4
    """Scale and clothing noise per weighing, kg (assumption)."""
    weight_drift_sd: float = 0.05
    """SD of the daily random-walk step of true weight, kg (assumption: ±0.9 kg over a year)."""

    # Long-term oxygen therapy sub-population (BTS 2017).
    ltot_fraction: float = 0.15
    """Share of patients on long-term oxygen (assumption)."""
    ltot_spo2_mean: float = 90.0
    """Their personal stable SpO2 mean, on oxygen (BTS 2017 target 88–92 %)."""
    ltot_spo2_between_sd: float = 1.0

    spo2_min_stable: float = 84.0
    spo2_max_stable: float = 97.0

    # Exacerbations (Hurst 2010b, Seemungal 2000, Hurst 2010).
    exacerbation_rate: float = 2.0
    """Mean exacerbations per patient-year (Hurst 2010b)."""
    exacerbation_rate_shape: float = 2.0
    """Gamma shape of the personal rate: smaller means more spread (assumption tuned to the
    frequent-exacerbator share of Hurst 2010b)."""
    exacerbation_rate_max: float = 12.0
    ramp_days_min: float = 1.0
    ramp_days_max: float = 7.0
    """Prodrome before onset, uniform (Hurst 2010, Seemungal 2000: 1–7 days)."""
    spo2_drop_min: float = 1.0
    spo2_drop_max: float = 4.0
    """SpO2 fall reached at onset, uniform (Hurst 2010: 1–4 points)."""
    pulse_rise_min: float = 7.0
    pulse_rise_max: float = 10.0
    """Pulse rise reached at onset, uniform (Hurst 2010: 7–10/min)."""
    duration_median_days: float = 9.0
    """Median episode duration, onset to end (alerting.md / Seemungal 2000: ≈ 9 days)."""
    duration_sigma: float = 0.35
    duration_min_days: float = 4.0
    duration_max_days: float = 30.0
    plateau_days: float = 2.0
    """Days after onset at the full deviation before recovery starts (assumption)."""
    residual_at_end: float = 0.25
    """Share of the deviation left at the episode's end; recovery then continues exponentially
    (Seemungal 2000: slow, sometimes incomplete recovery)."""
    refractory_days: float = 7.0
    """After an episode's end, no new onset for this long: a relapse inside it is the same episode
    (assumption; the at-risk rate is raised so the observed rate still matches)."""

    # Bad days: a poor day that is not an exacerbation (assumption).
    bad_day_probability: float = 1.0 / 30.0
    bad_day_spo2_drop_min: float = 1.0
    bad_day_spo2_drop_max: float = 3.0
    bad_day_pulse_rise_min: float = 3.0
    bad_day_pulse_rise_max: float = 10.0

    # Measurement behaviour.
    artefact_probability: float = 0.02
    """Share of SpO2 readings with a motion artefact (assumption)."""
    artefact_drop_min: float = 5.0
    artefact_drop_max: float = 10.0
    """False low of a motion artefact (alerting.md: 5–10 points)."""
    adherence_mean_good: float = 0.83
    adherence_mean_poor: float = 0.30
    poor_adherence_fraction: float = 0.15
    """Mixture: most patients measure on ≈ 83 % of scheduled days, 15 % on ≈ 30 %; together
    ≈ 75 % (alerting.md), with some patients far lower."""
    adherence_concentration: float = 12.0
    """Beta concentration (a + b) of the personal adherence (assumption)."""
    daily_schedule_fraction: float = 0.7
    """Share of patients scheduled every day; the rest Mon/Wed/Fri (assumption)."""
    measure_hour_mean: float = 8.5
    measure_hour_sd: float = 1.0
    """Personal usual local measuring hour, Europe/Copenhagen (assumption: mornings)."""
    measure_jitter_minutes: float = 25.0
    measure_hour_min: float = 6.0
    measure_hour_max: float = 11.5
    """Clipped so that a scheduled measurement always falls before the 12:00 deadline."""
    weight_before_minutes_max: float = 15.0
    """The scale is used up to this many minutes before the oximeter (assumption)."""

    @property
    def adherence_mean(self) -> float:
        f = self.poor_adherence_fraction
        return (1 - f) * self.adherence_mean_good + f * self.adherence_mean_poor

    def expected_spo2_mean(self) -> float:
        f = self.ltot_fraction
        return (1 - f) * self.spo2_mean + f * self.ltot_spo2_mean


@dataclass(frozen=True, slots=True, kw_only=True)
class TabletParameters:
    """Tablet and network behaviour (all assumptions: no published figures for a fleet)."""

    clock_skew_sd_seconds: float = 20.0
    """SD of each tablet's clock offset from true time."""
    large_skew_fraction: float = 0.01
    """Share of tablets whose clock is minutes off (some beyond the 5 min future limit)."""
    large_skew_seconds: float = 600.0
    offline_probability_per_day: float = 0.03
    """Chance per simulated day that a tablet loses its connection."""
    offline_hours_mean: float = 20.0
    """Mean length of an offline period (exponential), simulated hours."""
    malformed_rate: float = 0.0
    """Share of batches sent as broken JSON (configurable; 0 by default)."""
    bad_reading_rate: float = 0.0
    """Share of readings sent with a bad field (wrong unit, naive timestamp, out of range)."""
    receipt_timeout_seconds: float = 30.0
    """Real seconds without a receipt before the same batch is resent (same msg_id); each
    further resend waits twice as long, up to an hour."""
    max_batch_readings: int = 500
    """Protocol limit per batch."""
    battery_min: int = 20


DEFAULT_PHYSIOLOGY = PhysiologyParameters()
DEFAULT_TABLET = TabletParameters()
