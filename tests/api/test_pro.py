"""The patient-reported outcome's storage and schedule (issue #19); the tablet's side rides on
the questionnaire channel of branch ``dia`` (docs/outcomes.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from core.access import SYSTEM
from core.pro import QUESTION, is_due
from patients import pro
from tests.conftest import insert_patient


def test_the_question_is_the_issues_wording() -> None:
    assert QUESTION.text_da == ("Har du i den seneste måned kunnet klare din sygdom uden at "
                                "kontakte sygehuset?")
    assert QUESTION.kind == "boolean"


def test_an_answer_is_stored_once_and_the_question_is_asked_again_after_the_interval(
        committed_conn: psycopg.Connection[Any]) -> None:
    patient = insert_patient(committed_conn)
    now = datetime.now(UTC)
    # Enrolled just now: not asked in her first month.
    assert not pro.due(committed_conn, SYSTEM, patient, now=now, interval_days=30)
    assert pro.due(committed_conn, SYSTEM, patient, now=now + timedelta(days=30),
                   interval_days=30)
    answered = now + timedelta(days=31)
    assert pro.record_answer(committed_conn, patient_id=patient, answer=True,
                             answered_at=answered, device_id="tab", msg_id="m1")
    assert not pro.record_answer(committed_conn, patient_id=patient, answer=True,
                                 answered_at=answered, device_id="tab", msg_id="m1")
    assert committed_conn.execute("select count(*) as n from pro_answers where patient_id = %s",
                                  (patient,)).fetchone() == {"n": 1}
    assert not pro.due(committed_conn, SYSTEM, patient, now=answered + timedelta(days=29),
                       interval_days=30)
    assert pro.due(committed_conn, SYSTEM, patient, now=answered + timedelta(days=7),
                   interval_days=7)


def test_is_due_counts_from_enrolment_without_an_answer() -> None:
    enrolled = datetime(2026, 1, 1, tzinfo=UTC)
    assert not is_due(None, enrolled_at=enrolled, now=enrolled + timedelta(days=29),
                      interval_days=30)
    assert is_due(None, enrolled_at=enrolled, now=enrolled + timedelta(days=30),
                  interval_days=30)
