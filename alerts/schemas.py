"""The threshold document (what clinicians edit, stored as jsonb in ``profiles`` and
``threshold_versions``), its conversion to per-patient arrays for the engine, and the API shapes
of thresholds and alerts.

Every limit may be ``null`` (rule off). The document is validated on every write: absolute limits
must satisfy ``red_low < yellow_low < yellow_high < red_high`` for the ones present, and a red
deviation must be larger than the yellow one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Self

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from core.inputs import Integer, Number, Text
from core.measurement_types import TYPE_BY_INDEX

Limit = Number | None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_increasing(named: Sequence[tuple[str, float | None]]) -> None:
    present = [(n, v) for n, v in named if v is not None]
    for (n1, v1), (n2, v2) in zip(present, present[1:], strict=False):
        if not v1 < v2:
            raise ValueError(f"{n1} ({v1:g}) must be below {n2} ({v2:g})")


class AbsoluteLimits(_Strict):
    red_low: Limit = None
    yellow_low: Limit = None
    yellow_high: Limit = None
    red_high: Limit = None
    yellow_off_while_diary_kept: StrictBool = False
    """The yellow limits are not in force at a reading while the patient keeps the symptom diary
    (a diary answered in the 7 days up to it): the diary gives the early warning, and the red
    limits always are in force (issue 13, seventh round)."""

    @model_validator(mode="after")
    def _order(self) -> Self:
        _check_increasing([("red_low", self.red_low), ("yellow_low", self.yellow_low),
                           ("yellow_high", self.yellow_high), ("red_high", self.red_high)])
        return self


class BaselineLimits(_Strict):
    """Deviation from the patient's own baseline (median of the previous 14 days, the last 2
    excluded, at least 5 readings), in the type's unit."""

    drop_red: Limit = Field(default=None, gt=0)
    drop_yellow: Limit = Field(default=None, gt=0)
    rise_red: Limit = Field(default=None, gt=0)
    rise_yellow: Limit = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _order(self) -> Self:
        _check_increasing([("drop_yellow", self.drop_yellow), ("drop_red", self.drop_red)])
        _check_increasing([("rise_yellow", self.rise_yellow), ("rise_red", self.rise_red)])
        return self


class TrendLimits(_Strict):
    change_3d_yellow: Limit = Field(default=None, gt=0)
    """Absolute change of a reading against the median of the previous 3 days' readings."""
    loss_30d_pct_yellow: Limit = Field(default=None, gt=0, lt=100)
    """Loss in percent: median of the last 3 days (this reading included) against the median of
    days 30 to 20 before."""
    slope_3d_fall_yellow: Limit = Field(default=None, gt=0)
    """Fall over 3 days by the Theil–Sen slope of the last 3 days' readings (at least 3)."""
    slope_3d_rise_yellow: Limit = Field(default=None, gt=0)


class ArtefactGuard(_Strict):
    suspect_drop: Limit = Field(default=None, gt=0)
    """A reading at least this far below both the previous reading and the 28-day baseline is a
    suspected artefact (an oximeter motion artefact gives a sudden false low): it raises no
    yellow absolute and no baseline-drop alert; a red absolute low still alerts at once. The next
    reading, if it is as low, is no longer a sudden fall and alerts."""
    red_floor: Limit = None
    """A suspected artefact that is a red low is held too, unless it is below this value: an SpO2
    this low alerts at once, artefact or not. ``null``: every red low alerts at once."""


class TypeThresholds(_Strict):
    absolute: AbsoluteLimits = AbsoluteLimits()
    baseline: BaselineLimits = BaselineLimits()
    trend: TrendLimits = TrendLimits()
    artefact: ArtefactGuard = ArtefactGuard()


class CombinedLimits(_Strict):
    """SpO2 fall and pulse rise against the 28-day baseline in units of the patient's own
    variability (1.4826 × MAD, at least the floor), averaged (Hurst 2010)."""

    z_yellow: Limit = Field(default=None, gt=0)
    z_red: Limit = Field(default=None, gt=0)
    spo2_sd_floor: Number = Field(default=1.0, gt=0)
    pulse_sd_floor: Number = Field(default=3.0, gt=0)
    z_yellow_diary: Limit = Field(default=None, gt=0)
    """The yellow limit instead of ``z_yellow`` while the patient keeps the symptom diary: a
    diary answered in the 7 days up to the reading (below ``z_red``; issue 13: the diary gives
    the early warning, so the oximetry alone may be stricter; a patient who stops answering it
    is back on ``z_yellow``)."""

    @model_validator(mode="after")
    def _order(self) -> Self:
        _check_increasing([("z_yellow", self.z_yellow), ("z_red", self.z_red)])
        _check_increasing([("z_yellow_diary", self.z_yellow_diary), ("z_red", self.z_red)])
        return self


