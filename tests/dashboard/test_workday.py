"""The nurse's, the clinician's and the admin's working day in Chromium against the real stack:
triage that scales, live updates that keep unsaved work, reasons in Danish, patient and user
administration."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from playwright.sync_api import Browser, Page, expect

from core.settings import Settings
from protocol.topics import device_topics
from tests.api.helpers import PASSWORD, create_user
from tests.conftest import unique, wait_for
from tests.dashboard.conftest import Site, login, open_patient, shot
from tests.dashboard.test_dashboard import as_tablet, enrol_with_device, publish

pytestmark = pytest.mark.browser


def _name(conn: psycopg.Connection[Any], patient_id: int) -> str:
    row = conn.execute("select display_name from patients where id = %s", (patient_id,)).fetchone()
    assert row is not None
    return str(row["display_name"])


def test_triage_filters_search_keyboard_and_title(
        site: Site, page: Page, settings: Settings, artifacts_dir: Path,
        committed_conn: psycopg.Connection[Any]) -> None:
    red_id, red_device = enrol_with_device(site)
    yellow_id, yellow_device = enrol_with_device(site)
    nurse = create_user(committed_conn, role="nurse", teams=[site.team])
    now = datetime.now(UTC).isoformat()
    publish(settings, red_device, [{"type": "spo2", "value": 82, "unit": "%", "measured_at": now}])
    publish(settings, yellow_device, [{"type": "spo2", "value": 89, "unit": "%",
                                       "measured_at": now}])
    login(page, site, nurse)
    red_row = page.locator(f"tr[data-patient='{red_id}']")
    expect(red_row).to_have_attribute("data-severity", "red", timeout=15_000)
    expect(page.locator(f"tr[data-patient='{yellow_id}']")).to_have_attribute(
        "data-severity", "yellow", timeout=15_000)
    # Counts in the tab title; no green alerts, so no "acknowledge all green".
    expect(page).to_have_title("(2 · rød 1) Triage – KOL telemonitorering")
    expect(page.locator("#ack-green")).to_be_hidden()
    # The reason in Danish, with a decimal comma where there is one.
    page.locator(f"tr[data-patient='{red_id}'] a").focus()
    page.keyboard.press("Enter")  # rows are reachable and open by keyboard
    limit = committed_conn.execute(
        "select reason_params->>'limit' as limit from alerts where patient_id = %s",
        (red_id,)).fetchone()
    assert limit is not None
    expect(page.locator(".alert .reason-text")).to_have_text(
        f"Iltmætning 82 % under den røde grænse {float(limit['limit']):g}")
    page.go_back()

    page.select_option("select[name=severity]", "yellow")
    expect(page.locator("#triage tbody tr")).to_have_count(1)
    page.select_option("select[name=severity]", "all")
    page.fill("input[name=q]", _name(committed_conn, red_id)[-6:])
    expect(page.locator("#triage tbody tr")).to_have_count(1)
    expect(red_row).to_be_visible()
    page.fill("input[name=q]", "")
    # Acknowledged apart from open: after the yellow one is acknowledged it is no longer among
    # those that need handling.
    alert = committed_conn.execute("select id from alerts where patient_id = %s",
                                   (yellow_id,)).fetchone()
    assert alert is not None
    nurse_headers = site.login_headers(nurse)
    httpx.post(f"{site.url}/api/v1/alerts/{alert['id']}/acknowledge", headers=nurse_headers,
               json={"note": "ringet"}).raise_for_status()
    expect(page.locator(f"tr[data-patient='{yellow_id}']")).to_have_attribute(
        "data-state", "acknowledged", timeout=10_000)
    page.select_option("select[name=status]", "needs_handling")
    expect(page.locator(f"tr[data-patient='{yellow_id}']")).to_have_count(0)
    page.select_option("select[name=status]", "acknowledged_only")
    expect(page.locator(f"tr[data-patient='{yellow_id}']")).to_be_visible()
    page.select_option("select[name=status]", "all")
    expect(page).to_have_title("(1 · rød 1) Triage – KOL telemonitorering")
    page.select_option("select[name=sort]", "name")
    names = page.locator("#triage tbody a.rowlink").all_inner_texts()
    assert names == sorted(names)

    # A green alert (not raised by the engine, but by other rules or imports): the button
    # appears, and acknowledges it.
    committed_conn.execute(
        "insert into alerts (patient_id, rule, type, severity, reason) values"
        " (%s, 'absolute', 'weight', 'green', 'test green')", (red_id,))
    committed_conn.execute(
        "insert into alert_events (alert_id, patient_id, event, severity) select id, patient_id,"
        " 'opened', 'green' from alerts where patient_id = %s and severity = 'green'", (red_id,))
    expect(page.locator("#ack-green")).to_be_visible(timeout=10_000)
    shot(page, artifacts_dir, "triage-filters")
    page.click("#ack-green")
    expect(page.locator("#ack-green")).to_be_hidden(timeout=10_000)


def test_live_events_keep_the_note_being_typed_and_unsaved_limits(
        site: Site, page: Page, settings: Settings,
        committed_conn: psycopg.Connection[Any]) -> None:
    patient_id, device = enrol_with_device(site)
    clinician = create_user(committed_conn, role="clinician", teams=[site.team])
    now = datetime.now(UTC)
    publish(settings, device, [{"type": "spo2", "value": 89, "unit": "%",
                                "measured_at": (now - timedelta(hours=2)).isoformat()}])
    series_requests: list[str] = []
    page.on("request", lambda r: series_requests.append(r.url)
            if "/measurements" in r.url else None)
    open_patient(page, site, clinician, patient_id)
    alert = page.locator(".alert[data-status='open']")
    expect(alert).to_have_attribute("data-severity", "yellow", timeout=15_000)
    alert.locator("input.note").fill("Ringer til hende om lidt")
    page.fill("#th-spo2-absolute-yellow_low", "91")
    first_load = len(series_requests)

    # A new reading escalates the alert while she types.
    publish(settings, device, [{"type": "spo2", "value": 82, "unit": "%",
                                "measured_at": now.isoformat()}])
    expect(alert).to_have_attribute("data-severity", "red", timeout=15_000)
    expect(alert.locator("input.note")).to_have_value("Ringer til hende om lidt")
    expect(page.locator("#th-spo2-absolute-yellow_low")).to_have_value("91")
    expect(page.locator("svg[data-type='spo2'] circle.point")).to_have_count(2)
    # Both readings raised the alert (now red): each is marked.
    expect(page.locator("svg[data-type='spo2'] circle.marker-red")).to_have_count(2)
    # The event fetched only what came after the last reading shown, never the 90 days again.
    later = series_requests[first_load:]
    assert later, "the new reading was not fetched"
    since = datetime.now(UTC) - timedelta(days=1, minutes=5)
    for url in later:
        start = httpx.URL(url).params["from"]
        assert datetime.fromisoformat(start.replace("Z", "+00:00")) > since, url
    # Resolved alerts stay in the history with who, when, the note and the disposition.
    alert.locator("select.disposition").select_option("advice_by_phone")
    alert.locator("button.resolve").click()
    entry = page.locator("#alert-history li[data-status='resolved']")
    expect(entry).to_contain_text("Afsluttet")
    expect(entry).to_contain_text(clinician)
    expect(entry).to_contain_text("Ringer til hende om lidt")
    expect(entry).to_contain_text("Råd pr. telefon")


def test_every_rule_family_in_the_editor_and_the_preview_as_a_diff(
        site: Site, page: Page, settings: Settings, artifacts_dir: Path,
        committed_conn: psycopg.Connection[Any]) -> None:
    patient_id, device = enrol_with_device(site)
    clinician = create_user(committed_conn, role="clinician", teams=[site.team])
    now = datetime.now(UTC)
    publish(settings, device, [
        {"type": "weight", "value": value, "unit": "kg",
         "measured_at": (now - timedelta(days=d)).isoformat()}
        for d, value in [(8, 80), (7, 80.2), (6, 80.1), (5, 80.3), (4, 80.2), (3, 81.0),
                         (2, 81.4), (1, 81.9)]])
    open_patient(page, site, clinician, patient_id)
    for section in ("absolute", "baseline", "trend", "artefact"):
        expect(page.locator(f"#editor input[data-path^='spo2.{section}.']").first).to_be_attached()
    expect(page.locator("#editor input[data-path^='combined.']").first).to_be_attached()
    page.locator("#editor summary", has_text="Vægt").click()
    page.fill("#th-weight-trend-change_3d_yellow", "0.5")
    page.click("#preview")
    expect(page.locator("#preview-gained li").first).to_be_visible()
    expect(page.locator("#preview-gained")).to_contain_text("Vægt ændret")
    shot(page, artifacts_dir, "threshold-diff")


def pair_from_the_page(page: Page, site: Site) -> str:
    """"Par ny tablet" on the open patient page: a one-time code and its QR code, which the
    tablet redeems as the tablet app does; the page read again. The new device's id."""
    page.click("#pair")
    code = page.locator("dialog .kol-code")
    expect(code).to_have_text(re.compile(r"^\d{4} \d{4}$"))
    expect(page.locator("dialog .kol-qr svg")).to_be_visible()
    paired = httpx.post(f"{site.url}/api/v1/tablet/pair",
                        json={"code": code.inner_text().replace(" ", "")})
    assert paired.status_code == 201, paired.text
    page.get_by_role("button", name="Luk").click()
    page.reload()
    return str(paired.json()["device_id"])


