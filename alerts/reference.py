"""The alert rules as a plain per-reading loop: slow, obviously correct, used only by tests and
``benchmarks/alerts.py`` to check :func:`alerts.engine.evaluate` (same constants, same output).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from itertools import combinations

import numpy as np
import numpy.typing as npt

from alerts.engine import (
    ABSOLUTE,
    BASELINE,
    BASELINE_FROM_US,
    BASELINE_MIN_READINGS,
    BASELINE_TO_US,
    CHANGE_3D,
    CHANGE_WINDOW_US,
    COMBINED,
    COMBINED_RECENT_US,
    CONFIRM_RECENT_US,
    DAY_US,
    DIARY_KEPT_US,
    LONG_BASELINE_FROM_US,
    LOSS_30D,
    LOSS_OLD_FROM_US,
    LOSS_OLD_TO_US,
    MAD_TO_SD,
    MAJOR_COUNT,
    MINOR_COUNT,
    PULSE,
    RED,
    SEEMUNGAL,
    SEEMUNGAL_GAP_US,
    SEEMUNGAL_NEXT_DAY_US,
    SLOPE_3D,
    SLOPE_DAYS,
    SLOPE_MIN_READINGS,
    SLOPE_WINDOW_US,
    SPO2,
    SYMPTOM_RECENT_US,
    SYMPTOMS,
    SYMPTOMS_RULE,
    YELLOW,
    Breaches,
    Readings,
)
from alerts.schemas import ThresholdArrays

Row = tuple[int, int, int, int, float, float, float]
"""(reading, partner, rule, severity, metric, limit, reference)"""


def _on(limit: float) -> bool:
    return not np.isnan(limit)


def evaluate(readings: Readings, th: ThresholdArrays,
             evaluate_mask: npt.NDArray[np.bool_] | None = None) -> Breaches:
    n = len(readings)
    times = readings.measured_at.astype("datetime64[us]").view(np.int64).tolist()
    values = [float(x) for x in readings.value]
    patients = [int(x) for x in readings.patient]
    types = [int(x) for x in readings.type_index]
    mask = [True] * n if evaluate_mask is None else [bool(x) for x in evaluate_mask]

    history: dict[tuple[int, int], list[tuple[int, float]]] = defaultdict(list)
    at: dict[tuple[int, int, int], int] = {}
    for i in range(n):
        if np.isfinite(values[i]):
            history[(patients[i], types[i])].append((times[i], values[i]))
            at[(patients[i], types[i], times[i])] = i

    def between(p: int, ty: int, start: int, end: int, *, include_end: bool = False
                ) -> list[float]:
        return [v for t, v in history[(p, ty)]
                if start <= t and (t <= end if include_end else t < end)]

    def baseline(i: int, days_us: int = BASELINE_FROM_US) -> tuple[float, float] | None:
        p, ty, t = patients[i], types[i], times[i]
        window = between(p, ty, t - days_us, t - BASELINE_TO_US)
        if len(window) < BASELINE_MIN_READINGS:
            return None
        med = statistics.median(window)
        return med, statistics.median([abs(x - med) for x in window])

    def suspected_artefact(i: int) -> bool:
        p, ty, t, v = patients[i], types[i], times[i], values[i]
        drop = th.suspect_drop[p, ty]
        long = baseline(i, LONG_BASELINE_FROM_US)
        if not _on(drop) or long is None:
            return False
        previous = max((tt, vv) for tt, vv in history[(p, ty)] if tt < t)[1]
        return bool(previous - v >= drop and long[0] - v >= drop)

    def recent_major(p: int, t: int) -> int:
        """The latest diary of ``p`` in [t - 2 d, t] with a major symptom, else -1."""
        found = [(tt, at[(p, SYMPTOMS, tt)]) for tt, vv in history[(p, SYMPTOMS)]
                 if t - SYMPTOM_RECENT_US <= tt <= t and MAJOR_COUNT[int(vv) & 127] > 0]
        return max(found)[1] if found else -1

    def combined_z(i: int, j: int) -> float | None:
        """The combined z-score of the SpO2 reading ``i`` and its pulse reading ``j``."""
        p, t = patients[i], times[i]
        base_s = baseline(i, LONG_BASELINE_FROM_US)
        base_p = baseline(j, LONG_BASELINE_FROM_US)
        if base_s is None or base_p is None:
            return None
        spo2 = statistics.median(between(p, SPO2, t - COMBINED_RECENT_US, t, include_end=True))
        pulse = statistics.median(between(p, PULSE, t - COMBINED_RECENT_US, t, include_end=True))
        sd_s = max(base_s[1] * MAD_TO_SD, float(th.spo2_sd_floor[p]))
        sd_p = max(base_p[1] * MAD_TO_SD, float(th.pulse_sd_floor[p]))
        return ((base_s[0] - spo2) / sd_s + (pulse - base_p[0]) / sd_p) / 2.0

    def confirmed(p: int, t: int, mask: int) -> bool:
        """A second sign for a diary's major symptoms (``major_confirm_z``)."""
        need = th.major_confirm_z[p]
        if not _on(need) or _seemungal_met(mask):
            return True
        earlier = [(tt, int(vv)) for tt, vv in history[(p, SYMPTOMS)] if tt < t]
        if earlier:
            tt, previous = max(earlier)
            if (SEEMUNGAL_NEXT_DAY_US <= t - tt <= SEEMUNGAL_GAP_US
                    and MAJOR_COUNT[previous & 127] >= 1):
                return True
        pairs = [tt for tt, _ in history[(p, SPO2)]
                 if t - CONFIRM_RECENT_US <= tt <= t and (p, PULSE, tt) in at]
        if not pairs:
            return False
        z = combined_z(at[(p, SPO2, max(pairs))], at[(p, PULSE, max(pairs))])
        return z is not None and z >= need

    def seemungal_days(p: int, t: int) -> int:
        """Consecutive days up to the diary at ``t`` meeting the Seemungal criterion."""
        diaries = sorted(tt_v for tt_v in history[(p, SYMPTOMS)] if tt_v[0] <= t)
        days = 0
        later: int | None = None
        for tt, vv in reversed(diaries):
            if not _seemungal_met(int(vv) & 127):
                break
            if later is not None and later - tt > SEEMUNGAL_GAP_US:
                break
            if later is None or later - tt >= SEEMUNGAL_NEXT_DAY_US:
                days += 1
            later = tt
        return days

    def diary_kept(p: int, t: int) -> bool:
        """A diary of ``p`` answered in [t - 7 d, t]."""
        return any(t - DIARY_KEPT_US <= tt <= t for tt, _ in history[(p, SYMPTOMS)])

    rows: list[Row] = []
    raised_by: dict[int, int] = {}
    """Reading of a combined breach → the diary whose major symptom made it red."""
    for i in range(n):
        p, ty, t, v = patients[i], types[i], times[i], values[i]
        if not np.isfinite(v):
            continue
        if ty == SYMPTOMS:
            if mask[i]:
                mask_i = int(v) & 127
                rows.extend(_symptoms(i, mask_i, seemungal_days(p, t), th, p,
                                      confirmed(p, t, mask_i)))
            continue
        pulse_i = at.get((p, PULSE, t)) if ty == SPO2 else None
        if mask[i]:
            suspect = suspected_artefact(i)
            rows.extend(_absolute(i, v, th, p, ty, suspect, diary_kept(p, t)))
            base = baseline(i)
            if base is not None:
                rows.extend(_baseline(i, v - base[0], base[0], th, p, ty, suspect))
            lim = th.change_3d_yellow[p, ty]
            prev = between(p, ty, t - CHANGE_WINDOW_US, t)
            if _on(lim) and prev:
                ref = statistics.median(prev)
                if abs(v - ref) >= lim:
                    rows.append((i, -1, CHANGE_3D, YELLOW, v - ref,
                                 float(np.copysign(lim, v - ref)), ref))
            lim = th.loss_30d_pct_yellow[p, ty]
            old = between(p, ty, t - LOSS_OLD_FROM_US, t - LOSS_OLD_TO_US)
            if _on(lim) and old:
                o = statistics.median(old)
                new = statistics.median(between(p, ty, t - CHANGE_WINDOW_US, t, include_end=True))
                with np.errstate(divide="ignore", invalid="ignore"):
                    loss = float((np.float64(o) - new) / np.float64(o) * 100.0)
                if loss >= lim:
                    rows.append((i, -1, LOSS_30D, YELLOW, loss, lim, o))
            rows.extend(_slope(i, th, p, ty, t, history[(p, ty)]))
        if pulse_i is not None and (mask[i] or mask[pulse_i]) and _on(th.z_yellow[p]):
            symptom = recent_major(p, t)
            base_s = baseline(i, LONG_BASELINE_FROM_US)
            combined = _combined(i, pulse_i, combined_z(i, pulse_i), base_s, th, p, symptom >= 0,
                                 diary_kept(p, t))
            if combined and combined[0][3] == RED and not combined[0][4] >= th.z_red[p]:
                raised_by[i] = symptom
            rows.extend(combined)
    rows.sort(key=lambda r: (r[0], r[2]))
    return Breaches(
        reading=np.array([r[0] for r in rows], np.int64),
        partner=np.array([r[1] for r in rows], np.int64),
        symptom=np.array([raised_by.get(r[0], -1) if r[2] == COMBINED else -1 for r in rows],
                         np.int64),
        rule=np.array([r[2] for r in rows], np.int8),
        severity=np.array([r[3] for r in rows], np.int8),
        metric=np.array([r[4] for r in rows], np.float64),
        limit=np.array([r[5] for r in rows], np.float64),
        reference=np.array([r[6] for r in rows], np.float64))


