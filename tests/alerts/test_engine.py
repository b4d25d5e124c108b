"""The vectorized engine, rule by rule with hand-computed expectations, and against the reference
loop on random inputs (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts import engine, reference
from alerts.engine import (
    ABSOLUTE,
    BASELINE,
    CHANGE_3D,
    COMBINED,
    DAY_US,
    LOSS_30D,
    RED,
    SEEMUNGAL,
    SLOPE_3D,
    SYMPTOMS,
    SYMPTOMS_RULE,
    YELLOW,
    Breaches,
    Readings,
)
from alerts.schemas import (
    AbsoluteLimits,
    ArtefactGuard,
    BaselineLimits,
    CombinedLimits,
    SymptomLimits,
    ThresholdArrays,
    Thresholds,
    TrendLimits,
    TypeThresholds,
)
from core.measurement_types import MEASUREMENT_TYPES

SPO2, PULSE, WEIGHT = (MEASUREMENT_TYPES[c].index for c in ("spo2", "pulse", "weight"))
START = np.datetime64("2026-01-05T08:00", "us")


def readings(*rows: tuple[int, int, float, float]) -> Readings:
    """Rows of (patient, type index, day offset, value)."""
    p, ty, day, v = zip(*rows, strict=True)
    return Readings(patient=np.array(p, np.int64), type_index=np.array(ty, np.int16),
                    measured_at=START + (np.array(day) * DAY_US).astype("timedelta64[us]"),
                    value=np.array(v, np.float64))


def arrays(*docs: Thresholds) -> ThresholdArrays:
    return ThresholdArrays.from_documents(list(docs))


def rows_of(b: Breaches) -> list[tuple[int, int, int]]:
    return list(zip(b.reading.tolist(), b.rule.tolist(), b.severity.tolist(), strict=True))


SPO2_ABS = Thresholds(spo2=TypeThresholds(absolute=AbsoluteLimits(red_low=88, yellow_low=90)))
PULSE_ABS = Thresholds(pulse=TypeThresholds(absolute=AbsoluteLimits(
    red_low=40, yellow_low=50, yellow_high=100, red_high=120)))


def test_absolute_limits_are_strict_and_graded() -> None:
    r = readings((0, SPO2, 0, 90), (0, SPO2, 1, 89.9), (0, SPO2, 2, 88), (0, SPO2, 3, 87.9),
                 (1, PULSE, 0, 100), (1, PULSE, 1, 101), (1, PULSE, 2, 121), (1, PULSE, 3, 45),
                 (1, PULSE, 4, 39))
    b = engine.evaluate(r, arrays(SPO2_ABS, PULSE_ABS))
    assert rows_of(b) == [(1, ABSOLUTE, YELLOW), (2, ABSOLUTE, YELLOW), (3, ABSOLUTE, RED),
                          (5, ABSOLUTE, YELLOW), (6, ABSOLUTE, RED), (7, ABSOLUTE, YELLOW),
                          (8, ABSOLUTE, RED)]
    assert b.limit.tolist() == [90, 90, 88, 100, 120, 50, 40]


BASE = Thresholds(spo2=TypeThresholds(baseline=BaselineLimits(drop_red=5, drop_yellow=3)))


def test_baseline_uses_days_14_to_2_before_and_needs_five_readings() -> None:
    # Baseline window of day 14 is [day 0, day 12): days 0, 2, 4, 6, 8, 10 -> median of
    # 93, 95, 94, 92, 96, 93 = (93 + 94) / 2 = 93.5. Day 12.5 (inside the excluded last 2 days)
    # is ignored even though it is very low. Day 14.1's window [day 0.1, day 12.1) loses day 0:
    # 95, 94, 92, 96, 93 -> 94, so 88.4 is a drop of 5.6.
    history = [(0, SPO2, d, v) for d, v in zip((0, 2, 4, 6, 8, 10), (93, 95, 94, 92, 96, 93),
                                                strict=True)]
    r = readings(*history, (0, SPO2, 12.5, 70), (0, SPO2, 14, 90.5), (0, SPO2, 14.1, 88.4))
    mask = np.r_[np.zeros(7, bool), True, True]
    b = engine.evaluate(r, arrays(BASE), mask)
    assert rows_of(b) == [(7, BASELINE, YELLOW), (8, BASELINE, RED)]
    assert b.reference.tolist() == [93.5, 94.0]
    assert b.metric.tolist() == pytest.approx([-3.0, -5.6])
    # With only 4 readings in the window there is no baseline yet.
    assert len(engine.evaluate(readings(*history[2:], (0, SPO2, 14, 80)), arrays(BASE))) == 0


def test_late_reading_is_evaluated_in_measured_at_order() -> None:
    """A reading measured earlier but listed last gets the baseline of its own time."""
    history = [(0, SPO2, d, 94.0) for d in range(0, 12)]
    r = readings((0, SPO2, 30, 94.0), *history, (0, SPO2, 13, 90.0))
    b = engine.evaluate(r, arrays(BASE), np.r_[np.zeros(13, bool), True])
    assert rows_of(b) == [(13, BASELINE, YELLOW)]
    assert b.reference.tolist() == [94.0]


WEIGHT_TREND = Thresholds(weight=TypeThresholds(trend=TrendLimits(change_3d_yellow=2.0,
                                                                  loss_30d_pct_yellow=5.0)))


def test_weight_change_over_3_days_against_the_median_of_previous_readings() -> None:
    # Day 3 against days 0..2 (80, 81, 80.5 -> 80.5): +2.0 breaches; day 3.5 against days 1..3
    # (81, 80.5, 82.5 -> 81): +1.4 does not; day 6.4 against [day 3.4, day 6.4) (82.4 only):
    # -3.4 does.
    r = readings((0, WEIGHT, 0, 80), (0, WEIGHT, 1, 81), (0, WEIGHT, 2, 80.5),
                 (0, WEIGHT, 3, 82.5), (0, WEIGHT, 3.5, 82.4), (0, WEIGHT, 6.4, 79))
    b = engine.evaluate(r, arrays(WEIGHT_TREND))
    assert rows_of(b) == [(3, CHANGE_3D, YELLOW), (5, CHANGE_3D, YELLOW)]
    assert b.reference.tolist() == [80.5, 82.4]


def test_weight_loss_over_30_days() -> None:
    # Old window of day 30 is [day 0, day 10): 80, 80 -> 80. New window [day 27, day 30]:
    # 76.5, 75.5 -> 76: 5 % loss breaches; at day 29 the new window (76.5 only) is 4.4 %.
    r = readings((0, WEIGHT, 0, 80), (0, WEIGHT, 5, 80), (0, WEIGHT, 29, 76.5),
                 (0, WEIGHT, 30, 75.5))
    th = Thresholds(weight=TypeThresholds(trend=TrendLimits(loss_30d_pct_yellow=5.0)))
    b = engine.evaluate(r, arrays(th))
    assert rows_of(b) == [(3, LOSS_30D, YELLOW)]
    assert b.metric.tolist() == pytest.approx([5.0])


def test_slope_is_theil_sen_and_ignores_one_artefact() -> None:
    # Days 0..3: 94, 93, 85 (artefact), 91. Pairwise slopes/day: -1, -4.5, -1, -8, -1, +6 ->
    # median (-1 + -1) / 2 = -1 -> -3 over 3 days, a fall of 3 (the two-point change is 3 too,
    # but the artefact alone would have given -9).
    th = Thresholds(spo2=TypeThresholds(trend=TrendLimits(slope_3d_fall_yellow=3.0)))
    r = readings((0, SPO2, 0, 94), (0, SPO2, 1, 93), (0, SPO2, 2, 85), (0, SPO2, 3, 91))
    b = engine.evaluate(r, arrays(th), np.array([False, False, False, True]))
    assert rows_of(b) == [(3, SLOPE_3D, YELLOW)]
    assert b.metric.tolist() == [-3.0]
    # Reading 2 has only three readings (slopes -1, -4.5, -8 -> -4.5/day): breaches as well.
    assert engine.evaluate(r, arrays(th), np.array([False, False, True, False])).metric.tolist(
        ) == [-13.5]


COMBINED_TH = Thresholds(combined=CombinedLimits(z_yellow=1.0, z_red=2.0, spo2_sd_floor=1.0,
                                                 pulse_sd_floor=3.0))


def test_combined_z_score_averages_spo2_fall_and_pulse_rise() -> None:
    # SpO2 baseline 93, 94, 95, 93, 94 -> median 94, MAD 1 -> SD 1.4826; pulse baseline
    # 80, 84, 88, 80, 84 -> median 84, MAD 4 -> SD 5.9304. Today SpO2 92, pulse 90:
    # z = (2 / 1.4826 + 6 / 5.9304) / 2 = 1.1804.
    s = [(0, SPO2, d, v) for d, v in zip(range(5), (93, 94, 95, 93, 94), strict=True)]
    p = [(0, PULSE, d, v) for d, v in zip(range(5), (80, 84, 88, 80, 84), strict=True)]
    r = readings(*s, *p, (0, SPO2, 8, 92), (0, PULSE, 8, 90))
    mask = np.r_[np.zeros(10, bool), True, True]
    b = engine.evaluate(r, arrays(COMBINED_TH), mask)
    assert rows_of(b) == [(10, COMBINED, YELLOW)]
    assert b.partner.tolist() == [11]
    assert b.metric[0] == pytest.approx((2 / 1.4826 + 6 / 5.9304) / 2)
    # The combined rule's baseline reaches back 28 days: on day 20 the 14-day window [6, 18) is
    # empty, [-8, 18) still holds days 0-4, so the z-score is the same.
    later = readings(*s, *p, (0, SPO2, 20, 92), (0, PULSE, 20, 90))
    b = engine.evaluate(later, arrays(COMBINED_TH), mask)
    assert rows_of(b) == [(10, COMBINED, YELLOW)]
    assert b.metric[0] == pytest.approx((2 / 1.4826 + 6 / 5.9304) / 2)
    # A lone SpO2 reading (no pulse at the same instant) cannot raise the combined alert.
    assert len(engine.evaluate(readings(*s, *p, (0, SPO2, 8, 92)), arrays(COMBINED_TH),
                               np.r_[np.zeros(10, bool), True])) == 0


BREATHLESS, SPUTUM, COLOUR, COLD, WHEEZE = 1, 2, 4, 8, 16
"""Symptom mask bits (core.questionnaires.SYMPTOM_ITEMS): three major, then minor ones."""
SYMPTOM_TH = Thresholds(symptoms=SymptomLimits(major_yellow=1, seemungal_days_red=2))


def test_one_major_symptom_is_yellow_and_minor_ones_alone_are_nothing() -> None:
    r = readings((0, SYMPTOMS, 0, 0), (0, SYMPTOMS, 2, COLD | WHEEZE),
                 (0, SYMPTOMS, 4, BREATHLESS), (0, SYMPTOMS, 6, SPUTUM | COLOUR))
    b = engine.evaluate(r, arrays(SYMPTOM_TH))
    assert rows_of(b) == [(2, SYMPTOMS_RULE, YELLOW), (3, SYMPTOMS_RULE, YELLOW)]
    assert b.metric.tolist() == [1.0, 2.0]
    # The measurement types' rules never look at the diary, whatever their limits.
    assert len(engine.evaluate(r, arrays(SPO2_ABS))) == 0


def test_seemungal_criterion_on_two_consecutive_days_is_red() -> None:
    # Day 0: one major and one minor symptom (criterion met); day 1 (24 h later): two major
    # (met) -> red with 2 days. Day 1.25: a second diary the same day, still met: 2 days, not 3.
    # Day 3 is 42 h after it: the run ends, day 3 alone is 1 day. Day 4 has only a minor one.
    r = readings((0, SYMPTOMS, 0, BREATHLESS | COLD), (0, SYMPTOMS, 1, SPUTUM | COLOUR),
                 (0, SYMPTOMS, 1.25, SPUTUM | WHEEZE), (0, SYMPTOMS, 3, SPUTUM | COLOUR),
                 (0, SYMPTOMS, 4, COLD))
    b = engine.evaluate(r, arrays(Thresholds(symptoms=SymptomLimits(seemungal_days_red=2))))
    assert rows_of(b) == [(1, SEEMUNGAL, RED), (2, SEEMUNGAL, RED)]
    assert b.metric.tolist() == [2.0, 2.0]
    # One major symptom without a minor one does not meet the criterion.
    alone = readings((0, SYMPTOMS, 0, BREATHLESS), (0, SYMPTOMS, 1, BREATHLESS))
    assert len(engine.evaluate(alone, arrays(Thresholds(symptoms=SymptomLimits(
        seemungal_days_red=2))))) == 0


def test_a_major_symptom_in_the_diary_makes_the_combined_rule_red() -> None:
    s = [(0, SPO2, d, v) for d, v in zip(range(5), (93, 94, 95, 93, 94), strict=True)]
    p = [(0, PULSE, d, v) for d, v in zip(range(5), (80, 84, 88, 80, 84), strict=True)]
    th = Thresholds(combined=CombinedLimits(z_yellow=1.0, z_red=3.0),
                    symptoms=SymptomLimits(z_red_with_major=1.0))
    # z = 1.18 (see above): yellow alone; red with a breathless diary a day before; a diary 3
    # days before, or one with only minor symptoms, changes nothing.
    mask = np.r_[np.zeros(10, bool), True, True, False]
    for diary, severity, symptom in (((0, SYMPTOMS, 7, BREATHLESS), RED, 12),
                                     ((0, SYMPTOMS, 5, BREATHLESS), YELLOW, -1),
                                     ((0, SYMPTOMS, 7.5, COLD), YELLOW, -1)):
        r = readings(*s, *p, (0, SPO2, 8, 92), (0, PULSE, 8, 90), diary)
        b = engine.evaluate(r, arrays(th), mask)
        assert rows_of(b) == [(10, COMBINED, severity)]
        assert b.symptom.tolist() == [symptom]
        assert b.limit.tolist() == [1.0]


def test_one_major_symptom_alerts_only_with_a_second_sign() -> None:
    # The oximetry of the example above: z = 1.18 at day 8 (SpO2 92, pulse 90). A breathless
    # diary 6 h after it is confirmed by the pair when major_confirm_z <= 1.18, not above.
    s = [(0, SPO2, d, v) for d, v in zip(range(5), (93, 94, 95, 93, 94), strict=True)]
    p = [(0, PULSE, d, v) for d, v in zip(range(5), (80, 84, 88, 80, 84), strict=True)]
    session = [*s, *p, (0, SPO2, 8, 92), (0, PULSE, 8, 90)]

    def th(confirm: float | None) -> ThresholdArrays:
        return arrays(Thresholds(symptoms=SymptomLimits(major_yellow=1, major_confirm_z=confirm)))

    def symptom_rows(*diaries: tuple[int, int, float, float], confirm: float | None
                     ) -> list[tuple[int, int, int]]:
        r = readings(*session, *diaries)
        rows = rows_of(engine.evaluate(r, th(confirm)))
        assert rows == rows_of(reference.evaluate(r, th(confirm)))
        return rows

    lone = (0, SYMPTOMS, 8.25, BREATHLESS)
    assert symptom_rows(lone, confirm=1.0) == [(12, SYMPTOMS_RULE, YELLOW)]
    assert symptom_rows(lone, confirm=1.5) == []
    # Off: no second sign needed.
    assert symptom_rows(lone, confirm=None) == [(12, SYMPTOMS_RULE, YELLOW)]
    # The pair must be of the day before the diary: a diary 2 days later has none.
    assert symptom_rows((0, SYMPTOMS, 10, BREATHLESS), confirm=-3.0) == []
    # The Seemungal criterion in the same diary (a major and a minor symptom) is a second sign.
    assert symptom_rows((0, SYMPTOMS, 8.25, BREATHLESS | COLD), confirm=1.5) == [
        (12, SYMPTOMS_RULE, YELLOW)]
    # So is a major symptom in the diary of the day before (12-36 h earlier), not one 40 h before.
    assert symptom_rows((0, SYMPTOMS, 7.25, SPUTUM), lone, confirm=1.5) == [
        (13, SYMPTOMS_RULE, YELLOW)]
    assert symptom_rows((0, SYMPTOMS, 6.6, SPUTUM), lone, confirm=1.5) == []


def test_a_kept_diary_raises_the_combined_rules_yellow_limit() -> None:
    # z = 1.18 at day 8: yellow from z_yellow 1.0; with a diary in the 7 days before, the
    # yellow limit is z_yellow_diary 1.5 and nothing alerts; a diary 8 days before does not count.
    s = [(0, SPO2, d, v) for d, v in zip(range(5), (93, 94, 95, 93, 94), strict=True)]
    p = [(0, PULSE, d, v) for d, v in zip(range(5), (80, 84, 88, 80, 84), strict=True)]
    th = arrays(Thresholds(combined=CombinedLimits(z_yellow=1.0, z_yellow_diary=1.5)))
    mask = np.r_[np.zeros(10, bool), True, True, False]
    for diary, expected in (((0, SYMPTOMS, 0, 0), [(10, COMBINED, YELLOW)]),
                            ((0, SYMPTOMS, 1.5, 0), []),
                            ((0, SYMPTOMS, 7.5, COLD), [])):
        r = readings(*s, *p, (0, SPO2, 8, 92), (0, PULSE, 8, 90), diary)
        assert rows_of(engine.evaluate(r, th, mask)) == expected
        assert rows_of(reference.evaluate(r, th, mask)) == expected


def test_a_kept_diary_may_silence_a_types_yellow_limits_not_its_red_ones() -> None:
    # SpO2 89 is yellow (< 90) and 87 red (< 88). With yellow_off_while_diary_kept a diary in
    # the 7 days before silences the yellow one only; a diary 8 days before does not count, nor
    # one answered after the reading.
    th = arrays(Thresholds(spo2=TypeThresholds(absolute=AbsoluteLimits(
        red_low=88, yellow_low=90, yellow_off_while_diary_kept=True))))
    for diary, value, expected in (((0, SYMPTOMS, 1.5, 0), 89, []),
                                   ((0, SYMPTOMS, 1.5, 0), 87, [(0, ABSOLUTE, RED)]),
                                   ((0, SYMPTOMS, 0.5, 0), 89, [(0, ABSOLUTE, YELLOW)]),
                                   ((0, SYMPTOMS, 8.6, 0), 89, [(0, ABSOLUTE, YELLOW)])):
        r = readings((0, SPO2, 8.5, value), diary)
        mask = np.r_[True, False]
        assert rows_of(engine.evaluate(r, th, mask)) == expected
        assert rows_of(reference.evaluate(r, th, mask)) == expected
    # Off (the default), the yellow limit holds whatever the diary.
    r = readings((0, SPO2, 8.5, 89), (0, SYMPTOMS, 1.5, 0))
    assert rows_of(engine.evaluate(r, arrays(Thresholds(spo2=TypeThresholds(
        absolute=AbsoluteLimits(red_low=88, yellow_low=90)))), np.r_[True, False])) == [
        (0, ABSOLUTE, YELLOW)]


def test_the_diary_limits_are_validated_and_optional() -> None:
    with pytest.raises(ValueError, match=r"z_yellow_diary \(2\) must be below z_red \(1.5\)"):
        CombinedLimits(z_yellow=0.8, z_red=1.5, z_yellow_diary=2.0)
    with pytest.raises(ValueError, match="major_confirm_z"):
        SymptomLimits(major_confirm_z=4)
    for not_a_boolean in (0, 1, "true", None):  # found by schemathesis: lax mode took 0
        with pytest.raises(ValueError, match="yellow_off_while_diary_kept"):
            AbsoluteLimits.model_validate({"yellow_off_while_diary_kept": not_a_boolean})
    # A document from before them (both absent) is valid and has them off.
    old = Thresholds.model_validate({"combined": {"z_yellow": 0.8}, "symptoms": {
        "major_yellow": 1}})
    assert old.combined.z_yellow_diary is None
    assert old.symptoms.major_confirm_z is None


GUARDED = Thresholds(spo2=TypeThresholds(absolute=AbsoluteLimits(red_low=85, yellow_low=90),
                                          baseline=BaselineLimits(drop_red=5),
                                          artefact=ArtefactGuard(suspect_drop=5)))


def test_artefact_guard_holds_a_sudden_fall_until_the_next_reading_confirms_it() -> None:
    # Days 0-5: 93, 94, 93, 94, 93, 94 -> both baselines 93.5. Day 10: 88 is 6 below the
    # previous reading (94) and 5.5 below the baseline: a suspected artefact, so neither the
    # yellow absolute limit (90) nor the baseline drop (5.5 >= 5, red) alerts. Day 11: 88 again
    # is no sudden fall (0 below the previous reading): both alert. Day 12: 83 is 5 below the
    # previous reading and 10.5 below the baseline, a suspected artefact, but below red_low (85)
    # it alerts at once; only its baseline drop is held.
    history = [(0, SPO2, d, v) for d, v in enumerate((93, 94, 93, 94, 93, 94))]
    r = readings(*history, (0, SPO2, 10, 88), (0, SPO2, 11, 88), (0, SPO2, 12, 83))
    b = engine.evaluate(r, arrays(GUARDED), np.r_[np.zeros(6, bool), True, True, True])
    assert rows_of(b) == [(7, ABSOLUTE, YELLOW), (7, BASELINE, RED), (8, ABSOLUTE, RED)]
    assert b.reference[1] == 93.5
    # Without the guard, day 10 alerts too.
    unguarded = Thresholds(spo2=GUARDED.spo2.model_copy(update={"artefact": ArtefactGuard()}))
    b = engine.evaluate(r, arrays(unguarded), np.r_[np.zeros(6, bool), True, True, True])
    assert [row for row in rows_of(b) if row[0] == 6] == [(6, ABSOLUTE, YELLOW),
                                                          (6, BASELINE, RED)]


def test_artefact_guard_holds_a_suspected_red_low_down_to_the_red_floor() -> None:
    # As above with red_floor 82: day 12's 83 is a suspected artefact at or above the floor, so
    # it is held although below red_low. Day 13's 88 is no sudden fall: yellow, and its drop of
    # 5.5 below the baseline red. Day 14's 76 falls 12 below the previous reading and is below
    # the floor: red at once (its baseline drop is held as for any suspected artefact).
    floored = Thresholds(spo2=GUARDED.spo2.model_copy(update={
        "artefact": ArtefactGuard(suspect_drop=5, red_floor=82)}))
    history = [(0, SPO2, d, v) for d, v in enumerate((93, 94, 93, 94, 93, 94))]
    r = readings(*history, (0, SPO2, 12, 83), (0, SPO2, 13, 88), (0, SPO2, 14, 76))
    mask = np.r_[np.zeros(6, bool), True, True, True]
    b = engine.evaluate(r, arrays(floored), mask)
    assert rows_of(b) == [(7, ABSOLUTE, YELLOW), (7, BASELINE, RED), (8, ABSOLUTE, RED)]
    assert rows_of(reference.evaluate(r, arrays(floored), mask)) == rows_of(b)
    # Without the floor the suspected 83 alerts red at once, as before.
    assert (6, ABSOLUTE, RED) in rows_of(engine.evaluate(r, arrays(GUARDED), mask))


def test_non_finite_values_are_ignored_and_duplicates_rejected() -> None:
    r = readings((0, SPO2, 0, np.nan), (0, SPO2, 1, 80))
    assert rows_of(engine.evaluate(r, arrays(SPO2_ABS))) == [(1, ABSOLUTE, RED)]
    with pytest.raises(ValueError, match="unique"):
        engine.evaluate(readings((0, SPO2, 1, 80), (0, SPO2, 1, 81)), arrays(SPO2_ABS))


# --- property test against the reference loop ---------------------------------------------------

limits = st.one_of(st.none(), st.integers(1, 8).map(float))


@st.composite
def threshold_docs(draw: st.DrawFn) -> Thresholds:
    def type_doc(lo: float, hi: float) -> TypeThresholds:
        a, b, c, d = sorted(draw(st.lists(st.floats(lo, hi).map(round), min_size=4,
                                          max_size=4, unique=True)))
        keep = draw(st.lists(st.booleans(), min_size=4, max_size=4))
        drop_y, drop_r = sorted(draw(st.lists(st.integers(1, 9), min_size=2, max_size=2,
                                              unique=True)))
        return TypeThresholds(
            absolute=AbsoluteLimits(**{k: float(x) if on else None for k, x, on in zip(
                ("red_low", "yellow_low", "yellow_high", "red_high"), (a, b, c, d), keep,
                strict=True)}, yellow_off_while_diary_kept=draw(st.booleans())),
            baseline=BaselineLimits(drop_yellow=float(drop_y), drop_red=float(drop_r),
                                    rise_yellow=draw(limits)),
            trend=TrendLimits(change_3d_yellow=draw(limits), loss_30d_pct_yellow=draw(limits),
                              slope_3d_fall_yellow=draw(limits),
                              slope_3d_rise_yellow=draw(limits)),
            artefact=ArtefactGuard(suspect_drop=draw(limits), red_floor=draw(st.one_of(
                st.none(), st.floats(lo, hi).map(round).map(float)))))
    z = draw(st.sampled_from([None, 0.5, 1.0]))
    return Thresholds(spo2=type_doc(85, 97), pulse=type_doc(60, 110), weight=type_doc(70, 90),
                      combined=CombinedLimits(z_yellow=z, z_red=None if z is None else z * 2,
                                              z_yellow_diary=draw(st.sampled_from([None, 0.75]))),
                      symptoms=SymptomLimits(
                          major_yellow=draw(st.sampled_from([None, 1.0, 2.0])),
                          seemungal_days_red=draw(st.sampled_from([None, 1.0, 2.0, 3.0])),
                          z_red_with_major=draw(st.sampled_from([None, 0.25, 0.5, 1.0])),
                          major_confirm_z=draw(st.sampled_from([None, -0.5, 0.0, 0.5]))))


@st.composite
def cases(draw: st.DrawFn) -> tuple[Readings, ThresholdArrays, np.ndarray]:
    n_patients = draw(st.integers(1, 4))
    docs = [draw(threshold_docs()) for _ in range(n_patients)]
    n = draw(st.integers(1, 120))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    patient = rng.integers(0, n_patients, n)
    # Measurement types and the symptom diary (type SYMPTOMS, value a symptom mask).
    type_index = rng.integers(0, 4, n).astype(np.int16)
    # Times on a coarse grid (hours, or steps of 12 or 24 hours, over 40 days) so that windows
    # often share edges and SpO2 and pulse often share an instant (a pair that may confirm a
    # diary); duplicates of (patient, type, time) are dropped.
    step = draw(st.sampled_from([1, 12, 24]))
    hours = rng.integers(0, 40 * 24 // step, n) * step
    if step > 1:  # an oximeter: every SpO2 reading with a pulse reading at the same instant
        spo2 = type_index == SPO2
        patient = np.r_[patient, patient[spo2]]
        type_index = np.r_[type_index, np.full(spo2.sum(), PULSE, np.int16)]
        hours = np.r_[hours, hours[spo2]]
    grid = np.stack([patient, type_index, hours], axis=1)
    _, first = np.unique(grid, axis=0, return_index=True)
    first = np.sort(first)
    centre = np.array([93.0, 85.0, 80.0, 0.0])[type_index[first]]
    spread = np.array([3.0, 12.0, 3.0, 1.0])[type_index[first]]
    value = np.round(rng.normal(centre, spread) * 2) / 2
    value[rng.random(first.size) < 0.03] = np.nan
    diary = type_index[first] == SYMPTOMS
    # Masks mostly of one or two symptoms, so that runs of days meeting the criterion occur.
    value[diary] = np.bitwise_or(1 << rng.integers(0, 7, diary.sum()),
                                 rng.choice([0, 1, 2, 8, 16], diary.sum()))
    r = Readings(patient=patient[first], type_index=type_index[first],
                 measured_at=START + (hours[first] * 3_600_000_000).astype("timedelta64[us]"),
                 value=value)
    mask = rng.random(first.size) < draw(st.sampled_from([0.3, 1.0]))
    return r, arrays(*docs), mask


@st.composite
def diary_cases(draw: st.DrawFn) -> tuple[Readings, ThresholdArrays, np.ndarray]:
    """Daily oximeter sessions and diaries of one or two patients over 40 days, dense enough
    that the combined rule has a baseline and a diary's major symptom often hangs on its
    confirmation (``major_confirm_z``)."""
    n_patients = draw(st.integers(1, 2))
    docs = [draw(threshold_docs()).model_copy(update={"symptoms": SymptomLimits(
        major_yellow=1, seemungal_days_red=draw(st.sampled_from([None, 2.0])),
        major_confirm_z=draw(st.sampled_from([-0.5, 0.0, 0.5, 1.0])))})
        for _ in range(n_patients)]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    rows: list[tuple[int, int, float, float]] = []
    for patient in range(n_patients):  # one or two
        for day in range(40):  # days of one patient
            hour = rng.choice([8, 9, 20])
            if rng.random() < 0.8:
                rows += [(patient, SPO2, day + hour / 24, round(rng.normal(93, 2))),
                         (patient, PULSE, day + hour / 24, round(rng.normal(85, 8)))]
            if rng.random() < 0.6:
                rows.append((patient, SYMPTOMS, day + (hour + rng.choice([0, 1, 3])) / 24,
                             float(rng.choice([1, 2, 4, 1, 9, 3]))))
    r = readings(*rows)
    mask = rng.random(len(r)) < draw(st.sampled_from([0.3, 1.0]))
    return r, arrays(*docs), mask


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(cases(), diary_cases()))
def test_engine_matches_the_reference_loop(case: tuple[Readings, ThresholdArrays, np.ndarray]
                                           ) -> None:
    r, th, mask = case
    slow = reference.evaluate(r, th, mask)
    # Also in chunks of a few patients each: chunking must not change anything.
    for fast in (engine.evaluate(r, th, mask), engine.evaluate(r, th, mask, chunk_readings=16)):
        for name in ("reading", "partner", "symptom", "rule", "severity", "metric", "limit",
                     "reference"):
            np.testing.assert_array_equal(getattr(fast, name), getattr(slow, name), err_msg=name)