def test_patient_administration_from_enrolment_to_discharge(
        site: Site, page: Page, artifacts_dir: Path,
        committed_conn: psycopg.Connection[Any]) -> None:
    login(page, site, site.admin)
    page.click("#nav a[href='#/enrol']")
    name = unique("Karen")
    page.fill("#e-name", name)
    page.fill("#d-phone", "+45 20 30 40 50")
    page.fill("#d-contact_person", "Per (ægtefælle)")
    page.fill("#d-gp", "Lægerne i Valby")
    page.fill("#d-notes", "Nøgle under måtten")
    page.check("input[name=days][value=wed]")
    page.check("input[name=diary_days][value=mon]")
    page.click("#enrol-form button[type=submit]")
    expect(page.locator("#patient-name")).to_have_text(name)
    expect(page.locator("#patient-phone a")).to_have_attribute("href", "tel:+4520304050")
    patient_id = int(page.url.rsplit("/", 1)[1])
    row = committed_conn.execute("select schedule, gp from patients where id = %s",
                                 (patient_id,)).fetchone()
    assert row == {"schedule": {"days": ["mon", "wed", "thu"], "deadline": "12:00",
                                "types": ["spo2", "pulse", "weight"], "diary_days": ["mon"]},
                   "gp": "Lægerne i Valby"}

    page.click("#edit-details summary")
    page.fill("#d-notes", "Ring efter kl. 10")
    page.click("#details-form button[type=submit]")
    expect(page.locator(".details .notes")).to_have_text("Ring efter kl. 10")
    page.click("#edit-schedule summary")
    page.uncheck("#schedule-form input[name=days][value=mon]")
    page.click("#schedule-form button[type=submit]")
    expect(page.locator("#schedule-text")).to_have_text(re.compile(r"^\s*ons, tor "))
    # The diary days are part of the schedule and survive an edit of the measurement days.
    expect(page.locator("#schedule-text")).to_contain_text("Symptomdagbog på: man")

    today = datetime.now(UTC).date()
    page.click("#add-pause summary")
    page.fill("#pause-from", today.isoformat())
    page.fill("#pause-to", (today + timedelta(days=3)).isoformat())
    page.fill("#pause-reason", "Indlagt")
    page.click("#pause-form button[type=submit]")
    expect(page.locator("#pauses li[data-pause]")).to_have_count(1)
    page.click("#pauses .end-pause")
    expect(page.locator("#pauses li[data-pause]")).to_have_count(0)

    # Pairing gives a one-time code and its QR code; the tablet pairs with the code as the
    # tablet app does, and the patient page then lists it.
    pair_from_the_page(page, site)
    expect(page.locator("#devices li[data-device]")).to_have_count(1)
    shot(page, artifacts_dir, "patient-administration")
    page.click("#devices .deactivate")
    expect(page.locator("#devices li[data-device]")).to_contain_text("deaktiveret")

    page.click("#discharge summary")
    page.fill("#discharge-reason", "Flyttet på plejehjem")
    page.click("#discharge-form button[type=submit]")
    expect(page.locator("#discharged")).to_be_visible()
    actions = [r["action"] for r in committed_conn.execute(
        "select action from audit_log where entity_type = 'patient' and entity_id = %s"
        " order by id", (str(patient_id),)).fetchall()]
    assert actions == ["patient.enrol", "patient.edit", "patient.schedule", "patient.pause.add",
                       "patient.pause.end", "tablet.pairing_started", "patient.discharge"]


