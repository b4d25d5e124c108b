"""Issue #19 in the browser: the manager's outcomes page (plots, table, CSV, no patient), and
on the patient page the consents, a care event recorded in a few taps, 'admitted' as an
alert's disposition recorded once, and care events withdrawn and corrected. axe-core finds no
serious violation; screenshots in Danish at 1280×800 go to tests/artifacts."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from playwright.sync_api import Browser, Page, expect

from outcomes.service import CSV_COLUMNS
from simulators import repository
from simulators.history import generate_history
from tests.api.helpers import PASSWORD, create_user
from tests.conftest import unique
from tests.dashboard.conftest import Site
from tests.dashboard.test_accessibility import check
from tests.dashboard.test_dashboard import SCHEDULE

pytestmark = pytest.mark.browser
SIZE = {"width": 1280, "height": 800}


def _login(page: Page, site: Site, username: str) -> None:
    page.goto(site.url + "/")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")


@pytest.fixture
def danish_page(browser: Browser) -> Any:
    context = browser.new_context(viewport=SIZE, locale="da-DK", accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    missing = page.evaluate("window.kolMissingKeys || []")
    context.close()
    assert missing == [], f"strings without a translation: {missing}"
    assert errors == [], errors


def test_the_manager_sees_plots_a_table_and_the_csv_and_no_patient(
        site: Site, danish_page: Page, committed_conn: psycopg.Connection[Any],
        artifacts_dir: Path) -> None:
    page = danish_page
    teams = [unique("Nord"), unique("Syd")]
    histories = generate_history(teams=teams, patients_per_team=12, months=18, seed=5,
                                 now=datetime.now(UTC))
    repository.insert_history(committed_conn, histories)
    manager = create_user(committed_conn, role="manager", teams=[site.team])
    _login(page, site, manager)
    expect(page.locator("[data-plot]")).to_have_count(7)
    expect(page.locator("#nav a")).to_have_text(["Resultater"])
    expect(page.locator("#nav-notifications")).to_be_hidden()
    # A plot has a line for the months shown, and a dashed reference line.
    assert page.locator("[data-plot=admissions] path.series").count() == 1
    assert page.locator("[data-plot=admissions] line.ref").count() >= 1
    page.select_option("#o-group", label=teams[0])
    expect(page.locator("#o-heading")).to_contain_text(teams[0])
    page.select_option("#o-group", index=0)
    expect(page.locator("#o-heading")).to_contain_text("Hele kommunen")
    problems = check(page, artifacts_dir, "outcomes-da", "1280x800")
    assert problems == []
    page.screenshot(path=str(artifacts_dir / "dashboard-outcomes-da-1280x800.png"))
    # The table: the admissions for an exacerbation, and the share an alert warned of, with the
    # reference year's figure from the API in its last column.
    year = httpx.get(f"{site.url}/api/v1/outcomes", headers=site.login_headers(manager)).json()[
        "groups"][0]["reference"]
    warned = page.locator(".outcomes-table tr", has_text="Andel varslet af en alarm")
    expect(warned.locator("td").last).to_have_text(
        "–" if year["share_warned"] is None else f"{round(year['share_warned'] * 100)} %")
    expect(page.locator(".outcomes-table tr", has_text="Indlæggelser for KOL-eksacerbation")
           .locator("td").last).to_have_text(str(year["exacerbation_admissions"]))
    table = page.locator(".outcomes-table")
    table.scroll_into_view_if_needed()
    table.screenshot(path=str(artifacts_dir / "dashboard-outcomes-table-da.png"))
    text = page.content()
    assert not any(h.name in text for h in histories)
    with page.expect_download() as download:
        page.click("#o-csv")
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert {r[0] for r in rows[1:]} >= {"", *teams}


def test_consent_care_event_and_admitted_on_the_patient_page(
        site: Site, danish_page: Page, committed_conn: psycopg.Connection[Any],
        artifacts_dir: Path) -> None:
    page = danish_page
    response = httpx.post(f"{site.url}/api/v1/patients", headers=site.admin_headers, json={
        "display_name": unique("Borger"), "team": site.team, "schedule": SCHEDULE,
        "consents": [{"scope": "telemonitoring", "given_on": "2026-11-02"}]})
    assert response.status_code == 201, response.text
    pid = response.json()["id"]
    alert = committed_conn.execute(
        "insert into alerts (patient_id, rule, type, severity, reason, value)"
        " values (%s, 'absolute', 'spo2', 'red', 'SpO2 84', 84) returning id", (pid,)).fetchone()
    assert alert is not None
    nurse = create_user(committed_conn, role="nurse", teams=[site.team])
    _login(page, site, nurse)
    expect(page.locator("#triage")).to_be_visible()
    page.goto(f"{site.url}/#/patient/{pid}")
    expect(page.locator("#consents [data-scope=telemonitoring]")).to_contain_text(
        "Telemonitorering")
    # The hospital consent, recorded by the nurse.
    page.click("#add-consent summary")
    page.select_option("#consent-scope", "share_hospital")
    page.click("#consent-form button[type=submit]")
    expect(page.locator("#consents [data-scope=share_hospital]")).to_have_count(1)
    # An outpatient visit in three taps and a name.
    page.select_option("#care-kind", "outpatient")
    page.fill("#care-hospital", "Hvidovre Hospital")
    page.select_option("#care-reason", "planned_control")
    page.click("#care-form button[type=submit]")
    expect(page.locator("#care-events [data-kind=outpatient]")).to_contain_text("Hvidovre")
    # "Indlagt" on the red alert asks for the hospital, and the admission is recorded with it.
    row = page.locator(f"[data-alert-id='{alert['id']}']")
    expect(row.locator(".admission")).to_be_hidden()
    row.locator(".disposition").select_option("admitted")
    expect(row.locator(".admission")).to_be_visible()
    row.locator("[name=hospital]").fill("Bispebjerg Hospital")
    row.locator(".ack").click()
    expect(page.locator("#care-events [data-kind=admission]")).to_contain_text("Bispebjerg")
    expect(page.locator("#pauses [data-pause]")).to_have_count(1)
    expect(row.locator(".admission")).to_be_hidden()
    problems = check(page, artifacts_dir, "patient-care-events-da", "1280x800")
    assert problems == []
    assert committed_conn.execute(
        "select count(*) as n from care_events where patient_id = %s and kind = 'admission'",
        (pid,)).fetchone() == {"n": 1}


def test_a_care_event_withdrawn_and_one_corrected_on_the_patient_page(
        site: Site, danish_page: Page, committed_conn: psycopg.Connection[Any],
        artifacts_dir: Path) -> None:
    page = danish_page
    response = httpx.post(f"{site.url}/api/v1/patients", headers=site.admin_headers, json={
        "display_name": unique("Borger"), "team": site.team, "schedule": SCHEDULE})
    assert response.status_code == 201, response.text
    pid = response.json()["id"]
    events = {}
    for kind, hospital in (("admission", "Hvidovre Hospital"), ("outpatient", "Herlev")):
        recorded = httpx.post(f"{site.url}/api/v1/patients/{pid}/care-events",
                              headers=site.admin_headers,
                              json={"kind": kind, "hospital": hospital, "reason": "heart"})
        assert recorded.status_code == 201, recorded.text
        events[kind] = recorded.json()["id"]
    nurse = create_user(committed_conn, role="nurse", teams=[site.team])
    _login(page, site, nurse)
    expect(page.locator("#triage")).to_be_visible()
    page.goto(f"{site.url}/#/patient/{pid}")
    expect(page.locator("#pauses [data-pause]")).to_have_count(1)
    expect(page.locator("#header-pauses")).to_contain_text("Indlagt: Hvidovre Hospital")
    # The admission was the wrong patient's: withdrawn with the reason, shown struck through.
    admission = page.locator(f"#care-events [data-care-event='{events['admission']}']")
    admission.locator("summary").click()
    # The reason is mandatory: without it nothing is sent.
    admission.locator("button[value=withdraw]").click()
    expect(admission.locator("s")).to_have_count(0)
    admission.locator("[name=withdrawal_reason]").fill("Registreret på forkert borger")
    admission.locator("button[value=withdraw]").click()
    withdrawn = page.locator(f"#care-events [data-care-event='{events['admission']}']")
    expect(withdrawn).to_have_attribute("data-withdrawn", "true")
    expect(withdrawn.locator("s")).to_contain_text("Hvidovre Hospital")
    expect(withdrawn).to_contain_text("Registreret på forkert borger")
    expect(withdrawn).to_contain_text(f"af {nurse}")
    expect(page.locator("#pauses [data-pause]")).to_have_count(0)
    expect(page.locator("#header-pauses")).to_be_empty()
    # The outpatient visit was an emergency-department visit: corrected in place.
    visit = page.locator(f"#care-events [data-care-event='{events['outpatient']}']")
    visit.locator("summary").click()
    expect(visit.locator("[name=hospital]")).to_have_value("Herlev")
    visit.locator("[name=kind]").select_option("emergency")
    visit.locator("[name=withdrawal_reason]").fill("Var akutmodtagelse")
    visit.locator("button[value=correct]").click()
    expect(page.locator("#care-events [data-kind=emergency]:not([data-withdrawn])")
           ).to_contain_text("Herlev")
    corrected = page.locator(f"#care-events [data-care-event='{events['outpatient']}']")
    expect(corrected).to_contain_text("rettet")
    expect(corrected).to_contain_text("Var akutmodtagelse")
    problems = check(page, artifacts_dir, "patient-care-event-withdrawn-da", "1280x800")
    assert problems == []
    rows = committed_conn.execute(
        "select kind, withdrawn_at is not null as withdrawn, withdrawal_reason, replaces_id"
        " from care_events where patient_id = %s order by id", (pid,)).fetchall()
    assert rows == [
        {"kind": "admission", "withdrawn": True,
         "withdrawal_reason": "Registreret på forkert borger", "replaces_id": None},
        {"kind": "outpatient", "withdrawn": True, "withdrawal_reason": "Var akutmodtagelse",
         "replaces_id": None},
        {"kind": "emergency", "withdrawn": False, "withdrawal_reason": "",
         "replaces_id": events["outpatient"]}]
