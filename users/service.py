"""Users and teams. Services never commit: the caller's boundary owns the transaction."""

from __future__ import annotations

from typing import Any

from psycopg import Connection

from core import audit, errors
from core.access import Viewer
from core.passwords import hash_password
from users import repository
from users.schemas import UserCreate, UserOut


def create_user(conn: Connection[Any], *, viewer: Viewer, data: UserCreate) -> UserOut:
    user_id = repository.insert_user(
        conn, username=data.username, password_hash=hash_password(data.password),
        role=data.role, display_name=data.display_name)
    if user_id is None:
        raise errors.UserExists(f"user {data.username!r} already exists")
    for team in data.teams:
        repository.add_user_to_team(conn, user_id, repository.get_or_create_team(conn, team))
    audit.record(conn, viewer=viewer, action="user.create", entity_type="user", entity_id=user_id,
                 detail={"username": data.username, "role": data.role, "teams": data.teams})
    return UserOut(id=user_id, username=data.username, display_name=data.display_name,
                   role=data.role, active=True, teams=sorted(data.teams))