def test_tablet_status_offline_flag_replacement_and_transfer_to_another_team(
        site: Site, page: Page, settings: Settings, artifacts_dir: Path,
        committed_conn: psycopg.Connection[Any]) -> None:
    """The tablet's battery and last contact on the patient page, OFFLINE once it has been silent
    longer than the platform allows, a replacement paired that retires it; then the patient
    handed over to another team, which the admin does not belong to: she leaves the admin's
    list, the new team sees her, the old one no longer."""
    patient_id, device = enrol_with_device(site)
    old = device["device_id"]
    as_tablet(settings, device, device_topics(old).status,
              {"v": 1, "state": "online", "battery": 37, "app": "1.4.2"}, retain=True)
    wait_for(lambda: committed_conn.execute(
        "select status->>'battery' as battery from devices where device_id = %s",
        (old,)).fetchone() == {"battery": "37"})
    open_patient(page, site, site.admin, patient_id)
    tablet = page.locator(f"#devices li[data-device='{old}']")
    expect(tablet).to_have_attribute("data-connection", "online")
    expect(tablet).to_contain_text("Batteri: 37 %")
    expect(page.locator("#tablet-state")).to_contain_text("Tablet: forbundet · Batteri 37 %")

    # Silent for longer than KOL_DEVICE_OFFLINE_AFTER_MINUTES (a day by default).
    committed_conn.execute("update devices set last_seen_at = now() - interval '2 days',"
                           " status_at = now() - interval '2 days' where device_id = %s", (old,))
    page.reload()
    expect(tablet).to_have_attribute("data-connection", "offline")
    expect(tablet.locator(".warn")).to_have_text("OFFLINE")
    # At the top of her page too, where the nurse looks first.
    expect(page.locator("#tablet-state .warn")).to_have_text("OFFLINE")
    shot(page, artifacts_dir, "tablet-offline")

    # The replacement: pairing a new tablet retires the silent one (a patient has one tablet; a
    # lost one must stop being able to send as her).
    new = pair_from_the_page(page, site)
    expect(page.locator("#devices li[data-device]")).to_have_count(2)
    expect(tablet).to_contain_text("deaktiveret")
    expect(tablet.locator(".deactivate")).to_have_count(0)
    replacement = page.locator(f"#devices li[data-device='{new}']")
    expect(replacement).to_have_attribute("data-connection", "unknown")
    expect(replacement.locator(".deactivate")).to_be_visible()
    active = committed_conn.execute("select device_id from devices where patient_id = %s"
                                    " and active", (patient_id,)).fetchall()
    assert [r["device_id"] for r in active] == [new]

    other_team = unique("team")
    create_user(committed_conn, role="nurse", teams=[other_team])  # the receiving team exists
    page.click("#transfer summary")
    page.fill("#transfer-team", other_team)
    page.fill("#transfer-reason", "Flyttet til Hobro")
    page.click("#transfer-form button[type=submit]")
    expect(page.locator("#triage")).to_be_visible()
    expect(page.locator(f"#triage tr[data-patient='{patient_id}']")).to_have_count(0)
    receiving = site.login_headers(create_user(committed_conn, role="nurse", teams=[other_team]))
    former = site.login_headers(create_user(committed_conn, role="nurse", teams=[site.team]))
    url = f"{site.url}/api/v1/patients/{patient_id}"
    assert httpx.get(url, headers=receiving).status_code == 200
    assert httpx.get(url, headers=former).status_code == 404
    actions = [r["action"] for r in committed_conn.execute(
        "select action from audit_log where entity_type = 'patient' and entity_id = %s"
        " order by id", (str(patient_id),)).fetchall()]
    assert actions[-1] == "patient.transfer"
    assert "tablet.pairing_started" in actions


