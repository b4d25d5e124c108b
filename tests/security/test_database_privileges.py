"""Database least privilege: no trust authentication, a private socket, services on a role that
cannot change the schema or reach the operating system, migrations as the owner."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import errors
from psycopg.conninfo import conninfo_to_dict

from core.migrate import migrate
from core.settings import Settings
from tests.stack import create_database, drop_database, with_database


def _stack_dir() -> Path:
    return Path(os.environ["KOL_STACK_DIR"])


def test_no_trust_authentication_anywhere(settings: Settings) -> None:
    rules = [line.split() for line in (_stack_dir() / "pg" / "pg_hba.conf").read_text()
             .splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert rules
    assert {rule[-1] for rule in rules} == {"scram-sha-256"}


def test_state_and_socket_directories_are_private(settings: Settings) -> None:
    for directory in (_stack_dir(), _stack_dir() / "run"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    sockets = list((_stack_dir() / "run").glob(".s.PGSQL.*"))
    assert sockets


def test_another_os_user_cannot_connect(settings: Settings) -> None:
    port = os.environ["KOL_PG_PORT"]
    # Through the socket (the old superuser-by-trust path) and over TCP without a password.
    for host in (str(_stack_dir() / "run"), "127.0.0.1"):
        for role in ("kol", "kol_owner", "kol_superuser"):
            result = subprocess.run(
                ["runuser", "-u", "nobody", "--", "psql", "-X", "-w", "-h", host, "-p", port,
                 "-U", role, "-d", "kol", "-c", "select 1"],
                capture_output=True, text=True, timeout=20, cwd="/")
            assert result.returncode != 0, (host, role, result.stdout)
            assert ("Permission denied" in result.stderr or "password" in result.stderr
                    or "No such file" in result.stderr), result.stderr


@pytest.fixture
def service(settings: Settings) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        yield conn


def test_services_are_not_superuser(service: psycopg.Connection[Any]) -> None:
    row = service.execute("select rolsuper, rolcreatedb, rolcreaterole, rolbypassrls"
                          " from pg_roles where rolname = current_user").fetchone()
    assert row == (False, False, False, False)
    assert conninfo_to_dict(service.info.dsn)["user"] == "kol"


@pytest.mark.parametrize("statement", [
    "create table intruder (x int)",
    "create extension if not exists pgcrypto",  # a trusted extension: still needs CREATE
    "create extension if not exists file_fdw",
    "copy (select 1) to program 'id'",
    "copy (select 1) to '/tmp/kol-intruder'",
    "alter table readings add column intruder int",
    "drop table audit_log",
    "create role intruder",
    "create schema intruder",
])
def test_the_service_role_cannot_change_the_schema_or_reach_the_system(
        service: psycopg.Connection[Any], statement: str) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        service.execute(statement)


APPEND_ONLY = {"access_log"}
KEPT = {"patient_messages": {"read_at", "read_by"}}
"""Tables whose rows the services never delete nor rewrite: only these columns may change (a
message's read receipt; docs/messages.md)."""


def test_the_service_role_has_dml_on_every_table_and_only_appends_to_the_access_log(
        service: psycopg.Connection[Any]) -> None:
    rows = service.execute(
        "select c.relname, p.privilege, has_table_privilege(c.oid, p.privilege)"
        " from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " cross join unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE'])"
        "   as p(privilege)"
        " where n.nspname = 'public' and c.relkind in ('r', 'p')").fetchall()
    assert len({table for table, _, _ in rows}) > 10
    for table, privilege, held in rows:
        # The access log: select, and insert of some columns only (below). Kept tables: no
        # update of the whole row, no delete (their updatable columns below).
        expected = (privilege == "SELECT" if table in APPEND_ONLY
                    else privilege in ("SELECT", "INSERT") if table in KEPT
                    else privilege != "TRUNCATE")
        assert held == expected, (table, privilege)
    for table, updatable in KEPT.items():
        columns = dict(service.execute(
            "select attname, has_column_privilege(%s, attname, 'UPDATE') from pg_attribute"
            " where attrelid = %s::regclass and attnum > 0 and not attisdropped",
            (table, table)).fetchall())
        assert {c for c, held in columns.items() if held} == updatable, table
    columns = dict(service.execute(
        "select attname, has_column_privilege('access_log', attname, 'INSERT')"
        " from pg_attribute where attrelid = 'access_log'::regclass and attnum > 0"
        " and not attisdropped").fetchall())
    assert columns == {"id": False, "at": False, "user_id": True, "username": True,
                       "patient_id": True, "what": True, "detail": True, "address": True}


def test_migrations_need_the_owner_and_new_tables_get_the_services_grants(
        settings: Settings, owner_url: str, tmp_path: Path) -> None:
    admin = with_database(owner_url, "postgres")
    name = create_database(admin)
    try:
        (tmp_path / "0001_new.sql").write_text("create table later_table (x int);")
        with pytest.raises(errors.InsufficientPrivilege):
            migrate(with_database(settings.database_url, name), directory=tmp_path)
        assert [m.version for m in migrate(with_database(owner_url, name),
                                           directory=tmp_path)] == [1]
        with psycopg.connect(with_database(settings.database_url, name),
                             autocommit=True) as conn:
            conn.execute("insert into later_table values (1)")
            assert conn.execute("delete from later_table").rowcount == 1
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute("drop table later_table")
    finally:
        drop_database(admin, name)
