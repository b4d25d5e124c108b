"""A tablet in Chromium, for the browser tests of the tablet app and of the messages: its
browser context, its pairing with a nurse's one-time code, losing its network."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.api.helpers import create_user
from tests.dashboard.conftest import Site

SIZES = {"landscape": {"width": 1280, "height": 800}, "portrait": {"width": 800, "height": 1280}}


def pairing_code(site: Site, db: psycopg.Connection[Any], patient: int) -> str:
    nurse = site.login_headers(create_user(db, role="nurse", teams=[site.team]))
    response = httpx.post(f"{site.url}/api/v1/patients/{patient}/pairing", headers=nurse)
    assert response.status_code == 201, response.text
    code: str = response.json()["code"]
    return code


def tablet(browser: Browser, size: str = "landscape") -> tuple[BrowserContext, Page]:
    context = browser.new_context(viewport=SIZES[size], locale="da-DK",
                                  timezone_id="Europe/Copenhagen")
    return context, context.new_page()


def pair(page: Page, site: Site, code: str) -> None:
    page.goto(f"{site.url}/tablet/")
    page.get_by_label("Kode").fill(code[:4] + " " + code[4:])
    page.get_by_role("button", name="Forbind").click()


def go_offline(page: Page) -> None:
    """Once its service worker controls the page (so that it also loads offline), the tablet
    loses its network and says so."""
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=20000)
    page.context.set_offline(True)
    expect(page.locator("#connection")).to_have_text(
        "Ingen forbindelse. Dine målinger gemmes og sendes, når der er net igen.", timeout=60000)
