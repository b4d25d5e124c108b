"""Personal limits proposed from a patient's run-in: pure numeric code, arrays in, arrays out.

After the run-in (``RunIn.days`` days with at least ``RunIn.min_sessions`` oximeter readings) a
patient's own distribution says where her everyday values lie. The proposal moves the limits that
fire on everyday values of *this* patient (an SpO2 of 88–90 in chronic hypoxaemia, a pulse of
115 in atrial fibrillation, weight that moves with fluid in heart failure) to the edge of her own
distribution, and raises the combined rule's variability floors to her own day-to-day spread.
It never crosses the profile's safety limits (``SAFETY``), never makes a limit stricter than the
current one, and never switches on a limit a clinician switched off.

Robust to artefacts: location and spread are the median and 1.4826 × MAD (a motion artefact or a
bad day is one outlier among 10–20 readings and moves neither), and the weight spread comes from
differences of consecutive weighings, so slow drift does not count as noise.

NaN policy: readings whose value is not finite are ignored. A patient with fewer than
``RunIn.min_sessions`` finite readings of a type gets NaN statistics for it, and every limit that
depends on them is NaN in the proposal (meaning: no proposal, keep the current limit).
:func:`apply` turns a proposal row into a threshold document.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from alerts.schemas import ThresholdArrays, Thresholds
from core.measurement_types import MEASUREMENT_TYPES

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

SPO2 = MEASUREMENT_TYPES["spo2"].index
PULSE = MEASUREMENT_TYPES["pulse"].index
WEIGHT = MEASUREMENT_TYPES["weight"].index
MAD_TO_SD = 1.4826


@dataclass(frozen=True, slots=True, kw_only=True)
class SafetyLimits:
    """What no personalisation crosses, fixed per profile (docs/alerting-engine.md)."""

    spo2_red_low_min: float
    """A personal red SpO2 low is never below this (SpO2 under it is always "act today")."""
    spo2_yellow_low_min: float
    pulse_red_high_max: float
    """A personal red pulse high is never above this."""
    pulse_rise_red_max: float
    """A personal red pulse rise over the baseline is never above this."""
    spo2_sd_floor_max: float
    pulse_sd_floor_max: float
    """The combined rule's variability floors are never raised above these (it would go blind)."""
    weight_change_3d_max: float
    """A personal 3-day weight change limit is never above this, kg."""


SAFETY: Mapping[str, SafetyLimits] = MappingProxyType({
    "kol-standard": SafetyLimits(spo2_red_low_min=85.0, spo2_yellow_low_min=87.0,
                                 pulse_red_high_max=130.0, pulse_rise_red_max=30.0,
                                 spo2_sd_floor_max=2.0,
                                 pulse_sd_floor_max=12.0, weight_change_3d_max=3.0),
    # BTS 2017: target 88–92 % on oxygen; the profile already sits lower.
    "kol-ltot": SafetyLimits(spo2_red_low_min=82.0, spo2_yellow_low_min=84.0,
                             pulse_red_high_max=130.0, pulse_rise_red_max=30.0,
                             spo2_sd_floor_max=2.0,
                             pulse_sd_floor_max=12.0, weight_change_3d_max=3.0),
})


@dataclass(frozen=True, slots=True, kw_only=True)
class RunIn:
    """How a proposal is made (tuned on the robustness benchmark's tuning cohorts)."""

    days: int = 21
    """Length of the run-in from enrolment."""
    min_sessions: int = 10
    """Finite readings of a type needed in the run-in for a proposal of its limits."""
    spo2_low_sds: float = 2.5
    """Personal SpO2 yellow low: alert below median − this many SDs."""
    spo2_red_gap: float = 2.0
    """Personal red low: this many points below the personal yellow low."""
    pulse_high_sds: float = 3.0
    """Personal pulse red high: median + this many SDs."""
    pulse_rise_sds: float = 3.5
    """Personal red pulse rise over the baseline: this many SDs."""
    sd_floor_share: float = 1.0
    """Variability floors: this share of the personal SD."""
    weight_change_sds: float = 4.0
    """Personal 3-day weight change limit: this many SDs of one weighing."""
    spo2_sd_min: float = 1.0
    pulse_sd_min: float = 5.0
    """Smallest SDs used for the limits (a few identical readings give a MAD of 0)."""


