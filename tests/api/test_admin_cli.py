"""``kol-admin create-user`` writes the user, her teams and the audit entry in one transaction."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.conftest import unique

KOL_ADMIN = os.path.join(os.path.dirname(sys.executable), "kol-admin")


def _create_user(username: str, team: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KOL_ADMIN, "create-user", "--username", username, "--role", "nurse", "--team", team,
         "--password-stdin"], input="a long enough password\n", capture_output=True, text=True,
        timeout=60)


@pytest.fixture
def failing_audit(owner_conn: psycopg.Connection[Any]) -> Iterator[str]:
    """A username whose audit entry the database refuses (a test-only trigger, made by the
    schema's owner: the services' role cannot create one)."""
    committed_conn = owner_conn
    username = unique("doomed")
    committed_conn.execute(f"""
        create function refuse_audit_{os.getpid()}() returns trigger language plpgsql as $$
        begin
            if new.detail ->> 'username' = '{username}' then
                raise exception 'audit refused by the test';
            end if;
            return new;
        end $$""")
    committed_conn.execute(
        f"create trigger refuse_audit before insert on audit_log for each row"
        f" execute function refuse_audit_{os.getpid()}()")
    try:
        yield username
    finally:
        committed_conn.execute("drop trigger refuse_audit on audit_log")
        committed_conn.execute(f"drop function refuse_audit_{os.getpid()}()")


def test_a_failed_audit_write_leaves_no_user_and_no_team(
        settings: Any, committed_conn: psycopg.Connection[Any], failing_audit: str) -> None:
    team = unique("team")
    result = _create_user(failing_audit, team)
    assert result.returncode != 0
    assert "audit refused by the test" in result.stderr
    assert committed_conn.execute("select count(*) as n from users where username = %s",
                                  (failing_audit,)).fetchone() == {"n": 0}
    assert committed_conn.execute("select count(*) as n from teams where name = %s",
                                  (team,)).fetchone() == {"n": 0}


def test_create_user_writes_user_teams_and_audit(
        settings: Any, committed_conn: psycopg.Connection[Any]) -> None:
    username, team = unique("nurse"), unique("team")
    result = _create_user(username, team)
    assert result.returncode == 0, result.stderr
    row = committed_conn.execute(
        "select u.role, t.name as team, a.action from users u"
        " join user_teams ut on ut.user_id = u.id join teams t on t.id = ut.team_id"
        " join audit_log a on a.entity_type = 'user' and a.entity_id = u.id::text"
        " where u.username = %s", (username,)).fetchone()
    assert row == {"role": "nurse", "team": team, "action": "user.create"}
    again = _create_user(username, team)
    assert again.returncode == 1
    assert "already exists" in again.stderr
