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
Goudis 2017
    Goudis CA. Chronic obstructive pulmonary disease and atrial fibrillation: an unknown
    relationship. J Cardiol 2017;69:699–705. Atrial fibrillation in 4.7–15 % of COPD patients.
RACE II
    Van Gelder IC et al. Lenient versus strict rate control in patients with atrial
    fibrillation. N Engl J Med 2010;362:1363–73. Lenient rate control accepts a resting rate
    below 110/min; a permanent-AF population at rest is well above sinus rates.
Rutten 2005
    Rutten FH et al. Unrecognized heart failure in elderly patients with stable chronic
    obstructive pulmonary disease. Eur Heart J 2005;26:1887–94. Heart failure in 20.5 % of
    COPD patients thought not to have it.
ESC 2021
    McDonagh TA et al. 2021 ESC Guidelines for heart failure. Eur Heart J 2021;42:3599–726.
    Unexpected weight gain of more than 2 kg in 3 days is fluid retention to act on: day-to-day
    weight in heart failure moves with fluid, not only with the scale.
LOTT 2016
    The Long-Term Oxygen Treatment Trial Research Group. A randomized trial of long-term oxygen
    for COPD with moderate desaturation. N Engl J Med 2016;375:1617–27. Stable patients with a
    resting SpO2 of 89–93 % who do not qualify for (or benefit from) long-term oxygen.
BLOCK-COPD 2019
    Dransfield MT et al. Metoprolol for the prevention of acute exacerbations of COPD. N Engl J
    Med 2019;381:2304–14. Beta-blockers are given to COPD patients (cardiac indications) and
    lower the resting heart rate.
ISO 80601-2-61
    ISO 80601-2-61:2017, pulse oximeter equipment: SpO2 accuracy A_rms ≤ 4 % (70–100 %). Devices
    legally on the market may read a patient a few points off, consistently.
alerting.md
    The project's alerting contract: patients measure on ≈ 75 % of scheduled days; oximeter motion
    artefacts give false lows of 5–10 points; episodes last ≈ 9 days.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


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

    # Sub-populations and habits beyond the stable KOL patient (issue 13: defaults must hold on
    # patients they were not tuned on). Every share is 0 here, so the default parameters are the
    # original population; ``POPULATION_MIXES`` below switches them on.
    af_fraction: float = 0.0
    """Share with permanent atrial fibrillation (Goudis 2017: 4.7–15 % of COPD patients)."""
    af_pulse_mean: float = 95.0
    """Their stable pulse (RACE II: lenient rate control below 110/min at rest; the level inside
    that target is an assumption)."""
    af_pulse_between_sd: float = 10.0
    af_pulse_day_sd: float = 12.0
    """Median day-to-day pulse SD in AF: the ventricular rate is irregular (assumption: 2.4 times
    the sinus-rhythm SD of Hurst 2010)."""
    hf_fraction: float = 0.0
    """Share with heart failure (Rutten 2005: 20.5 %)."""
    hf_weight_day_sd: float = 0.8
    """Day-to-day weight SD with fluid shifts, kg (ESC 2021 treats > 2 kg in 3 days as fluid to act
    on; the everyday size of the shifts is an assumption)."""
    hf_pulse_shift: float = 4.0
    hf_spo2_shift: float = -1.0
    """Heart failure on top of COPD: a slightly higher pulse and lower SpO2 (assumption)."""
    hypoxaemic_fraction: float = 0.0
    """Share, among patients not on long-term oxygen, with chronic moderate hypoxaemia (LOTT
    2016: resting SpO2 89–93 % without long-term oxygen)."""
    hypoxaemic_spo2_mean: float = 89.5
    hypoxaemic_spo2_between_sd: float = 1.0
    """Their stable SpO2: the lower part of LOTT's 89–93 %, where the standard profile's yellow
    limit (< 90) sits inside their everyday range."""
    rate_lowering_fraction: float = 0.0
    """Share on beta-blockers or other rate-lowering drugs (BLOCK-COPD 2019; the share is an
    assumption)."""
    rate_lowering_pulse_shift: float = -10.0
    """Resting pulse on the drug (assumption on the size; the direction is BLOCK-COPD 2019)."""
    rate_lowering_rise_factor: float = 0.5
    """The drug blunts the pulse rise of an exacerbation to this share (assumption)."""
    irregular_time_fraction: float = 0.0
    """Share measuring at any time of day instead of in the morning (assumption)."""
    irregular_hour_min: float = 7.0
    irregular_hour_max: float = 21.0
    repeat_fraction: float = 0.0
    """Share who measure again when the oximeter shows a low value (assumption)."""
    repeat_if_below: float = 3.0
    """They repeat when SpO2 reads this many points below their usual level (assumption)."""
    repeat_minutes_min: float = 1.0
    repeat_minutes_max: float = 5.0
    repeat_spo2_sd: float = 0.5
    repeat_pulse_sd: float = 3.0
    """Difference between two oximeter readings minutes apart, without artefacts (assumption)."""
    artefact_prone_fraction: float = 0.0
    """Share with frequent motion artefacts: tremor, cold hands, poor perfusion (assumption)."""
    artefact_prone_probability: float = 0.10
    pulse_artefact_probability: float = 0.0
    """Share of pulse readings falsely high from motion (assumption)."""
    pulse_artefact_rise_min: float = 10.0
    pulse_artefact_rise_max: float = 30.0
    device_bias_sd: float = 0.0
    """SD of each patient's oximeter's constant SpO2 offset (ISO 80601-2-61: A_rms ≤ 4 %)."""
    diurnal_pulse_amplitude: float = 0.0
    diurnal_spo2_amplitude: float = 0.0
    """Half the peak-to-trough daily swing, /min and %-points, highest at ``diurnal_peak_hour``
    local time: lower SpO2 and pulse in the early morning (assumption on the sizes)."""
    diurnal_peak_hour: float = 16.0

    @property
    def adherence_mean(self) -> float:
        f = self.poor_adherence_fraction
        return (1 - f) * self.adherence_mean_good + f * self.adherence_mean_poor

    def expected_spo2_mean(self) -> float:
        f = self.ltot_fraction
        return (1 - f) * self.spo2_mean + f * self.ltot_spo2_mean


