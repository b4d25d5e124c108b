"""Answers to the patient-reported-outcome question (``core.pro``): stored once each, and
whether the tablet should ask again. The answers arrive from the tablet over the questionnaire
channel of the device protocol (branch ``dia``); that channel's handler calls
:func:`record_answer` (docs/outcomes.md, "For the integrator")."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import Connection

from core.access import Viewer
from core.pro import PRO_QUESTION, is_due
from patients import repository
from patients.service import require_patient


def record_answer(conn: Connection[Any], *, patient_id: int, answer: bool, answered_at: datetime,
                  device_id: str | None, msg_id: str | None) -> bool:
    """Store one answer of the patient whose tablet sent it; False if it is stored already (a
    re-sent message)."""
    return repository.insert_pro_answer(conn, patient_id=patient_id, question=PRO_QUESTION,
                                        answer=answer, answered_at=answered_at,
                                        device_id=device_id, msg_id=msg_id)


def due(conn: Connection[Any], viewer: Viewer, patient_id: int, *, now: datetime,
        interval_days: int) -> bool:
    patient = require_patient(conn, viewer, patient_id)
    return bool(patient["active"]) and is_due(
        repository.last_pro_answer(conn, patient_id=patient_id, question=PRO_QUESTION),
        enrolled_at=patient["created_at"], now=now, interval_days=interval_days)
