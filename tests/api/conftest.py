from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.settings import Settings
from tests.api.helpers import User, make_user
from tests.conftest import unique


@pytest.fixture(scope="session")
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


# A team of the test's own, with an admin and a nurse in it (the patients' and consent tests).
@pytest.fixture
def team() -> str:
    return unique("team")


@pytest.fixture
def admin(client: TestClient, committed_conn: psycopg.Connection[Any], team: str) -> User:
    return make_user(client, committed_conn, role="admin", teams=[team])


@pytest.fixture
def nurse(client: TestClient, committed_conn: psycopg.Connection[Any], team: str) -> User:
    return make_user(client, committed_conn, role="nurse", teams=[team])