def _absolute(i: int, v: float, th: ThresholdArrays, p: int, ty: int, suspect: bool,
              diary_kept: bool) -> list[Row]:
    yellow_off = diary_kept and th.yellow_off_while_diary_kept[p, ty] == 1.0
    for limit, severity, below in (
        (th.red_low[p, ty], RED, True), (th.red_high[p, ty], RED, False),
        (th.yellow_low[p, ty], YELLOW, True), (th.yellow_high[p, ty], YELLOW, False),
    ):
        if suspect and below and (severity == YELLOW or v >= th.red_floor[p, ty]):
            continue
        if severity == YELLOW and yellow_off:
            continue
        if _on(limit) and (v < limit if below else v > limit):
            return [(i, -1, ABSOLUTE, severity, v, float(limit), float("nan"))]
    return []


def _baseline(i: int, deviation: float, median: float, th: ThresholdArrays, p: int, ty: int,
              suspect: bool) -> list[Row]:
    for limit, severity, sign in (
        (th.drop_red[p, ty], RED, -1.0), (th.rise_red[p, ty], RED, 1.0),
        (th.drop_yellow[p, ty], YELLOW, -1.0), (th.rise_yellow[p, ty], YELLOW, 1.0),
    ):
        if suspect and sign < 0:
            continue
        if _on(limit) and sign * deviation >= limit:
            return [(i, -1, BASELINE, severity, deviation, float(sign * limit), median)]
    return []


