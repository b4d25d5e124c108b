"""Issue #19: consents (recorded, withdrawn, audited, respected by the FHIR export) and care
events (recorded on the patient page or with an alert's disposition; an admission pauses the
monitoring until its discharge; withdrawn and corrected, kept, and no longer counted)."""

from __future__ import annotations

import csv
import io
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


def _care_event(client: TestClient, user: User, pid: int, **body: Any) -> dict[str, Any]:
    response = client.post(f"/api/v1/patients/{pid}/care-events", headers=user.headers,
                           json={"reason": "copd_exacerbation", **body})
    assert response.status_code == 201, response.text
    return dict(response.json())


def _pause_ends(conn: psycopg.Connection[Any], pause_id: int) -> datetime | None:
    row = conn.execute("select ends_at from patient_pauses where id = %s", (pause_id,)).fetchone()
    return None if row is None else row["ends_at"]


def test_a_care_event_is_withdrawn_with_a_reason_and_kept(
        client: TestClient, admin: User, nurse: User, team: str,
        committed_conn: psycopg.Connection[Any]) -> None:
    pid = enrol_with_consent(client, admin, team)["id"]
    admission = _care_event(client, nurse, pid, kind="admission", hospital="Hvidovre")
    url = f"/api/v1/patients/{pid}/care-events/{admission['id']}/withdraw"
    no_reason = client.post(url, headers=nurse.headers, json={"withdrawal_reason": ""})
    assert no_reason.status_code == 422
    withdrawn = client.post(url, headers=nurse.headers,
                            json={"withdrawal_reason": "recorded on the wrong patient"})
    assert withdrawn.status_code == 200, withdrawn.text
    body = withdrawn.json()
    assert body["withdrawn_by"] == nurse.username
    assert body["withdrawal_reason"] == "recorded on the wrong patient"
    assert body["withdrawn_at"] is not None
    # She was not admitted: the admission's pause is gone.
    assert _pause_ends(committed_conn, admission["pause_id"]) is None
    overview = client.get(f"/api/v1/patients/{pid}", headers=nurse.headers).json()
    assert overview["pauses"] == []
    assert [(e["id"], e["withdrawal_reason"]) for e in overview["care_events"]] == [
        (admission["id"], "recorded on the wrong patient")]
    again = client.post(url, headers=nurse.headers, json={"withdrawal_reason": "twice"})
    assert again.status_code == 404
    assert again.json()["type"] == "urn:kol:problem:care-event-not-found"
    audit = committed_conn.execute(
        "select action, detail from audit_log where entity_type = 'patient' and entity_id = %s"
        " and action like 'patient.care_event.%%' order by id", (str(pid),)).fetchall()
    assert [a["action"] for a in audit] == ["patient.care_event.admission",
                                            "patient.care_event.withdraw"]
    assert audit[1]["detail"]["withdrawal_reason"] == "recorded on the wrong patient"
    assert audit[1]["detail"]["removed_pause"]["id"] == admission["pause_id"]