DEFAULT_RUN_IN = RunIn()


@dataclass(frozen=True, slots=True, kw_only=True)
class RunInStatistics:
    """Per patient (shape ``(P,)``): finite readings, median and robust SD of SpO2 and pulse,
    and the robust SD of one weighing. NaN where a type has fewer than ``min_sessions``."""

    spo2_n: IntArray
    spo2_median: FloatArray
    spo2_sd: FloatArray
    pulse_n: IntArray
    pulse_median: FloatArray
    pulse_sd: FloatArray
    weight_n: IntArray
    weight_sd: FloatArray


@dataclass(frozen=True, slots=True, kw_only=True)
class PersonalLimits:
    """The proposal per patient (shape ``(P,)``); NaN means "no proposal, keep the current"."""

    spo2_yellow_low: FloatArray
    spo2_red_low: FloatArray
    pulse_red_high: FloatArray
    pulse_rise_red: FloatArray
    spo2_sd_floor: FloatArray
    pulse_sd_floor: FloatArray
    weight_change_3d_yellow: FloatArray

    @property
    def ready(self) -> BoolArray:
        """Patients with anything proposed."""
        parts = (self.spo2_yellow_low, self.spo2_red_low, self.pulse_red_high,
                 self.pulse_rise_red, self.spo2_sd_floor, self.pulse_sd_floor,
                 self.weight_change_3d_yellow)
        ready: BoolArray = np.any([np.isfinite(a) for a in parts], axis=0)
        return ready


def _group_median(group: IntArray, values: FloatArray, n_groups: int
                  ) -> tuple[IntArray, FloatArray]:
    """Count and median of ``values`` per group ``0 <= group < n_groups`` (NaN when empty)."""
    order = np.lexsort((values, group))
    g, v = group[order], values[order]
    count = np.bincount(g, minlength=n_groups).astype(np.int64)
    start = np.r_[0, np.cumsum(count)[:-1]]
    median = np.full(n_groups, np.nan)
    has = count > 0
    lo = start[has] + (count[has] - 1) // 2
    hi = start[has] + count[has] // 2
    median[has] = (v[lo] + v[hi]) / 2.0
    return count, median


def _median_and_sd(group: IntArray, values: FloatArray, n_groups: int
                   ) -> tuple[IntArray, FloatArray, FloatArray]:
    count, median = _group_median(group, values, n_groups)
    _, mad = _group_median(group, np.abs(values - median[group]), n_groups)
    return count, median, mad * MAD_TO_SD