def test_admin_creates_a_team_changes_a_users_role_and_teams_and_resets_her_password(
        site: Site, page: Page, browser: Browser,
        committed_conn: psycopg.Connection[Any]) -> None:
    """A new team from the administration page (its creator is its first member), a nurse made
    clinician and added to it, and a one-time code that lets her set a new password: she then
    logs in as a clinician of both teams."""
    admin = create_user(committed_conn, role="admin", teams=[site.team])
    nurse = create_user(committed_conn, role="nurse", teams=[site.team])
    login(page, site, admin)
    page.click("#nav a[href='#/admin']")
    team = unique("Team Nord")
    page.fill("#t-name", team)
    page.click("#team-form button[type=submit]")
    expect(page.locator("#teams tr", has_text=team)).to_be_visible()

    row = page.locator("#users tr", has_text=nurse)
    row.locator(".role").select_option("clinician")
    row.locator(f"input.team[value='{team}']").check()
    row.locator(".save-user").click()
    wait_for(lambda: committed_conn.execute(
        "select u.role, array_agg(t.name order by t.name) as teams from users u"
        " join user_teams ut on ut.user_id = u.id join teams t on t.id = ut.team_id"
        " where u.username = %s group by u.role", (nurse,)).fetchone()
        == {"role": "clinician", "teams": sorted([site.team, team])})

    page.locator("#users tr", has_text=nurse).locator(".reset").click()
    code = page.locator("#code").inner_text()
    context = browser.new_context()
    try:
        her = context.new_page()
        her.goto(f"{site.url}/#/reset/{code}")
        her.fill("#r-password", "et nyt langt kodeord 2026")
        her.click("#reset-form button[type=submit]")
        expect(her.locator("#login-form")).to_be_visible()
        her.fill("#username", nurse)
        her.fill("#password", "et nyt langt kodeord 2026")
        her.click("button[type=submit]")
        expect(her.locator("#triage")).to_be_visible()
    finally:
        context.close()
    assert httpx.post(f"{site.url}/api/v1/auth/token", data={
        "username": nurse, "password": PASSWORD}).status_code == 401
    me = httpx.get(f"{site.url}/api/v1/me", headers={"Authorization": "Bearer " + httpx.post(
        f"{site.url}/api/v1/auth/token", data={"username": nurse,
                                               "password": "et nyt langt kodeord 2026"},
    ).json()["access_token"]}).json()
    assert (me["role"], sorted(me["teams"])) == ("clinician", sorted([site.team, team]))


