"""A real API server, a real gateway process and headless Chromium for the dashboard tests."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from psycopg.rows import dict_row

from core.settings import Settings
from gateway.service import end_session
from tests.api.helpers import PASSWORD, create_user
from tests.api.live_server import https_files, serve
from tests.conftest import unique
from tests.gateway.conftest import gateway_process

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Site:
    url: str
    team: str
    admin: str

    @property
    def admin_headers(self) -> dict[str, str]:
        """A fresh token each time: a site may run with tokens of a few seconds."""
        return self.login_headers(self.admin)

    def login_headers(self, username: str) -> dict[str, str]:
        token = httpx.post(f"{self.url}/api/v1/auth/token",
                           data={"username": username, "password": PASSWORD})
        assert token.status_code == 200, token.text
        return {"Authorization": f"Bearer {token.json()['access_token']}"}


@pytest.fixture(scope="module")
def site(settings: Settings) -> Iterator[Site]:
    """The API on a free port and a kol-gateway (with the alert engine) on the run's database."""
    with running_site(settings) as running:
        yield running


@contextmanager
def running_site(settings: Settings) -> Iterator[Site]:
    """The API (with ``settings``) and a gateway, and a team with an admin."""
    client_id = f"dash-gw-{uuid.uuid4().hex[:8]}"
    gateway = gateway_process(settings, "--client-id", client_id)
    team = unique("team")
    try:
        with serve(settings) as (url, _app), psycopg.connect(
                settings.database_url, autocommit=True, row_factory=dict_row) as conn:
            admin = create_user(conn, role="admin", teams=[team])
            yield Site(url=url, team=team, admin=admin)
    finally:
        gateway.terminate()
        gateway.wait(20)
        end_session(settings, client_id)


def spki_pin(certificate: str) -> str:
    """base64(SHA-256(SubjectPublicKeyInfo)) of a PEM certificate, as Chromium pins keys."""
    public_key = subprocess.run(["openssl", "x509", "-pubkey", "-noout", "-in", certificate],
                                check=True, capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=public_key,
                         check=True, capture_output=True).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


@pytest.fixture(scope="module")
def browser(settings: Settings) -> Iterator[Browser]:
    # Chromium reads no CA file; it trusts exactly the stack's server key instead (a pin),
    # so the dashboard is tested over HTTPS with the certificate checked, not ignored.
    cert, _key = https_files(settings)
    pin = f"--ignore-certificate-errors-spki-list={spki_pin(cert)}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, pin])
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1024, "height": 1366})  # a tablet, upright
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    # Every string the test made visible exists in the language it was shown in, and no
    # script failed on the way.
    missing = page.evaluate("window.kolMissingKeys || []") if page.url.startswith("https") else []
    context.close()
    assert missing == [], f"strings without a translation: {missing}"
    assert errors == [], errors


def login(page: Page, site: Site, username: str) -> None:
    """Log in through the form; the triage list is the first page."""
    page.goto(site.url + "/")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#triage")).to_be_visible()


def open_patient(page: Page, site: Site, username: str, patient_id: int) -> None:
    """Log in as ``username`` and open the patient's page."""
    login(page, site, username)
    page.goto(f"{site.url}/#/patient/{patient_id}")


def shot(page: Page, directory: Path, name: str) -> None:
    page.screenshot(path=str(directory / f"dashboard-{name}.png"), full_page=True)
