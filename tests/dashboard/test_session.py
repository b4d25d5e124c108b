"""A session that lasts a shift, in Chromium: access tokens of 20 s renewed silently from the
HttpOnly cookie, the live stream reopened with each new token, logout and the idle timeout."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest
from playwright.sync_api import Page, Response, expect

from core.settings import Settings
from tests.api.helpers import PASSWORD, create_user
from tests.dashboard.conftest import Site, login, running_site
from tests.dashboard.test_dashboard import enrol_with_device, publish

pytestmark = pytest.mark.browser

TOKEN_SECONDS = 20


@pytest.fixture(scope="module")
def short_site(settings: Settings) -> Iterator[Site]:
    with running_site(settings.model_copy(update={"jwt_ttl_seconds": TOKEN_SECONDS})) as site:
        yield site


def test_logged_in_and_live_across_five_renewals(
        short_site: Site, page: Page, settings: Settings,
        committed_conn: psycopg.Connection[Any]) -> None:
    patient_id, device = enrol_with_device(short_site)
    nurse = create_user(committed_conn, role="nurse", teams=[short_site.team])
    renewals: list[int] = []
    streams: list[str] = []

    def seen(response: Response) -> None:
        if response.url.endswith("/api/v1/auth/refresh"):
            renewals.append(response.status)
        elif "/api/v1/alerts/stream" in response.url:
            streams.append(response.url)

    page.on("response", seen)
    login(page, short_site, nurse)
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    renewals.clear()  # the page's first try, before the login, found no session
    streams.clear()
    page.fill("input[name=q]", "Borger")  # typed text must survive the renewals and events
    started = time.monotonic()
    while len(renewals) < 5:
        assert time.monotonic() - started < 10 * TOKEN_SECONDS, renewals
        page.wait_for_timeout(1000)
    took = time.monotonic() - started
    # Five renewals take at least four token lifetimes' worth of renewal intervals, so the
    # first token expired long ago.
    assert took > 4 * 0.7 * TOKEN_SECONDS - 2, took
    assert renewals == [200] * len(renewals)
    for _ in range(10):  # each renewal reopens the stream with the new token
        if len(streams) >= 5:
            break
        page.wait_for_timeout(500)
    assert len(streams) >= 5, streams
    assert len({url.split("access_token=")[1].split("&")[0] for url in streams}) == len(streams)
    expect(page.locator("#triage")).to_be_visible()
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    # The cookie is out of the script's reach and sent only to the auth paths.
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "kol_refresh"]
    assert cookie["httpOnly"]
    assert cookie["secure"]
    assert cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/api/v1/auth"
    assert page.evaluate("document.cookie") == ""

    # Still live: a red reading now appears without a reload.
    publish(settings, device, [{"type": "spo2", "value": 82, "unit": "%",
                                "measured_at": datetime.now(UTC).isoformat()}])
    expect(page.locator(f"tr[data-patient='{patient_id}']")).to_have_attribute(
        "data-severity", "red", timeout=15_000)
    expect(page.locator("input[name=q]")).to_have_value("Borger")


def test_logout_revokes_the_session(short_site: Site, page: Page,
                                    committed_conn: psycopg.Connection[Any]) -> None:
    nurse = create_user(committed_conn, role="nurse", teams=[short_site.team])
    tokens: list[str] = []
    page.on("request", lambda request: tokens.append(request.headers["authorization"])
            if "authorization" in request.headers else None)
    login(page, short_site, nurse)
    cookie = next(c["value"] for c in page.context.cookies() if c["name"] == "kol_refresh")
    page.click("#logout")
    expect(page.locator("#login-form")).to_be_visible()
    expect(page.locator("#live")).to_be_hidden()
    # Neither the refresh token nor the last access token works any more.
    refused = httpx.post(f"{short_site.url}/api/v1/auth/refresh", json={"active": True},
                         cookies={"kol_refresh": cookie})
    assert refused.status_code == 401
    assert httpx.get(f"{short_site.url}/api/v1/me",
                     headers={"Authorization": tokens[-1]}).status_code == 401
    # A reload finds no session; a link to a patient leads there after the login.
    page.reload()
    expect(page.locator("#login-form")).to_be_visible()
    patient_id, _device = enrol_with_device(short_site)
    page.goto(f"{short_site.url}/#/patient/{patient_id}")
    page.fill("#username", nurse)
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    expect(page.locator("#patient-name")).to_be_visible()


def test_a_reload_keeps_the_session_and_the_idle_timeout_ends_it(
        short_site: Site, page: Page, committed_conn: psycopg.Connection[Any]) -> None:
    team = short_site.team
    nurse = create_user(committed_conn, role="nurse", teams=[team])
    committed_conn.execute("update teams set idle_timeout_minutes = 1 where name = %s", (team,))
    try:
        page.clock.install()
        login(page, short_site, nurse)
        page.reload()  # the access token is in memory only: the cookie carries the session
        expect(page.locator("#triage")).to_be_visible()
        page.clock.fast_forward("01:30")
        expect(page.locator("#login-form")).to_be_visible()
        expect(page.locator(".notice")).to_contain_text("ikke er brugt")
    finally:
        committed_conn.execute("update teams set idle_timeout_minutes = null where name = %s",
                               (team,))
