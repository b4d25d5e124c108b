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
    """Every TestClient request comes from one address: each test starts with its count at 0."""
    client = redis.Redis.from_url(settings.redis_url)
    client.delete(address_key("testclient"))
    yield
    client.delete(address_key("testclient"))
    client.close()
