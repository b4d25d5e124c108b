"""More requests at once than the API has database connections must queue, not stall: a request
waiting for a connection may not hold a worker thread that a request with a connection needs."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import psycopg

from core.settings import Settings
from tests.api.helpers import PASSWORD, create_user
from tests.api.live_server import serve
from tests.conftest import unique


async def _burst(url: str, headers: dict[str, str], n: int) -> list[int]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        responses = await asyncio.gather(*(client.get("/api/v1/triage", headers=headers)
                                           for _ in range(n)))
    return [r.status_code for r in responses]


def test_a_burst_beyond_the_pool_and_the_threadpool_is_served(
        settings: Settings, committed_conn: psycopg.Connection[Any]) -> None:
    username = create_user(committed_conn, role="nurse", teams=[unique("team")])
    # Two connections against 100 concurrent requests: far more than the 40 worker threads.
    small = settings.model_copy(update={"db_pool_min": 1, "db_pool_max": 2})
    with serve(small) as (url, _app):
        token = httpx.post(f"{url}/api/v1/auth/token",
                           data={"username": username, "password": PASSWORD}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        statuses = asyncio.run(asyncio.wait_for(_burst(url, headers, 100), timeout=50))
    assert statuses == [200] * 100
