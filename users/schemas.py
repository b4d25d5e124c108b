from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from core.access import Role
from core.inputs import Text


class UserCreate(BaseModel):
    username: str = Field(pattern=r"^[A-Za-z0-9._@-]{3,64}$")
    password: str = Field(min_length=10, max_length=200)
    role: Role
    display_name: Text = Field(default="", max_length=200)
    teams: list[Text] = Field(default_factory=list)


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: Role
    active: bool
    teams: list[str]


class UserInvite(BaseModel):
    """A user created by a team admin: no password; she sets one with the reset code."""

    model_config = ConfigDict(extra="forbid")
    username: str = Field(pattern=r"^[A-Za-z0-9._@-]{3,64}$")
    display_name: Text = Field(default="", max_length=200)
    role: Role
    teams: list[Text] = Field(min_length=1)


class UserChange(BaseModel):
    """Absent fields stay. ``teams`` lists the user's teams among the admin's own: teams of the
    admin's not listed are left, the user's other teams are kept."""

    model_config = ConfigDict(extra="forbid")
    display_name: Text | None = Field(default=None, max_length=200)
    role: Role | None = None
    teams: list[Text] | None = None
    active: bool | None = None


class ResetCode(BaseModel):
    code: str
    """Give it to the user (or the link with it); it works once, until ``expires_at``."""
    expires_at: datetime


class UserInvited(BaseModel):
    user: UserOut
    reset: ResetCode


class PasswordResetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: Text = Field(min_length=10, max_length=100)
    password: Text = Field(min_length=10, max_length=200)


class TeamOut(BaseModel):
    id: int
    name: str
    idle_timeout_minutes: int | None
    """The idle timeout of its members' dashboard sessions (null: the platform's default)."""
    members: int


class TeamCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Text = Field(min_length=1, max_length=100)


class TeamChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    idle_timeout_minutes: int | None = Field(ge=1, le=24 * 60)
