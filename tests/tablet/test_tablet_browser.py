"""The tablet app in headless Chromium against the real stack (API over HTTPS, Mosquitto over
secure websockets, kol-gateway writing TimescaleDB): pair with a code, measure, receipt, stored;
offline, reload and back online without losing or doubling a reading; refused codes; a replaced
tablet that can no longer send. Accessibility is checked with axe-core on every screen."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from datetime import time as time_of_day
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest
from playwright.sync_api import Browser, Page, expect
from psycopg.types.json import Jsonb

from tests.api.helpers import create_user
from tests.conftest import ROOT, insert_patient, wait_for
from tests.dashboard.conftest import Site
from tests.tablet.chromium import go_offline, pair, pairing_code, tablet
from tests.tablet.conftest import PairedTablet

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("fresh_throttle")]

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
EVERY_DAY = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "deadline": "23:59",
             "types": ["spo2", "pulse", "weight"]}


def new_patient(db: psycopg.Connection[Any], site: Site) -> int:
    patient = insert_patient(db, team=site.team, name="Inger Sørensen")
    db.execute("update patients set schedule = %s where id = %s", (Jsonb(EVERY_DAY), patient))
    return patient


def no_serious_axe_violations(page: Page) -> None:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    serious = [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
               for v in result["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == [], json.dumps(serious, indent=1)


def check_screen(page: Page, artifacts: Path, name: str) -> None:
    """axe-core finds nothing serious, the body text is at least 20 px, every control at least
    48 px; and a screenshot for people to look at."""
    no_serious_axe_violations(page)
    sizes = page.evaluate("""() => ({
        body: parseFloat(getComputedStyle(document.querySelector('main p, main li, main label')
                                          || document.body).fontSize),
        small: [...document.querySelectorAll('button, input')]
          .filter((e) => e.offsetParent !== null)
          .map((e) => e.getBoundingClientRect())
          .filter((r) => r.height < 48 || r.width < 48)
          .map((r) => [r.width, r.height]),
    })""")
    assert sizes["body"] >= 20, sizes
    assert sizes["small"] == [], sizes
    width = page.viewport_size["width"] if page.viewport_size else 0
    page.screenshot(path=str(artifacts / f"tablet-{name}-{width}.png"), full_page=True)


def enter(page: Page, values: dict[str, str]) -> None:
    page.get_by_role("button", name="Mål nu").click()
    for heading in ("Iltmætning", "Puls", "Vægt"):
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        if heading in values:
            page.locator("#value").fill(values[heading])
            page.get_by_role("button", name="Næste").click()
        else:
            page.get_by_role("button", name="Spring over").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Er tallene rigtige?")


def readings(db: psycopg.Connection[Any], patient: int) -> list[tuple[str, float]]:
    return [(r["type"], r["value"]) for r in db.execute(
        "select type, value from readings where patient_id = %s order by measured_at, type",
        (patient,))]


@pytest.mark.parametrize("size", ["landscape", "portrait"])
def test_pair_measure_receipt_stored(site: Site, browser: Browser, db: psycopg.Connection[Any],
                                     artifacts_dir: Path, size: str) -> None:
    patient = new_patient(db, site)
    code = pairing_code(site, db, patient)
    context, page = tablet(browser, size)
    try:
        page.goto(f"{site.url}/tablet/")
        expect(page.get_by_role("heading", level=1)).to_have_text("Forbind tabletten")
        check_screen(page, artifacts_dir, "1-pair")
        pair(page, site, code)
        expect(page.get_by_text("Tabletten er nu forbundet til Inger Sørensen.")).to_be_visible()
        page.get_by_role("button", name="Fortsæt").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("I dag")
        expect(page.locator("#connection")).to_have_text("Forbundet", timeout=20000)
        expect(page.locator("ul.plan li")).to_have_count(3)
        check_screen(page, artifacts_dir, "2-today")

        page.get_by_role("button", name="Mål nu").click()
        page.locator("#value").fill("120")
        page.get_by_role("button", name="Næste").click()
        expect(page.get_by_role("alert")).to_have_text(
            "Iltmætning skal være et tal mellem 50 og 100 %.")
        expect(page.locator("#value")).to_have_value("120")
        check_screen(page, artifacts_dir, "3-spo2-out-of-range")
        page.get_by_role("button", name="Tilbage").click()
        enter(page, {"Iltmætning": "93", "Puls": "88", "Vægt": "71,4"})
        check_screen(page, artifacts_dir, "4-confirm")
        page.get_by_role("button", name="Ja, send").click()
        expect(page.get_by_text("Sendt ✓")).to_have_count(3, timeout=30000)
        check_screen(page, artifacts_dir, "5-sent")
        assert sorted(readings(db, patient)) == [("pulse", 88.0), ("spo2", 93.0),
                                                 ("weight", 71.4)]
        status = db.execute("select d.status from devices d where d.patient_id = %s and active",
                            (patient,)).fetchone()
        assert status is not None
        assert status["status"]["state"] == "online"
        assert status["status"]["app"] == "1.0.0"

        page.get_by_role("button", name="Til forsiden").click()
        expect(page.locator("ul.plan .done")).to_have_count(3)
        page.get_by_role("button", name="Mine målinger").click()
        expect(page.locator("ul.readings li")).to_have_count(3)
        check_screen(page, artifacts_dir, "6-history")

        # The tablet goes away without saying goodbye: the broker publishes its will.
        page.close()

        def status_state() -> str:
            row = db.execute("select status from devices where patient_id = %s and active",
                             (patient,)).fetchone()
            assert row is not None
            return str(row["status"]["state"])

        wait_for(lambda: status_state() == "offline", timeout=60)
    finally:
        context.close()


def test_offline_three_measurements_survive_a_reload_and_are_stored_once(
        site: Site, paired_tablet: PairedTablet, db: psycopg.Connection[Any],
        artifacts_dir: Path) -> None:
    patient = new_patient(db, site)
    page = paired_tablet(patient)
    go_offline(page)
    for spo2 in ("91", "92", "94"):
        enter(page, {"Iltmætning": spo2})
        page.get_by_role("button", name="Ja, send").click()
        expect(page.get_by_text("Venter på netværk")).to_have_count(1)
        page.get_by_role("button", name="Til forsiden").click()
    expect(page.locator("ul.readings li[data-state=pending]")).to_have_count(3)
    page.reload()   # offline: the service worker serves the app, IndexedDB the outbox
    expect(page.locator("ul.readings li[data-state=pending]")).to_have_count(3)
    check_screen(page, artifacts_dir, "7-offline-waiting")
    assert readings(db, patient) == []

    page.context.set_offline(False)
    expect(page.locator("ul.readings li[data-state=pending]")).to_have_count(0, timeout=60000)
    wait_for(lambda: len(readings(db, patient)) == 3)
    time.sleep(2)   # any duplicate publish would have landed by now
    assert readings(db, patient) == [("spo2", 91.0), ("spo2", 92.0), ("spo2", 94.0)]
    batches = db.execute("select count(*) as n from ingested_messages m join devices d"
                         " on d.device_id = m.device_id where d.patient_id = %s",
                         (patient,)).fetchone()
    assert batches == {"n": 3}


def test_expired_and_reused_codes_are_refused_in_danish(
        site: Site, browser: Browser, db: psycopg.Connection[Any], artifacts_dir: Path) -> None:
    patient = new_patient(db, site)
    code = pairing_code(site, db, patient)
    first, page = tablet(browser)
    try:
        pair(page, site, code)
        expect(page.get_by_role("button", name="Fortsæt")).to_be_visible()
    finally:
        first.close()
    second, page = tablet(browser)
    try:
        pair(page, site, code)
        expect(page.get_by_role("alert")).to_have_text(
            "Koden er allerede brugt. Bed sygeplejersken om en ny kode.")
        check_screen(page, artifacts_dir, "8-code-used")

        expired = pairing_code(site, db, patient)
        db.execute("update pairing_codes set created_at = now() - interval '20 minutes',"
                   " expires_at = now() - interval '5 minutes' where used_at is null"
                   " and patient_id = %s", (patient,))
        page.get_by_label("Kode").fill(expired)
        page.get_by_role("button", name="Forbind").click()
        expect(page.get_by_role("alert")).to_have_text(
            "Koden er udløbet. Bed sygeplejersken om en ny kode.")
        page.get_by_label("Kode").fill("12")
        page.get_by_role("button", name="Forbind").click()
        expect(page.get_by_role("alert")).to_have_text("Koden skal være 8 cifre.")
    finally:
        second.close()


def test_a_replaced_tablet_can_no_longer_send(
        site: Site, paired_tablet: PairedTablet, db: psycopg.Connection[Any],
        artifacts_dir: Path) -> None:
    patient = new_patient(db, site)
    old = paired_tablet(patient)
    old_device = old.evaluate("""() => new Promise((resolve) => {
        const open = indexedDB.open('kol-tablet');
        open.onsuccess = () => {
            const get = open.result.transaction('kv').objectStore('kv').get('device');
            get.onsuccess = () => resolve(get.result.device_id);
        };
    })""")

    paired_tablet(patient, "portrait")   # her new tablet replaces the old one

    # The broker dropped the old tablet; it cannot send, and says so in plain Danish.
    enter(old, {"Iltmætning": "90"})
    old.get_by_role("button", name="Ja, send").click()
    expect(old.get_by_role("alert")).to_have_text(
        "Tabletten er ikke længere forbundet. Kontakt sygeplejersken.", timeout=90000)
    check_screen(old, artifacts_dir, "9-replaced")
    time.sleep(2)
    assert db.execute("select count(*) as n from readings where device_id = %s",
                      (old_device,)).fetchone() == {"n": 0}

    # Paired anew, the tablet does not send the old device's reading under the new one (it
    # may be another patient's tablet now) and says why it was not sent.
    old.get_by_label("Kode").fill(pairing_code(site, db, patient))
    old.get_by_role("button", name="Forbind").click()
    old.get_by_role("button", name="Fortsæt").click()
    expect(old.locator("#connection")).to_have_text("Forbundet", timeout=20000)
    expect(old.locator("ul.readings li[data-state=rejected] .state")).to_have_text(
        "Tabletten er ikke længere forbundet. Kontakt sygeplejersken.")
    time.sleep(2)
    assert readings(db, patient) == []


def test_the_nurse_pairs_a_tablet_from_the_dashboard_dialog(
        site: Site, browser: Browser, db: psycopg.Connection[Any], artifacts_dir: Path) -> None:
    patient = new_patient(db, site)
    nurse = site.login_headers(create_user(db, role="nurse", teams=[site.team]))
    token = nurse["Authorization"].removeprefix("Bearer ")
    context, dashboard = tablet(browser)
    try:
        dashboard.goto(f"{site.url}/static/pairing.js")   # same origin, nothing else loaded
        dashboard.set_content("<!doctype html><html lang='da'><head><title>Dashboard</title>"
                              "</head><body><main><h1>Patient</h1></main></body></html>")
        dashboard.evaluate("""([id, token]) => import('/static/pairing.js').then((m) =>
            m.openPairingDialog({patientId: id, patientName: 'Inger Sørensen', token}))""",
                           [patient, token])
        code_text = dashboard.locator("dialog .kol-code")
        expect(code_text).to_have_text(re.compile(r"^\d{4} \d{4}$"))
        expect(dashboard.locator("dialog .kol-qr svg")).to_be_visible()
        no_serious_axe_violations(dashboard)
        dashboard.screenshot(path=str(artifacts_dir / "tablet-0-nurse-pairing-dialog.png"))
        code = code_text.inner_text().replace(" ", "")

        tab = context.new_page()
        tab.goto(f"{site.url}/tablet/#code={code}")   # what the QR code opens
        expect(tab.get_by_label("Kode")).to_have_value(code)
        tab.get_by_role("button", name="Forbind").click()
        expect(tab.get_by_text("Tabletten er nu forbundet til Inger Sørensen.")).to_be_visible()
        dashboard.get_by_role("button", name="Luk").click()
        expect(dashboard.locator("dialog")).to_have_count(0)
    finally:
        context.close()


def test_she_sees_that_the_nurse_has_seen_her_reading_and_a_reminder_in_english(
        site: Site, paired_tablet: PairedTablet, db: psycopg.Connection[Any],
        artifacts_dir: Path) -> None:
    patient = new_patient(db, site)
    nurse = site.login_headers(create_user(db, role="nurse", teams=[site.team]))
    page = paired_tablet(patient, "portrait")
    enter(page, {"Iltmætning": "84"})   # below the red limit of the standard profile
    page.get_by_role("button", name="Ja, send").click()
    expect(page.get_by_text("Sendt ✓")).to_have_count(1, timeout=30000)

    # The gateway's alert engine raises the alert; the nurse acknowledges it in the API.
    alert: dict[str, Any] = {}

    def raised() -> bool:
        items = httpx.get(f"{site.url}/api/v1/alerts", headers=nurse,
                          params={"patient_id": patient, "status": "open"}).json()
        alert.update(items[0] if items else {})
        return bool(items)

    wait_for(raised)
    ack = httpx.post(f"{site.url}/api/v1/alerts/{alert['id']}/acknowledge", headers=nurse,
                     json={"note": "ringet op", "seen_severity": alert["severity"]})
    assert ack.status_code == 200, ack.text

    page.get_by_role("button", name="Til forsiden").click()
    page.reload()
    page.get_by_role("button", name="Mine målinger").click()
    expect(page.get_by_text("Sygeplejersken har set din måling")).to_have_count(1)
    # No alarm colours on the patient's side: nothing on the screen is red.
    reds = page.evaluate("""() => [...document.querySelectorAll('body *')].filter((e) => {
        const [r, g, b] = getComputedStyle(e).color.match(/\\d+/g).map(Number);
        return r > 150 && g < 100 && b < 100; }).length""")
    assert reds == 0
    check_screen(page, artifacts_dir, "10-seen-by-nurse")

    # The deadline is near: the plan says so, and the app speaks English on request.
    db.execute("update patients set schedule = %s where id = %s", (Jsonb(
        {**EVERY_DAY, "types": ["weight"], "deadline": "23:59"}), patient))
    # Half an hour before the deadline, on the platform's (Copenhagen) today.
    copenhagen = ZoneInfo("Europe/Copenhagen")
    page.clock.set_fixed_time(datetime.combine(datetime.now(copenhagen).date(),
                                               time_of_day(23, 29), copenhagen))
    page.reload()
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Today")
    expect(page.get_by_role("status").filter(has_text="Remember")).to_have_text(
        "Remember to measure by 23:59.")
    check_screen(page, artifacts_dir, "11-reminder-english")
