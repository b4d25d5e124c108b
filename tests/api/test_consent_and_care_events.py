"""Issue #19: consents (recorded, withdrawn, audited, respected by the FHIR export) and care
events (recorded on the patient page or with an alert's disposition; an admission pauses the
monitoring until its discharge)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.consent import Consent

from tests.api.fhir_invariants import bundle_violations
from tests.api.helpers import User, make_user
from tests.api.test_patients import SCHEDULE
from tests.conftest import unique


def enrol_with_consent(client: TestClient, admin: User, team: str) -> dict[str, Any]:
    response = client.post("/api/v1/patients", headers=admin.headers, json={
        "display_name": unique("Patient"), "team": team, "schedule": SCHEDULE,
        "admissions_before": 2,
        "consents": [{"scope": "telemonitoring", "given_on": "2026-11-02"},
                     {"scope": "share_gp", "given_on": "2026-11-02", "note": "signed"}]})
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_consent_is_recorded_at_enrolment_shown_and_withdrawal_discharges(
        client: TestClient, admin: User, nurse: User, team: str,
        committed_conn: psycopg.Connection[Any]) -> None:
    patient = enrol_with_consent(client, admin, team)
    assert patient["admissions_before"] == 2
    pid = patient["id"]
    overview = client.get(f"/api/v1/patients/{pid}", headers=nurse.headers).json()
    assert {(c["scope"], c["given_on"], c["recorded_by"], c["withdrawn_on"])
            for c in overview["consents"]} == {
        ("telemonitoring", "2026-11-02", admin.username, None),
        ("share_gp", "2026-11-02", admin.username, None)}
    # A nurse records the hospital consent later.
    given = client.post(f"/api/v1/patients/{pid}/consents", headers=nurse.headers,
                        json={"scope": "share_hospital", "given_on": "2026-11-20"})
    assert given.status_code == 201, given.text
    assert given.json()["recorded_by"] == nurse.username

    tablet = client.post(f"/api/v1/patients/{pid}/devices", headers=admin.headers)
    assert tablet.status_code == 201, tablet.text

    telemonitoring = next(c for c in overview["consents"] if c["scope"] == "telemonitoring")
    withdrawn = client.post(f"/api/v1/patients/{pid}/consents/{telemonitoring['id']}/withdraw",
                            headers=nurse.headers, json={"withdrawn_on": "2026-11-25"})
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["withdrawn_by"] == nurse.username
    again = client.post(f"/api/v1/patients/{pid}/consents/{telemonitoring['id']}/withdraw",
                        headers=nurse.headers, json={"withdrawn_on": "2026-11-25"})
    assert again.status_code == 404
    assert again.json()["type"] == "urn:kol:problem:consent-not-found"
    after = client.get(f"/api/v1/patients/{pid}", headers=nurse.headers).json()
    assert after["active"] is False
    assert after["discharged_at"] is not None
    assert len(after["consents"]) == 3  # the history is kept
    audit = [r["action"] for r in committed_conn.execute(
        "select action from audit_log where entity_type = 'patient' and entity_id = %s"
        " order by id", (str(pid),))]
    assert audit == ["patient.enrol", "patient.consent.give", "patient.consent.withdraw",
                     "patient.discharge"]
    # The discharge collects her tablet, as ``…/discharge`` does.
    device = committed_conn.execute("select active from devices where device_id = %s",
                                    (tablet.json()["device_id"],)).fetchone()
    assert device is not None
    assert not device["active"]


def test_fhir_export_carries_the_consents_and_refuses_a_recipient_without_one(
        client: TestClient, admin: User, nurse: User, team: str) -> None:
    patient = enrol_with_consent(client, admin, team)
    pid = patient["id"]
    own = client.get(f"/api/v1/patients/{pid}/fhir", headers=nurse.headers)
    assert own.status_code == 200, own.text
    body = own.json()
    assert bundle_violations(body) == []
    bundle = Bundle.model_validate(body)
    consents = [Consent.model_validate(e.resource.model_dump()) for e in bundle.entry or []
                if e.resource.get_resource_type() == "Consent"]
    assert sorted(c.category[1].coding[0].code for c in consents) == ["share_gp",
                                                                      "telemonitoring"]
    assert {c.status for c in consents} == {"active"}
    assert client.get(f"/api/v1/patients/{pid}/fhir?recipient=gp",
                      headers=nurse.headers).status_code == 200
    refused = client.get(f"/api/v1/patients/{pid}/fhir?recipient=hospital",
                         headers=nurse.headers)
    assert refused.status_code == 403
    assert refused.json()["type"] == "urn:kol:problem:no-consent-to-share"
    share_gp = next(c for c in patient_consents(client, nurse, pid) if c["scope"] == "share_gp")
    client.post(f"/api/v1/patients/{pid}/consents/{share_gp['id']}/withdraw",
                headers=nurse.headers, json={"withdrawn_on": "2026-11-28"})
    assert client.get(f"/api/v1/patients/{pid}/fhir?recipient=gp",
                      headers=nurse.headers).status_code == 403
    # Still in her own record, as withdrawn.
    entries = client.get(f"/api/v1/patients/{pid}/fhir", headers=nurse.headers).json()["entry"]
    statuses = {e["resource"]["category"][1]["coding"][0]["code"]: e["resource"]["status"]
                for e in entries if e["resource"]["resourceType"] == "Consent"}
    assert statuses == {"share_gp": "inactive", "telemonitoring": "active"}


def patient_consents(client: TestClient, user: User, pid: int) -> list[dict[str, Any]]:
    consents: list[dict[str, Any]] = client.get(f"/api/v1/patients/{pid}",
                                                headers=user.headers).json()["consents"]
    return consents


def test_an_admission_pauses_the_monitoring_until_its_discharge(
        client: TestClient, admin: User, nurse: User, team: str,
        committed_conn: psycopg.Connection[Any]) -> None:
    pid = enrol_with_consent(client, admin, team)["id"]
    admitted_at = datetime.now(UTC) - timedelta(days=2)
    admission = client.post(f"/api/v1/patients/{pid}/care-events", headers=nurse.headers, json={
        "kind": "admission", "occurred_at": admitted_at.isoformat(), "hospital": "Hvidovre",
        "reason": "copd_exacerbation", "note": "ambulance"})
    assert admission.status_code == 201, admission.text
    pause_id = admission.json()["pause_id"]
    assert pause_id is not None
    pauses = client.get(f"/api/v1/patients/{pid}", headers=nurse.headers).json()["pauses"]
    assert [p["id"] for p in pauses] == [pause_id]
    discharged_at = datetime.now(UTC) - timedelta(hours=3)
    discharge = client.post(f"/api/v1/patients/{pid}/care-events", headers=nurse.headers, json={
        "kind": "discharge", "occurred_at": discharged_at.isoformat(), "hospital": "Hvidovre",
        "reason": "copd_exacerbation"})
    assert discharge.status_code == 201, discharge.text
    assert discharge.json()["admission_id"] == admission.json()["id"]
    ends = committed_conn.execute("select ends_at from patient_pauses where id = %s",
                                  (pause_id,)).fetchone()
    assert ends is not None
    assert abs(ends["ends_at"] - discharged_at) < timedelta(seconds=1)
    overview = client.get(f"/api/v1/patients/{pid}", headers=nurse.headers).json()
    assert overview["pauses"] == []
    assert [e["kind"] for e in overview["care_events"]] == ["discharge", "admission"]
    outpatient = client.post(f"/api/v1/patients/{pid}/care-events", headers=nurse.headers,
                             json={"kind": "outpatient", "reason": "planned_control"})
    assert outpatient.status_code == 201
    assert outpatient.json()["pause_id"] is None
    actions = [r["action"] for r in committed_conn.execute(
        "select action from audit_log where entity_type = 'patient' and entity_id = %s"
        " and action like 'patient.care_event.%%' order by id", (str(pid),))]
    assert actions == ["patient.care_event.admission", "patient.care_event.discharge",
                       "patient.care_event.outpatient"]


def test_the_disposition_admitted_records_the_admission_once(
        client: TestClient, admin: User, nurse: User, team: str,
        committed_conn: psycopg.Connection[Any]) -> None:
    pid = enrol_with_consent(client, admin, team)["id"]
    row = committed_conn.execute(
        "insert into alerts (patient_id, rule, type, severity, reason, value)"
        " values (%s, 'absolute', 'spo2', 'red', 'SpO2 84', 84) returning id", (pid,)).fetchone()
    assert row is not None
    response = client.post(f"/api/v1/alerts/{row['id']}/acknowledge", headers=nurse.headers,
                           json={"note": "called 112", "seen_severity": "red",
                                 "admission": {"hospital": "Bispebjerg", "reason": "pneumonia"}})
    assert response.status_code == 200, response.text
    assert committed_conn.execute("select disposition from alerts where id = %s",
                                  (row["id"],)).fetchone() == {"disposition": "admitted"}
    events = client.get(f"/api/v1/patients/{pid}", headers=nurse.headers).json()["care_events"]
    assert [(e["kind"], e["hospital"], e["reason"], e["alert_id"]) for e in events] == [
        ("admission", "Bispebjerg", "pneumonia", row["id"])]
    assert events[0]["pause_id"] is not None
    # Plain acknowledgement keeps working without an admission.
    other = committed_conn.execute(
        "insert into alerts (patient_id, rule, type, severity, reason)"
        " values (%s, 'absolute', 'pulse', 'yellow', 'x') returning id", (pid,)).fetchone()
    assert other is not None
    plain = client.post(f"/api/v1/alerts/{other['id']}/resolve", headers=nurse.headers,
                        json={"note": "", "disposition": "advice_by_phone"})
    assert plain.status_code == 200, plain.text
    assert len(client.get(f"/api/v1/patients/{pid}",
                          headers=nurse.headers).json()["care_events"]) == 1


def test_a_manager_reads_no_patient(client: TestClient, admin: User, team: str,
                                    committed_conn: psycopg.Connection[Any]) -> None:
    patient = enrol_with_consent(client, admin, team)
    manager = make_user(client, committed_conn, role="manager", teams=[team])
    assert client.get(f"/api/v1/patients/{patient['id']}",
                      headers=manager.headers).status_code == 404
    assert client.get("/api/v1/patients", headers=manager.headers).json() == []
    assert client.post(f"/api/v1/patients/{patient['id']}/care-events", headers=manager.headers,
                       json={"kind": "outpatient", "reason": "other"}).status_code == 404
    assert client.post("/api/v1/patients", headers=manager.headers, json={
        "display_name": "x", "team": team, "schedule": SCHEDULE}).status_code == 403
