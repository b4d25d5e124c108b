"""The nurse's and clinician's dashboard in headless Chromium, against the real API, gateway,
broker and database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from playwright.sync_api import Page, expect

from core.settings import Settings
from core.tls import secure_mqtt
from protocol.topics import device_topics
from tests.api.helpers import create_user
from tests.conftest import unique
from tests.dashboard.conftest import Site, login, open_patient, shot

pytestmark = pytest.mark.browser

SCHEDULE = {"days": ["mon", "thu"], "deadline": "12:00", "types": ["spo2", "pulse", "weight"]}


def enrol_with_device(site: Site) -> tuple[int, dict[str, Any]]:
    patient = httpx.post(f"{site.url}/api/v1/patients", headers=site.admin_headers, json={
        "display_name": unique("Borger"), "team": site.team, "schedule": SCHEDULE})
    assert patient.status_code == 201, patient.text
    device = httpx.post(f"{site.url}/api/v1/patients/{patient.json()['id']}/devices",
                        headers=site.admin_headers)
    assert device.status_code == 201, device.text
    return patient.json()["id"], device.json()


def publish(settings: Settings, device: dict[str, Any], readings: list[dict[str, Any]]) -> None:
    """Publish one protocol v1 batch as the tablet, QoS 1, and wait for the broker's PUBACK."""
    as_tablet(settings, device, device_topics(device["device_id"]).readings, {
        "v": 1, "msg_id": uuid.uuid4().hex, "sent_at": datetime.now(UTC).isoformat(),
        "readings": readings})