class SymptomLimits(_Strict):
    """Rules on the symptom diary (docs/alerting-engine.md): the Anthonisen major symptoms
    (more breathlessness, more sputum, discoloured sputum) and the Seemungal minor ones (cold,
    wheeze, sore throat, cough), each answered against the patient's usual state."""

    major_yellow: Limit = Field(default=None, ge=1, le=3)
    """Yellow when one diary reports at least this many major symptoms."""
    seemungal_days_red: Limit = Field(default=None, ge=1, le=7)
    """Red when the Seemungal criterion (two major symptoms, or one major and one minor) holds
    in the diaries of this many consecutive days (Seemungal 1998: 2)."""
    z_red_with_major: Limit = Field(default=None, gt=0)
    """The combined rule is red from this z-score when a diary of the 2 days up to the reading
    reports a major symptom."""
    major_confirm_z: Limit = Field(default=None, ge=-3, le=3)
    """When set, the yellow ``symptoms`` rule needs a second sign: the same diary meets the
    Seemungal criterion, or the patient's previous diary (12-36 h earlier) reported a major
    symptom too, or the combined z-score at her latest SpO2/pulse pair of the day up to the
    diary is at least this (issue 13; docs/alerting-engine.md, "Symptom rules")."""


class Thresholds(_Strict):
    spo2: TypeThresholds = TypeThresholds()
    pulse: TypeThresholds = TypeThresholds()
    weight: TypeThresholds = TypeThresholds()
    combined: CombinedLimits = CombinedLimits()
    symptoms: SymptomLimits = SymptomLimits()

    def for_type(self, code: str) -> TypeThresholds:
        value: TypeThresholds = getattr(self, code)
        return value


TYPE_CODES = tuple(t.code for t in TYPE_BY_INDEX)
assert set(TYPE_CODES) == set(Thresholds.model_fields) - {"combined", "symptoms"}, \
    "one section per type"

FloatArray = npt.NDArray[np.float64]


