"""The starting profiles (alerting.md), as threshold documents. Migration 0300 seeds the same
documents into ``profiles``; a test holds the two equal. The tuning evidence behind the numbers
is in docs/alerting-engine.md."""

from __future__ import annotations

from types import MappingProxyType

from alerts.schemas import (
    AbsoluteLimits,
    ArtefactGuard,
    BaselineLimits,
    CombinedLimits,
    Thresholds,
    TrendLimits,
    TypeThresholds,
)

# Cohort tuning (docs/alerting-engine.md): the yellow pulse limits and the yellow baseline
# deviations cost more false alert episodes than the combined rule, which sees the same
# deteriorations earlier; they are off by default and a clinician can switch them on. The
# artefact guard holds sudden SpO2 falls of 5 points (motion artefacts) for confirmation, which
# pays for the combined rule's lower z limit.
_PULSE = TypeThresholds(absolute=AbsoluteLimits(red_low=40, red_high=120),
                        baseline=BaselineLimits(rise_red=20))
_WEIGHT = TypeThresholds(trend=TrendLimits(change_3d_yellow=2.0, loss_30d_pct_yellow=5.0))
_COMBINED = CombinedLimits(z_yellow=0.9, spo2_sd_floor=1.0, pulse_sd_floor=5.0)
_SPO2_GUARD = ArtefactGuard(suspect_drop=5.0)

PROFILES: MappingProxyType[str, Thresholds] = MappingProxyType({
    "kol-standard": Thresholds(
        spo2=TypeThresholds(absolute=AbsoluteLimits(red_low=88, yellow_low=90),
                            baseline=BaselineLimits(drop_red=5), artefact=_SPO2_GUARD),
        pulse=_PULSE, weight=_WEIGHT, combined=_COMBINED),
    "kol-ltot": Thresholds(
        spo2=TypeThresholds(absolute=AbsoluteLimits(red_low=84, yellow_low=86),
                            baseline=BaselineLimits(drop_red=4), artefact=_SPO2_GUARD),
        pulse=_PULSE, weight=_WEIGHT, combined=_COMBINED),
})