def test_admin_creates_a_user_who_sets_her_password_and_is_deactivated_at_once(
        site: Site, page: Page, browser: Browser, artifacts_dir: Path) -> None:
    login(page, site, site.admin)
    page.click("#nav a[href='#/admin']")
    username = unique("mette")
    page.click("#new-user summary")
    page.fill("#u-username", username)
    page.fill("#u-name", "Mette Sygeplejerske")
    page.check(f"#user-form input[name=teams][value='{site.team}']")
    page.click("#user-form button[type=submit]")
    code = page.locator("#code").inner_text()
    shot(page, artifacts_dir, "administration")

    context = browser.new_context()
    nurse = context.new_page()
    try:
        nurse.goto(f"{site.url}/#/reset/{code}")
        nurse.fill("#r-password", PASSWORD)
        nurse.click("#reset-form button[type=submit]")
        expect(nurse.locator("#login-form")).to_be_visible()
        nurse.fill("#username", username)
        nurse.fill("#password", PASSWORD)
        nurse.click("button[type=submit]")
        expect(nurse.locator("#triage")).to_be_visible()
        expect(nurse.locator("#live")).to_have_attribute("data-state", "live")

        row = page.locator("#users tr", has_text=username)
        row.locator(".toggle").click()
        expect(page.locator("#users tr", has_text=username)).to_have_attribute(
            "data-active", "false")
        # Her open page loses its stream within seconds and shows the login form.
        expect(nurse.locator("#login-form")).to_be_visible(timeout=15_000)
    finally:
        context.close()


