from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, BrowserContext, Page, expect
from psycopg.rows import dict_row

from api.app import create_app
from core.settings import Settings
from tests.dashboard.conftest import Site
from tests.tablet.chromium import pair, pairing_code, tablet

# ``paired_tablet(patient, size="landscape")``.
PairedTablet = Callable[..., Page]


@pytest.fixture(scope="module")
def api(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def db(settings: Settings) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(settings.database_url, autocommit=True, row_factory=dict_row) as conn:
        yield conn


@pytest.fixture
def paired_tablet(site: Site, browser: Browser,  # noqa: F811  (the dashboard's fixtures)
                  db: psycopg.Connection[Any]) -> Iterator[PairedTablet]:
    """``paired_tablet(patient, size="landscape")``: a new tablet (its own browser context)
    paired with the patient by a nurse's code, on its home screen and connected to the broker.
    Every tablet's context is closed after the test."""
    contexts: list[BrowserContext] = []

    def open_paired(patient: int, size: str = "landscape") -> Page:
        context, page = tablet(browser, size)
        contexts.append(context)
        pair(page, site, pairing_code(site, db, patient))
        page.get_by_role("button", name="Fortsæt").click()
        expect(page.locator("#connection")).to_have_text("Forbundet", timeout=20000)
        return page

    yield open_paired
    for context in contexts:
        context.close()


# The dashboard's live API + gateway and its pinned Chromium serve the tablet tests too.
from tests.dashboard.conftest import browser, site  # noqa: E402,F401
