"""Whether the tablet asks the patient-reported-outcome question (``core.pro``, questionnaire
``kol-pro-v1``). Its answers arrive like every questionnaire's, over the device channel's
responses topic, and are stored in ``questionnaire_responses`` (docs/outcomes.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import Connection

from core.access import Viewer
from core.pro import PRO_QUESTIONNAIRE, is_due
from patients import repository
from patients.service import require_patient


def due(conn: Connection[Any], viewer: Viewer, patient_id: int, *, now: datetime,
        interval_days: int) -> bool:
    patient = require_patient(conn, viewer, patient_id)
    return bool(patient["active"]) and is_due(
        repository.last_response(conn, patient_id=patient_id, questionnaire=PRO_QUESTIONNAIRE),
        enrolled_at=patient["created_at"], now=now, interval_days=interval_days)
