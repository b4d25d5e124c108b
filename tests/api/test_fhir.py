"""The FHIR export, validated with the ``fhir.resources`` R4B models (R4B keeps R4's Bundle,
Observation and Device)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.device import Device
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from psycopg.types.json import Jsonb

from tests.api.fhir_invariants import bundle_violations
from tests.api.helpers import make_user
from tests.conftest import insert_patient, unique

NPU = "urn:oid:1.2.208.176.2.1"


def test_bundle_of_coded_observations_with_ranges_in_force_and_the_device(
        client: TestClient, committed_conn: psycopg.Connection[Any]) -> None:
    team = unique("team")
    patient = insert_patient(committed_conn, team=team)
    nurse = make_user(client, committed_conn, role="nurse", teams=[team])
    other = make_user(client, committed_conn, role="nurse", teams=[unique("team")])
    device = unique("tab")
    committed_conn.execute("insert into devices (device_id, patient_id, password_hash)"
                           " values (%s, %s, 'x')", (device, patient))
    now = datetime.now(UTC).replace(microsecond=0)
    # Version 2 raises the SpO2 yellow limit five days ago.
    committed_conn.execute(
        "insert into threshold_versions (patient_id, version, thresholds, reason, changed_at)"
        " select patient_id, 2, jsonb_set(thresholds, '{spo2,absolute,yellow_low}', '92'),"
        " 'stricter', %s from threshold_versions where patient_id = %s and version = 1",
        (now - timedelta(days=5), patient))
    day = timedelta(days=1)
    readings = [("spo2", now - 10 * day, 91.0), ("spo2", now - 2 * day, 93.0),
                ("pulse", now - 2 * day, 71.0), ("weight", now - 40 * day, 80.0)]
    with committed_conn.cursor() as cur:
        cur.executemany(
            "insert into readings (patient_id, type, measured_at, value, device_id, msg_id)"
            " values (%s, %s, %s, %s, %s, 'm')",
            [(patient, t, at, v, device) for t, at, v in readings])

    response = client.get(f"/api/v1/patients/{patient}/fhir", headers=nurse.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/fhir+json"
    body = response.json()
    bundle = Bundle.model_validate(body)
    assert bundle.type == "collection"
    assert bundle_violations(body) == []
    assert "total" not in body
    resources = [e.resource for e in bundle.entry or []]
    observations = [Observation.model_validate(r.model_dump()) for r in resources
                    if r.get_resource_type() == "Observation"]
    devices = [Device.model_validate(r.model_dump()) for r in resources
               if r.get_resource_type() == "Device"]
    # The default span is 30 days: the 40-day-old weight is left out.
    assert [(o.code.text, o.valueQuantity.value) for o in observations] == [
        ("SpO2", 91.0), ("Pulse", 71.0), ("SpO2", 93.0)]
    spo2_old, pulse, spo2_new = observations
    assert spo2_old.status == "final"
    assert spo2_old.category[0].coding[0].code == "vital-signs"
    assert {(c.system, c.code) for c in spo2_old.code.coding} == {
        ("http://loinc.org", "59408-5"), (NPU, "NPU03011")}
    assert spo2_old.valueQuantity.system == "http://unitsofmeasure.org"
    assert spo2_old.valueQuantity.code == "%"
    assert spo2_old.subject.reference == f"Patient/{patient}"
    assert spo2_old.effectiveDateTime == now - timedelta(days=10)
    # The range is the one in force when each reading was measured.
    assert spo2_old.referenceRange[0].low.value == 90.0
    assert spo2_new.referenceRange[0].low.value == 92.0
    assert spo2_new.referenceRange[0].high is None
    assert pulse.referenceRange is None  # the profile has no yellow pulse limits
    assert [d.identifier[0].value for d in devices] == [device]
    assert devices[0].status == "active"
    device_urls = {e.fullUrl for e in bundle.entry or []
                   if e.resource.get_resource_type() == "Device"}
    assert {o.device.reference for o in observations} == device_urls
    assert {o.device.identifier.value for o in observations} == {device}
    assert all(o.subject.reference == f"Patient/{patient}" for o in observations)

    narrowed = client.get(f"/api/v1/patients/{patient}/fhir", headers=nurse.headers, params={
        "from": (now - timedelta(days=50)).isoformat(),
        "to": (now - timedelta(days=5)).isoformat()})
    assert [e["resource"]["code"]["text"] for e in narrowed.json()["entry"]
            if e["resource"]["resourceType"] == "Observation"] == ["Weight", "SpO2"]

    hidden = client.get(f"/api/v1/patients/{patient}/fhir", headers=other.headers)
    assert hidden.status_code == 404
    assert hidden.json()["type"] == "urn:kol:problem:patient-not-found"


def test_export_is_paginated_with_next_links_not_truncated(
        client: TestClient, committed_conn: psycopg.Connection[Any]) -> None:
    team = unique("team")
    patient = insert_patient(committed_conn, team=team)
    nurse = make_user(client, committed_conn, role="nurse", teams=[team])
    devices = [unique("tab"), unique("tab")]
    for device in devices:
        committed_conn.execute("insert into devices (device_id, patient_id, password_hash)"
                               " values (%s, %s, 'x')", (device, patient))
    now = datetime.now(UTC).replace(microsecond=0)
    # 25 000 readings: more than the 20 000 the export used to cut at without a word.
    with committed_conn.cursor() as cur, cur.copy(
            "copy readings (patient_id, type, measured_at, value, device_id, msg_id)"
            " from stdin") as copy:
        for i in range(25_000):
            copy.write_row((patient, ("spo2", "pulse")[i % 2],
                            now - timedelta(minutes=3 * (i // 2) + 1), 90 + i % 5,
                            devices[i // 12_500], "m"))
    url: str | None = f"/api/v1/patients/{patient}/fhir?_count=10000"
    seen: list[str] = []
    pages = 0
    while url is not None:
        response = client.get(url, headers=nurse.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "total" not in body  # bdl-1: only search and history Bundles have a total
        assert bundle_violations(body) == []
        observations = [e for e in body["entry"]
                        if e["resource"]["resourceType"] == "Observation"]
        device_entries = [e for e in body["entry"] if e["resource"]["resourceType"] == "Device"]
        # The envelope and a sample validated (all 10 000 entries would take seconds).
        bundle = Bundle.model_validate({**body, "entry": observations[:20] + device_entries})
        assert bundle.type == "collection"
        links = {link.relation: link.url for link in bundle.link or []}
        assert "self" in links
        # Each page is whole: its observations' devices are in it.
        assert {e["resource"]["device"]["reference"] for e in observations} <= {
            e["fullUrl"] for e in device_entries}
        seen += [e["resource"]["id"] for e in observations]
        pages += 1
        url = links.get("next")
    assert pages == 3
    assert len(seen) == 25_000
    assert len(set(seen)) == 25_000
    assert client.get(f"/api/v1/patients/{patient}/fhir", headers=nurse.headers,
                      params={"cursor": "nonsense"}).status_code == 422


def test_the_invariant_check_finds_what_a_validator_would() -> None:
    """The checker itself: the export's old mistake (``total`` on a collection) and its kin."""
    observation = {"resourceType": "Observation", "status": "final"}
    entry = {"fullUrl": "urn:uuid:2c5c1b0a-8a8f-4a39-9f1d-2f6d2f1b0e6a", "resource": observation}
    assert bundle_violations({"resourceType": "Bundle", "type": "collection",
                              "entry": [entry]}) == []
    assert [v.split(":")[0] for v in bundle_violations(
        {"resourceType": "Bundle", "type": "collection", "total": 1, "entry": [entry, entry]})
    ] == ["bdl-1", "bdl-7"]
    assert [v.split(":")[0] for v in bundle_violations(
        {"resourceType": "Bundle", "type": "collection",
         "entry": [{**entry, "request": {"method": "GET", "url": "Observation"}},
                   {"fullUrl": "Observation/1/_history/2"}]})
    ] == ["bdl-3", "bdl-5", "bdl-8"]
    assert [v.split(":")[0] for v in bundle_violations(
        {"resourceType": "Bundle", "type": "document", "entry": [entry]})
    ] == ["bdl-9", "bdl-10", "bdl-11"]


