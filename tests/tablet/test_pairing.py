"""Pairing a tablet with a one-time code, against the real database and broker: single use,
15 minutes, rate-limited, audited; a new tablet deactivates the old one; the device-scoped reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from tablets import service
from tests.conftest import insert_patient
from tests.gateway.conftest import login
from tests.gateway.test_devices import can_connect

pytestmark = pytest.mark.usefixtures("fresh_throttle")


def start(api: TestClient, headers: dict[str, str], patient: int) -> dict[str, Any]:
    response = api.post(f"/api/v1/patients/{patient}/pairing", headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def redeem(api: TestClient, code: str) -> Any:
    return api.post("/api/v1/tablet/pair", json={"code": code})


def test_pair_once_with_a_code_and_the_qr_code_carries_it(
        settings: Settings, api: TestClient, committed_conn: psycopg.Connection[Any]) -> None:
    patient = insert_patient(committed_conn, name="Karen Hansen")
    nurse = login(api, committed_conn, "nurse", patient_id=patient)
    started = start(api, nurse, patient)
    code = started["code"]
    assert len(code) == 8
    assert code.isdigit()
    assert started["pair_url"].endswith(f"/tablet/#code={code}")
    assert started["qr_svg"].startswith("<svg")
    assert "<path" in started["qr_svg"]
    expires = datetime.fromisoformat(started["expires_at"])
    assert timedelta(minutes=14) < expires - datetime.now(UTC) <= timedelta(minutes=15)
    stored = committed_conn.execute("select code_hash from pairing_codes where patient_id = %s",
                                    (patient,)).fetchone()
    assert stored is not None
    assert code not in stored["code_hash"]

    paired = redeem(api, code)
    assert paired.status_code == 201, paired.text
    device = paired.json()
    assert device["patient_name"] == "Karen Hansen"
    assert device["mqtt_ws_port"] == settings.mqtt_ws_port
    assert can_connect(settings, device["device_id"], device["mqtt_password"])

    again = redeem(api, code)
    assert again.status_code == 410
    assert again.json()["type"].endswith(":pairing-code-used")
    audit = [r["action"] for r in committed_conn.execute(
        "select action from audit_log where (entity_type = 'patient' and entity_id = %s)"
        " or (entity_type = 'device' and entity_id = %s) order by id",
        (str(patient), device["device_id"]))]
    assert audit == ["tablet.pairing_started", "device.provision"]


def test_expired_unknown_and_malformed_codes_are_refused(
        api: TestClient, committed_conn: psycopg.Connection[Any]) -> None:
    patient = insert_patient(committed_conn)
    nurse = login(api, committed_conn, "nurse", patient_id=patient)
    code = start(api, nurse, patient)["code"]
    committed_conn.execute("update pairing_codes set created_at = now() - interval '16 minutes',"
                           " expires_at = now() - interval '1 minute' where patient_id = %s",
                           (patient,))
    expired = redeem(api, code)
    assert expired.status_code == 410
    assert expired.json()["type"].endswith(":pairing-code-expired")
    unknown = redeem(api, "00000000" if code != "00000000" else "00000001")
    assert unknown.status_code == 404
    assert unknown.json()["type"].endswith(":pairing-code-unknown")
    assert redeem(api, "1234").status_code == 422
    assert committed_conn.execute("select count(*) as n from devices where patient_id = %s",
                                  (patient,)).fetchone() == {"n": 0}


def test_a_new_tablet_deactivates_the_old_one(
        settings: Settings, api: TestClient, committed_conn: psycopg.Connection[Any]) -> None:
    patient = insert_patient(committed_conn)
    nurse = login(api, committed_conn, "nurse", patient_id=patient)
    first = redeem(api, start(api, nurse, patient)["code"]).json()
    second = redeem(api, start(api, nurse, patient)["code"]).json()
    assert not can_connect(settings, first["device_id"], first["mqtt_password"])
    assert can_connect(settings, second["device_id"], second["mqtt_password"])
    rows = committed_conn.execute("select device_id, active from devices where patient_id = %s",
                                  (patient,)).fetchall()
    assert {r["device_id"]: r["active"] for r in rows} == {first["device_id"]: False,
                                                          second["device_id"]: True}
    old = api.get("/api/v1/tablet/today", auth=(first["device_id"], first["mqtt_password"]))
    assert old.status_code == 401


def test_another_teams_patient_cannot_be_paired(
        api: TestClient, committed_conn: psycopg.Connection[Any]) -> None:
    patient = insert_patient(committed_conn)
    stranger = login(api, committed_conn, "nurse")
    response = api.post(f"/api/v1/patients/{patient}/pairing", headers=stranger)
    assert response.status_code == 404
    assert api.post(f"/api/v1/patients/{patient}/pairing").status_code == 401


def test_codes_per_patient_and_attempts_per_address_are_limited(
        settings: Settings, api: TestClient, committed_conn: psycopg.Connection[Any]) -> None:
    patient = insert_patient(committed_conn)
    nurse = login(api, committed_conn, "nurse", patient_id=patient)
    for _ in range(settings.pairing_codes_per_patient_per_hour):
        start(api, nurse, patient)
    refused = api.post(f"/api/v1/patients/{patient}/pairing", headers=nurse)
    assert refused.status_code == 429
    assert refused.json()["type"].endswith(":too-many-pairing-codes")
    assert 0 < int(refused.headers["Retry-After"]) <= 3600

    # Redemptions are counted before the code is looked up: once the address has used its
    # attempts, even a right code is refused until the window ends.
    other = insert_patient(committed_conn)
    good = start(api, login(api, committed_conn, "nurse", patient_id=other), other)["code"]
    wrong = "00000000" if good != "00000000" else "00000001"
    for _ in range(settings.pairing_attempts_per_address):
        assert redeem(api, wrong).status_code == 404
    locked = redeem(api, good)
    assert locked.status_code == 429
    assert locked.json()["type"].endswith(":too-many-pairing-attempts")
    assert locked.headers["Retry-After"] == "900"


def test_today_is_the_devices_own_patients_plan_and_readings(
        settings: Settings, api: TestClient, committed_conn: psycopg.Connection[Any]) -> None:
    patient = insert_patient(committed_conn)
    nurse = login(api, committed_conn, "nurse", patient_id=patient)
    device = redeem(api, start(api, nurse, patient)["code"]).json()
    auth = (device["device_id"], device["mqtt_password"])
    assert api.get("/api/v1/tablet/today").status_code == 401
    wrong = api.get("/api/v1/tablet/today", auth=(device["device_id"], "wrong"))
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"] == 'Device realm="kol-device"'   # no browser dialog

    now = datetime.now(UTC)
    committed_conn.execute(
        "insert into readings (patient_id, type, measured_at, value, device_id, msg_id)"
        " values (%s, 'spo2', %s, 91, %s, 'm1'), (%s, 'spo2', %s, 95, %s, 'm2')",
        (patient, now - timedelta(days=2), device["device_id"],
         patient, now - timedelta(days=20), device["device_id"]))
    body = api.get("/api/v1/tablet/today", auth=auth).json()
    assert [r["value"] for r in body["recent"]] == [91.0, 95.0]
    assert [d["values"] for d in body["days"]] == [{"spo2": 91.0}]   # 20 days ago is not in 14
    assert body["reminder_minutes"] == settings.tablet_reminder_minutes

    # The plan follows the schedule (mon and thu, by 12:00 local time).
    monday = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    with committed_conn.transaction():
        plan = service.today(committed_conn, settings=settings, patient_id=patient, now=monday)
    assert plan.due_today
    assert [d.type for d in plan.due] == ["spo2", "pulse", "weight"]
    assert plan.due[0].deadline == datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
    tuesday = service.today(committed_conn, settings=settings, patient_id=patient,
                            now=monday + timedelta(days=1))
    assert not tuesday.due_today
    assert tuesday.due == []


def test_the_type_registry_is_served(api: TestClient) -> None:
    types = {t["type"]: t for t in api.get("/api/v1/tablet/measurement-types").json()}
    assert types["spo2"]["min_value"] == 50
    assert types["spo2"]["max_value"] == 100
    assert types["weight"]["unit"] == "kg"
    assert types["pulse"]["display_da"] == "Puls"


def test_the_app_is_served_with_its_mqtt_client_from_npm(api: TestClient) -> None:
    slash = api.get("/tablet", follow_redirects=False)
    assert slash.status_code == 308
    assert slash.headers["location"] == "/tablet/"
    page = api.get("/tablet/")
    assert page.status_code == 200
    assert '<html lang="da">' in page.text
    assert api.get("/tablet/manifest.webmanifest").json()["lang"] == "da"
    assert api.get("/tablet/sw.js").status_code == 200
    client = api.get("/tablet/vendor/mqtt.esm.js")
    assert client.status_code == 200
    assert client.headers["content-type"].startswith("text/javascript")
    assert "export default" in client.text


def test_the_openapi_document_lists_the_pairing_problems(api: TestClient) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    pair = json.dumps(paths["/api/v1/tablet/pair"]["post"]["responses"])
    for slug in ("pairing-code-unknown", "pairing-code-used", "pairing-code-expired",
                 "too-many-pairing-attempts", "throttle-unavailable", "broker-unavailable"):
        assert f"urn:kol:problem:{slug}" in pair, slug
    today = json.dumps(paths["/api/v1/tablet/today"]["get"]["responses"])
    assert "urn:kol:problem:device-unauthenticated" in today
    start = json.dumps(paths["/api/v1/patients/{patient_id}/pairing"]["post"]["responses"])
    assert "urn:kol:problem:too-many-pairing-codes" in start
    assert "urn:kol:problem:patient-not-found" in start


def test_the_diary_days_of_the_schedule_decide_when_the_tablet_asks_the_diary(
        api: TestClient, committed_conn: psycopg.Connection[Any], settings: Settings) -> None:
    patient = insert_patient(committed_conn)
    clinician = login(api, committed_conn, "clinician", patient_id=patient)
    schedule = {"days": ["mon", "thu"], "deadline": "12:00", "types": ["spo2", "pulse"],
                "diary_days": ["mon", "tue"]}
    changed = api.put(f"/api/v1/patients/{patient}/schedule", headers=clinician,
                      json={"schedule": schedule})
    assert changed.status_code == 200, changed.text
    assert changed.json()["schedule"]["diary_days"] == ["mon", "tue"]
    assert api.put(f"/api/v1/patients/{patient}/schedule", headers=clinician, json={
        "schedule": {**schedule, "diary_days": ["mon", "mon"]}}).status_code == 422

    monday = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    with committed_conn.transaction():
        plan = service.today(committed_conn, settings=settings, patient_id=patient, now=monday)
        wednesday = service.today(committed_conn, settings=settings, patient_id=patient,
                                  now=monday + timedelta(days=2))
    assert plan.diary.questionnaire == "kol-symptoms-v1"
    assert (plan.diary.due_today, plan.diary.answered_today) == (True, False)
    assert [i.id for i in plan.diary.items][:3] == ["breathlessness", "sputum_volume",
                                                    "sputum_colour"]
    assert plan.diary.items[0].text_da == "Er du mere forpustet end du plejer?"
    assert not wednesday.diary.due_today
    # Answered on Monday morning (local time): done for the day.
    committed_conn.execute(
        "insert into questionnaire_responses (patient_id, questionnaire, authored_at, answers,"
        " symptom_mask, device_id, msg_id) values (%s, 'kol-symptoms-v1', %s, '{}', 0, 't', 'm')",
        (patient, monday - timedelta(hours=1)))
    with committed_conn.transaction():
        answered = service.today(committed_conn, settings=settings, patient_id=patient,
                                 now=monday)
    assert answered.diary.answered_today
