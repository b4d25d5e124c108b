"""The messages tests run the real broker, an in-process gateway and the API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.settings import Settings


@pytest.fixture(scope="module")
def api(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


from tests.dashboard.conftest import browser, site  # noqa: E402,F401
from tests.gateway.conftest import gateway, hand_off, provision  # noqa: E402,F401
from tests.tablet.conftest import db, paired_tablet  # noqa: E402,F401
