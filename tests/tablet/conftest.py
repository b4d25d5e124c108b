from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient

from api.app import create_app
from core.settings import Settings
from tablets.throttle import address_key


@pytest.fixture(scope="module")
def api(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def fresh_throttle(settings: Settings) -> Iterator[None]:
    """Every request of the tests comes from one address (the TestClient's or loopback): each test
    starts with its count of pairing attempts at 0."""
    client = redis.Redis.from_url(settings.redis_url)
    keys = [address_key("testclient"), address_key("127.0.0.1")]
    client.delete(*keys)
    yield
    client.delete(*keys)
    client.close()


# The dashboard's live API + gateway and its pinned Chromium serve the tablet tests too.
from tests.dashboard.conftest import browser, site  # noqa: E402,F401
