from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

PAIRING_CODE_PATTERN = r"^[0-9]{8}$"


class PairingStarted(BaseModel):
    code: str = Field(description="eight digits, shown as two groups of four; single use")
    expires_at: datetime
    pair_url: str = Field(description="the tablet app's address with the code, for the QR code")
    qr_svg: str = Field(description="the QR code of pair_url as an SVG document")


class PairRequest(BaseModel):
    code: str = Field(pattern=PAIRING_CODE_PATTERN)


class TabletCredentials(BaseModel):
    """Given once; the tablet keeps them (IndexedDB) and the platform only a hash."""

    device_id: str
    mqtt_username: str
    mqtt_password: str
    mqtt_ws_port: int = Field(description="MQTT over secure websockets on the API's host")
    patient_name: str = Field(description="shown on the tablet so the nurse sees it is hers")


class MeasurementTypeOut(BaseModel):
    type: str
    unit: str
    min_value: float
    max_value: float
    display_da: str
    display_en: str


class DueMeasurement(BaseModel):
    type: str
    deadline: datetime
    done: bool


class TabletReading(BaseModel):
    type: str
    value: float
    measured_at: datetime


class DayValues(BaseModel):
    day: date
    values: dict[str, float] = Field(description="the day's last value per type")


class SeenReading(BaseModel):
    type: str
    measured_at: datetime
    seen_at: datetime


class QuestionnaireItemOut(BaseModel):
    id: str
    kind: Literal["boolean", "text"]
    text_da: str
    text_en: str
    required: bool
    category: Literal["major", "minor"] | None
    max_chars: int


class QuestionnaireOut(BaseModel):
    """A questionnaire the tablet shows (docs/questionnaires.md), answered on the responses
    topic."""

    questionnaire: str
    title_da: str
    title_en: str
    items: list[QuestionnaireItemOut]


class DiaryToday(QuestionnaireOut):
    """Today's symptom diary."""

    due_today: bool
    """Today is one of the schedule's diary days."""
    answered_today: bool


class ProToday(QuestionnaireOut):
    """The patient-reported-outcome question (docs/outcomes.md)."""

    due: bool
    """Asked now: ``KOL_PRO_INTERVAL_DAYS`` have passed since her last answer (or enrolment)."""


class TabletToday(BaseModel):
    today: date
    due_today: bool
    due: list[DueMeasurement]
    diary: DiaryToday
    pro: ProToday
    reminder_minutes: int
    recent: list[TabletReading]
    days: list[DayValues]
    seen: list[SeenReading]
