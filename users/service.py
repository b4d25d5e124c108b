"""Users and teams. Services never commit: the caller's boundary owns the transaction."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from psycopg import Connection

from core import audit, errors
from core.access import Viewer
from core.passwords import hash_password
from users import repository
from users.schemas import (
    PasswordResetIn,
    ResetCode,
    TeamChange,
    TeamCreate,
    TeamOut,
    UserChange,
    UserCreate,
    UserInvite,
    UserInvited,
    UserOut,
)

RESET_SECONDS = 24 * 3600
"""How long a password-reset code works: handed over today, used today."""


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


def _out(row: dict[str, Any], viewer: Viewer) -> UserOut:
    """A user as a team admin sees her: only the teams they share."""
    shared = [name for tid, name in zip(row["team_ids"], row["teams"], strict=True)
              if tid in viewer.team_ids]
    return UserOut(id=row["id"], username=row["username"], display_name=row["display_name"],
                   role=row["role"], active=row["active"], teams=sorted(shared))


def _own_team_ids(conn: Connection[Any], viewer: Viewer, names: list[str]) -> dict[str, int]:
    ids = {}
    for name in names:
        team_id = repository.team_id(conn, name)
        if team_id is None or team_id not in viewer.team_ids:
            raise errors.NotTeamMember(f"you are not a member of the team {name!r}")
        ids[name] = team_id
    return ids


def _require_user(conn: Connection[Any], viewer: Viewer, user_id: int) -> dict[str, Any]:
    """A user who shares a team with the admin; another team's user is not to be known."""
    row = repository.find_by_id(conn, user_id)
    if row is None or not set(row["team_ids"]) & set(viewer.team_ids):
        raise errors.UserNotFound()
    return row


def _hash(code: str) -> bytes:
    return hashlib.sha256(code.encode()).digest()


def _new_reset(conn: Connection[Any], viewer: Viewer, user_id: int) -> ResetCode:
    code = secrets.token_urlsafe(12)
    expires_at = repository.insert_reset(conn, user_id=user_id, code_hash=_hash(code),
                                         created_by=viewer.user_id,
                                         lifetime_seconds=RESET_SECONDS)
    return ResetCode(code=code, expires_at=expires_at)


def list_users(conn: Connection[Any], viewer: Viewer) -> list[UserOut]:
    return [_out(r, viewer) for r in repository.users_of_teams(conn, list(viewer.team_ids))]


def invite(conn: Connection[Any], viewer: Viewer, data: UserInvite) -> UserInvited:
    """A new user in some of the admin's teams, with a one-time code to set her password."""
    team_ids = _own_team_ids(conn, viewer, data.teams)
    user_id = repository.insert_user(
        conn, username=data.username, password_hash=hash_password(secrets.token_urlsafe(32)),
        role=data.role, display_name=data.display_name)
    if user_id is None:
        raise errors.UserExists(f"user {data.username!r} already exists")
    for team_id in team_ids.values():
        repository.add_user_to_team(conn, user_id, team_id)
    audit.record(conn, viewer=viewer, action="user.create", entity_type="user", entity_id=user_id,
                 detail={"username": data.username, "role": data.role, "teams": data.teams})
    row = repository.find_by_id(conn, user_id)
    assert row is not None
    return UserInvited(user=_out(row, viewer), reset=_new_reset(conn, viewer, user_id))


def change(conn: Connection[Any], viewer: Viewer, user_id: int, data: UserChange) -> UserOut:
    """Role, name, the admin's teams she belongs to, active. Deactivation ends her sessions at
    once (her access tokens and open streams stop with them)."""
    before = _require_user(conn, viewer, user_id)
    if user_id == viewer.user_id and (data.active is False or (
            data.role is not None and data.role != "admin")):
        raise errors.Forbidden("you cannot deactivate yourself or give up your own admin role")
    changes = {k: v for k, v in data.model_dump(exclude={"teams"}, exclude_unset=True).items()
               if v is not None and v != before[k]}
    if changes:
        repository.update_user(conn, user_id, changes)
    if data.active is False and before["active"]:
        repository.revoke_user_sessions(conn, user_id, "user-deactivated")
    detail: dict[str, Any] = {k: {"old": before[k], "new": v} for k, v in changes.items()}
    if data.teams is not None:
        wanted = set(_own_team_ids(conn, viewer, data.teams).values())
        mine = set(viewer.team_ids)
        had = set(before["team_ids"]) & mine
        for team_id in wanted - had:
            repository.add_user_to_team(conn, user_id, team_id)
        for team_id in had - wanted:
            repository.remove_user_from_team(conn, user_id, team_id)
        if wanted != had:
            detail["teams"] = {"added": sorted(wanted - had), "removed": sorted(had - wanted)}
    if detail:
        audit.record(conn, viewer=viewer, action="user.change", entity_type="user",
                     entity_id=user_id, detail=detail)
    row = repository.find_by_id(conn, user_id)
    assert row is not None
    return _out(row, viewer)


def reset_password(conn: Connection[Any], viewer: Viewer, user_id: int) -> ResetCode:
    """A one-time code for the user to choose a new password; her sessions end now."""
    _require_user(conn, viewer, user_id)
    repository.revoke_user_sessions(conn, user_id, "password-reset")
    audit.record(conn, viewer=viewer, action="user.password-reset", entity_type="user",
                 entity_id=user_id)
    return _new_reset(conn, viewer, user_id)


def redeem_reset(conn: Connection[Any], data: PasswordResetIn) -> None:
    """Set the password with a one-time code (no login needed: the code is the proof)."""
    user_id = repository.use_reset(conn, _hash(data.code))
    if user_id is None:
        raise errors.InvalidResetCode()
    repository.update_user(conn, user_id, {"password_hash": hash_password(data.password)})
    repository.revoke_user_sessions(conn, user_id, "password-changed")
    row = repository.find_by_id(conn, user_id)
    assert row is not None
    audit.record(conn, viewer=Viewer(user_id=user_id, username=row["username"], role=row["role"],
                                     team_ids=tuple(row["team_ids"])),
                 action="user.password-set", entity_type="user", entity_id=user_id)


def list_teams(conn: Connection[Any], viewer: Viewer) -> list[TeamOut]:
    return [TeamOut.model_validate(r) for r in repository.teams(conn, list(viewer.team_ids))]


def create_team(conn: Connection[Any], viewer: Viewer, data: TeamCreate) -> TeamOut:
    """A new team; the admin who creates it is its first member."""
    if repository.team_id(conn, data.name) is not None:
        raise errors.TeamExists(f"a team {data.name!r} exists")
    team_id = repository.get_or_create_team(conn, data.name)
    assert viewer.user_id is not None
    repository.add_user_to_team(conn, viewer.user_id, team_id)
    audit.record(conn, viewer=viewer, action="team.create", entity_type="team", entity_id=team_id,
                 detail={"name": data.name})
    (row,) = repository.teams(conn, [team_id])
    return TeamOut.model_validate(row)


def change_team(conn: Connection[Any], viewer: Viewer, team_id: int, data: TeamChange) -> TeamOut:
    if team_id not in viewer.team_ids:
        raise errors.TeamNotFound()
    repository.set_team_idle_timeout(conn, team_id, data.idle_timeout_minutes)
    audit.record(conn, viewer=viewer, action="team.change", entity_type="team", entity_id=team_id,
                 detail={"idle_timeout_minutes": data.idle_timeout_minutes})
    (row,) = repository.teams(conn, [team_id])
    return TeamOut.model_validate(row)
