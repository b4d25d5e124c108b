"""End to end in Chromium (docs/messages.md): the patient writes a message and asks to be called
back on her tablet while it is offline, reloads, comes back online and both are stored once; the
nurse sees the unread badge in the triage list, opens the patient and replies; the tablet shows
the reply and that the team read her messages, and the dashboard that she read the reply. axe-core
finds nothing serious or critical on the changed screens; screenshots in Danish land in
tests/artifacts."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.api.helpers import PASSWORD, create_user
from tests.conftest import wait_for
from tests.dashboard.conftest import Site
from tests.tablet.chromium import go_offline
from tests.tablet.conftest import PairedTablet
from tests.tablet.test_tablet_browser import check_screen, new_patient, no_serious_axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("fresh_throttle")]


def stored(db: psycopg.Connection[Any], patient: int) -> list[tuple[str, str, bool]]:
    return [(r["direction"], r["body"], r["callback"]) for r in db.execute(
        "select direction, body, callback from patient_messages where patient_id = %s"
        " order by id", (patient,))]


def dashboard(browser: Browser, site: Site, username: str) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="da-DK",
                                  timezone_id="Europe/Copenhagen")
    page = context.new_page()
    page.goto(site.url + "/")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#triage")).to_be_visible()
    return page


def test_tablet_message_unread_badge_reply_and_read_receipts(
        site: Site, browser: Browser, paired_tablet: PairedTablet, db: psycopg.Connection[Any],
        artifacts_dir: Path) -> None:
    patient = new_patient(db, site)
    pad = paired_tablet(patient)
    nurse_page: Page | None = None
    try:
        # Offline: the message and the call-back request wait in the outbox, across a reload.
        go_offline(pad)
        pad.get_by_role("button", name="Beskeder").click()
        expect(pad.get_by_role("heading", level=1)).to_have_text("Beskeder")
        pad.get_by_label("Din besked").fill("Jeg hoster mere end i går og har gult slim.")
        pad.get_by_role("button", name="Send besked").click()
        expect(pad.get_by_text("Din besked sendes til sygeplejersken.")).to_be_visible()
        pad.get_by_role("button", name="Ring mig op").click()
        expect(pad.locator("ul.thread li[data-state=pending]")).to_have_count(2)
        pad.reload()
        pad.get_by_role("button", name="Beskeder").click()
        expect(pad.locator("ul.thread li[data-state=pending]")).to_have_count(2)
        check_screen(pad, artifacts_dir, "11-message-offline")
        assert stored(db, patient) == []

        pad.context.set_offline(False)
        expect(pad.locator("ul.thread li[data-state=pending]")).to_have_count(0, timeout=60000)
        expect(pad.locator("ul.thread li.mine")).to_have_count(2, timeout=30000)
        wait_for(lambda: len(stored(db, patient)) == 2)
        time.sleep(2)  # a duplicate publish would have landed by now
        assert stored(db, patient) == [
            ("patient", "Jeg hoster mere end i går og har gult slim.", False),
            ("patient", "", True)]

        # The nurse: the badge in the triage list, the thread on the patient page, a reply.
        nurse = create_user(db, role="nurse", teams=[site.team])
        nurse_page = dashboard(browser, site, nurse)
        row = nurse_page.locator(f"#triage tr[data-patient='{patient}']")
        expect(row.locator(".msg-badge")).to_have_text("✉ 2 ulæste", timeout=30000)
        no_serious_axe_violations(nurse_page)
        nurse_page.screenshot(path=str(artifacts_dir / "dashboard-messages-1-triage-badge.png"),
                              full_page=True)
        row.get_by_role("link").click()
        card = nurse_page.locator("#messages")
        expect(card.locator("li.msg-patient")).to_have_count(2)
        expect(card.locator(".msg-callback")).to_have_text("Beder om at blive ringet op")
        expect(card.locator("#msg-count")).to_have_text("2 ulæste")
        card.get_by_label("Svar til borgeren (vises på tabletten)").fill(
            "Vi ringer dig op i eftermiddag. Tag din anfaldsmedicin efter planen.")
        card.get_by_role("button", name="Send svar").click()
        expect(card.locator("li.msg-team .msg-receipt")).to_have_text(
            "Ikke læst af borgeren endnu")
        expect(card.locator("li.msg-patient[data-read=yes]")).to_have_count(2)

        # The tablet: the reply (fetched as its device), and that the team read hers.
        pad.get_by_role("button", name="Til forsiden").click()
        expect(pad.get_by_role("button", name="Beskeder (1 nyt svar)")).to_be_visible(
            timeout=30000)
        pad.get_by_role("button", name="Beskeder (1 nyt svar)").click()
        expect(pad.locator("ul.thread li.team .text")).to_have_text(
            "Vi ringer dig op i eftermiddag. Tag din anfaldsmedicin efter planen.")
        expect(pad.locator("ul.thread li.mine .state")).to_contain_text(
            ["Læst af sygeplejersken", "Læst af sygeplejersken"])
        check_screen(pad, artifacts_dir, "12-message-reply")

        # Her read receipt reaches the dashboard.
        expect(card.locator("li.msg-team .msg-receipt")).to_contain_text(
            "Læst af borgeren", timeout=30000)
        row_read = db.execute("select read_by from patient_messages where patient_id = %s"
                              " and direction = 'team'", (patient,)).fetchone()
        assert row_read == {"read_by": "patient"}
        no_serious_axe_violations(nurse_page)
        nurse_page.screenshot(path=str(artifacts_dir / "dashboard-messages-2-patient-thread.png"),
                              full_page=True)

        # Offline again and reloaded: the tablet still shows the reply (kept in IndexedDB).
        pad.context.set_offline(True)
        pad.reload()
        pad.get_by_role("button", name="Beskeder").click()
        expect(pad.locator("ul.thread li.team .text")).to_have_text(
            "Vi ringer dig op i eftermiddag. Tag din anfaldsmedicin efter planen.")
        expect(pad.locator("ul.thread li.mine")).to_have_count(2)
        pad.context.set_offline(False)
        nurse_page.goto(site.url + "/#/triage")
        expect(nurse_page.locator(f"#triage tr[data-patient='{patient}']")).to_be_visible()
        expect(nurse_page.locator(f"#triage tr[data-patient='{patient}'] .msg-badge")
               ).to_have_count(0)
        missing = nurse_page.evaluate("window.kolMissingKeys || []")
        assert missing == [], json.dumps(missing)
    finally:
        if nurse_page is not None:
            nurse_page.context.close()
