"""SQL for users and teams."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import Connection, sql


def get_or_create_team(conn: Connection[Any], name: str) -> int:
    row = conn.execute(
        "insert into teams (name) values (%s) on conflict (name) do update set name = excluded.name"
        " returning id", (name,)).fetchone()
    assert row is not None
    return int(row["id"])


def team_id(conn: Connection[Any], name: str) -> int | None:
    row = conn.execute("select id from teams where name = %s", (name,)).fetchone()
    return None if row is None else int(row["id"])


def insert_user(conn: Connection[Any], *, username: str, password_hash: str, role: str,
                display_name: str) -> int | None:
    """The new user's id, None if the username is taken (no error: the caller's transaction
    stays usable)."""
    row = conn.execute(
        "insert into users (username, password_hash, role, display_name) values (%s, %s, %s, %s)"
        " on conflict (username) do nothing returning id",
        (username, password_hash, role, display_name)).fetchone()
    return None if row is None else int(row["id"])


def add_user_to_team(conn: Connection[Any], user_id: int, team_id: int) -> None:
    conn.execute("insert into user_teams (user_id, team_id) values (%s, %s) on conflict do nothing",
                 (user_id, team_id))


_USER = (
    "select u.id, u.username, u.display_name, u.password_hash, u.role, u.active,"
    " coalesce(array_agg(ut.team_id order by ut.team_id)"
    "          filter (where ut.team_id is not null), '{}') as team_ids,"
    " coalesce(array_agg(t.name order by ut.team_id)"
    "          filter (where t.name is not null), '{}') as teams"
    " from users u left join user_teams ut on ut.user_id = u.id"
    " left join teams t on t.id = ut.team_id")


def find_by_username(conn: Connection[Any], username: str) -> dict[str, Any] | None:
    return conn.execute(f"{_USER} where u.username = %s group by u.id", (username,)).fetchone()


def find_by_id(conn: Connection[Any], user_id: int) -> dict[str, Any] | None:
    return conn.execute(f"{_USER} where u.id = %s group by u.id", (user_id,)).fetchone()


# --- dashboard sessions (rotating refresh tokens, stored as their SHA-256) -----------------------

def insert_session(conn: Connection[Any], *, user_id: int, refresh_hash: bytes,
                   lifetime_seconds: float) -> int:
    row = conn.execute(
        "insert into user_sessions (user_id, refresh_hash, expires_at)"
        " values (%s, %s, now() + make_interval(secs => %s)) returning id",
        (user_id, refresh_hash, lifetime_seconds)).fetchone()
    assert row is not None
    return int(row["id"])


def session_by_refresh(conn: Connection[Any], refresh_hash: bytes) -> dict[str, Any] | None:
    """The session whose current or previous refresh token this is (locked for the rotation),
    with ``current`` telling which, and the user's idle timeout: the shortest her teams set."""
    return conn.execute(
        "select s.id, s.user_id, s.refresh_hash = %(h)s as current, s.rotated_at,"
        " s.last_active_at, s.expires_at, s.revoked_at, now() as now,"
        " (select min(t.idle_timeout_minutes) from user_teams ut join teams t on t.id = ut.team_id"
        "  where ut.user_id = s.user_id) as idle_timeout_minutes"
        " from user_sessions s where s.refresh_hash = %(h)s or s.previous_hash = %(h)s"
        " for update of s", {"h": refresh_hash}).fetchone()


def rotate_session(conn: Connection[Any], *, session_id: int, refresh_hash: bytes,
                   active: bool) -> None:
    conn.execute(
        "update user_sessions set previous_hash = refresh_hash, refresh_hash = %s,"
        " rotated_at = now(),"
        " last_active_at = case when %s then now() else last_active_at end where id = %s",
        (refresh_hash, active, session_id))


def revoke_session(conn: Connection[Any], session_id: int, reason: str) -> None:
    conn.execute("update user_sessions set revoked_at = now(), revoked_reason = %s"
                 " where id = %s and revoked_at is null", (reason, session_id))


def revoke_user_sessions(conn: Connection[Any], user_id: int, reason: str) -> int:
    """End every open session of a user (deactivation, a password reset)."""
    return conn.execute("update user_sessions set revoked_at = now(), revoked_reason = %s"
                        " where user_id = %s and revoked_at is null",
                        (reason, user_id)).rowcount


def session_is_open(conn: Connection[Any], session_id: int, user_id: int) -> bool:
    return conn.execute(
        "select 1 from user_sessions where id = %s and user_id = %s and revoked_at is null"
        " and expires_at > now()", (session_id, user_id)).fetchone() is not None


def user_idle_timeout_minutes(conn: Connection[Any], user_id: int) -> int | None:
    row = conn.execute(
        "select min(t.idle_timeout_minutes) as m from user_teams ut join teams t"
        " on t.id = ut.team_id where ut.user_id = %s", (user_id,)).fetchone()
    return None if row is None or row["m"] is None else int(row["m"])


def set_team_idle_timeout(conn: Connection[Any], team_id: int, minutes: int | None) -> None:
    conn.execute("update teams set idle_timeout_minutes = %s where id = %s", (minutes, team_id))


# --- administration by a team admin (scoped to the admin's teams) -------------------------------

def users_of_teams(conn: Connection[Any], team_ids: list[int]) -> list[dict[str, Any]]:
    """Users who belong to any of ``team_ids``, with all their teams."""
    return conn.execute(
        f"{_USER} where u.id in (select user_id from user_teams where team_id = any(%s))"
        " group by u.id order by u.username", (team_ids,)).fetchall()


def update_user(conn: Connection[Any], user_id: int, changes: dict[str, Any]) -> None:
    assert set(changes) <= {"display_name", "role", "active", "password_hash"}
    conn.execute(sql.SQL("update users set {} where id = %(id)s").format(
        sql.SQL(", ").join(sql.SQL("{} = {}").format(sql.Identifier(k), sql.Placeholder(k))
                           for k in changes)), {**changes, "id": user_id})


def remove_user_from_team(conn: Connection[Any], user_id: int, team_id: int) -> None:
    conn.execute("delete from user_teams where user_id = %s and team_id = %s", (user_id, team_id))


def insert_reset(conn: Connection[Any], *, user_id: int, code_hash: bytes, created_by: int | None,
                 lifetime_seconds: float) -> datetime:
    row = conn.execute(
        "insert into password_resets (user_id, code_hash, created_by, expires_at)"
        " values (%s, %s, %s, now() + make_interval(secs => %s)) returning expires_at",
        (user_id, code_hash, created_by, lifetime_seconds)).fetchone()
    assert row is not None
    expires_at: datetime = row["expires_at"]
    return expires_at


def use_reset(conn: Connection[Any], code_hash: bytes) -> int | None:
    """Mark an unused, unexpired code used; its user's id, or None."""
    row = conn.execute(
        "update password_resets set used_at = now() where code_hash = %s and used_at is null"
        " and expires_at > now() returning user_id", (code_hash,)).fetchone()
    return None if row is None else int(row["user_id"])


def teams(conn: Connection[Any], team_ids: list[int]) -> list[dict[str, Any]]:
    return conn.execute(
        "select t.id, t.name, t.idle_timeout_minutes,"
        " (select count(*) from user_teams ut where ut.team_id = t.id) as members"
        " from teams t where t.id = any(%s) order by t.name", (team_ids,)).fetchall()
