"""The patient page's *Symptomdagbog* card (docs/questionnaires.md, "The team reads the diary"):
a nurse sees her diaries newest first with the time in Europe/Copenhagen, the symptoms she
answered yes (the major ones emphasised) and her free text; a patient without diaries shows the
empty state; axe-core finds nothing serious or critical on the page."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from playwright.sync_api import Page, expect

from core.access import Role
from tests.api.helpers import create_user
from tests.api.test_diary import QUIET, store_diary
from tests.conftest import insert_patient
from tests.dashboard.conftest import Site, open_patient, shot
from tests.dashboard.test_accessibility import check

pytestmark = pytest.mark.browser

NURSE: Role = "nurse"


def test_the_nurse_sees_her_diaries_with_symptoms_and_free_text(
        site: Site, page: Page, committed_conn: psycopg.Connection[Any],
        artifacts_dir: Path) -> None:
    patient = insert_patient(committed_conn, team=site.team)
    # 07:30 UTC on 24 November is 08:30 in Copenhagen.
    store_diary(committed_conn, patient, datetime(2026, 11, 24, 7, 30, tzinfo=UTC),
                {**QUIET, "sputum_colour": True, "cough": True,
                 "note": "Gult slim siden i går, værre om natten"})
    store_diary(committed_conn, patient, datetime(2026, 11, 23, 7, 30, tzinfo=UTC), QUIET,
                late=True)
    nurse = create_user(committed_conn, role=NURSE, teams=[site.team])
    open_patient(page, site, nurse, patient)

    card = page.locator("#diary")
    expect(card.get_by_role("heading", name="Symptomdagbog")).to_be_visible()
    entries = card.locator("li.diary-entry")
    expect(entries).to_have_count(2)
    newest = entries.nth(0)
    expect(newest).to_contain_text("24.11.2026, 08.30")
    expect(newest.locator(".diary-major strong")).to_have_text(
        "Har dit slim skiftet farve (gult, grønt eller brunt)?")
    expect(newest.locator(".diary-symptoms li")).to_have_count(2)
    expect(newest).to_contain_text("Hoster du mere end du plejer?")
    expect(newest.locator(".diary-note")).to_have_text("Gult slim siden i går, værre om natten")
    expect(entries.nth(1)).to_contain_text("Ingen symptomer ud over det sædvanlige")
    expect(entries.nth(1)).to_contain_text("modtaget sent")
    expect(newest).not_to_contain_text("modtaget sent")
    expect(card.locator("#diary-none")).to_be_hidden()
    card.scroll_into_view_if_needed()
    shot(page, artifacts_dir, "diary-card")
    assert check(page, artifacts_dir, "patient-diary", "1024x1366") == []

    # The nurse's read is in her access log.
    assert committed_conn.execute(
        "select count(*) as n from access_log where patient_id = %s and what = 'diary'"
        " and username = %s", (patient, nurse)).fetchone() == {"n": 1}


def test_a_patient_without_diaries_shows_the_empty_state(
        site: Site, page: Page, committed_conn: psycopg.Connection[Any]) -> None:
    patient = insert_patient(committed_conn, team=site.team)
    open_patient(page, site, site.admin, patient)
    expect(page.locator("#diary-none")).to_have_text("Ingen dagbøger endnu")
    expect(page.locator("#diary li.diary-entry")).to_have_count(0)