def test_a_correction_replaces_the_event_and_keeps_the_discharge_linked(
        client: TestClient, admin: User, nurse: User, team: str,
        committed_conn: psycopg.Connection[Any]) -> None:
    pid = enrol_with_consent(client, admin, team)["id"]
    now = datetime.now(UTC)
    wrong = _care_event(client, nurse, pid, kind="admission", hospital="Hvidovre",
                        occurred_at=(now - timedelta(hours=5)).isoformat())
    discharged_at = now - timedelta(hours=1)
    discharge = _care_event(client, nurse, pid, kind="discharge",
                            occurred_at=discharged_at.isoformat())
    assert discharge["admission_id"] == wrong["id"]
    # The admission was two days earlier and at another hospital.
    admitted_at = now - timedelta(days=2)
    corrected = client.post(
        f"/api/v1/patients/{pid}/care-events/{wrong['id']}/correct", headers=nurse.headers,
        json={"kind": "admission", "occurred_at": admitted_at.isoformat(),
              "hospital": "Bispebjerg", "reason": "pneumonia",
              "withdrawal_reason": "wrong day and hospital"})
    assert corrected.status_code == 201, corrected.text
    new = corrected.json()
    assert new["replaces_id"] == wrong["id"]
    assert (new["hospital"], new["reason"], new["withdrawn_at"]) == ("Bispebjerg", "pneumonia",
                                                                      None)
    events = {e["id"]: e for e in client.get(f"/api/v1/patients/{pid}",
                                             headers=nurse.headers).json()["care_events"]}
    assert events[wrong["id"]]["replaced_by"] == new["id"]
    assert events[wrong["id"]]["withdrawal_reason"] == "wrong day and hospital"
    # The discharge now ends the corrected admission and its pause.
    assert events[discharge["id"]]["admission_id"] == new["id"]
    assert _pause_ends(committed_conn, wrong["pause_id"]) is None
    ends = _pause_ends(committed_conn, new["pause_id"])
    assert ends is not None
    assert abs(ends - discharged_at) < timedelta(seconds=1)
    # Correcting the discharge: the admission is open again until the corrected one ends it.
    later = now - timedelta(minutes=10)
    fixed = client.post(
        f"/api/v1/patients/{pid}/care-events/{discharge['id']}/correct", headers=nurse.headers,
        json={"kind": "discharge", "occurred_at": later.isoformat(), "reason": "pneumonia",
              "withdrawal_reason": "wrong time"})
    assert fixed.status_code == 201, fixed.text
    assert fixed.json()["admission_id"] == new["id"]
    ends = _pause_ends(committed_conn, new["pause_id"])
    assert ends is not None
    assert abs(ends - later) < timedelta(seconds=1)
    # Withdrawing that discharge too: the admission's pause runs to its longest again.
    client.post(f"/api/v1/patients/{pid}/care-events/{fixed.json()['id']}/withdraw",
                headers=nurse.headers, json={"withdrawal_reason": "not discharged"})
    ends = _pause_ends(committed_conn, new["pause_id"])
    assert ends is not None
    assert abs(ends - (admitted_at + timedelta(days=90))) < timedelta(seconds=1)
    actions = [r["action"] for r in committed_conn.execute(
        "select action from audit_log where entity_type = 'patient' and entity_id = %s"
        " and action like 'patient.care_event.%%' order by id", (str(pid),))]
    assert actions == ["patient.care_event.admission", "patient.care_event.discharge",
                       "patient.care_event.withdraw", "patient.care_event.admission",
                       "patient.care_event.relink", "patient.care_event.withdraw",
                       "patient.care_event.discharge", "patient.care_event.withdraw"]


def test_only_her_team_withdraws_or_corrects_her_care_events(
        client: TestClient, admin: User, nurse: User, team: str,
        committed_conn: psycopg.Connection[Any]) -> None:
    pid = enrol_with_consent(client, admin, team)["id"]
    event = _care_event(client, nurse, pid, kind="outpatient", reason="planned_control")
    other = make_user(client, committed_conn, role="nurse", teams=[unique("other")])
    manager = make_user(client, committed_conn, role="manager", teams=[team])
    base = f"/api/v1/patients/{pid}/care-events/{event['id']}"
    correction = {"kind": "emergency", "reason": "other", "withdrawal_reason": "x"}
    for user in (other, manager):
        withdraw = client.post(f"{base}/withdraw", headers=user.headers,
                               json={"withdrawal_reason": "x"})
        assert withdraw.status_code == 404
        assert withdraw.json()["type"] == "urn:kol:problem:patient-not-found"
        assert client.post(f"{base}/correct", headers=user.headers,
                           json=correction).status_code == 404
    # Another patient's event is not hers.
    someone = enrol_with_consent(client, admin, team)["id"]
    assert client.post(f"/api/v1/patients/{someone}/care-events/{event['id']}/withdraw",
                       headers=nurse.headers,
                       json={"withdrawal_reason": "x"}).json()["type"] == (
        "urn:kol:problem:care-event-not-found")
    # Every role of her team that records care events corrects them.
    clinician = make_user(client, committed_conn, role="clinician", teams=[team])
    fixed = client.post(f"{base}/correct", headers=clinician.headers, json=correction)
    assert fixed.status_code == 201, fixed.text
    assert client.post(f"/api/v1/patients/{pid}/care-events/{fixed.json()['id']}/withdraw",
                       headers=admin.headers,
                       json={"withdrawal_reason": "x"}).status_code == 200
    assert committed_conn.execute(
        "select count(*) as n from care_events where patient_id = %s and withdrawn_at is null",
        (pid,)).fetchone() == {"n": 0}


