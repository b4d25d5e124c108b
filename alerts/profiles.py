"""The starting profiles (alerting.md), as threshold documents. Migration 0500 (before it 0499,
0481, 0430, 0310, 0300) seeds the same documents into ``profiles``; a test holds the two equal. The
tuning evidence behind the numbers is in docs/alerting-engine.md."""

from __future__ import annotations

from types import MappingProxyType

from alerts.schemas import (
    AbsoluteLimits,
    ArtefactGuard,
    BaselineLimits,
    CombinedLimits,
    SymptomLimits,
    Thresholds,
    TrendLimits,
    TypeThresholds,
)

# Cohort tuning (docs/alerting-engine.md): the yellow pulse limits and the yellow baseline
# deviations cost more false alert episodes than the combined rule, which sees the same
# deteriorations earlier; they are off by default and a clinician can switch them on. The
# artefact guard holds sudden SpO2 falls of 5 points (motion artefacts) for confirmation, which
# pays for the combined rule's lower z limit. Robustness round (issue 13): with personal limits
# after the run-in the combined rule runs at z >= 0.8, and a suspected artefact is held also when
# it is a red low, down to the profile's safety floor (alerts.personal.SAFETY).
_PULSE = TypeThresholds(absolute=AbsoluteLimits(red_low=40, red_high=120),
                        baseline=BaselineLimits(rise_red=20))
_WEIGHT = TypeThresholds(trend=TrendLimits(change_3d_yellow=2.0, loss_30d_pct_yellow=5.0))
# Sixth and seventh rounds (migrations 0499, 0500): while a patient keeps the diary (a diary in
# the last 7 days) the combined rule is yellow from z >= 2.0 and the SpO2 yellow low is off, as
# the diary gives the early warning; a patient who does not keep it stays on z >= 0.8 and the
# yellow low. The red limits hold for everyone.
_COMBINED = CombinedLimits(z_yellow=0.8, spo2_sd_floor=1.0, pulse_sd_floor=5.0,
                           z_yellow_diary=2.0)
# The symptom diary (migration 0481; docs/alerting-engine.md, "Symptom rules"): one major symptom
# yellow, the Seemungal criterion on 2 consecutive days red (Seemungal 1998), and the combined
# rule red from its yellow z when a major symptom was reported in the last 2 days. Sixth round
# (0499): one major symptom alerts only with a second sign, here anything but oximetry clearly
# better than usual (combined z >= -0.75 since 0500), since lone symptoms on quiet days were the
# commonest false alert.
_SYMPTOMS = SymptomLimits(major_yellow=1, seemungal_days_red=2, z_red_with_major=0.8,
                          major_confirm_z=-0.75)

PROFILES: MappingProxyType[str, Thresholds] = MappingProxyType({
    "kol-standard": Thresholds(
        spo2=TypeThresholds(absolute=AbsoluteLimits(red_low=88, yellow_low=90,
                                                        yellow_off_while_diary_kept=True),
                            baseline=BaselineLimits(drop_red=5),
                            artefact=ArtefactGuard(suspect_drop=5.0, red_floor=85.0)),
        pulse=_PULSE, weight=_WEIGHT, combined=_COMBINED, symptoms=_SYMPTOMS),
    "kol-ltot": Thresholds(
        spo2=TypeThresholds(absolute=AbsoluteLimits(red_low=84, yellow_low=86,
                                                        yellow_off_while_diary_kept=True),
                            baseline=BaselineLimits(drop_red=4),
                            artefact=ArtefactGuard(suspect_drop=5.0, red_floor=82.0)),
        pulse=_PULSE, weight=_WEIGHT, combined=_COMBINED, symptoms=_SYMPTOMS),
})