def run_in_statistics(patient: IntArray, type_index: npt.NDArray[np.int16],
                      measured_at: npt.NDArray[np.datetime64], value: FloatArray,
                      n_patients: int, run_in: RunIn = DEFAULT_RUN_IN) -> RunInStatistics:
    """Robust statistics of each patient's run-in readings.

    Parameters
    ----------
    patient, type_index, measured_at, value : ndarray
        The run-in readings of ``n_patients`` patients, in any order (``0 <= patient <
        n_patients``). The caller chooses the period; non-finite values are ignored.
    n_patients : int
    run_in : RunIn, optional
        Only ``min_sessions`` is used here.

    Returns
    -------
    RunInStatistics

    Examples
    --------
    >>> t = np.arange(12).astype("datetime64[D]").astype("datetime64[us]")
    >>> spo2 = np.array([89.0, 90, 88, 89, 90, 89, 80, 89, 88, 90, 89, 89])  # one artefact
    >>> s = run_in_statistics(np.zeros(12, np.int64), np.zeros(12, np.int16), t, spo2, 1)
    >>> float(s.spo2_median[0]), float(s.spo2_sd[0])
    (89.0, 0.7413)
    """
    finite = np.isfinite(value)
    p, ty, v = (np.asarray(patient, np.int64)[finite], np.asarray(type_index)[finite],
                np.asarray(value, np.float64)[finite])
    t = np.asarray(measured_at).astype("datetime64[us]").view(np.int64)[finite]

    def by_type(code: int) -> tuple[IntArray, FloatArray, FloatArray]:
        sel = ty == code
        return _median_and_sd(p[sel], v[sel], n_patients)

    spo2_n, spo2_median, spo2_sd = by_type(SPO2)
    pulse_n, pulse_median, pulse_sd = by_type(PULSE)
    # Weight: the spread of one weighing from consecutive differences (drift cancels), / sqrt 2.
    sel = np.flatnonzero(ty == WEIGHT)
    sel = sel[np.lexsort((t[sel], p[sel]))]
    same = p[sel][1:] == p[sel][:-1]
    weight_n = np.bincount(p[sel], minlength=n_patients).astype(np.int64)
    _, _, diff_sd = _median_and_sd(p[sel][1:][same], np.diff(v[sel])[same], n_patients)
    # A difference's median is ~0 but not exactly: MAD about it is the robust spread.
    weight_sd = diff_sd / np.sqrt(2.0)

    few = run_in.min_sessions
    return RunInStatistics(
        spo2_n=spo2_n, spo2_median=np.where(spo2_n >= few, spo2_median, np.nan),
        spo2_sd=np.where(spo2_n >= few, spo2_sd, np.nan),
        pulse_n=pulse_n, pulse_median=np.where(pulse_n >= few, pulse_median, np.nan),
        pulse_sd=np.where(pulse_n >= few, pulse_sd, np.nan),
        weight_n=weight_n, weight_sd=np.where(weight_n >= few, weight_sd, np.nan))


def propose(stats: RunInStatistics, current: ThresholdArrays, safety: SafetyLimits,
            run_in: RunIn = DEFAULT_RUN_IN) -> PersonalLimits:
    """Personal limits from run-in statistics, never stricter than ``current``, never across
    ``safety``.

    Parameters
    ----------
    stats : RunInStatistics
        From :func:`run_in_statistics`, ``P`` patients.
    current : ThresholdArrays
        The patients' thresholds in force (``P`` rows). A limit that is off (NaN) stays off.
    safety : SafetyLimits
        The profile's safety limits (one profile for all ``P``; call once per profile).
    run_in : RunIn, optional

    Returns
    -------
    PersonalLimits
        NaN where nothing is proposed: too few readings, the limit is off, or the personal value
        is not looser than the current one.

    Examples
    --------
    A patient stable at SpO2 89 on the standard profile (yellow below 90, red below 88):

    >>> from alerts.profiles import PROFILES
    >>> stats = RunInStatistics(
    ...     spo2_n=np.array([20]), spo2_median=np.array([89.0]), spo2_sd=np.array([1.0]),
    ...     pulse_n=np.array([20]), pulse_median=np.array([85.0]), pulse_sd=np.array([5.0]),
    ...     weight_n=np.array([20]), weight_sd=np.array([0.4]))
    >>> th = ThresholdArrays.from_documents([PROFILES["kol-standard"]])
    >>> lim = propose(stats, th, SAFETY["kol-standard"])
    >>> float(lim.spo2_yellow_low[0]), float(lim.spo2_red_low[0]), float(lim.pulse_red_high[0])
    (87.0, 85.0, nan)
    """
    r = run_in
    spo2_sd = np.maximum(stats.spo2_sd, r.spo2_sd_min)
    pulse_sd = np.maximum(stats.pulse_sd, r.pulse_sd_min)
    cur_yellow, cur_red = current.yellow_low[:, SPO2], current.red_low[:, SPO2]
    with np.errstate(invalid="ignore"):
        # Alert when a reading is below the personal edge (readings are whole %-points).
        yellow = np.maximum(np.ceil(stats.spo2_median - r.spo2_low_sds * spo2_sd),
                            safety.spo2_yellow_low_min)
        yellow = np.where(yellow < cur_yellow, yellow, np.nan)
        red_base = np.where(np.isfinite(yellow), yellow, cur_yellow)
        red = np.maximum(red_base - r.spo2_red_gap, safety.spo2_red_low_min)
        red = np.where((red < cur_red) & np.isfinite(stats.spo2_median), red, np.nan)

        cur_high = current.red_high[:, PULSE]
        high = np.minimum(np.ceil(stats.pulse_median + r.pulse_high_sds * pulse_sd),
                          safety.pulse_red_high_max)
        high = np.where(high > cur_high, high, np.nan)
        cur_rise = current.rise_red[:, PULSE]
        rise = np.minimum(np.ceil(r.pulse_rise_sds * pulse_sd), safety.pulse_rise_red_max)
        rise = np.where(rise > cur_rise, rise, np.nan)

        spo2_floor = np.minimum(np.round(stats.spo2_sd * r.sd_floor_share, 1),
                                safety.spo2_sd_floor_max)
        spo2_floor = np.where(spo2_floor > current.spo2_sd_floor, spo2_floor, np.nan)
        pulse_floor = np.minimum(np.round(stats.pulse_sd * r.sd_floor_share, 1),
                                 safety.pulse_sd_floor_max)
        pulse_floor = np.where(pulse_floor > current.pulse_sd_floor, pulse_floor, np.nan)

        cur_weight = current.change_3d_yellow[:, WEIGHT]
        weight = np.minimum(np.round(stats.weight_sd * r.weight_change_sds, 1),
                            safety.weight_change_3d_max)
        weight = np.where(weight > cur_weight, weight, np.nan)
    return PersonalLimits(spo2_yellow_low=yellow, spo2_red_low=red, pulse_red_high=high,
                          pulse_rise_red=rise, spo2_sd_floor=spo2_floor, pulse_sd_floor=pulse_floor,
                          weight_change_3d_yellow=weight)