def test_the_team_reads_the_patients_access_log_on_her_page(
        site: Site, page: Page, committed_conn: psycopg.Connection[Any]) -> None:
    """Nurses and clinicians, not only admins, read who looked at the patient's data: the audit
    trail is the team's."""
    patient_id, _device = enrol_with_device(site)
    clinician = create_user(committed_conn, role="clinician", teams=[site.team])
    nurse = create_user(committed_conn, role="nurse", teams=[site.team])
    httpx.get(f"{site.url}/api/v1/patients/{patient_id}",
              headers=site.login_headers(clinician)).raise_for_status()
    open_patient(page, site, nurse, patient_id)
    log = page.locator("#access-log")
    expect(log.locator("h2")).to_have_text("Adgangslog")
    expect(log.locator("tbody tr").filter(has_text=clinician)).to_contain_text("Oversigt")


def test_a_reason_without_a_readable_sentence_is_shown_by_its_generic_code_in_both_languages(
        site: Site, page: Page, committed_conn: psycopg.Connection[Any]) -> None:
    """Migration 0474 gives an old alert whose English sentence it cannot read back the code
    ``legacy``: the page renders it from the alert's type, rule, severity and value."""
    patient_id, _device = enrol_with_device(site)
    nurse = create_user(committed_conn, role="nurse", teams=[site.team])
    committed_conn.execute(
        "insert into alerts (patient_id, rule, type, severity, reason, value, reason_code,"
        " reason_params) values (%s, 'absolute', 'spo2', 'yellow', 'SpO2 low (imported)', 88.5,"
        " 'legacy', '{\"type\": \"spo2\", \"rule\": \"absolute\", \"severity\": \"yellow\","
        " \"metric\": 88.5, \"unit\": \"%%\"}')", (patient_id,))
    open_patient(page, site, nurse, patient_id)
    reason = page.locator(".alert .reason-text")
    expect(reason).to_have_text("Iltmætning: grænse (gul), seneste værdi 88,5 %")
    page.click("#lang")
    expect(reason).to_have_text("SpO2: limit (yellow), last value 88.5 %")


def test_a_late_reading_appears_live_at_its_place_without_reading_the_series_again(
        site: Site, page: Page, settings: Settings,
        committed_conn: psycopg.Connection[Any]) -> None:
    """A tablet's outbox after days offline: a normal reading measured three days ago raises no
    alert, and the stream's ``readings`` event alone places it in the open plot."""
    patient_id, device = enrol_with_device(site)
    nurse = create_user(committed_conn, role="nurse", teams=[site.team])
    now = datetime.now(UTC)
    publish(settings, device, [
        {"type": "spo2", "value": value, "unit": "%",
         "measured_at": (now - age).isoformat()}
        for value, age in ((94, timedelta(days=5)), (95, timedelta(hours=1)))])
    series_requests: list[str] = []
    page.on("request", lambda r: series_requests.append(r.url)
            if "/measurements" in r.url else None)
    open_patient(page, site, nurse, patient_id)
    points = page.locator("svg[data-type='spo2'] circle.point")
    expect(points).to_have_count(2)
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    first_load = len(series_requests)

    publish(settings, device, [{"type": "spo2", "value": 93, "unit": "%",
                                "measured_at": (now - timedelta(days=3)).isoformat()}])
    expect(points).to_have_count(3, timeout=15_000)
    expect(page.locator("svg[data-type='spo2'] circle.point.late")).to_have_count(2)
    xs = [float(x) for x in points.evaluate_all("(els) => els.map((e) => e.getAttribute('cx'))")]
    assert xs == sorted(xs), xs  # in time order: between the two it arrived after
    assert "93" in (points.nth(1).locator("title").text_content() or "")
    assert series_requests[first_load:] == [], "the series was read again"
    assert committed_conn.execute("select count(*) as n from alerts where patient_id = %s",
                                  (patient_id,)).fetchone() == {"n": 0}