def test_the_outcomes_no_longer_count_a_withdrawn_admission(
        client: TestClient, admin: User, nurse: User, team: str) -> None:
    # Five patients: the municipality is shown whatever else the database holds.
    pids = [enrol_with_consent(client, admin, team)["id"] for _ in range(5)]
    admission = _care_event(client, nurse, pids[0], kind="admission")
    _care_event(client, nurse, pids[1], kind="admission")

    def admissions() -> tuple[int, int]:
        body = client.get("/api/v1/outcomes", headers=admin.headers, params={"months": 1})
        assert body.status_code == 200, body.text
        municipality = body.json()["groups"][0]
        assert municipality["team"] is None
        csv_rows = list(csv.DictReader(io.StringIO(client.get(
            "/api/v1/outcomes.csv", headers=admin.headers, params={"months": 1}).text)))
        in_csv = next(r for r in csv_rows if r["team"] == ""
                      and r["period"] == municipality["months"][0]["period"])
        return municipality["months"][0]["admissions"], int(in_csv["admissions"])

    before, before_csv = admissions()
    assert before == before_csv >= 2
    withdrawn = client.post(f"/api/v1/patients/{pids[0]}/care-events/{admission['id']}/withdraw",
                            headers=nurse.headers, json={"withdrawal_reason": "wrong patient"})
    assert withdrawn.status_code == 200, withdrawn.text
    assert admissions() == (before - 1, before - 1)


def test_a_withdrawn_admission_takes_back_its_alerts_disposition(
        client: TestClient, admin: User, nurse: User, team: str,
        committed_conn: psycopg.Connection[Any]) -> None:
    """She was not admitted: the alert no longer says so (the reports count it as without a
    disposition); an admission corrected into another admission keeps it, one corrected into an
    outpatient visit does not."""
    pid = enrol_with_consent(client, admin, team)["id"]

    def admitted_alert() -> tuple[int, int]:
        row = committed_conn.execute(
            "insert into alerts (patient_id, rule, type, severity, reason)"
            " values (%s, 'absolute', 'spo2', 'red', 'SpO2 84') returning id", (pid,)).fetchone()
        assert row is not None
        response = client.post(f"/api/v1/alerts/{row['id']}/resolve", headers=nurse.headers,
                               json={"note": "", "admission": {"hospital": "Odense",
                                                               "reason": "pneumonia"}})
        assert response.status_code == 200, response.text
        events = client.get(f"/api/v1/patients/{pid}", headers=nurse.headers).json()[
            "care_events"]
        return row["id"], next(e["id"] for e in events if e["alert_id"] == row["id"])

    def disposition(alert_id: int) -> str | None:
        row = committed_conn.execute("select disposition from alerts where id = %s",
                                     (alert_id,)).fetchone()
        assert row is not None
        return row["disposition"]  # type: ignore[no-any-return]

    withdrawn_alert, withdrawn = admitted_alert()
    moved_alert, moved = admitted_alert()
    outpatient_alert, outpatient = admitted_alert()
    base = f"/api/v1/patients/{pid}/care-events"
    assert client.post(f"{base}/{withdrawn}/withdraw", headers=nurse.headers,
                       json={"withdrawal_reason": "wrong patient"}).status_code == 200
    assert client.post(f"{base}/{moved}/correct", headers=nurse.headers, json={
        "kind": "admission", "hospital": "Svendborg", "reason": "pneumonia",
        "withdrawal_reason": "wrong hospital"}).status_code == 201
    assert client.post(f"{base}/{outpatient}/correct", headers=nurse.headers, json={
        "kind": "outpatient", "hospital": "Odense", "reason": "pneumonia",
        "withdrawal_reason": "seen in the outpatient clinic, not admitted"}).status_code == 201
    assert disposition(withdrawn_alert) is None
    assert disposition(moved_alert) == "admitted"
    assert disposition(outpatient_alert) is None
    cleared = committed_conn.execute(
        "select entity_id, detail from audit_log where action = 'alert.disposition.cleared'"
        " and entity_id in (%s, %s, %s) order by entity_id",
        tuple(str(a) for a in (withdrawn_alert, moved_alert, outpatient_alert))).fetchall()
    assert [(r["entity_id"], r["detail"]["care_event_id"]) for r in cleared] == [
        (str(withdrawn_alert), withdrawn), (str(outpatient_alert), outpatient)]
    report = client.get("/api/v1/reports/alert-outcomes", headers=nurse.headers,
                        params={"since": "2000-01-01T00:00:00Z"})
    assert report.status_code == 200, report.text
    mine = [p for p in report.json()["by_patient"] if p["patient_id"] == pid]
    assert mine[0]["by_disposition"] == {"admitted": 1}
