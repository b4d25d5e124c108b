"""The dashboard's notification parts in headless Chromium against the real API: the team admin
edits the rota and the chain; a nurse cannot; the notification's link opens the alert's patient
after login, with the delivery status on the alert; Web Push on this device: the service worker
registers, the subscription is attempted (Chromium's push service is unreachable offline, so it
fails and the page says so), and a push message delivered to the service worker through the
DevTools protocol is shown as a notification with the message's title, body and tag."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from psycopg_pool import ConnectionPool

from core.settings import Settings
from simulators.receivers import SmsGatewaySink
from tests.api.helpers import PASSWORD, create_user
from tests.api.live_server import serve
from tests.dashboard.conftest import browser, shot  # noqa: F401  (the Chromium fixture)
from tests.notifications.conftest import Team, raise_alert, run

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    app_settings = settings.model_copy(update={
        "vapid_private_key_file": tmp_path_factory.mktemp("vapid") / "vapid.pem"})
    with serve(app_settings) as (url, _app):
        yield url


@pytest.fixture
def context(browser: Browser, site: str) -> Iterator[Any]:  # noqa: F811
    context = browser.new_context(viewport={"width": 1024, "height": 1366},
                                  permissions=["notifications"], locale="da-DK")
    yield context
    context.close()


def _login(page: Page, username: str) -> None:
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")


def test_team_admin_edits_the_rota_and_a_nurse_cannot(
        site: str, context: Any, browser: Browser, team: Team,  # noqa: F811
        committed_conn: Any, artifacts_dir: Path) -> None:
    admin = create_user(committed_conn, role="admin", teams=[team.name])
    page = context.new_page()
    page.goto(site + "/")
    _login(page, admin)
    expect(page.locator("#triage")).to_be_visible()
    page.click("#nav-notifications")
    section = page.locator(f".ntf-team[data-team='{team.id}']")
    expect(section.locator("tr.slot")).to_have_count(16)  # the fixture's round-the-clock rota
    expect(section.locator(".ntf-now")).to_contain_text("På vagt nu")
    section.locator(".ntf-add-slot").click()
    new = section.locator("tr.slot").last
    new.locator(".s-day").select_option("holiday")
    new.locator(".s-starts").fill("07:30")
    new.locator(".s-ends").fill("15:30")
    # Saved, and the page drawn again from the server's answer.
    with page.expect_response(lambda r: r.url.endswith("/me/teams/notifications")):
        section.locator(".ntf-save-rota").click()
    expect(page.locator(f".ntf-team[data-team='{team.id}'] tr.slot")).to_have_count(17)
    section = page.locator(f".ntf-team[data-team='{team.id}']")
    section.locator("tr.step").nth(1).locator(".e-minutes").fill("7")
    with page.expect_response(lambda r: r.url.endswith("/notifications/escalation")) as saved:
        section.locator(".ntf-save-chain").click()
    assert saved.value.status == 200
    shot(page, artifacts_dir, "notifications-rota-editor")

    headers = _headers(site, admin)
    setup = httpx.get(f"{site}/api/v1/teams/{team.id}/notifications", headers=headers).json()
    assert [(s["day"], s["starts"], s["ends"]) for s in setup["rota"]
            if s["starts"] == "07:30:00"] == [("holiday", "07:30:00", "15:30:00")]
    assert [s["after_minutes"] for s in setup["escalation"]] == [0, 7, 20]

    # The session is the browser's (a cookie): the admin logs out before the nurse logs in.
    page.click("#logout")
    nurse = create_user(committed_conn, role="nurse", teams=[team.name])
    # Another browser: the dashboard keeps one session across the tabs of one.
    other = browser.new_context(viewport={"width": 1024, "height": 1366}, locale="da-DK")
    page = other.new_page()
    page.goto(site + "/")
    _login(page, nurse)
    expect(page.locator("#triage")).to_be_visible()
    page.goto(site + "/#/notifications")
    section = page.locator(f".ntf-team[data-team='{team.id}']")
    expect(section).to_contain_text("Kun teamets administrator kan ændre.")
    expect(section.locator(".ntf-save-rota")).to_be_hidden()
    expect(section.locator("tr.slot").first.locator(".s-day")).to_be_disabled()
    other.close()


def _headers(site: str, username: str) -> dict[str, str]:
    token = httpx.post(f"{site}/api/v1/auth/token",
                       data={"username": username, "password": PASSWORD}).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def test_link_in_the_message_opens_the_alert_after_login_with_its_delivery_status(
        site: str, context: Any, pool: ConnectionPool, notify_settings: Settings, team: Team,
        sms: SmsGatewaySink, committed_conn: Any, artifacts_dir: Path) -> None:
    nurse = create_user(committed_conn, role="nurse", teams=[team.name])
    alert_id = raise_alert(pool, team.patients[0])
    run(pool, notify_settings)
    [text] = sms.wait_for(1, timeout=5)
    link = text.body.rsplit(" ", 1)[1].replace("https://kol.example.dk", site)
    assert link == f"{site}/#alert={alert_id}"

    page = context.new_page()
    page.goto(link)
    expect(page.locator("#login-form")).to_be_visible()  # the link needs a login
    _login(page, nurse)
    expect(page).to_have_url(f"{site}/#/patient/{team.patients[0]}")
    status = page.locator(f".alert[data-alert-id='{alert_id}'] .delivery")
    expect(status).to_have_text("Varsling: sendt 2")
    shot(page, artifacts_dir, "notifications-delivery-status")


def test_web_push_service_worker_shows_a_pushed_message(
        site: str, context: Any, team: Team, committed_conn: Any) -> None:
    nurse = create_user(committed_conn, role="nurse", teams=[team.name])
    page = context.new_page()
    page.goto(site + "/")
    _login(page, nurse)
    expect(page.locator("#triage")).to_be_visible()
    page.goto(site + "/#/notifications")
    page.click("#ntf-push")
    # Offline, Chromium cannot reach its push service: the subscription fails, visibly.
    expect(page.locator("#ntf-contact-error")).to_contain_text("Push kunne ikke slås til")
    scope = page.evaluate("navigator.serviceWorker.ready.then((r) => r.scope)")
    assert scope == site + "/"

    cdp = context.new_cdp_session(page)
    registrations: list[dict[str, Any]] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated",
           lambda event: registrations.extend(event["registrations"]))
    cdp.send("ServiceWorker.enable")
    for _ in range(100):  # the registrations arrive as events
        if any(r["scopeURL"] == site + "/" for r in registrations):
            break
        page.wait_for_timeout(100)
    [registration] = [r for r in registrations if r["scopeURL"] == site + "/"]
    payload = ('{"title": "Rød alarm — KOL-overvågning", "body": "Rød alarm hos en borger i'
               ' Hjemmepleje Nord — åbn KOL-overvågning: https://kol.example.dk/#alert=1",'
               ' "url": "https://kol.example.dk/#alert=1", "tag": "k1"}')
    shown = None
    # DevTools' delivery is fire-and-forget, and about one run in three on this machine it was
    # lost while the worker (stopped once idle) started again: delivered anew until shown. The
    # tag makes a second delivery replace the first, so the check below still sees exactly one.
    for _ in range(3):
        cdp.send("ServiceWorker.deliverPushMessage", {
            "origin": site, "registrationId": registration["registrationId"], "data": payload})
        for _ in range(50):
            shown = page.evaluate("""navigator.serviceWorker.ready
                .then((r) => r.getNotifications())
                .then((list) => list.map((n) => ({title: n.title, body: n.body, tag: n.tag})))""")
            if shown:
                break
            page.wait_for_timeout(100)
        if shown:
            break
    assert shown == [{"title": "Rød alarm — KOL-overvågning", "tag": "k1",
                      "body": "Rød alarm hos en borger i Hjemmepleje Nord — åbn"
                              " KOL-overvågning: https://kol.example.dk/#alert=1"}]
