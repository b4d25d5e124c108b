"""The patient-reported outcome (issue #19): one yes/no question the tablet asks every
``KOL_PRO_INTERVAL_DAYS``. It is the questionnaire ``kol-pro-v1`` of ``core/questionnaires.py``,
answered over the device channel's responses topic and stored in ``questionnaire_responses``
like the symptom diary (docs/outcomes.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

PRO_QUESTIONNAIRE = "kol-pro-v1"
"""Versioned: a changed wording gets a new id."""
PRO_QUESTION = "managed_without_hospital"
"""The item's ``linkId``: the key of the answer in ``questionnaire_responses.answers``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProQuestion:
    link_id: str
    text_da: str
    text_en: str
    kind: str = "boolean"
    required: bool = True


QUESTION = ProQuestion(
    link_id=PRO_QUESTION,
    text_da="Har du i den seneste måned kunnet klare din sygdom uden at kontakte sygehuset?",
    text_en="In the past month, have you been able to manage your illness without contacting "
            "the hospital?")


def is_due(last_answered_at: datetime | None, *, enrolled_at: datetime, now: datetime,
           interval_days: int) -> bool:
    """Whether the tablet asks the question now: ``interval_days`` after the last answer, or
    after enrolment if she never answered (the first month is one of telemonitoring)."""
    since = last_answered_at or enrolled_at
    return now - since >= timedelta(days=interval_days)
