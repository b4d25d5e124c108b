"""Every screen at 1280×800 (a tablet across) and 390×844 (a phone): axe-core (from npm) finds
no serious or critical violation, every touch target is at least 44 px, and a screenshot of each
is written to tests/artifacts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from playwright.sync_api import Browser, Page, expect

from core.settings import Settings
from tests.api.helpers import PASSWORD
from tests.dashboard.conftest import Site
from tests.dashboard.test_dashboard import enrol_with_device, publish

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
VIEWPORTS = {"1280x800": {"width": 1280, "height": 800}, "390x844": {"width": 390, "height": 844}}

# Interactive elements and their size; a checkbox counts by its label, which is its target.
# Links inside running text are exempt (WCAG 2.5.8: inline targets).
_TARGETS = """() => [...document.querySelectorAll(
    'a[href], button, input:not([type=checkbox]):not([type=hidden]), select, textarea, summary,'
    + ' label.check')].filter((el) => {
  const box = el.getBoundingClientRect();
  if (!box.width || !box.height || getComputedStyle(el).visibility === 'hidden') return false;
  if (el.tagName === 'A' && el.closest('p, li, dd') && !el.matches('.rowlink, .button-link')
      && !el.closest('.details')) return false;
  return box.height < 44 || box.width < 44;
}).map((el) => {
  const box = el.getBoundingClientRect();
  return `${el.tagName.toLowerCase()}#${el.id}.${el.className}: `
    + `${Math.round(box.width)}x${Math.round(box.height)}`;
})
"""


def check(page: Page, artifacts_dir: Path, name: str, size: str) -> list[str]:
    """Problems on the page as it is now: axe's serious and critical violations, small
    targets; and its screenshot."""
    page.wait_for_load_state("networkidle")
    page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})")
    problems = [f"{name}@{size}: axe {v['id']} ({v['impact']}): "
                f"{[n['target'] for n in v['nodes']][:3]}"
                for v in result["violations"] if v["impact"] in ("serious", "critical")]
    problems += [f"{name}@{size}: small target {t}" for t in page.evaluate(_TARGETS)]
    page.screenshot(path=str(artifacts_dir / f"screen-{name}-{size}.png"), full_page=True)
    page.screenshot(path=str(artifacts_dir / f"screen-{name}-{size}-first.png"))  # what one sees
    return problems


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_every_screen_is_accessible_at_tablet_and_phone_size(
        site: Site, browser: Browser, settings: Settings, artifacts_dir: Path,
        committed_conn: psycopg.Connection[Any], size: str) -> None:
    patient_id, device = enrol_with_device(site)
    now = datetime.now(UTC)
    publish(settings, device, [
        {"type": kind, "value": value, "unit": unit,
         "measured_at": (now - timedelta(days=d, hours=1)).isoformat()}
        for d in range(10, 0, -1)
        for kind, value, unit in (("spo2", 93 - (d == 1) * 10, "%"), ("pulse", 80 + d, "/min"),
                                  ("weight", 78 + d / 10, "kg"))])
    context = browser.new_context(viewport=VIEWPORTS[size])
    page = context.new_page()
    problems: list[str] = []
    try:
        page.goto(site.url + "/")
        expect(page.locator("#login-form")).to_be_visible()
        problems += check(page, artifacts_dir, "login", size)
        page.goto(f"{site.url}/#/reset/")
        expect(page.locator("#reset-form")).to_be_visible()
        problems += check(page, artifacts_dir, "set-password", size)
        page.goto(site.url + "/#/login")
        page.fill("#username", site.admin)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator(f"tr[data-patient='{patient_id}']")).to_have_attribute(
            "data-severity", "red", timeout=15_000)
        problems += check(page, artifacts_dir, "triage", size)
        page.goto(f"{site.url}/#/patient/{patient_id}")
        expect(page.locator(".alert")).to_have_count(1)
        expect(page.locator("#proposal")).not_to_contain_text("…")
        problems += check(page, artifacts_dir, "patient", size)
        for route, ready in (("enrol", "#enrol-form"), ("admin", "#users"),
                             ("burden", "#burden")):
            page.goto(f"{site.url}/#/{route}")
            expect(page.locator(ready)).to_be_visible()
            problems += check(page, artifacts_dir, route, size)
        missing = page.evaluate("window.kolMissingKeys")
        assert missing == [], missing
        # Every string exists in both languages, whether or not a screen above showed it.
        da, en = page.evaluate("import('/static/js/i18n.js').then((m) => [m.keys('da'),"
                               " m.keys('en')])")
        assert len(da) > 100
        assert sorted(set(da) ^ set(en)) == []
    finally:
        context.close()
    assert problems == [], "\n".join(problems)