def _slope(i: int, th: ThresholdArrays, p: int, ty: int, t: int,
           series: list[tuple[int, float]]) -> list[Row]:
    fall, rise = th.slope_3d_fall_yellow[p, ty], th.slope_3d_rise_yellow[p, ty]
    window = sorted((tt, vv) for tt, vv in series if t - SLOPE_WINDOW_US <= tt <= t)
    if not (_on(fall) or _on(rise)) or len(window) < SLOPE_MIN_READINGS:
        return []
    slopes = [(vb - va) / ((tb - ta) / DAY_US) for (ta, va), (tb, vb) in combinations(window, 2)]
    change = statistics.median(slopes) * SLOPE_DAYS
    if _on(rise) and change >= rise:
        return [(i, -1, SLOPE_3D, YELLOW, change, float(rise), float("nan"))]
    if _on(fall) and -change >= fall:
        return [(i, -1, SLOPE_3D, YELLOW, change, float(-fall), float("nan"))]
    return []


def _seemungal_met(mask: int) -> bool:
    return bool(MAJOR_COUNT[mask] >= 2 or (MAJOR_COUNT[mask] >= 1 and MINOR_COUNT[mask] >= 1))


def _symptoms(i: int, mask: int, days: int, th: ThresholdArrays, p: int, confirmed: bool
              ) -> list[Row]:
    rows: list[Row] = []
    major = float(MAJOR_COUNT[mask])
    if _on(th.major_yellow[p]) and major >= th.major_yellow[p] and confirmed:
        rows.append((i, -1, SYMPTOMS_RULE, YELLOW, major, float(th.major_yellow[p]),
                     float("nan")))
    if _on(th.seemungal_days_red[p]) and days >= th.seemungal_days_red[p]:
        rows.append((i, -1, SEEMUNGAL, RED, float(days), float(th.seemungal_days_red[p]),
                     float("nan")))
    return rows


def _combined(i: int, j: int, z: float | None, base_s: tuple[float, float] | None,
              th: ThresholdArrays, p: int, major_symptom: bool, diary_kept: bool) -> list[Row]:
    if z is None or base_s is None:
        return []
    with_symptom = th.z_red_with_major[p] if major_symptom else np.nan
    yellow = th.z_yellow_diary[p] if diary_kept and _on(th.z_yellow_diary[p]) else th.z_yellow[p]
    for limit, severity in ((th.z_red[p], RED), (with_symptom, RED), (yellow, YELLOW)):
        if _on(limit) and z >= limit:
            return [(i, j, COMBINED, severity, z, float(limit), base_s[0])]
    return []
