"""Session fixtures: the real stack (started or reused once), a fresh migrated database per run,
and per-test isolation (a rolled-back transaction, unique names)."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from core import settings as settings_module
from core.db import open_pool
from core.migrate import migrate
from core.settings import Settings
from tablets.throttle import address_key
from tests.stack import (
    ROOT,
    TEST_STACK_DEFAULTS,
    create_database,
    drop_database,
    read_env_file,
    stack,
    with_database,
    write_private,
)

for _key, _value in TEST_STACK_DEFAULTS.items():
    os.environ.setdefault(_key, _value)

ARTIFACTS = ROOT / "tests" / "artifacts"


@pytest.fixture(scope="session")
def stack_env() -> dict[str, str]:
    """Start (or reuse) the test stack; its connection settings."""
    stack("up")
    return read_env_file(Path(os.environ["KOL_STACK_DIR"]) / "kol.env")


@pytest.fixture(scope="session")
def stack_owner_url(stack_env: dict[str, str]) -> str:
    """The database owner's connection to the stack's ``kol`` database (creates databases and
    runs migrations; the services' role cannot)."""
    owner = read_env_file(Path(os.environ["KOL_STACK_DIR"]) / "owner.env")
    return owner["KOL_DATABASE_OWNER_URL"]


@pytest.fixture(scope="session")
def run_database(stack_owner_url: str) -> Iterator[str]:
    """The name of this run's database, created and migrated by the owner."""
    admin_url = with_database(stack_owner_url, "postgres")
    name = create_database(admin_url)
    migrate(with_database(stack_owner_url, name))
    try:
        yield name
    finally:
        drop_database(admin_url, name)


@pytest.fixture(scope="session")
def owner_url(stack_owner_url: str, run_database: str) -> str:
    """The owner's connection to this run's database."""
    return with_database(stack_owner_url, run_database)


@pytest.fixture
def scratch_database(owner_url: str) -> Iterator[str]:
    """An empty database of the owner's, dropped after the test: for tests of the migrations
    themselves."""
    admin = with_database(owner_url, "postgres")
    name = create_database(admin)
    yield with_database(owner_url, name)
    drop_database(admin, name)


@pytest.fixture(scope="session")
def settings(stack_env: dict[str, str], run_database: str,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings for this run, pointing at a database created and migrated for it, as the
    services' role. They are also written to a (private) settings file and exported, so that
    services the tests start as subprocesses (gateway, API, workers) use the same database."""
    values = {**stack_env,
              "KOL_DATABASE_URL": with_database(stack_env["KOL_DATABASE_URL"], run_database)}
    env_file = tmp_path_factory.mktemp("settings") / "kol.env"
    write_private(env_file, "".join(f"{k}={v}\n" for k, v in values.items()))
    os.environ.update(values)
    os.environ["KOL_ENV_FILE"] = str(env_file)
    # HTTP clients in the tests (httpx, urllib; requests, which schemathesis uses) verify the
    # API against the stack's CA.
    os.environ["SSL_CERT_FILE"] = stack_env["KOL_TLS_CA_FILE"]
    os.environ["REQUESTS_CA_BUNDLE"] = stack_env["KOL_TLS_CA_FILE"]
    settings_module.get_settings.cache_clear()
    try:
        yield settings_module.get_settings()
    finally:
        settings_module.get_settings.cache_clear()


@pytest.fixture(scope="session")
def pool(settings: Settings) -> Iterator[ConnectionPool]:
    pool = open_pool(settings, name="kol-tests", min_size=1, max_size=10)
    yield pool
    pool.close()


@pytest.fixture
def conn(pool: ConnectionPool) -> Iterator[psycopg.Connection[Any]]:
    """A connection whose work is rolled back after the test."""
    with pool.connection() as connection:
        connection.autocommit = False
        try:
            yield connection
        finally:
            connection.rollback()


@pytest.fixture
def committed_conn(settings: Settings) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection, for tests whose data other processes must see."""
    with psycopg.connect(settings.database_url, autocommit=True, row_factory=dict_row) as c:
        yield c


@pytest.fixture
def owner_conn(owner_url: str) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection as the schema's owner, for tests that change the schema."""
    with psycopg.connect(owner_url, autocommit=True, row_factory=dict_row) as c:
        yield c


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (for a server the test starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something true (returned), or fail after ``timeout``
    seconds: for what another process (gateway, engine, tablet) does in its own time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def insert_patient(conn: psycopg.Connection[Any], *, team: str | None = None,
                   profile: str = "kol-standard", name: str | None = None) -> int:
    """A team (created if needed) and an enrolled patient with threshold version 1, straight in
    SQL: test data for tests that are not about enrolment."""
    team_name = team or unique("team")
    team_row = conn.execute(
        "insert into teams (name) values (%s) on conflict (name) do update set name = excluded.name"
        " returning id", (team_name,)).fetchone()
    assert team_row is not None
    row = conn.execute(
        "insert into patients (display_name, team_id, profile, schedule)"
        " values (%s, %s, %s, %s) returning id",
        (name or unique("patient"), team_row["id"], profile,
         Jsonb({"days": ["mon", "thu"], "deadline": "12:00",
                "types": ["spo2", "pulse", "weight"]}))).fetchone()
    assert row is not None
    conn.execute(
        "insert into threshold_versions (patient_id, version, thresholds, reason)"
        " select %s, 1, thresholds, 'enrolment: copy of profile ' || name"
        " from profiles where name = %s", (row["id"], profile))
    return int(row["id"])


@pytest.fixture
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


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
