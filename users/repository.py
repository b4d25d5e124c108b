"""SQL for users and teams."""

from __future__ import annotations

from typing import Any

from psycopg import Connection


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
