"""Property-based API tests: schemathesis generates requests for every operation of the app's
own OpenAPI schema (except the endless event stream) and checks that none answers 5xx and every
response conforms to the declared schema. Bounded: a few examples per operation, derandomized."""

from __future__ import annotations

from collections.abc import Iterator

import hypothesis
import psycopg
import pytest
import schemathesis
from fastapi.testclient import TestClient
from psycopg.rows import dict_row
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from core.settings import Settings
from tests.api.helpers import make_user
from tests.api.live_server import serve

MAX_EXAMPLES = 12
REDIS_DB = 15
"""A Redis database of its own: generated logins must not lock out the other tests' address."""


@pytest.fixture(scope="module")
def live_url(settings: Settings) -> Iterator[str]:
    redis_url = settings.redis_url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    with serve(settings.model_copy(update={"redis_url": redis_url})) as (url, _):
        yield url


@pytest.fixture(scope="module")
def admin_headers(client: TestClient, settings: Settings) -> dict[str, str]:
    with psycopg.connect(settings.database_url, autocommit=True, row_factory=dict_row) as conn:
        return make_user(client, conn, role="admin", teams=[]).headers


@pytest.mark.slow
def test_no_server_errors_and_responses_match_the_schema(
        live_url: str, admin_headers: dict[str, str]) -> None:
    # Driven with hypothesis directly rather than schemathesis' pytest plugin, which does not
    # load under pytest 9; every operation is tried and all failures are reported together.
    schema = schemathesis.openapi.from_url(f"{live_url}/openapi.json").exclude(
        path="/api/v1/alerts/stream")
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15

    for operation in operations:
        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None,
                             database=None, suppress_health_check=list(hypothesis.HealthCheck))
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=live_url, headers=admin_headers,
                                   checks=[not_a_server_error, response_schema_conformance])

        try:
            check()
        except Exception as exc:  # noqa: BLE001 - collected and reported below
            failures[operation.label] = str(exc)[:2000]
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
