"""The OpenAPI document against the live server: schemathesis runs every phase (examples,
coverage, fuzzing, stateful) with every check over every operation except the endless event
stream, as a nurse, a clinician and an admin, and must find nothing. Bounded and derandomized:
a fixed seed and a few examples per operation, so a run takes about the same time every time."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import psycopg
import pytest
import schemathesis
from fastapi.testclient import TestClient
from psycopg.rows import dict_row
from schemathesis.config import SchemathesisConfig
from schemathesis.config._checks import POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES
from schemathesis.engine import Status, events, from_schema

# Registers the problem-type check and the cross-field rules with schemathesis.
import tests.api.schemathesis_rules  # noqa: F401
from core.access import Role
from core.settings import Settings
from tests.api.helpers import make_user
from tests.api.live_server import serve
from tests.conftest import insert_patient, unique

MAX_EXAMPLES = 10
STATEFUL_STEPS = 20
SEED = 20261129
REDIS_DB = 15
"""A Redis database of its own: generated logins must not lock out the other tests' address."""
STREAM = "/api/v1/alerts/stream"
PAIR = "/api/v1/tablet/pair"
"""Schemathesis reuses a pairing code from an earlier answer, and a code redeemed once is gone
(410) by design: a well-formed code that is used or expired is state, not bad data."""


@dataclass
class Outcome:
    cases: Counter[str] = field(default_factory=Counter)
    """Cases per phase."""
    operations: set[str] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def run(url: str, token: str) -> Outcome:
    config = SchemathesisConfig.from_dict({
        "seed": SEED,
        "workers": 1,
        "headers": {"Authorization": f"Bearer {token}"},
        # NUL included: PostgreSQL text cannot hold one, so every text input must refuse it or
        # cope with it.
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "allow-x00": True},
        "checks": {"enabled": True},
        "phases": {"stateful": {"max-steps": STATEFUL_STEPS}},
        "suppress-health-check": ["all"],
        "operations": [{
            "include-path": PAIR,
            "checks": {"positive_data_acceptance": {"expected-statuses": [
                *POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES, "410"]}},
        }],
    })
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json", config=config).exclude(
        path=STREAM)
    outcome = Outcome()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            outcome.cases[event.phase.value] += len(recorder.cases)
            if event.label:
                outcome.operations.add(event.label)
            for case_id, checks in recorder.checks.items():
                for check in checks:
                    if check.status == Status.FAILURE and check.failure_info is not None:
                        case = recorder.cases[case_id].value
                        outcome.failures.append(
                            f"[{event.phase.value}] {case.operation.label} {check.name}: "
                            f"{check.failure_info.failure.title}\n"
                            f"{check.failure_info.failure.message}\n"
                            f"{check.failure_info.code_sample}")
        elif isinstance(event, events.NonFatalError | events.FatalError):
            outcome.errors.append(str(getattr(event, "info", event)))
    return outcome


@pytest.fixture(scope="module")
def live_url(settings: Settings) -> Iterator[str]:
    redis_url = settings.redis_url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    with serve(settings.model_copy(update={"redis_url": redis_url})) as (url, _):
        # The document is generated on first request; not within schemathesis' load timeout
        # on a busy machine.
        httpx.get(f"{url}/openapi.json", timeout=60).raise_for_status()
        yield url


@pytest.mark.slow
# About 2-4 minutes a role on two cores (65+ operations, every phase); the suite's 300-s default
# would cut a run short on a loaded machine.
@pytest.mark.timeout(900)
@pytest.mark.parametrize("role", ["nurse", "clinician", "admin", "manager"])
def test_the_document_tells_the_whole_truth(live_url: str, client: TestClient,
                                            settings: Settings, role: Role) -> None:
    with psycopg.connect(settings.database_url, autocommit=True, row_factory=dict_row) as conn:
        team = unique("team")
        insert_patient(conn, team=team)
        token = make_user(client, conn, role=role, teams=[team]).headers["Authorization"]
    outcome = run(live_url, token.removeprefix("Bearer "))
    print(f"{role}: {outcome.cases.total()} cases ({dict(outcome.cases)}) over "
          f"{len(outcome.operations)} operations, {len(outcome.failures)} failures")
    assert not outcome.errors, "\n".join(outcome.errors)
    assert not outcome.failures, "\n\n".join(outcome.failures)
    assert all(outcome.cases[phase] > 0
               for phase in ("examples", "coverage", "fuzzing", "stateful")), outcome.cases