def as_tablet(settings: Settings, device: dict[str, Any], topic: str, payload: dict[str, Any],
              *, retain: bool = False) -> None:
    """Publish ``payload`` on ``topic`` as the tablet, QoS 1, and wait for the broker's PUBACK."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device["mqtt_username"],
                         protocol=mqtt.MQTTv5)
    client.username_pw_set(device["mqtt_username"], device["mqtt_password"])
    secure_mqtt(client, settings)
    client.connect(settings.mqtt_host, settings.mqtt_port)
    client.loop_start()
    info = client.publish(topic, orjson.dumps(payload), qos=1, retain=retain)
    info.wait_for_publish(timeout=10)
    client.disconnect()
    client.loop_stop()


def test_a_red_reading_appears_live_and_is_acknowledged(
        site: Site, page: Page, settings: Settings, artifacts_dir: Path,
        committed_conn: psycopg.Connection[Any]) -> None:
    patient_id, device = enrol_with_device(site)
    nurse = create_user(committed_conn, role="nurse", teams=[site.team])
    now = datetime.now(UTC)
    publish(settings, device, [
        {"type": "spo2", "value": 94, "unit": "%",
         "measured_at": (now - timedelta(days=d, hours=1)).isoformat()} for d in (3, 2, 1)])
    login(page, site, nurse)
    row = page.locator(f"tr[data-patient='{patient_id}']")
    expect(row).to_have_attribute("data-severity", "none")
    shot(page, artifacts_dir, "1-triage-quiet")

    publish(settings, device, [{"type": "spo2", "value": 82, "unit": "%",
                                "measured_at": now.isoformat()}])
    # No reload: the alert arrives over server-sent events and the list redraws itself.
    expect(row).to_have_attribute("data-severity", "red", timeout=15_000)
    assert page.locator("tbody tr").first.get_attribute("data-patient") == str(patient_id)
    shot(page, artifacts_dir, "2-triage-red-alert")

    row.click()
    expect(page.locator("#patient-name")).to_be_visible()
    spo2_chart = page.locator("svg[data-type='spo2']")
    expect(spo2_chart.locator("circle.point")).to_have_count(4)
    expect(spo2_chart.locator("rect.band-red")).to_have_count(1)
    expect(spo2_chart.locator("circle.marker-red")).to_have_count(1)
    alert = page.locator(".alert[data-status='open']").filter(has_text="82")
    expect(alert.locator("[data-severity='red']")).to_be_visible()
    shot(page, artifacts_dir, "3-patient-with-plot")

    alert.locator("input.note").fill("Ringet op, ilt justeret")
    alert.locator("button.ack").click()
    expect(page.locator(".alert[data-status='acknowledged']")).to_have_count(1)
    shot(page, artifacts_dir, "4-acknowledged")

    alerts = httpx.get(f"{site.url}/api/v1/alerts", params={"patient_id": patient_id},
                       headers=site.login_headers(nurse)).json()
    assert [(a["severity"], a["status"]) for a in alerts] == [("red", "acknowledged")]
    note = committed_conn.execute(
        "select acknowledge_note from alerts where patient_id = %s", (patient_id,)).fetchone()
    assert note == {"acknowledge_note": "Ringet op, ilt justeret"}


def test_clinician_previews_and_saves_thresholds(
        site: Site, page: Page, settings: Settings, artifacts_dir: Path,
        committed_conn: psycopg.Connection[Any]) -> None:
    patient_id, device = enrol_with_device(site)
    clinician = create_user(committed_conn, role="clinician", teams=[site.team])
    now = datetime.now(UTC)
    publish(settings, device, [
        {"type": "spo2", "value": value, "unit": "%",
         "measured_at": (now - timedelta(days=d)).isoformat()}
        for d, value in [(6, 93), (5, 91), (4, 89), (3, 92), (2, 89), (1, 93)]])
    open_patient(page, site, clinician, patient_id)
    expect(page.locator("#editor")).to_be_visible()

    page.fill("#th-spo2-absolute-yellow_low", "92")
    page.uncheck("#th-spo2-absolute-yellow_off_while_diary_kept")
    page.click("#preview")
    expect(page.locator("#preview-result")).to_contain_text("alarmer")
    shot(page, artifacts_dir, "5-threshold-preview")

    page.click("#save-thresholds")
    expect(page.locator("#preview-result")).to_have_text("Skriv en begrundelse")
    page.fill("#threshold-reason", "Lavere habituel iltmætning")
    page.click("#save-thresholds")
    expect(page.locator("#versions li")).to_have_count(2)
    current = httpx.get(f"{site.url}/api/v1/patients/{patient_id}/thresholds",
                        headers=site.login_headers(clinician)).json()
    assert current["version"] == 2
    assert current["thresholds"]["spo2"]["absolute"]["yellow_low"] == 92
    assert current["thresholds"]["spo2"]["absolute"]["yellow_off_while_diary_kept"] is False
    assert current["reason"] == "Lavere habituel iltmætning"


def publish_stable_hypoxaemic(settings: Settings, device: dict[str, Any]) -> None:
    """21 days of SpO2 88-89 % and pulse 84-86: inside the standard profile's yellow range on
    ordinary days, so personal limits have something to propose."""
    now = datetime.now(UTC)
    publish(settings, device, [
        {"type": kind, "value": value, "unit": unit,
         "measured_at": (now - timedelta(days=d, hours=2)).isoformat()}
        for d in range(21, 0, -1)
        for kind, value, unit in (("spo2", 88 + (d % 3 == 0), "%"), ("pulse", 84 + d % 3, "/min"))])


def test_burden_list_proposal_and_disposition(
        site: Site, page: Page, settings: Settings, artifacts_dir: Path,
        committed_conn: psycopg.Connection[Any]) -> None:
    """A patient stable at SpO2 88-89 on the standard profile: alerts on ordinary days, so she
    tops the alert-burden list with a pending proposal; the clinician accepts it on the patient
    page, and resolves an alert with a disposition."""
    patient_id, device = enrol_with_device(site)
    clinician = create_user(committed_conn, role="clinician", teams=[site.team])
    publish_stable_hypoxaemic(settings, device)
    login(page, site, clinician)
    page.click("#burden-link")
    row = page.locator(f"#burden tr[data-patient='{patient_id}']")
    expect(row).to_contain_text("spo2.absolute.yellow_low", timeout=15_000)
    shot(page, artifacts_dir, "6-alert-burden")

    row.click()
    expect(page.locator("#proposal-changes")).to_contain_text("spo2.absolute.yellow_low: 90 → 87")
    expect(page.locator("#proposal-preview")).to_contain_text("alarmer")
    shot(page, artifacts_dir, "7-personal-limit-proposal")
    page.click("#accept-proposal")
    expect(page.locator("#versions li")).to_have_count(2)
    current = httpx.get(f"{site.url}/api/v1/patients/{patient_id}/thresholds",
                        headers=site.login_headers(clinician)).json()
    assert current["thresholds"]["spo2"]["absolute"]["yellow_low"] == 87
    assert current["reason"] == "Personlige grænser fra indkøringsperioden"

    alert = page.locator(".alert[data-status='open']").first
    alert.locator("select.disposition").select_option("home_visit")
    alert.locator("button.resolve").click()
    expect(page.locator("#toast")).to_be_visible()
    shot(page, artifacts_dir, "8-resolved-with-disposition")
    dispositions = committed_conn.execute(
        "select disposition from alerts where patient_id = %s and status = 'resolved'",
        (patient_id,)).fetchall()
    assert dispositions == [{"disposition": "home_visit"}]
    # The outcomes table of the burden page counts the disposition (a share of 100 %: a home
    # visit is an action).
    page.goto(f"{site.url}/#/burden")
    outcome = page.locator("#outcomes tr[data-rule='absolute'][data-type='spo2']")
    expect(outcome).to_contain_text("Hjemmebesøg: 1")
    expect(outcome).to_contain_text("100 %")
    # Admitted for an exacerbation after her alerts: the page counts the admission as warned of,
    # with the figures the API gives for the team.
    headers = site.login_headers(clinician)
    assert httpx.post(f"{site.url}/api/v1/patients/{patient_id}/care-events", headers=headers,
                      json={"kind": "admission", "reason": "copd_exacerbation"}
                      ).status_code == 201
    page.reload()
    report = httpx.get(f"{site.url}/api/v1/reports/alert-outcomes", headers=headers, params={
        "since": (datetime.now(UTC) - timedelta(days=30)).isoformat()}).json()
    warned, episodes = report["admissions"], report["episodes"]
    assert warned["warned"] >= 1
    expect(page.locator("#admission-warnings")).to_contain_text(
        f"Indlæggelser for KOL-eksacerbation: {warned['admissions']}, heraf {warned['warned']}"
        " med en alarm i de 7 dage før")
    expect(page.locator("#episodes-no-action")).to_contain_text(
        f"Alarmforløb: {episodes['episodes']}, heraf vurderet uden behov for handling:"
        f" {episodes['judged_no_action']}")
    shot(page, artifacts_dir, "9-alert-outcomes")


def test_clinician_turns_auto_personalisation_on_for_a_patient(
        site: Site, page: Page, settings: Settings, artifacts_dir: Path,
        committed_conn: psycopg.Connection[Any]) -> None:
    """The patient page shows that the profile leaves automatic personalisation off; the
    clinician previews what it would change, and turns it on for this patient with a reason."""
    patient_id, device = enrol_with_device(site)
    clinician = create_user(committed_conn, role="clinician", teams=[site.team])
    publish_stable_hypoxaemic(settings, device)
    login(page, site, clinician)
    page.goto(f"{site.url}/#/patient/{patient_id}")
    state = page.locator("#auto-state")
    expect(state).to_have_attribute("data-enabled", "false")
    expect(state).to_contain_text("profilens standard (kol-standard)")
    expect(page.locator("#auto-run")).to_contain_text("Indkøringsperioden (21 dage)")
    page.click("#auto-preview")
    expect(page.locator("#auto-result")).to_contain_text("spo2.absolute.yellow_low: 90 → 87",
                                                         timeout=15_000)
    expect(page.locator("#auto-result")).to_contain_text("alarmer")
    page.click("#auto-toggle")  # no reason: refused in the page
    expect(page.locator("#auto-result")).not_to_contain_text("90 → 87")
    page.fill("#auto-reason", "Stabil på 88-89 %")
    page.click("#auto-toggle")
    expect(state).to_have_attribute("data-enabled", "true")
    expect(state).to_contain_text("Stabil på 88-89 %")
    expect(page.locator("#auto-toggle")).to_have_text("Slå fra")
    shot(page, artifacts_dir, "10-auto-personalisation")
    stored = committed_conn.execute(
        "select auto_personalise, reason from patient_personalisation_settings"
        " where patient_id = %s", (patient_id,)).fetchone()
    assert stored == {"auto_personalise": True, "reason": "Stabil på 88-89 %"}


def test_nurse_sees_no_editor_and_labels_switch_language(site: Site, page: Page,
                                                         committed_conn: psycopg.Connection[Any]
                                                         ) -> None:
    patient_id, _device = enrol_with_device(site)
    nurse = create_user(committed_conn, role="nurse", teams=[site.team])
    login(page, site, nurse)
    expect(page.locator("#triage th").first).to_have_text("Alvor")
    page.click("#lang")
    expect(page.locator("#triage th").first).to_have_text("Severity")
    page.goto(f"{site.url}/#/patient/{patient_id}")
    expect(page.locator("#patient-name")).to_be_visible()
    expect(page.locator("#editor")).to_have_count(0)
    page.click("#lang")
    expect(page.locator(".chart h2").first).to_contain_text("Iltmætning")


def test_acknowledging_an_alert_that_escalated_meanwhile_is_refused_and_shown_anew(
        site: Site, page: Page, settings: Settings, artifacts_dir: Path,
        committed_conn: psycopg.Connection[Any]) -> None:
    patient_id, device = enrol_with_device(site)
    nurse = create_user(committed_conn, role="nurse", teams=[site.team])
    publish(settings, device, [{"type": "spo2", "value": 89, "unit": "%",
                                "measured_at": datetime.now(UTC).isoformat()}])
    login(page, site, nurse)
    page.locator(f"tr[data-patient='{patient_id}']").click()
    alert = page.locator(".alert[data-status='open']")
    expect(alert).to_have_attribute("data-severity", "yellow", timeout=15_000)
    # The alert turns red while the nurse looks at the yellow one (no event reaches the page
    # before her click).
    committed_conn.execute("update alerts set severity = 'red' where patient_id = %s",
                           (patient_id,))
    alert.locator("button.ack").click()
    expect(page.locator("#toast")).to_contain_text("forværret")
    expect(page.locator(".alert[data-status='open']")).to_have_attribute("data-severity", "red")
    shot(page, artifacts_dir, "5-alert-changed")
    row = committed_conn.execute("select status from alerts where patient_id = %s",
                                 (patient_id,)).fetchone()
    assert row == {"status": "open"}