@dataclass(frozen=True, slots=True, kw_only=True)
class DiaryParameters:
    """How simulated patients answer the symptom diary (``simulators.diary``;
    docs/simulators.md, "Symptom diary"). Probabilities are per diary and per symptom, in the
    order of ``core.questionnaires.SYMPTOM_ITEMS`` (breathlessness, sputum volume, sputum colour,
    cold, wheeze, sore throat, cough).

    Sources: Walters 2012 (Walters EH et al. Clinical diaries in COPD: compliance and utility in
    predicting acute exacerbations. Int J COPD 2012;7:427-35: diaries kept on 62 % of days; the
    risk of an exacerbation rises from 6 days before, most in the last 2); Seemungal 2000 (the
    symptoms dyspnoea, cold, sore throat and cough deteriorate before onset; median symptom
    recovery 7 days, IQR 4-14); Donaldson 2012 (Donaldson GC, Goldring JJ, Wedzicha JA.
    Influence of season on exacerbation characteristics in patients with COPD. Chest
    2012;141:94-100: cold symptoms in 31-43 % and cough in 45-51 % of exacerbations); COSMIC
    (Respir Res 2012;13:44: symptoms rise from 2 weeks before an exacerbation, sharply in the last
    week, yet predict it only moderately, ROC area 0.63-0.70: symptoms are common on quiet days
    too); Murray 2018 (Chronic Obstr Pulm Dis 2018;5:27-37: 50-80 % of symptom-defined
    exacerbations are never reported to health care, so patients who feel worse often do not
    call: the diary is the channel)."""

    answer_when_measuring: float = 0.85
    """Chance that a patient who measures also answers the diary; with measuring on ≈ 75 % of
    scheduled days (alerting.md) the diary is answered on ≈ 64 % of diary days, Walters 2012's
    62 % (the product is the published figure, the split an assumption)."""
    peak: tuple[float, ...] = (0.65, 0.50, 0.40, 0.37, 0.35, 0.20, 0.48)
    """At the full deviation of an exacerbation (onset and plateau), following the episode's
    prodrome and recovery: cold 0.37 and cough 0.48 (Donaldson 2012, the seasons averaged);
    breathlessness, the most common change before onset (Seemungal 2000), 0.65 and the other
    major symptoms, wheeze and sore throat are assumptions."""
    quiet: tuple[float, ...] = (0.03, 0.02, 0.015, 0.04, 0.04, 0.02, 0.05)
    """On a quiet day, "more than usual" anyway (assumption, sized so that symptoms alone predict
    moderately, as in COSMIC)."""
    reporter_shape: float = 2.0
    """Gamma shape of each patient's multiplier of the quiet-day chances (mean 1): some patients
    report far more often than others (assumption)."""
    bad_day_share: float = 0.3
    """A bad day (not an exacerbation) counts as this share of an exacerbation's peak
    (assumption)."""


DEFAULT_DIARY = DiaryParameters()


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


