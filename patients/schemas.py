from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal, Self

from annotated_types import Ge, Le
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from alerts import schemas as alert_schemas
from alerts.profiles import PROFILES
from alerts.schemas import AlertOut, ThresholdsOut
from core.inputs import Day, Integer, Text, Timestamp
from core.measurement_types import MEASUREMENT_TYPES
from core.questionnaires import Category

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
TypeCode = Annotated[str, WithJsonSchema({"type": "string", "enum": list(MEASUREMENT_TYPES)})]
_UNIQUE = {"uniqueItems": True}


class Schedule(BaseModel):
    """When measurements are expected: local time in Europe/Copenhagen."""

    model_config = ConfigDict(extra="forbid")
    days: Annotated[list[Weekday], Field(min_length=1, max_length=7, json_schema_extra=_UNIQUE)]
    deadline: str = Field(examples=["12:00"], description="local time HH:MM",
                          pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    types: Annotated[list[TypeCode], Field(min_length=1, json_schema_extra=_UNIQUE)]
    diary_days: Annotated[list[Weekday], Field(max_length=7, json_schema_extra=_UNIQUE)] = Field(
        default_factory=list, description="days the tablet asks the symptom diary"
                                          " (docs/questionnaires.md); none by default")

    @field_validator("days", "types", "diary_days")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("entries must be unique")
        return value

    @field_validator("types")
    @classmethod
    def _known_types(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(MEASUREMENT_TYPES))
        if unknown:
            raise ValueError(f"unknown measurement types: {', '.join(unknown)}")
        return value


class PatientDetails(BaseModel):
    """Whom to call: the patient, her contact person, her GP; free notes for the team."""

    model_config = ConfigDict(extra="forbid")
    phone: Text = Field(default="", max_length=40)
    contact_person: Text = Field(default="", max_length=200)
    contact_phone: Text = Field(default="", max_length=40)
    gp: Text = Field(default="", max_length=200, description="her general practitioner")
    notes: Text = Field(default="", max_length=4000)


ConsentScope = Literal["telemonitoring", "share_gp", "share_hospital"]
"""What the citizen consented to: the telemonitoring itself, sharing her data with her own GP,
with the hospital (docs/outcomes.md)."""


class ConsentIn(BaseModel):
    """A consent the citizen gave (on paper or orally), recorded by the logged-in user."""

    model_config = ConfigDict(extra="forbid")
    scope: ConsentScope
    given_on: Day = Field(description="the day she gave it")
    note: Text = Field(default="", max_length=500)


class ConsentWithdrawIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    withdrawn_on: Day = Field(description="the day she withdrew it")
    note: Text = Field(default="", max_length=500)


class ConsentOut(BaseModel):
    id: int
    scope: ConsentScope
    given_on: date
    recorded_by: str | None
    recorded_at: datetime
    note: str
    withdrawn_on: date | None
    withdrawn_by: str | None
    withdrawn_at: datetime | None
    withdrawal_note: str


class PatientCreate(PatientDetails):
    display_name: Text = Field(min_length=1, max_length=200)
    team: Text = Field(min_length=1, max_length=100)
    profile: str = Field(default="kol-standard", pattern=r"^[a-z0-9-]{2,40}$",
                         json_schema_extra={"enum": list(PROFILES)})
    schedule: Schedule
    consents: Annotated[list[ConsentIn], Field(max_length=3)] = Field(
        default_factory=list, description="the consents given at enrolment, one per scope (a "
                                          "scope given twice: the later one stands)")
    admissions_before: Annotated[Integer, Ge(0), Le(100), WithJsonSchema(
        {"type": "integer", "minimum": 0, "maximum": 100})] | None = Field(
        default=None, description="acute admissions in the 12 months before "
                                                "enrolment, where known")


class PatientEdit(BaseModel):
    """A change of name or details; absent fields stay as they are."""

    model_config = ConfigDict(extra="forbid")
    display_name: Text | None = Field(default=None, min_length=1, max_length=200)
    phone: Text | None = Field(default=None, max_length=40)
    contact_person: Text | None = Field(default=None, max_length=200)
    contact_phone: Text | None = Field(default=None, max_length=40)
    gp: Text | None = Field(default=None, max_length=200)
    notes: Text | None = Field(default=None, max_length=4000)


class ScheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    schedule: Schedule


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    team: Text = Field(min_length=1, max_length=100)
    reason: Text = Field(min_length=1, max_length=500)


class DischargeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Text = Field(min_length=1, max_length=500)


class PatientOut(PatientDetails):
    id: int
    display_name: str
    team: str
    team_id: int
    profile: str
    schedule: Schedule
    active: bool
    created_at: datetime
    discharged_at: datetime | None = None
    admissions_before: int | None = None


class LatestReading(BaseModel):
    type: str
    value: float
    unit: str
    measured_at: datetime
    late: bool


class DeviceSummary(BaseModel):
    device_id: str
    active: bool
    created_at: datetime
    deactivated_at: datetime | None
    status: dict[str, object] | None
    """The device's last status message (``state``, ``battery``, ``app``)."""
    status_at: datetime | None
    """When the device sent that status (a retained copy the broker delivers again does not
    move it)."""
    last_seen_at: datetime | None
    """When the platform last heard from the device (readings or a status)."""
    connection: Literal["online", "offline", "unknown"]
    """``online`` if the last status said so and the device was heard from within
    ``KOL_DEVICE_OFFLINE_AFTER_MINUTES``; ``unknown`` if it was never heard from."""


MAX_PAUSE = timedelta(days=90)
MAX_PAUSE_AHEAD = timedelta(days=365)


class PauseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    starts_at: Timestamp = Field(description=f"at most {MAX_PAUSE_AHEAD.days} days ahead")
    ends_at: Timestamp = Field(
        description=f"after `starts_at`, at most {MAX_PAUSE.days} days after it")
    reason: Text = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _order(self) -> Self:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        # A pause silences missing-measurement alerts; an endless one would quietly end the
        # patient's monitoring.
        if self.ends_at - self.starts_at > MAX_PAUSE:
            raise ValueError(f"a pause lasts at most {MAX_PAUSE.days} days")
        if self.starts_at > datetime.now(UTC) + MAX_PAUSE_AHEAD:
            raise ValueError(f"a pause starts at most {MAX_PAUSE_AHEAD.days} days ahead")
        return self


class PauseOut(BaseModel):
    id: int
    starts_at: datetime
    ends_at: datetime
    reason: str


CareKind = Literal["admission", "discharge", "emergency", "outpatient"]
CareReason = Literal["copd_exacerbation", "pneumonia", "heart", "other_respiratory", "other",
                     "planned_control"]
"""The short list of reasons a nurse picks from (docs/outcomes.md)."""


class AdmissionIn(BaseModel):
    """An acute admission, recorded with an alert's disposition ``admitted``."""

    model_config = ConfigDict(extra="forbid")
    occurred_at: Timestamp | None = Field(default=None, description="default: now")
    hospital: Text = Field(default="", max_length=200)
    reason: CareReason = "copd_exacerbation"
    note: Text = Field(default="", max_length=2000)


class CareEventIn(AdmissionIn):
    """A hospital contact. An ``admission`` pauses the monitoring (at most 90 days) until the
    next ``discharge`` recorded after it ends the pause."""

    kind: CareKind


WithdrawalReason = Annotated[Text, Field(min_length=1, max_length=500,
                                         description="why it is withdrawn (mandatory; kept)")]


class CareEventWithdrawIn(BaseModel):
    """A care event recorded by mistake (the wrong patient, a visit that did not happen)."""

    model_config = ConfigDict(extra="forbid")
    withdrawal_reason: WithdrawalReason


class CareEventCorrectionIn(CareEventIn):
    """The event as it should have been recorded: it replaces the one corrected, which is
    withdrawn with ``withdrawal_reason``."""

    withdrawal_reason: WithdrawalReason


class CareEventOut(BaseModel):
    id: int
    kind: CareKind
    occurred_at: datetime
    hospital: str
    reason: CareReason
    note: str
    alert_id: int | None
    pause_id: int | None
    """The pause an admission opened."""
    admission_id: int | None
    """The admission a discharge ended."""
    recorded_by: str | None
    recorded_at: datetime
    withdrawn_at: datetime | None
    """Set once withdrawn (or corrected): a withdrawn event counts in no outcome."""
    withdrawn_by: str | None
    withdrawal_reason: str
    replaces_id: int | None
    """The event this one corrects."""
    replaced_by: int | None
    """The event that corrects this one."""


class DecisionIn(alert_schemas.DecisionIn):
    """The body of acknowledge / resolve, under the document's name ``DecisionIn`` (generated
    clients keep working): the alert's, and with ``admission`` the admission the alert led to,
    recorded as a care event in the same request (the disposition is then ``admitted``
    whatever else was sent)."""

    admission: AdmissionIn | None = None


class PatientOverview(PatientOut):
    latest_readings: list[LatestReading]
    open_alerts: list[AlertOut]
    """Unresolved alerts (open or acknowledged), worst first."""
    thresholds: ThresholdsOut | None
    devices: list[DeviceSummary]
    pauses: list[PauseOut]
    """Current and future pause intervals."""
    consents: list[ConsentOut]
    """Every consent recorded, standing and withdrawn, newest first."""
    care_events: list[CareEventOut]
    """Her latest hospital contacts (at most 50, withdrawn ones included), newest first."""


class Measurement(BaseModel):
    type: str
    measured_at: datetime
    value: float
    late: bool


class BucketedMeasurement(BaseModel):
    type: str
    bucket: datetime
    min: float
    max: float
    mean: float
    count: int


class DiaryAnswer(BaseModel):
    """One symptom of the diary as she answered it, labelled from the questionnaire definition
    (core/questionnaires.py) so the dashboard shows the question she was asked."""

    link_id: str
    text_da: str
    text_en: str
    category: Category
    """Anthonisen major or Seemungal minor symptom."""
    answer: bool | None
    """None if the stored response lacks the item (it is required, so never from a tablet)."""


class DiaryEntry(BaseModel):
    authored_at: datetime
    """When she answered it on the tablet."""
    received_at: datetime
    late: bool
    """Arrived after the alert engine had evaluated its time (sent from the tablet's outbox)."""
    answers: list[DiaryAnswer]
    """Every symptom in the questionnaire's order: the three major, then the four minor."""
    note: str | None
    """Her optional free text."""