def apply(document: Thresholds, limits: PersonalLimits, i: int) -> Thresholds:
    """``document`` with patient ``i``'s proposed limits put in (the NaN ones left as they are).

    Examples
    --------
    >>> from alerts.profiles import PROFILES
    >>> nan = np.array([np.nan])
    >>> lim = PersonalLimits(spo2_yellow_low=np.array([87.0]), spo2_red_low=np.array([85.0]),
    ...                      pulse_red_high=nan, pulse_rise_red=nan, spo2_sd_floor=nan,
    ...                      pulse_sd_floor=nan, weight_change_3d_yellow=nan)
    >>> apply(PROFILES["kol-standard"], lim, 0).spo2.absolute.yellow_low
    87.0
    """
    def pick(proposed: FloatArray, old: float | None) -> float | None:
        value = float(proposed[i])
        return value if np.isfinite(value) else old

    spo2, pulse, weight = document.spo2, document.pulse, document.weight
    spo2_abs = spo2.absolute.model_copy(update={
        "red_low": pick(limits.spo2_red_low, spo2.absolute.red_low),
        "yellow_low": pick(limits.spo2_yellow_low, spo2.absolute.yellow_low)})
    pulse_abs = pulse.absolute.model_copy(
        update={"red_high": pick(limits.pulse_red_high, pulse.absolute.red_high)})
    pulse_base = pulse.baseline.model_copy(
        update={"rise_red": pick(limits.pulse_rise_red, pulse.baseline.rise_red)})
    trend = weight.trend.model_copy(update={"change_3d_yellow": pick(
        limits.weight_change_3d_yellow, weight.trend.change_3d_yellow)})
    combined = document.combined.model_copy(update={
        "spo2_sd_floor": pick(limits.spo2_sd_floor, document.combined.spo2_sd_floor),
        "pulse_sd_floor": pick(limits.pulse_sd_floor, document.combined.pulse_sd_floor)})
    # Validate the whole result: the order of the absolute limits is checked again.
    return Thresholds.model_validate({
        **document.model_dump(),
        "spo2": {**spo2.model_dump(), "absolute": spo2_abs.model_dump()},
        "pulse": {**pulse.model_dump(), "absolute": pulse_abs.model_dump(),
                  "baseline": pulse_base.model_dump()},
        "weight": {**weight.model_dump(), "trend": trend.model_dump()},
        "combined": combined.model_dump(),
    })
