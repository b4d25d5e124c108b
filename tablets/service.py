"""Pairing a tablet with a one-time code, and what the tablet shows its patient. Never commits:
the request owns the transaction."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import segno
from psycopg import Connection

from core import audit, errors
from core.access import SYSTEM, Viewer
from core.measurement_types import TYPE_BY_INDEX
from core.pro import PRO_QUESTIONNAIRE
from core.questionnaires import QUESTIONNAIRES, SYMPTOM_DIARY, Questionnaire
from core.settings import Settings
from devices import service as devices
from devices.broker import BrokerAdmin
from patients import pro
from tablets import repository
from tablets.schemas import (
    DayValues,
    DiaryToday,
    DueMeasurement,
    MeasurementTypeOut,
    PairingStarted,
    ProToday,
    QuestionnaireItemOut,
    QuestionnaireOut,
    SeenReading,
    TabletCredentials,
    TabletReading,
    TabletToday,
)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HISTORY_DAYS = 14
RECENT_READINGS = 12


def code_hash(settings: Settings, code: str) -> str:
    """Keyed: eight digits are quickly tried against a plain hash, not against an HMAC whose key
    is not in the database."""
    key = settings.jwt_secret.get_secret_value().encode()
    return hmac.new(key, b"pairing:" + code.encode(), hashlib.sha256).hexdigest()


def start_pairing(conn: Connection[Any], *, settings: Settings, viewer: Viewer,
                  patient_id: int, tablet_url: str) -> PairingStarted:
    if not repository.visible_patient(conn, viewer, patient_id):
        raise errors.PatientNotFound()
    if viewer.user_id is None:
        raise errors.Forbidden("pairing is started by a signed-in user")
    now = datetime.now(UTC)
    window = timedelta(hours=1)
    recent = repository.code_times_since(conn, patient_id, now - window)
    if len(recent) >= settings.pairing_codes_per_patient_per_hour:
        # A new code is allowed once the oldest code of the window has left it.
        wait = recent[-settings.pairing_codes_per_patient_per_hour] + window - now
        raise errors.TooManyPairingCodes(retry_after=max(1, math.ceil(wait.total_seconds())))
    code = f"{secrets.randbelow(10 ** 8):08d}"
    expires_at = now + timedelta(minutes=settings.pairing_code_minutes)
    repository.insert_code(conn, code_hash=code_hash(settings, code), patient_id=patient_id,
                           created_by=viewer.user_id, expires_at=expires_at)
    audit.record(conn, viewer=viewer, action="tablet.pairing_started", entity_type="patient",
                 entity_id=patient_id, detail={"expires_at": expires_at.isoformat()})
    pair_url = f"{tablet_url}#code={code}"
    qr = segno.make(pair_url, error="m")
    return PairingStarted(code=code, expires_at=expires_at, pair_url=pair_url,
                          qr_svg=qr.svg_inline(scale=6, border=4, title="QR-kode til parring"))


def redeem(conn: Connection[Any], *, settings: Settings, broker: BrokerAdmin,
           code: str) -> TabletCredentials:
    """The code's patient gets a new device (every other device of hers is deactivated); the code
    is used up. A wrong, expired or used code is refused with its reason."""
    row = repository.lock_code(conn, code_hash(settings, code))
    if row is None:
        raise errors.PairingCodeUnknown()
    if row["used_at"] is not None:
        raise errors.PairingCodeUsed()
    if row["expired"]:
        raise errors.PairingCodeExpired()
    created, _old = devices.replace_patient_device(
        conn, broker=broker, patient_id=row["patient_id"], actor_id=row["created_by"],
        actor=f"{row['created_by_name']} (pairing code)")
    repository.mark_used(conn, row["id"], created.device_id)
    return TabletCredentials(device_id=created.device_id, mqtt_username=created.mqtt_username,
                             mqtt_password=created.mqtt_password,
                             mqtt_ws_port=settings.mqtt_ws_port,
                             patient_name=row["display_name"])


def measurement_types() -> list[MeasurementTypeOut]:
    return [MeasurementTypeOut(type=t.code, unit=t.unit, min_value=t.min_value,
                               max_value=t.max_value, display_da=t.display_da,
                               display_en=t.display_en) for t in TYPE_BY_INDEX]


def _questionnaire(q: Questionnaire) -> QuestionnaireOut:
    return QuestionnaireOut(
        questionnaire=q.id, title_da=q.title_da, title_en=q.title_en,
        items=[QuestionnaireItemOut(id=i.link_id, kind=i.kind, text_da=i.text_da,
                                    text_en=i.text_en, required=i.required,
                                    category=i.category, max_chars=i.max_chars)
               for i in q.items])


def today(conn: Connection[Any], *, settings: Settings, patient_id: int,
          now: datetime | None = None) -> TabletToday:
    """Today's plan in the patient's local time, her recent readings, 14 days of daily values,
    the readings a nurse has seen and the questionnaires she is asked (diary, monthly question)."""
    tz = ZoneInfo(settings.timezone)
    local_now = (now or datetime.now(UTC)).astimezone(tz)
    day: date = local_now.date()
    midnight = datetime.combine(day, time(0), tz)
    plan = repository.schedule(conn, patient_id)
    due_today = WEEKDAYS[day.weekday()] in plan["days"]
    due: list[DueMeasurement] = []
    if due_today:
        hour, minute = (int(x) for x in plan["deadline"].split(":"))
        deadline = datetime.combine(day, time(hour, minute), tz)
        done = repository.measured_types_since(conn, patient_id, midnight)
        due = [DueMeasurement(type=t, deadline=deadline, done=t in done) for t in plan["types"]]
    first_day = midnight - timedelta(days=HISTORY_DAYS - 1)
    days: dict[date, dict[str, float]] = {}
    for r in repository.daily_last_values(conn, patient_id, first_day, settings.timezone):
        days.setdefault(r["day"], {})[r["type"]] = r["value"]
    diary = QUESTIONNAIRES[SYMPTOM_DIARY]
    return TabletToday(
        today=day, due_today=due_today, due=due,
        diary=DiaryToday(
            **_questionnaire(diary).model_dump(),
            due_today=WEEKDAYS[day.weekday()] in plan.get("diary_days", []),
            answered_today=repository.answered_since(conn, patient_id, diary.id, midnight)),
        # The device's own patient: no user's teams to check.
        pro=ProToday(**_questionnaire(QUESTIONNAIRES[PRO_QUESTIONNAIRE]).model_dump(),
                     due=pro.due(conn, SYSTEM, patient_id, now=local_now,
                                 interval_days=settings.pro_interval_days)),
        reminder_minutes=settings.tablet_reminder_minutes,
        recent=[TabletReading(**r) for r in
                repository.recent_readings(conn, patient_id, RECENT_READINGS)],
        days=[DayValues(day=d, values=v) for d, v in sorted(days.items())],
        seen=[SeenReading(**r) for r in
              repository.seen_readings(conn, patient_id, first_day)])
