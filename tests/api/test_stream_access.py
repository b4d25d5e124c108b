"""An open event stream keeps to what its token and its user's teams allow: it ends when the
token expires, and within seconds when the user is deactivated or leaves the team."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row

from api.auth import tokens
from core.settings import Settings
from tests.api.helpers import create_user
from tests.api.live_server import serve
from tests.conftest import unique

RECHECK = 0.5


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[tuple[str, Settings]]:
    quick = settings.model_copy(update={"stream_recheck_seconds": RECHECK})
    with serve(quick) as (url, _app):
        yield url, quick


@pytest.fixture
def conn(settings: Settings) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(settings.database_url, autocommit=True, row_factory=dict_row) as c:
        yield c


def _user(conn: psycopg.Connection[Any]) -> tuple[int, str]:
    team = unique("team")
    username = create_user(conn, role="nurse", teams=[team])
    row = conn.execute("select id from users where username = %s", (username,)).fetchone()
    assert row is not None
    return int(row["id"]), team


def _follow(url: str, token: str, *, timeout: float) -> tuple[float, list[str]]:
    """Seconds until the server ended the stream, and the lines it sent."""
    started = time.monotonic()
    lines: list[str] = []
    with httpx.stream("GET", f"{url}/api/v1/alerts/stream", params={"access_token": token},
                      timeout=httpx.Timeout(timeout)) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            lines.append(line)
    return time.monotonic() - started, lines


def _reason(lines: list[str]) -> str:
    assert "event: end" in lines, lines
    data = lines[lines.index("event: end") + 1]
    return str(json.loads(data.removeprefix("data: "))["reason"])


def test_the_stream_ends_when_its_token_expires(server: tuple[str, Settings],
                                                conn: psycopg.Connection[Any]) -> None:
    url, settings = server
    user_id, _team = _user(conn)
    short = settings.model_copy(update={"jwt_ttl_seconds": 2})
    token = tokens.issue(short, user_id=user_id)
    took, lines = _follow(url, token, timeout=15)
    assert _reason(lines) == "token-expired"
    # Ended by the server near the expiry, long before the 15-s read timeout (a loaded machine
    # delays the end by seconds, so the upper bound is loose).
    assert 1.0 < took < 10.0
    # The browser's reconnect with the same token opens no new stream.
    again = httpx.get(f"{url}/api/v1/alerts/stream", params={"access_token": token})
    assert again.status_code == 401


@pytest.mark.parametrize(("change", "reason"), [
    ("update users set active = false where id = %(user)s", "user-deactivated"),
    ("delete from user_teams where user_id = %(user)s", "access-changed"),
    ("update users set role = 'admin' where id = %(user)s", "access-changed"),
])
def test_the_stream_ends_within_seconds_when_access_is_withdrawn(
        server: tuple[str, Settings], conn: psycopg.Connection[Any], change: str,
        reason: str) -> None:
    url, settings = server
    user_id, _team = _user(conn)
    token = tokens.issue(settings, user_id=user_id)
    result: dict[str, Any] = {}

    def withdraw_soon() -> None:
        time.sleep(1.0)
        result["at"] = time.monotonic()
        conn.execute(change, {"user": user_id})

    thread = threading.Thread(target=withdraw_soon)
    thread.start()
    _took, lines = _follow(url, token, timeout=30)
    ended = time.monotonic()
    thread.join()
    assert _reason(lines) == reason
    assert ended - result["at"] < RECHECK + 2.0
