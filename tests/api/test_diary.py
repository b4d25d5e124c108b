"""The team reads her symptom diary (``GET /api/v1/patients/{id}/diary``, docs/questionnaires.md):
newest first, every symptom labelled from the questionnaire definition, her free text and the late
flag; another team and a manager get 404; every read is in the access log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from core.questionnaires import SYMPTOM_ITEMS, symptom_mask
from tests.api.helpers import make_user
from tests.conftest import insert_patient, unique

NOW = datetime.now(UTC).replace(microsecond=0)
QUIET = {i.link_id: False for i in SYMPTOM_ITEMS}


def store_diary(conn: psycopg.Connection[Any], patient: int, authored_at: datetime,
                answers: dict[str, bool | str], *, late: bool = False) -> None:
    conn.execute(
        "insert into questionnaire_responses (patient_id, questionnaire, authored_at, answers,"
        " symptom_mask, device_id, msg_id, late) values (%s, 'kol-symptoms-v1', %s, %s, %s,"
        " 'tab', %s, %s)", (patient, authored_at, Jsonb(answers), symptom_mask(answers),
                            unique("msg"), late))


def test_the_team_reads_her_diaries_newest_first_with_labels_and_free_text(
        client: TestClient, committed_conn: psycopg.Connection[Any]) -> None:
    team = unique("team")
    patient = insert_patient(committed_conn, team=team)
    nurse = make_user(client, committed_conn, role="nurse", teams=[team])
    store_diary(committed_conn, patient, NOW - timedelta(days=2), QUIET)
    store_diary(committed_conn, patient, NOW - timedelta(days=1),
                {**QUIET, "sputum_colour": True, "cough": True, "note": "Gult slim siden i går"},
                late=True)
    # Another questionnaire's responses are not her diary.
    committed_conn.execute(
        "insert into questionnaire_responses (patient_id, questionnaire, authored_at, answers,"
        " device_id, msg_id) values (%s, 'other-v1', %s, '{}', 'tab', 'o')", (patient, NOW))

    response = client.get(f"/api/v1/patients/{patient}/diary", headers=nurse.headers)
    assert response.status_code == 200, response.text
    newest, oldest = response.json()
    assert datetime.fromisoformat(newest["authored_at"]) == NOW - timedelta(days=1)
    assert (newest["late"], newest["note"]) == (True, "Gult slim siden i går")
    assert [(a["link_id"], a["category"], a["answer"]) for a in newest["answers"]] == [
        ("breathlessness", "major", False), ("sputum_volume", "major", False),
        ("sputum_colour", "major", True), ("cold", "minor", False), ("wheeze", "minor", False),
        ("sore_throat", "minor", False), ("cough", "minor", True)]
    colour = newest["answers"][2]
    assert colour["text_da"] == "Har dit slim skiftet farve (gult, grønt eller brunt)?"
    assert colour["text_en"] == "Has your sputum changed colour (yellow, green or brown)?"
    assert (oldest["late"], oldest["note"]) == (False, None)
    assert not any(a["answer"] for a in oldest["answers"])

    limited = client.get(f"/api/v1/patients/{patient}/diary", params={"limit": 1},
                         headers=nurse.headers).json()
    assert [d["authored_at"] for d in limited] == [newest["authored_at"]]

    logged = committed_conn.execute(
        "select detail from access_log where patient_id = %s and what = 'diary'"
        " and username = %s order by id", (patient,
                                           nurse.username)).fetchall()
    assert [r["detail"] for r in logged] == [{"limit": 14}, {"limit": 1}]


def test_another_team_and_a_manager_do_not_learn_she_exists(
        client: TestClient, committed_conn: psycopg.Connection[Any]) -> None:
    team = unique("team")
    patient = insert_patient(committed_conn, team=team)
    store_diary(committed_conn, patient, NOW - timedelta(hours=3), {**QUIET, "note": "hej"})
    other = make_user(client, committed_conn, role="nurse", teams=[unique("team")])
    manager = make_user(client, committed_conn, role="manager", teams=[team])
    for user in (other, manager):
        response = client.get(f"/api/v1/patients/{patient}/diary", headers=user.headers)
        assert response.status_code == 404, (user.role, response.text)
    assert client.get(f"/api/v1/patients/{patient}/diary").status_code == 401
    assert committed_conn.execute(
        "select count(*) as n from access_log where patient_id = %s and what = 'diary'",
        (patient,)).fetchone() == {"n": 0}


def test_no_diary_is_an_empty_list(client: TestClient,
                                   committed_conn: psycopg.Connection[Any]) -> None:
    team = unique("team")
    patient = insert_patient(committed_conn, team=team)
    nurse = make_user(client, committed_conn, role="nurse", teams=[team])
    response = client.get(f"/api/v1/patients/{patient}/diary", headers=nurse.headers)
    assert (response.status_code, response.json()) == (200, [])
