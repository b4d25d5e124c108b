"""Users and teams: the logged-in user, and a team admin's administration of her teams' users
(create with a one-time code, change role, teams or name, deactivate, reset the password) and of
her teams (create, idle timeout)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from api.deps import AdminViewer, CurrentViewer, DbConn
from users import repository, service
from users.schemas import (
    PasswordResetIn,
    ResetCode,
    TeamChange,
    TeamCreate,
    TeamOut,
    UserChange,
    UserInvite,
    UserInvited,
    UserOut,
)

router = APIRouter(prefix="/api/v1", tags=["users"])


@router.get("/me", response_model=UserOut)
def me(conn: DbConn, viewer: CurrentViewer) -> UserOut:
    """The logged-in user: what the dashboard shows and which actions it offers."""
    assert viewer.user_id is not None
    user = repository.find_by_id(conn, viewer.user_id)
    assert user is not None
    return UserOut(id=user["id"], username=user["username"], display_name=user["display_name"],
                   role=user["role"], active=user["active"], teams=user["teams"])


@router.get("/users", response_model=list[UserOut])
def list_users(conn: DbConn, viewer: AdminViewer) -> list[UserOut]:
    """The users of the admin's teams (with the teams they share with her)."""
    return service.list_users(conn, viewer)


@router.post("/users", response_model=UserInvited, status_code=status.HTTP_201_CREATED)
def create_user(body: UserInvite, conn: DbConn, viewer: AdminViewer) -> UserInvited:
    """A user in some of the admin's teams, and a one-time code with which she sets her
    password (``POST /auth/password``)."""
    return service.invite(conn, viewer, body)


@router.patch("/users/{user_id}", response_model=UserOut)
def change_user(user_id: int, body: UserChange, conn: DbConn, viewer: AdminViewer) -> UserOut:
    """Role, name, teams (among the admin's), active: a deactivated user's sessions, tokens and
    streams end at once."""
    return service.change(conn, viewer, user_id, body)


@router.post("/users/{user_id}/password-reset", response_model=ResetCode,
             status_code=status.HTTP_201_CREATED)
def reset_password(user_id: int, conn: DbConn, viewer: AdminViewer) -> ResetCode:
    """A one-time code (valid a day) for the user to set a new password; her sessions end."""
    return service.reset_password(conn, viewer, user_id)


@router.post("/auth/password", status_code=status.HTTP_204_NO_CONTENT, tags=["auth"])
def set_password(body: PasswordResetIn, conn: DbConn) -> Response:
    """Set a password with a one-time code from an admin (no login: the code is the proof)."""
    service.redeem_reset(conn, body)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/teams", response_model=list[TeamOut])
def list_teams(conn: DbConn, viewer: CurrentViewer) -> list[TeamOut]:
    return service.list_teams(conn, viewer)


@router.post("/teams", response_model=TeamOut, status_code=status.HTTP_201_CREATED)
def create_team(body: TeamCreate, conn: DbConn, viewer: AdminViewer) -> TeamOut:
    return service.create_team(conn, viewer, body)


@router.patch("/teams/{team_id}", response_model=TeamOut)
def change_team(team_id: int, body: TeamChange, conn: DbConn, viewer: AdminViewer) -> TeamOut:
    """The team's idle timeout for its members' dashboard sessions."""
    return service.change_team(conn, viewer, team_id, body)
