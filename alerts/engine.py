"""The vectorized alert engine: readings of many patients in, breaches out, as arrays.

Readings are grouped into series (patient, type) by one sort; every window a rule needs
(baseline, 3 days, 30 days) is found for all readings at once with ``np.searchsorted`` on a
combined (series, time) key, and windowed medians, MADs and Theil–Sen slopes are taken on
sliding-window views of the sorted values, one matrix per exact window length (a few dozen in
practice), so no Python loop runs over readings or patients. :mod:`alerts.reference` is the same
rules as a plain loop; the property tests hold the two to identical output.

NaN policy: readings whose value is not finite are ignored (never in a window, never a breach); a
limit that is NaN is off; a statistic over too few readings is NaN and breaches nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from alerts.schemas import ThresholdArrays
from core.measurement_types import MEASUREMENT_TYPES, TYPE_BY_INDEX
from core.questionnaires import (
    MAJOR_MASK,
    MINOR_MASK,
    SYMPTOM_ITEMS,
    SYMPTOM_SERIES,
    SYMPTOM_SERIES_INDEX,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

DAY_US = 86_400_000_000
BASELINE_FROM_US = 14 * DAY_US
"""The baseline window: readings measured in ``[t - 14 d, t - 2 d)``."""
BASELINE_TO_US = 2 * DAY_US
BASELINE_MIN_READINGS = 5
LONG_BASELINE_FROM_US = 28 * DAY_US
"""The combined rule's and the artefact guard's baseline: ``[t - 28 d, t - 2 d)``, at least 5
readings. Longer than the baseline limits' window because patients measuring three days a week
rarely have 5 readings in 12 days, and their variability (MAD) needs more readings than a median
(docs/alerting-engine.md: the cohort evaluation)."""
CHANGE_WINDOW_US = 3 * DAY_US
"""``change_3d``: against the median of readings in ``[t - 3 d, t)``."""
LOSS_OLD_FROM_US = 30 * DAY_US
"""``loss_30d``: median of ``[t - 30 d, t - 20 d)`` against median of ``[t - 3 d, t]``."""
LOSS_OLD_TO_US = 20 * DAY_US
SLOPE_WINDOW_US = 3 * DAY_US
"""``slope_3d``: Theil–Sen slope of readings in ``[t - 3 d, t]``, at least 3 readings."""
SLOPE_MIN_READINGS = 3
SLOPE_DAYS = 3.0
MAD_TO_SD = 1.4826
COMBINED_RECENT_US = 2 * DAY_US
"""The combined rule compares the median of the last 2 days' readings ``[t - 2 d, t]`` with the
baseline: one artefact or one noisy session counts half when there is a second, a prodrome
lasting days counts fully."""
SEEMUNGAL_NEXT_DAY_US = DAY_US // 2
"""Symptom rules: a diary answered at least 12 h after the previous one is on a new day..."""
SEEMUNGAL_GAP_US = 36 * DAY_US // 24
"""... and one answered more than 36 h after it is not on the next day: the run of days ends."""
SYMPTOM_RECENT_US = 2 * DAY_US
"""The combined rule is raised by a major symptom in a diary answered in ``[t - 2 d, t]``."""
DIARY_KEPT_US = 7 * DAY_US
"""``combined.z_yellow_diary`` applies while a diary was answered in ``[t - 7 d, t]``."""
CONFIRM_RECENT_US = DAY_US
"""``symptoms.major_confirm_z`` looks at the latest SpO2/pulse pair measured in ``[t - 1 d, t]``
before a diary answered at ``t`` (the tablet asks the diary after measuring)."""
LONGEST_LOOKBACK_US = LOSS_OLD_FROM_US
"""How much history before the evaluated readings the rules read (the streaming query's window)."""

RULES = ("absolute", "baseline", "change_3d", "loss_30d", "slope_3d", "combined", "symptoms",
         "seemungal")
ABSOLUTE, BASELINE, CHANGE_3D, LOSS_30D, SLOPE_3D, COMBINED, SYMPTOMS_RULE, SEEMUNGAL = range(
    len(RULES))
SEVERITIES = ("none", "yellow", "red")
YELLOW, RED = 1, 2
METRIC_VALUED = frozenset({"combined", "symptoms", "seemungal"})
"""Rules whose alert value is the metric (a z-score, symptoms, days), not a reading's value."""
COMBINED_TYPE = "spo2+pulse"
"""The ``type`` of combined-rule alerts: they are about both SpO2 and pulse."""

N_TYPES = len(TYPE_BY_INDEX)
SYMPTOMS = SYMPTOM_SERIES_INDEX
"""The ``type_index`` of diary answers (value: the symptom mask, ``core.questionnaires``)."""
N_SERIES = N_TYPES + 1
SERIES_CODES = (*(t.code for t in TYPE_BY_INDEX), SYMPTOM_SERIES)
"""Series code by ``type_index``: the measurement types, then the symptom diary."""
_MASKS = np.arange(1 << len(SYMPTOM_ITEMS))
MAJOR_COUNT = np.array([bin(m & MAJOR_MASK).count("1") for m in _MASKS.tolist()], np.int64)
"""Major (Anthonisen) symptoms in a symptom mask, by mask."""
MINOR_COUNT = np.array([bin(m & MINOR_MASK).count("1") for m in _MASKS.tolist()], np.int64)
SPO2 = MEASUREMENT_TYPES["spo2"].index
PULSE = MEASUREMENT_TYPES["pulse"].index
_KEY_LIMIT = 2 ** 62
CHUNK_READINGS = 1 << 16
"""Readings per chunk of whole patients: the working set of one chunk stays in the CPU cache."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Readings:
    """Readings of many patients, in any order. ``patient`` indexes the threshold arrays
    (``0 <= patient < P``); (patient, type, measured_at) must be unique, as in the database.
    Diary answers are readings of the series ``SYMPTOMS`` whose value is the symptom mask."""

    patient: IntArray
    type_index: npt.NDArray[np.int16]
    measured_at: npt.NDArray[np.datetime64]
    """``datetime64[us]``, UTC."""
    value: FloatArray

    def __len__(self) -> int:
        return int(self.patient.shape[0])


@dataclass(frozen=True, slots=True, kw_only=True)
class Breaches:
    """One row per (reading, rule) that breached, sorted by reading then rule.

    ``reading`` indexes the input; ``partner`` is the pulse reading of a combined breach (else
    -1); ``symptom`` the diary answer whose major symptom raised a combined breach to red (else
    -1). ``metric`` is what was compared with ``limit``: the value (absolute), value minus
    baseline (baseline, change_3d), percent loss (loss_30d), change over 3 days by the slope
    (slope_3d), the averaged z-score (combined). ``reference`` is the baseline or window median
    the metric was taken against (NaN for absolute and slope_3d).
    """

    reading: IntArray
    partner: IntArray
    symptom: IntArray
    rule: npt.NDArray[np.int8]
    severity: npt.NDArray[np.int8]
    metric: FloatArray
    limit: FloatArray
    reference: FloatArray

    def __len__(self) -> int:
        return int(self.reading.shape[0])

    @classmethod
    def empty(cls) -> Breaches:
        return cls.concat([])

    @classmethod
    def concat(cls, parts: list[Breaches]) -> Breaches:
        def cat(name: str, dtype: type) -> npt.NDArray[Any]:
            return np.concatenate([getattr(p, name) for p in parts] or [np.empty(0, dtype)]
                                  ).astype(dtype, copy=False)
        return cls(reading=cat("reading", np.int64), partner=cat("partner", np.int64),
                   symptom=cat("symptom", np.int64), rule=cat("rule", np.int8),
                   severity=cat("severity", np.int8),
                   metric=cat("metric", np.float64), limit=cat("limit", np.float64),
                   reference=cat("reference", np.float64))

    def take(self, order: IntArray) -> Breaches:
        return Breaches(reading=self.reading[order], partner=self.partner[order],
                        symptom=self.symptom[order], rule=self.rule[order],
                        severity=self.severity[order],
                        metric=self.metric[order], limit=self.limit[order],
                        reference=self.reference[order])


def evaluate(readings: Readings, thresholds: ThresholdArrays,
             evaluate_mask: BoolArray | None = None, *,
             chunk_readings: int = CHUNK_READINGS) -> Breaches:
    """Evaluate every rule for the readings in ``evaluate_mask`` (default: all); the other
    readings serve as history only.

    Parameters
    ----------
    readings : Readings
        New readings and the history the rules need (see ``LONGEST_LOOKBACK_US``).
    thresholds : ThresholdArrays
        Per-patient limits, indexed by ``readings.patient``.
    evaluate_mask : ndarray of bool, optional
        Which readings to evaluate.
    chunk_readings : int, optional
        Approximate readings per chunk of whole patients (a speed knob; results do not depend
        on it).

    Returns
    -------
    Breaches

    Examples
    --------
    >>> from alerts.schemas import Thresholds, ThresholdArrays, TypeThresholds, AbsoluteLimits
    >>> th = ThresholdArrays.from_documents([Thresholds(spo2=TypeThresholds(
    ...     absolute=AbsoluteLimits(red_low=88, yellow_low=90)))])
    >>> r = Readings(patient=np.array([0, 0]), type_index=np.array([0, 0], np.int16),
    ...              measured_at=np.array(["2026-01-01", "2026-01-02"], "datetime64[us]"),
    ...              value=np.array([89.0, 95.0]))
    >>> b = evaluate(r, th)
    >>> b.reading.tolist(), [SEVERITIES[s] for s in b.severity]
    ([0], ['yellow'])
    """
    n = len(readings)
    mask = np.ones(n, np.bool_) if evaluate_mask is None else np.asarray(evaluate_mask, np.bool_)
    value = np.asarray(readings.value, np.float64)
    keep = np.flatnonzero(np.isfinite(value))
    if keep.size == 0 or not mask[keep].any():
        return Breaches.empty()
    t = readings.measured_at.astype("datetime64[us]").view(np.int64)
    patient = np.asarray(readings.patient, np.int64)
    tk = t[keep]
    t_min = int(tk.min())
    span = int(tk.max()) - t_min + LONGEST_LOOKBACK_US + 2 * DAY_US
    patients_per_chunk = max(1, _KEY_LIMIT // span // N_SERIES)
    series = patient[keep] * N_SERIES + readings.type_index[keep]
    if int(patient[keep].max()) < patients_per_chunk:  # one int64 key sorts fastest
        order = np.argsort(series * span + (tk - t_min), kind="stable")
    else:
        order = np.lexsort((tk, series))
    idx = keep[order]
    # Chunks of whole patients, small enough to stay in cache and for each chunk's own
    # (series, time) key to fit in int64.
    sorted_patient = patient[idx]
    first = np.r_[True, sorted_patient[1:] != sorted_patient[:-1]]
    dense = np.cumsum(first) - 1
    by_size = (np.flatnonzero(first) // chunk_readings)[dense]
    chunk = by_size * (int(dense[-1]) + 1) + dense // patients_per_chunk
    bounds = np.flatnonzero(np.r_[True, chunk[1:] != chunk[:-1], True])
    parts = [_evaluate_sorted(idx[a:b], patient, readings.type_index, t, value, mask, thresholds)
             for a, b in zip(bounds[:-1], bounds[1:], strict=True)]  # chunks, not patients
    result = Breaches.concat(parts)
    return result.take(np.lexsort((result.rule, result.reading)))


def _evaluate_sorted(idx: IntArray, patient_all: IntArray, type_all: npt.NDArray[np.int16],
                     t_all: IntArray, value_all: FloatArray, mask_all: BoolArray,
                     th: ThresholdArrays) -> Breaches:
    """Rules for readings ``idx`` (original indices), sorted by (patient, type, time)."""
    p = patient_all[idx]
    ty = type_all[idx].astype(np.int64)
    ts = t_all[idx]
    v = value_all[idx]
    ev = mask_all[idx]
    series = p * N_SERIES + ty
    new_series = np.r_[True, series[1:] != series[:-1]]
    sid = np.cumsum(new_series) - 1
    t0 = ts.min() - LONGEST_LOOKBACK_US - DAY_US
    span = int(ts.max() - t0) + 2
    key = sid * span + (ts - t0)
    if np.any(key[1:] == key[:-1]):
        raise ValueError("readings must be unique per (patient, type, measured_at)")

    # Per-type limits exist for the measurement types only: the diary series has its own rules.
    measured = ty < N_TYPES
    flat = p * N_TYPES + np.where(measured, ty, 0)

    def limit(field: npt.NDArray[np.float64], rows: IntArray) -> FloatArray:
        result: FloatArray = field.ravel()[flat[rows]]
        return result

    def rows_with(*fields: npt.NDArray[np.float64]) -> IntArray:
        """Evaluated rows whose (patient, type) has any of these limits on."""
        on = np.any([np.isfinite(f.ravel()) for f in fields], axis=0)
        return np.flatnonzero(ev & measured & on[flat])

    def window(rows: IntArray, back_from: int, back_to: int) -> tuple[IntArray, IntArray]:
        """Index range of readings in ``[t - back_from, t - back_to)`` of each row's series
        (``back_to = -1`` includes the reading itself)."""
        k = key[rows]
        lo = np.searchsorted(key, k - back_from, "left")
        # Keys are unique, so the ends at the reading itself need no search.
        if back_to == 0:
            return lo, rows
        if back_to == -1:
            return lo, rows + 1
        return lo, np.searchsorted(key, k - back_to, "left")

    def diary_kept(rows: IntArray) -> BoolArray:
        """Whether each row's patient answered a diary in ``[t - 7 d, t]``."""
        kept: BoolArray = _latest_in(rows, diary, SYMPTOMS, DIARY_KEPT_US, key, sid, series, ts,
                                     t0, span, ty) >= 0
        return kept

    parts: list[Breaches] = []

    # The long baseline (median and MAD) of the combined rule's readings and of the readings the
    # artefact guard looks at.
    pair = _pulse_partner(key, sid, series, ts, t0, span, ty)
    combined_rows = np.flatnonzero((ty == SPO2) & (pair >= 0) & np.isfinite(th.z_yellow[p]))
    combined_rows = combined_rows[ev[combined_rows] | ev[pair[combined_rows]]]
    # The diaries whose yellow symptom alert may need the combined z-score as its second sign,
    # and their latest SpO2/pulse pair of the day before (history rows too).
    diary = ty == SYMPTOMS
    diary_rows = np.flatnonzero(diary)
    confirm_diaries = diary_rows[ev[diary_rows] & np.isfinite(th.major_confirm_z[p[diary_rows]])]
    z_rows = combined_rows
    if confirm_diaries.size:
        confirm_pair = _latest_in(confirm_diaries, (ty == SPO2) & (pair >= 0), SPO2,
                                  CONFIRM_RECENT_US, key, sid, series, ts, t0, span, ty)
        confirm_diaries, confirm_pair = (confirm_diaries[confirm_pair >= 0],
                                         confirm_pair[confirm_pair >= 0])
        z_rows = np.union1d(combined_rows, confirm_pair)
    guard_rows = rows_with(th.suspect_drop)
    need = np.zeros(idx.size, np.bool_)
    need[z_rows] = True
    need[pair[z_rows]] = True
    need[guard_rows] = True
    long_rows = np.flatnonzero(need)
    lo, hi = window(long_rows, LONG_BASELINE_FROM_US, BASELINE_TO_US)
    enough = (hi - lo) >= BASELINE_MIN_READINGS
    long_median = np.full(idx.size, np.nan)
    long_mad = np.full(idx.size, np.nan)
    long_median[long_rows[enough]], long_mad[long_rows[enough]] = windowed_median(
        v, lo[enough], hi[enough], with_mad=True)

    # Artefact guard: a reading at least ``suspect_drop`` below both the previous reading and the
    # long baseline is a suspected artefact (a motion artefact gives a sudden false low; a real
    # deterioration falls over days) until the next reading confirms the fall. A long baseline
    # means at least 5 earlier readings of the series, so ``row - 1`` is the previous one.
    guard_rows = guard_rows[np.isfinite(long_median[guard_rows])]
    drop = limit(th.suspect_drop, guard_rows)
    suspect = np.zeros(idx.size, np.bool_)
    suspect[guard_rows] = ((v[guard_rows - 1] - v[guard_rows] >= drop)
                           & (long_median[guard_rows] - v[guard_rows] >= drop))

    # Absolute limits; a suspected artefact raises only a red low, and with ``red_floor`` only
    # one below that floor.
    lows = [(th.red_low, RED), (th.yellow_low, YELLOW)]
    highs = [(th.red_high, RED), (th.yellow_high, YELLOW)]
    rows = rows_with(th.red_low, th.yellow_low, th.yellow_high, th.red_high)
    sev, lim = _graded(v[rows] * -1.0, [(-limit(f, rows), s) for f, s in lows], strict=True)
    with np.errstate(invalid="ignore"):
        held = (sev == YELLOW) | ((sev == RED) & (v[rows] >= limit(th.red_floor, rows)))
    sev = np.where(suspect[rows] & held, 0, sev)
    sev_h, lim_h = _graded(v[rows], [(limit(f, rows), s) for f, s in highs], strict=True)
    use_high = sev_h > sev
    sev = np.where(use_high, sev_h, sev)
    lim = np.where(use_high, lim_h, -lim)
    # While the diary is kept, a type may leave its early warning to it: no yellow here.
    quiet = np.flatnonzero((sev == YELLOW) & (limit(th.yellow_off_while_diary_kept, rows) == 1.0))
    if quiet.size:
        sev[quiet[diary_kept(rows[quiet])]] = 0
    parts.append(_breaches(idx, rows, sev, ABSOLUTE, v[rows], lim, np.full(rows.size, np.nan)))

    # Baseline-relative limits; a suspected artefact raises no drop.
    rows = rows_with(th.drop_red, th.drop_yellow, th.rise_red, th.rise_yellow)
    lo, hi = window(rows, BASELINE_FROM_US, BASELINE_TO_US)
    enough = (hi - lo) >= BASELINE_MIN_READINGS
    rows, lo, hi = rows[enough], lo[enough], hi[enough]
    median, _ = windowed_median(v, lo, hi)
    deviation = v[rows] - median
    sev_d, lim_d = _graded(-deviation, [(limit(th.drop_red, rows), RED),
                                        (limit(th.drop_yellow, rows), YELLOW)])
    sev_d = np.where(suspect[rows], 0, sev_d)
    sev_r, lim_r = _graded(deviation, [(limit(th.rise_red, rows), RED),
                                       (limit(th.rise_yellow, rows), YELLOW)])
    use_rise = sev_r > sev_d
    parts.append(_breaches(idx, rows, np.where(use_rise, sev_r, sev_d), BASELINE, deviation,
                           np.where(use_rise, lim_r, -lim_d), median))

    # change_3d: against the median of the previous 3 days.
    rows = rows_with(th.change_3d_yellow)
    lo, hi = window(rows, CHANGE_WINDOW_US, 0)
    rows, lo, hi = rows[hi > lo], lo[hi > lo], hi[hi > lo]
    ref, _ = windowed_median(v, lo, hi)
    change = v[rows] - ref
    lim = limit(th.change_3d_yellow, rows)
    sev = np.where(np.abs(change) >= lim, YELLOW, 0)
    parts.append(_breaches(idx, rows, sev, CHANGE_3D, change, np.copysign(lim, change), ref))

    # loss_30d: median of days 30..20 before against the last 3 days' median.
    rows = rows_with(th.loss_30d_pct_yellow)
    lo_old, hi_old = window(rows, LOSS_OLD_FROM_US, LOSS_OLD_TO_US)
    lo_new, hi_new = window(rows, CHANGE_WINDOW_US, -1)
    ok = hi_old > lo_old
    rows, lo_old, hi_old, lo_new, hi_new = (a[ok] for a in (rows, lo_old, hi_old, lo_new, hi_new))
    old, _ = windowed_median(v, lo_old, hi_old)
    new, _ = windowed_median(v, lo_new, hi_new)
    with np.errstate(divide="ignore", invalid="ignore"):
        loss = (old - new) / old * 100.0
    lim = limit(th.loss_30d_pct_yellow, rows)
    parts.append(_breaches(idx, rows, np.where(loss >= lim, YELLOW, 0), LOSS_30D, loss, lim, old))

    # slope_3d: Theil–Sen slope over the last 3 days, as change per 3 days.
    rows = rows_with(th.slope_3d_fall_yellow, th.slope_3d_rise_yellow)
    lo, hi = window(rows, SLOPE_WINDOW_US, -1)
    ok = (hi - lo) >= SLOPE_MIN_READINGS
    rows, lo, hi = rows[ok], lo[ok], hi[ok]
    change = theil_sen(ts, v, lo, hi) * SLOPE_DAYS
    sev_f, lim_f = _graded(-change, [(limit(th.slope_3d_fall_yellow, rows), YELLOW)])
    sev_r, lim_r = _graded(change, [(limit(th.slope_3d_rise_yellow, rows), YELLOW)])
    use_rise = sev_r > sev_f
    parts.append(_breaches(idx, rows, np.where(use_rise, sev_r, sev_f), SLOPE_3D, change,
                           np.where(use_rise, lim_r, -lim_f), np.full(rows.size, np.nan)))

    # Combined: SpO2 fall and pulse rise in units of own variability, averaged (for the rule's
    # rows and for the pairs that may confirm a diary).
    rows, partner = z_rows, pair[z_rows]
    pp = p[rows]
    sd_s = np.maximum(long_mad[rows] * MAD_TO_SD, th.spo2_sd_floor[pp])
    sd_p = np.maximum(long_mad[partner] * MAD_TO_SD, th.pulse_sd_floor[pp])
    recent_s, _ = windowed_median(v, *window(rows, COMBINED_RECENT_US, -1))
    recent_p, _ = windowed_median(v, *window(partner, COMBINED_RECENT_US, -1))
    z_all = np.full(idx.size, np.nan)
    z_all[rows] = ((long_median[rows] - recent_s) / sd_s
                   + (recent_p - long_median[partner]) / sd_p) / 2.0
    confirm_z = np.full(idx.size, np.nan)
    if confirm_diaries.size:
        confirm_z[confirm_diaries] = z_all[confirm_pair]
    rows = combined_rows
    partner = pair[rows]
    pp = p[rows]
    z = z_all[rows]
    # A major symptom in a diary of the last 2 days makes the combined rule red from its own
    # limit: a patient who feels worse and whose oximetry agrees.
    major = np.zeros(idx.size, np.bool_)
    major[diary_rows] = MAJOR_COUNT[v[diary_rows].astype(np.int64) & (_MASKS.size - 1)] > 0
    symptom = _latest_in(rows, major, SYMPTOMS, SYMPTOM_RECENT_US, key, sid, series, ts, t0,
                         span, ty)
    with_symptom = np.where(symptom >= 0, th.z_red_with_major[pp], np.nan)
    z_yellow = np.where(diary_kept(rows) & np.isfinite(th.z_yellow_diary[pp]),
                        th.z_yellow_diary[pp], th.z_yellow[pp])
    sev, lim = _graded(z, [(th.z_red[pp], RED), (with_symptom, RED), (z_yellow, YELLOW)])
    raised = (sev == RED) & ~(z >= th.z_red[pp])
    parts.append(_breaches(idx, rows, sev, COMBINED, z, lim, long_median[rows],
                           partner=idx[partner],
                           symptom=np.where(raised, idx[np.maximum(symptom, 0)], -1)))

    parts += _symptom_rules(idx, ev, ty, p, v, ts, th, confirm_z)
    return Breaches.concat(parts)


def _symptom_rules(idx: IntArray, ev: BoolArray, ty: IntArray, p: IntArray, v: FloatArray,
                   ts: IntArray, th: ThresholdArrays, confirm_z: FloatArray) -> list[Breaches]:
    """The diary's rules on rows sorted by (patient, series, time): ``symptoms`` (yellow from
    ``major_yellow`` major symptoms in one diary; with ``major_confirm_z`` only when a second
    sign confirms them) and ``seemungal`` (red when the Seemungal criterion, two major symptoms
    or one major and one minor, holds in the diaries of ``seemungal_days_red`` consecutive
    days). ``confirm_z``: per row, the combined z-score of the latest SpO2/pulse pair of the
    day before a diary (NaN: none, or not needed)."""
    sym = np.flatnonzero(ty == SYMPTOMS)
    if sym.size == 0:
        return []
    masks = v[sym].astype(np.int64) & (_MASKS.size - 1)
    major, minor = MAJOR_COUNT[masks], MINOR_COUNT[masks]
    nan = np.full(sym.size, np.nan)
    met = (major >= 2) | ((major >= 1) & (minor >= 1))
    gap = np.r_[np.iinfo(np.int64).max, np.diff(ts[sym])]
    same = np.r_[False, p[sym][1:] == p[sym][:-1]]
    next_day = same & (gap >= SEEMUNGAL_NEXT_DAY_US) & (gap <= SEEMUNGAL_GAP_US)

    # A second sign: the Seemungal criterion in this diary, a major symptom in the previous
    # diary of the day before, or the oximeter agreeing (a lone symptom on a quiet day is the
    # commonest false alert, docs/alerting-engine.md, sixth round).
    need = th.major_confirm_z[p[sym]]
    with np.errstate(invalid="ignore"):
        confirmed = (np.isnan(need) | met | (next_day & np.r_[False, major[:-1] >= 1])
                     | (confirm_z[sym] >= need))
    sev, lim = _graded(major.astype(np.float64), [(th.major_yellow[p[sym]], YELLOW)])
    sev = np.where(ev[sym] & confirmed, sev, 0)
    parts = [_breaches(idx, sym, sev, SYMPTOMS_RULE, major.astype(np.float64), lim, nan)]

    # Runs of days meeting the criterion: a diary continues the run of the diary before it
    # (same patient, at most 36 h earlier, criterion met) and adds a day if it is at least
    # 12 h after it; any other diary meeting the criterion starts a run of one day.
    linked = met & np.r_[False, met[:-1]] & same & (gap <= SEEMUNGAL_GAP_US)
    start = met & ~linked
    adds = start | (linked & (gap >= SEEMUNGAL_NEXT_DAY_US))
    counted = np.cumsum(adds)
    run_start = np.maximum.accumulate(np.where(start, np.arange(sym.size), 0))
    days = np.where(met, counted - counted[run_start] + 1, 0).astype(np.float64)
    sev, lim = _graded(days, [(th.seemungal_days_red[p[sym]], RED)])
    sev = np.where(ev[sym], sev, 0)
    parts.append(_breaches(idx, sym, sev, SEEMUNGAL, days, lim, nan))
    return parts


def _latest_in(rows: IntArray, flag: BoolArray, target: int, back_us: int, key: IntArray,
               sid: IntArray, series: IntArray, ts: IntArray, t0: int, span: int, ty: IntArray
               ) -> IntArray:
    """For each of ``rows``, the position of the latest row of the same patient's series
    ``target`` measured in ``[t - back_us, t]`` for which ``flag`` holds, else -1 (a diary with
    a major symptom before a combined reading; a paired SpO2 reading before a diary)."""
    out = np.full(rows.size, -1, np.int64)
    if rows.size == 0 or not np.any(flag):
        return out
    latest = np.maximum.accumulate(np.where(flag, np.arange(key.size), -1))
    first_of_sid = np.flatnonzero(np.r_[True, sid[1:] != sid[:-1]])
    series_of_sid = series[first_of_sid]
    want = series[rows] - ty[rows] + target
    pos = np.minimum(np.searchsorted(series_of_sid, want), series_of_sid.size - 1)
    has = series_of_sid[pos] == want
    hi = np.searchsorted(key, pos * span + (ts[rows] - t0), "right")
    lo = np.searchsorted(key, pos * span + (ts[rows] - back_us - t0), "left")
    candidate = latest[np.maximum(hi - 1, 0)]
    found = has & (hi > lo) & (candidate >= lo)
    out[found] = candidate[found]
    return out


def _graded(metric: FloatArray, levels: list[tuple[FloatArray, int]], *, strict: bool = False
            ) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """Highest severity whose limit the metric reaches (``>=``, or ``>`` if ``strict``), and that
    limit. ``levels`` go from the most to the least severe; NaN limits never match."""
    severity = np.zeros(metric.shape, np.int64)
    crossed = np.full(metric.shape, np.nan)
    with np.errstate(invalid="ignore"):
        for lim, level in reversed(levels):  # a fixed handful of levels, not readings
            hit = metric > lim if strict else metric >= lim
            severity = np.where(hit, level, severity)
            crossed = np.where(hit, lim, crossed)
    return severity, crossed


def _breaches(idx: IntArray, rows: IntArray, severity: npt.NDArray[np.int64], rule: int,
              metric: FloatArray, limit: FloatArray, reference: FloatArray,
              partner: IntArray | None = None, symptom: IntArray | None = None) -> Breaches:
    hit = severity > 0
    k = int(hit.sum())
    return Breaches(
        reading=idx[rows[hit]],
        partner=np.full(k, -1, np.int64) if partner is None else partner[hit],
        symptom=np.full(k, -1, np.int64) if symptom is None else symptom[hit],
        rule=np.full(k, rule, np.int8), severity=severity[hit].astype(np.int8),
        metric=metric[hit], limit=limit[hit], reference=reference[hit])


def _pulse_partner(key: IntArray, sid: IntArray, series: IntArray, ts: IntArray, t0: int,
                   span: int, ty: IntArray) -> IntArray:
    """For each SpO2 reading, the position of the same patient's pulse reading measured at the
    same instant (the oximeter gives both), else -1."""
    out = np.full(key.size, -1, np.int64)
    spo2 = np.flatnonzero(ty == SPO2)
    if spo2.size == 0:
        return out
    # Series ids are dense in sort order; the pulse series of a patient, if present, is the
    # sid whose series number is this one's plus (PULSE - SPO2).
    first_of_sid = np.flatnonzero(np.r_[True, sid[1:] != sid[:-1]])
    series_of_sid = series[first_of_sid]
    want = series[spo2] + (PULSE - SPO2)
    pos = np.searchsorted(series_of_sid, want)
    pos_c = np.minimum(pos, series_of_sid.size - 1)
    has = series_of_sid[pos_c] == want
    target = pos_c * span + (ts[spo2] - t0)
    at = np.searchsorted(key, target)
    at_c = np.minimum(at, key.size - 1)
    found = has & (key[at_c] == target)
    out[spo2[found]] = at_c[found]
    return out


def _width_groups(n: IntArray) -> list[tuple[int, IntArray]]:
    """Rows grouped by their exact window length (a few dozen distinct lengths in practice)."""
    if n.size == 0:
        return []
    # Window lengths fit 16 bits in practice, where numpy's stable sort is a radix sort.
    order = np.argsort(n.astype(np.uint16) if n.max() < 2 ** 16 else n, kind="stable")
    sorted_n = n[order]
    starts = np.flatnonzero(np.r_[True, sorted_n[1:] != sorted_n[:-1]])
    ends = np.r_[starts[1:], n.size]
    return [(int(sorted_n[a]), order[a:b]) for a, b in zip(starts, ends, strict=True)]


def windowed_median(values: FloatArray, lo: IntArray, hi: IntArray, *, with_mad: bool = False
                    ) -> tuple[FloatArray, FloatArray]:
    """Median (and median absolute deviation) of ``values[lo[i]:hi[i]]`` for every ``i``.

    Windows must be non-empty. The median of an even count is the mean of the two middle values.

    Examples
    --------
    >>> v = np.array([1.0, 5.0, 2.0, 8.0])
    >>> windowed_median(v, np.array([0, 1]), np.array([3, 4]), with_mad=True)
    (array([2., 5.]), array([1., 3.]))
    """
    median = np.empty(lo.size)
    mad = np.full(lo.size, np.nan)
    for width, rows in _width_groups(hi - lo):  # one step per distinct window length
        if width == 1:  # common for short windows: the value itself, no spread
            median[rows] = values[lo[rows]]
            mad[rows] = 0.0
            continue
        m = sliding_window_view(values, width)[lo[rows]]  # copies rows of contiguous blocks
        m.sort(axis=1)
        med = (m[:, (width - 1) // 2] + m[:, width // 2]) / 2.0
        median[rows] = med
        if with_mad:
            d = np.abs(m - med[:, None])
            d.sort(axis=1)
            mad[rows] = (d[:, (width - 1) // 2] + d[:, width // 2]) / 2.0
    return median, mad


_PAIRS: dict[int, tuple[IntArray, IntArray]] = {}


def _pairs(width: int) -> tuple[IntArray, IntArray]:
    if width not in _PAIRS:
        i, j = np.triu_indices(width, k=1)
        _PAIRS[width] = (i.astype(np.int64), j.astype(np.int64))
    return _PAIRS[width]


def theil_sen(t_us: IntArray, values: FloatArray, lo: IntArray, hi: IntArray) -> FloatArray:
    """Theil–Sen slope (median of pairwise slopes, per day) of each window
    ``[lo[i], hi[i])``, which must hold readings at distinct times.

    Examples
    --------
    >>> t = np.array([0, 1, 2, 3]) * DAY_US
    >>> theil_sen(t, np.array([10.0, 9.0, 50.0, 7.0]), np.array([0]), np.array([4]))
    array([-1.])
    """
    slope = np.empty(lo.size)
    for width, rows in _width_groups(hi - lo):  # one step per distinct window length
        i, j = _pairs(width)
        a = lo[rows, None] + i[None, :]
        b = lo[rows, None] + j[None, :]
        s = (values[b] - values[a]) / ((t_us[b] - t_us[a]) / DAY_US)
        s.sort(axis=1)
        m = i.size
        slope[rows] = (s[:, (m - 1) // 2] + s[:, m // 2]) / 2.0
    return slope