@dataclass(frozen=True, slots=True, kw_only=True)
class OutcomeParameters:
    """The care history behind the outcomes demo (``simulators/history.py``)."""

    severe_spo2_drop: float = 3.0
    """An exacerbation whose SpO2 falls at least this far is a severe one: an acute admission.
    With drops uniform in 1–4 points that is a third of the ≈ 2 exacerbations per patient-year
    (Hurst 2010b: ≈ 0.3–0.7 severe, hospitalised ones per patient-year in GOLD 2–4)."""
    admission_days_min: int = 3
    admission_days_max: int = 10
    """Length of stay (Danish KOL admissions: median ≈ 4–5 days; *assumption* for the spread)."""
    admission_lead_hours_max: float = 36.0
    """The admission follows the peak of the exacerbation by up to this (*assumption*)."""
    emergency_share: float = 0.15
    """Moderate exacerbations seen in the emergency department and sent home (*assumption*)."""
    outpatient_per_year: float = 2.0
    """Planned outpatient visits per patient-year (*assumption*: one to two controls a year)."""
    ack_minutes_median: float = 25.0
    ack_minutes_sigma: float = 0.8
    """Minutes from a red alert to a nurse's acknowledgement, log-normal (*assumption*)."""
    noise_alerts_per_month: float = 0.6
    """Green and blue alerts that needed no action, per patient-month (*assumption*)."""
    missed_share: float = 0.1
    """Exacerbations no alert caught: the robustness benchmark's sensitivity is ≈ 90 % with the
    diary (docs/alerting-engine.md); a severe one is admitted all the same, without an alert."""
    false_alerts_per_month: float = 1.2
    """Red and yellow alert episodes the nurse judged to need no action, per patient-month: the
    benchmark's false episodes on its worst reporting cohort (docs/alerting-engine.md)."""
    false_red_share: float = 0.15
    """Of those, the red ones (the benchmark: SpO2 below the red limit ≈ 0.17 of 1.25)."""
    false_measurement_error_share: float = 0.2
    """Of those, the ones the nurse put down to a measurement error rather than "no action
    needed" (*assumption*)."""
    pro_noise: float = 0.05
    """Share of answers to the monthly question that do not follow the hospital contacts of the
    month before (*assumption*)."""
    history_known_share: float = 0.7
    """Patients whose admissions in the year before enrolment are known (*assumption*)."""
    before_rate_factor: float = 1.3
    """Admissions before enrolment relative to the severe-exacerbation rate while monitored: the
    promise telemonitoring is judged by (*assumption*)."""


DEFAULT_PHYSIOLOGY = PhysiologyParameters()
DEFAULT_TABLET = TabletParameters()
DEFAULT_OUTCOMES = OutcomeParameters()

POPULATION_MIXES: dict[str, PhysiologyParameters] = {
    "standard": DEFAULT_PHYSIOLOGY,
    # Published prevalences together: what a municipality's KOL list may look like.
    "community": replace(
        DEFAULT_PHYSIOLOGY, af_fraction=0.12, hf_fraction=0.20, hypoxaemic_fraction=0.10,
        rate_lowering_fraction=0.25, day_sd_spread=0.35, irregular_time_fraction=0.15,
        repeat_fraction=0.15, artefact_prone_fraction=0.05, pulse_artefact_probability=0.01,
        device_bias_sd=1.0, diurnal_pulse_amplitude=4.0, diurnal_spo2_amplitude=0.5),
    # Cardiac comorbidity concentrated: AF, heart failure, rate-lowering drugs.
    "cardiac": replace(
        DEFAULT_PHYSIOLOGY, af_fraction=0.30, hf_fraction=0.35, rate_lowering_fraction=0.45,
        day_sd_spread=0.3, diurnal_pulse_amplitude=4.0),
    # Chronic hypoxaemia: long-term oxygen and moderate desaturation without it.
    "hypoxaemic": replace(
        DEFAULT_PHYSIOLOGY, ltot_fraction=0.30, hypoxaemic_fraction=0.35, device_bias_sd=1.5,
        artefact_prone_fraction=0.10, day_sd_spread=0.3),
    # Measurement habits and devices at their worst: variable days, any time of day, repeats,
    # artefact-prone patients.
    "erratic": replace(
        DEFAULT_PHYSIOLOGY, day_sd_spread=0.5, irregular_time_fraction=0.35, repeat_fraction=0.35,
        artefact_prone_fraction=0.15, pulse_artefact_probability=0.02, device_bias_sd=1.0,
        diurnal_pulse_amplitude=5.0, diurnal_spo2_amplitude=0.7),
}
"""Named population mixes for the robustness benchmark (``benchmarks/alert_quality.py``);
``standard`` is the original population."""