def test_the_export_adds_questionnaire_responses_of_the_questionnaire_the_platform_serves(
        client: TestClient, committed_conn: psycopg.Connection[Any]) -> None:
    team = unique("team")
    patient = insert_patient(committed_conn, team=team)
    nurse = make_user(client, committed_conn, role="nurse", teams=[team])
    now = datetime.now(UTC).replace(microsecond=0)
    committed_conn.execute(
        "insert into questionnaire_responses (patient_id, questionnaire, authored_at, answers,"
        " symptom_mask, device_id, msg_id) values (%s, 'kol-symptoms-v1', %s, %s, 65, 'tab', 'm')",
        (patient, now - timedelta(days=1), Jsonb({
            "breathlessness": True, "sputum_volume": False, "sputum_colour": False,
            "cold": False, "wheeze": False, "sore_throat": False, "cough": True,
            "note": "Værre om natten"})))

    body = client.get(f"/api/v1/patients/{patient}/fhir", headers=nurse.headers).json()
    bundle = Bundle.model_validate(body)
    assert bundle_violations(body) == []
    responses = [QuestionnaireResponse.model_validate(e.resource.model_dump())
                 for e in bundle.entry or []
                 if e.resource.get_resource_type() == "QuestionnaireResponse"]
    assert len(responses) == 1
    response = responses[0]
    assert response.status == "completed"
    assert response.subject.reference == f"Patient/{patient}"
    answers = {i.linkId: i.answer[0] for i in response.item or []}
    assert answers["breathlessness"].valueBoolean is True
    assert answers["sputum_colour"].valueBoolean is False
    assert answers["note"].valueString == "Værre om natten"

    # The canonical URL it refers to is served, as a valid Questionnaire with every item.
    served = client.get("/api/v1/fhir/Questionnaire/kol-symptoms-v1", headers=nurse.headers)
    assert served.status_code == 200
    assert served.headers["content-type"] == "application/fhir+json"
    definition = Questionnaire.model_validate(served.json())
    assert definition.url == response.questionnaire
    assert [i.linkId for i in definition.item or []] == list(answers)
    assert {i.linkId: i.type for i in definition.item or []}["note"] == "text"
    assert definition.item is not None
    assert definition.item[0].text == "Er du mere forpustet end du plejer?"
    assert client.get("/api/v1/fhir/Questionnaire/nope", headers=nurse.headers
                      ).json()["type"].endswith("questionnaire-not-found")
    assert client.get("/api/v1/fhir/Questionnaire/kol-symptoms-v1").status_code == 401
