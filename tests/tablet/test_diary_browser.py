"""The symptom diary on the tablet in headless Chromium against the real stack: the patient
answers it in Danish, the answers travel the device channel's responses topic through the outbox,
are stored once, and the alert engine (in kol-gateway) raises the symptom alert the nurse sees
through the API. Offline, the answers wait in the outbox and survive a reload. The monthly
question of the patient-reported outcome rides the same way when the platform says it is due."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from playwright.sync_api import Page, expect
from psycopg.types.json import Jsonb

from tests.api.helpers import create_user
from tests.conftest import insert_patient, wait_for
from tests.dashboard.conftest import Site
from tests.tablet.chromium import go_offline
from tests.tablet.conftest import PairedTablet
from tests.tablet.test_tablet_browser import EVERY_DAY, check_screen

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("fresh_throttle")]

WITH_DIARY = {**EVERY_DAY, "diary_days": EVERY_DAY["days"]}


def diary_patient(db: psycopg.Connection[Any], site: Site) -> int:
    patient = insert_patient(db, team=site.team, name="Inger Sørensen")
    db.execute("update patients set schedule = %s where id = %s", (Jsonb(WITH_DIARY), patient))
    return patient


def responses(db: psycopg.Connection[Any], patient: int) -> list[dict[str, Any]]:
    return db.execute("select questionnaire, answers, symptom_mask from questionnaire_responses"
                      " where patient_id = %s order by authored_at", (patient,)).fetchall()


def answer(page: Page, yes: set[str], note: str = "") -> None:
    for item in ("breathlessness", "sputum_volume", "sputum_colour", "cold", "wheeze",
                 "sore_throat", "cough"):
        page.locator(f"fieldset[data-item={item}]").get_by_label(
            "Ja" if item in yes else "Nej", exact=True).check()
    if note:
        page.get_by_label("Vil du fortælle os mere? (valgfrit)").fill(note)


def test_the_diary_is_answered_in_danish_stored_once_and_raises_an_alert(
        site: Site, paired_tablet: PairedTablet, db: psycopg.Connection[Any],
        artifacts_dir: Path) -> None:
    patient = diary_patient(db, site)
    page = paired_tablet(patient)
    page.get_by_role("button", name="Udfyld symptomdagbog").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Symptomdagbog")
    expect(page.locator("fieldset.question")).to_have_count(7)
    # Every question must be answered: a missing answer is said, not sent.
    page.get_by_role("button", name="Send svar").click()
    expect(page.get_by_role("alert")).to_have_text("Svar ja eller nej til alle spørgsmål.")
    answer(page, {"breathlessness", "cough"}, note="Mere slim om morgenen")
    check_screen(page, artifacts_dir, "diary-1-questions")
    page.get_by_role("button", name="Send svar").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Tak for dine svar")
    expect(page.get_by_text("Dine svar er modtaget.")).to_be_visible(timeout=30000)
    check_screen(page, artifacts_dir, "diary-2-received")
    stored = responses(db, patient)
    assert len(stored) == 1
    assert stored[0]["questionnaire"] == "kol-symptoms-v1"
    assert stored[0]["answers"]["breathlessness"] is True
    assert stored[0]["answers"]["note"] == "Mere slim om morgenen"
    assert stored[0]["symptom_mask"] == 0b1000001

    # One major symptom: the engine in the gateway raises a yellow symptom alert.
    nurse = site.login_headers(create_user(db, role="nurse", teams=[site.team]))

    def symptom_alerts() -> list[dict[str, Any]]:
        response = httpx.get(f"{site.url}/api/v1/alerts",
                             params={"patient_id": patient}, headers=nurse)
        assert response.status_code == 200, response.text
        return [a for a in response.json() if a["rule"] == "symptoms"]

    wait_for(lambda: bool(symptom_alerts()))
    alert = symptom_alerts()[0]
    assert (alert["type"], alert["severity"], alert["reason_code"]) == (
        "symptoms", "yellow", "symptoms")
    assert alert["reason"] == "1 major symptom(s) reported in the diary (yellow at 1)"

    page.get_by_role("button", name="Til forsiden").click()
    expect(page.locator("#diary-done")).to_have_text("Symptomdagbog udfyldt ✓")
    expect(page.get_by_role("button", name="Udfyld symptomdagbog")).to_have_count(0)


def test_offline_the_diary_waits_in_the_outbox_survives_a_reload_and_is_stored_once(
        site: Site, paired_tablet: PairedTablet, db: psycopg.Connection[Any],
        artifacts_dir: Path) -> None:
    patient = diary_patient(db, site)
    page = paired_tablet(patient)
    go_offline(page)
    page.get_by_role("button", name="Udfyld symptomdagbog").click()
    answer(page, {"sputum_volume", "sputum_colour"})
    page.get_by_role("button", name="Send svar").click()
    expect(page.get_by_text(
        "Dine svar er gemt og sendes, når der er forbindelse.")).to_be_visible()
    check_screen(page, artifacts_dir, "diary-3-offline")
    page.reload()   # offline: the service worker serves the app, IndexedDB the outbox
    expect(page.locator("#diary-done")).to_be_visible()
    assert responses(db, patient) == []

    page.context.set_offline(False)
    wait_for(lambda: len(responses(db, patient)) == 1, timeout=60)
    time.sleep(2)   # any duplicate publish would have landed by now
    assert [r["symptom_mask"] for r in responses(db, patient)] == [0b0000110]
    outbox = page.evaluate("""() => new Promise((resolve) => {
        const request = indexedDB.open("kol-tablet");
        request.onsuccess = () => {
          const all = request.result.transaction("outbox").objectStore("outbox").getAll();
          all.onsuccess = () => resolve(all.result.length);
        };
    })""")
    wait_for(lambda: page.evaluate("""() => new Promise((resolve) => {
        const request = indexedDB.open("kol-tablet");
        request.onsuccess = () => {
          const all = request.result.transaction("outbox").objectStore("outbox").getAll();
          all.onsuccess = () => resolve(all.result.length === 0);
        };
    })"""), timeout=60)
    assert outbox in (0, 1)


def test_the_monthly_question_is_asked_when_due_answered_in_danish_and_stored_once(
        site: Site, paired_tablet: PairedTablet, db: psycopg.Connection[Any],
        artifacts_dir: Path) -> None:
    patient = insert_patient(db, team=site.team, name="Poul Madsen")
    # Enrolled an interval ago (KOL_PRO_INTERVAL_DAYS, default 30) and never asked: due now.
    db.execute("update patients set schedule = %s, created_at = now() - interval '31 days'"
               " where id = %s", (Jsonb(EVERY_DAY), patient))
    page = paired_tablet(patient)
    # No diary day: only the question is asked.
    expect(page.get_by_role("button", name="Udfyld symptomdagbog")).to_have_count(0)
    page.get_by_role("button", name="Besvar månedens spørgsmål").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Månedens spørgsmål")
    question = page.locator("fieldset.question")
    expect(question).to_have_count(1)
    expect(question.locator("legend")).to_have_text(
        "Har du i den seneste måned kunnet klare din sygdom uden at kontakte sygehuset?")
    page.locator("#language").click()   # in English too, and back
    expect(page.get_by_role("heading", level=1)).to_have_text("This month's question")
    expect(question.locator("legend")).to_have_text(
        "In the past month, have you been able to manage your illness without contacting"
        " the hospital?")
    # One question: the missing answer is asked for in the singular.
    page.get_by_role("button", name="Send answers").click()
    expect(page.get_by_role("alert")).to_have_text("Answer yes or no to the question.")
    page.locator("#language").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Månedens spørgsmål")
    page.get_by_role("button", name="Send svar").click()
    expect(page.get_by_role("alert")).to_have_text("Svar ja eller nej til spørgsmålet.")
    question.get_by_label("Nej", exact=True).check()
    check_screen(page, artifacts_dir, "pro-1-question")
    page.get_by_role("button", name="Send svar").click()
    expect(page.get_by_text("Dine svar er modtaget.")).to_be_visible(timeout=30000)
    time.sleep(2)   # any duplicate publish would have landed by now
    stored = responses(db, patient)
    assert [(r["questionnaire"], r["answers"], r["symptom_mask"]) for r in stored] == [
        ("kol-pro-v1", {"managed_without_hospital": False}, None)]

    # Answered: no longer asked, also after the plan is read again from the platform.
    page.get_by_role("button", name="Til forsiden").click()
    expect(page.get_by_role("button", name="Mål nu")).to_be_visible()
    expect(page.locator("#pro")).to_have_count(0)
    page.reload()
    expect(page.get_by_role("button", name="Mål nu")).to_be_visible(timeout=20000)
    expect(page.locator("#connection")).to_have_text("Forbundet", timeout=20000)
    expect(page.locator("#pro")).to_have_count(0)
    assert len(responses(db, patient)) == 1
