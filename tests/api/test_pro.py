"""The patient-reported outcome's question (questionnaire ``kol-pro-v1``) and its schedule: asked
every ``KOL_PRO_INTERVAL_DAYS`` from enrolment or from her latest answer in
``questionnaire_responses``, which ``/api/v1/tablet/today`` tells the tablet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from core.access import SYSTEM
from core.pro import PRO_QUESTION, PRO_QUESTIONNAIRE, QUESTION, is_due
from core.questionnaires import QUESTIONNAIRES
from core.settings import Settings
from patients import pro
from tablets import service
from tests.conftest import insert_patient


def answer(conn: psycopg.Connection[Any], patient: int, at: datetime, *,
           questionnaire: str = PRO_QUESTIONNAIRE) -> None:
    conn.execute("insert into questionnaire_responses (patient_id, questionnaire, authored_at,"
                 " answers, device_id, msg_id) values (%s, %s, %s, %s, 'tab', 'm1')",
                 (patient, questionnaire, at, Jsonb({PRO_QUESTION: True})))


def test_the_question_is_the_issues_wording_and_a_questionnaire_of_the_channel() -> None:
    assert QUESTION.text_da == ("Har du i den seneste måned kunnet klare din sygdom uden at "
                                "kontakte sygehuset?")
    item, = QUESTIONNAIRES[PRO_QUESTIONNAIRE].items
    assert (item.link_id, item.kind, item.required) == (PRO_QUESTION, "boolean", True)
    assert (item.text_da, item.text_en) == (QUESTION.text_da, QUESTION.text_en)


def test_the_question_is_asked_again_an_interval_after_her_latest_answer(
        committed_conn: psycopg.Connection[Any]) -> None:
    patient = insert_patient(committed_conn)
    now = datetime.now(UTC)
    # Enrolled just now: not asked in her first month.
    assert not pro.due(committed_conn, SYSTEM, patient, now=now, interval_days=30)
    assert pro.due(committed_conn, SYSTEM, patient, now=now + timedelta(days=30),
                   interval_days=30)
    answered = now + timedelta(days=31)
    answer(committed_conn, patient, answered)
    # Another questionnaire's response later is no answer to the question.
    answer(committed_conn, patient, answered + timedelta(days=20), questionnaire="kol-symptoms-v1")
    assert not pro.due(committed_conn, SYSTEM, patient, now=answered + timedelta(days=29),
                       interval_days=30)
    assert pro.due(committed_conn, SYSTEM, patient, now=answered + timedelta(days=30),
                   interval_days=30)
    assert pro.due(committed_conn, SYSTEM, patient, now=answered + timedelta(days=7),
                   interval_days=7)
    committed_conn.execute("update patients set active = false where id = %s", (patient,))
    assert not pro.due(committed_conn, SYSTEM, patient, now=answered + timedelta(days=30),
                       interval_days=30)


def test_the_tablets_plan_says_when_the_question_is_due(
        committed_conn: psycopg.Connection[Any], settings: Settings) -> None:
    patient = insert_patient(committed_conn)
    now = datetime.now(UTC)
    plan = service.today(committed_conn, settings=settings, patient_id=patient, now=now)
    assert plan.pro.questionnaire == PRO_QUESTIONNAIRE
    assert [i.id for i in plan.pro.items] == [PRO_QUESTION]
    assert plan.pro.items[0].text_da == QUESTION.text_da
    assert not plan.pro.due
    later = now + timedelta(days=settings.pro_interval_days)
    assert service.today(committed_conn, settings=settings, patient_id=patient,
                         now=later).pro.due
    answer(committed_conn, patient, later - timedelta(hours=1))
    assert not service.today(committed_conn, settings=settings, patient_id=patient,
                             now=later).pro.due


def test_is_due_counts_from_enrolment_without_an_answer() -> None:
    enrolled = datetime(2026, 1, 1, tzinfo=UTC)
    assert not is_due(None, enrolled_at=enrolled, now=enrolled + timedelta(days=29),
                      interval_days=30)
    assert is_due(None, enrolled_at=enrolled, now=enrolled + timedelta(days=30),
                  interval_days=30)