def _nan(value: float | None) -> float:
    return np.nan if value is None else float(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class ThresholdArrays:
    """Thresholds of ``P`` patients as arrays for the engine; ``NaN`` means the limit is off.

    Per-type fields have shape ``(P, T)`` (``T`` measurement types, by type index), the combined
    and symptom rules' fields shape ``(P,)``.
    """

    red_low: FloatArray
    yellow_low: FloatArray
    yellow_high: FloatArray
    red_high: FloatArray
    yellow_off_while_diary_kept: FloatArray
    """1.0 where on, 0.0 where off."""
    drop_red: FloatArray
    drop_yellow: FloatArray
    rise_red: FloatArray
    rise_yellow: FloatArray
    change_3d_yellow: FloatArray
    loss_30d_pct_yellow: FloatArray
    slope_3d_fall_yellow: FloatArray
    slope_3d_rise_yellow: FloatArray
    suspect_drop: FloatArray
    red_floor: FloatArray
    z_yellow: FloatArray
    z_red: FloatArray
    spo2_sd_floor: FloatArray
    pulse_sd_floor: FloatArray
    z_yellow_diary: FloatArray
    major_yellow: FloatArray
    seemungal_days_red: FloatArray
    z_red_with_major: FloatArray
    major_confirm_z: FloatArray

    @classmethod
    def from_documents(cls, documents: Sequence[Thresholds]) -> ThresholdArrays:
        """Stack patients' documents (patient ``i`` is ``documents[i]``).

        Examples
        --------
        >>> arrays = ThresholdArrays.from_documents([Thresholds()])
        >>> arrays.red_low.shape
        (1, 3)
        """
        def per_type(section: str, name: str) -> FloatArray:
            return np.array([[_nan(getattr(getattr(d.for_type(c), section), name))
                              for c in TYPE_CODES] for d in documents],
                            dtype=np.float64).reshape(len(documents), len(TYPE_CODES))

        def per_patient(section: str, name: str) -> FloatArray:
            return np.array([_nan(getattr(getattr(d, section), name)) for d in documents],
                            dtype=np.float64)

        fields: dict[str, FloatArray] = {}
        for section, model in (("absolute", AbsoluteLimits), ("baseline", BaselineLimits),
                               ("trend", TrendLimits), ("artefact", ArtefactGuard)):
            for name in model.model_fields:
                fields[name] = per_type(section, name)
        for name in CombinedLimits.model_fields:
            fields[name] = per_patient("combined", name)
        for name in SymptomLimits.model_fields:
            fields[name] = per_patient("symptoms", name)
        return cls(**fields)


# --- HTTP shapes -------------------------------------------------------------------------------

class ThresholdsOut(BaseModel):
    patient_id: int
    version: int
    thresholds: Thresholds
    changed_by: str | None
    changed_at: datetime
    reason: str


class ThresholdsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    thresholds: Thresholds
    reason: Text = Field(min_length=1, max_length=2000)


class ThresholdChange(BaseModel):
    path: str
    old: Any
    new: Any


class ThresholdVersionOut(ThresholdsOut):
    diff: list[ThresholdChange]
    """Changes against the previous version (empty for version 1)."""


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    thresholds: Thresholds
    days: Integer = Field(default=90, ge=1, le=365)


class PreviewAlert(BaseModel):
    rule: str
    type: str
    severity: Literal["red", "yellow"]
    first_measured_at: datetime
    last_measured_at: datetime
    breach_count: int
    worst_value: float
    reason: str
    reason_code: str
    reason_params: dict[str, Any]


class PreviewOut(BaseModel):
    patient_id: int
    days: int
    readings_evaluated: int
    alerts: list[PreviewAlert]
    """The alert episodes the thresholds would have raised: one per (rule, type) run of breaches
    with no gap longer than the lifecycle would have kept open (see docs/alerting-engine.md)."""


Severity = Literal["red", "yellow", "blue", "green"]
Status = Literal["open", "acknowledged", "resolved"]


class AlertOut(BaseModel):
    id: int
    patient_id: int
    rule: str
    type: str
    severity: Severity
    status: Status
    opened_at: datetime
    first_measured_at: datetime | None
    last_measured_at: datetime | None
    value: float | None
    late: bool
    reason: str
    reason_code: str | None = None
    """What ``reason`` says, as a code and parameters for clients that render it in the
    user's language (``alerts/reasons.py``); absent on alerts raised before codes existed."""
    reason_params: dict[str, Any] | None = None


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: Text = Field(default="", max_length=2000)


Disposition = Literal["no_action_needed", "advice_by_phone", "home_visit", "gp_contacted",
                      "admitted", "measurement_error"]
"""What the nurse did about an alert (a fixed set, so that outcomes can be counted)."""
ACTIONS: frozenset[str] = frozenset({"advice_by_phone", "home_visit", "gp_contacted",
                                     "admitted"})
"""The dispositions that are an action taken for the patient (the alert was useful)."""


class DecisionIn(NoteIn):
    """Acknowledge / resolve: the note; optionally the severity the nurse saw (the dashboard
    always sends it: if the alert escalated since, the request is refused with 409
    ``alert-changed`` rather than acknowledging or resolving something she did not see) and the
    disposition (what she did). ``{"note"}`` alone stays valid."""

    seen_severity: Literal["green", "blue", "yellow", "red"] | None = None
    disposition: Disposition | None = None


class BulkAcknowledgeIn(NoteIn):
    patient_id: Integer | None = None
    """Only this patient's green alerts; all visible green alerts when absent."""


class BulkAcknowledgeOut(BaseModel):
    acknowledged: int


# --- alert outcomes, burden and personal limits ------------------------------------------------

class OutcomeCounts(BaseModel):
    alerts: int
    """Alerts opened in the period."""
    with_disposition: int
    actioned: int
    """Alerts whose disposition is an action (advice by phone, home visit, GP, admission)."""
    share_actioned: float | None
    """``actioned / with_disposition``: the positive predictive value as the nurses judged it;
    null when no alert has a disposition."""
    by_disposition: dict[str, int]


class RuleOutcome(OutcomeCounts):
    rule: str
    type: str


class PatientOutcome(OutcomeCounts):
    patient_id: int
    display_name: str


class AdmissionWarnings(BaseModel):
    """Whether the alerts warned of the admissions: sensitivity and lead on the team's own
    patients, as ``benchmarks/alert_quality.py`` measures them on simulated ones."""

    admissions: int
    """Standing acute admissions for a COPD exacerbation since ``since``."""
    warned: int
    """Of those, admissions with a red or yellow alert of hers opened in the
    ``WARNING_DAYS`` days before."""
    share_warned: float | None
    """``warned / admissions``; null without admissions."""
    median_lead_days: float | None
    """Median of the admission's time minus the first such alert's, in days."""


class AlertEpisodes(BaseModel):
    """Red and yellow alerts as the nurse handles them: one patient's alerts with gaps of at most
    ``EPISODE_GAP_DAYS`` days are one episode (the benchmark's false-episode measure, judged by
    the nurses instead of a simulation's truth)."""

    episodes: int
    """Episodes whose first alert was opened since ``since``."""
    judged_no_action: int
    """Episodes whose every alert has a disposition, none of them an action, and with no
    admission for a COPD exacerbation of hers in the ``WARNING_DAYS`` days after it began."""
    patient_months: float
    """Monitored time of the team's patients since ``since`` (enrolment to discharge), in months
    of 30.4375 days."""
    judged_no_action_per_patient_month: float | None


class AlertOutcomesOut(BaseModel):
    since: datetime
    by_rule: list[RuleOutcome]
    by_patient: list[PatientOutcome]
    admissions: AdmissionWarnings
    episodes: AlertEpisodes


class ProposalBasis(BaseModel):
    """What the proposal rests on: the period, and per type the readings and robust statistics
    (median and 1.4826 × MAD; weight: the SD of one weighing)."""

    measured_from: datetime
    measured_to: datetime
    run_in_days: int
    min_readings: int
    ready: bool
    """Enough readings for at least one proposed limit."""
    readings: dict[str, int]
    median: dict[str, float | None]
    sd: dict[str, float | None]
    safety: dict[str, float]
    """The profile's safety limits (alerts.personal.SAFETY) that no proposal crosses."""


class ProposalPreview(BaseModel):
    current: PreviewOut
    proposed: PreviewOut


class ProposalOut(BaseModel):
    patient_id: int
    current_version: int
    thresholds: Thresholds
    """The proposed document: the current one with the personal limits put in."""
    changes: list[ThresholdChange]
    """Against the current version (empty: nothing to propose)."""
    basis: ProposalBasis
    preview: ProposalPreview


class AutoPersonaliseIn(BaseModel):
    """Turn the platform's personalisation at the end of the run-in on or off for one patient;
    the reason goes to the audit log and is shown with the setting."""

    model_config = ConfigDict(extra="forbid")
    enabled: StrictBool
    """JSON true or false only (not 0/1 or "yes"): the schema says boolean."""
    reason: Text = Field(min_length=1, max_length=2000)


class PersonalisationRun(BaseModel):
    """The once-per-patient automatic personalisation, when it has run."""

    outcome: Literal["applied", "nothing_to_change", "too_few_readings"]
    ran_at: datetime
    version: int | None
    """The threshold version it wrote (``applied``), else null."""


class AutoPersonaliseOut(BaseModel):
    patient_id: int
    enabled: bool
    """In force: the patient's own setting if a clinician made one, else the profile's."""
    source: Literal["patient", "profile"]
    profile: str
    profile_default: bool
    run_in_days: int
    run_in_ends_at: datetime
    """Enrolment + run-in: the platform personalises at its first hourly run after this."""
    changed_by: str | None
    changed_at: datetime | None
    reason: str | None
    """Who set the patient's own setting, when and why (null: never set, the profile's holds)."""
    personalisation: PersonalisationRun | None
    """Null until it has run (it runs once per patient)."""


class BurdenRow(BaseModel):
    patient_id: int
    display_name: str
    alerts: int
    """Alerts opened in the period."""
    alerts_per_week: float
    pending_proposal: list[ThresholdChange]
    """The changes personal limits would make now (empty: none)."""


class ParkedEvaluationOut(BaseModel):
    """A left-over alert evaluation that failed ``attempts`` times and waits for an operator."""

    id: int
    created_at: datetime
    """When ingest committed the readings it stands for."""
    patients: int
    first_measured_at: datetime
    last_measured_at: datetime
    attempts: int
    last_error: str | None
    parked_at: datetime


class AlertStep(BaseModel):
    event: Literal["opened", "updated", "escalated", "acknowledged", "resolved"]
    at: datetime
    severity: Severity
    note: str | None
    actor: str | None
    """Who acknowledged or resolved; null for the engine's steps."""


class AlertHistoryEntry(AlertOut):
    disposition: Disposition | None
    """What the nurse did about it, given with acknowledge or resolve."""
    steps: list[AlertStep]


class AlertReadingOut(BaseModel):
    alert_id: int
    rule: str
    severity: Severity
    type: str
    measured_at: datetime
    value: float
