from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class SessionToken(Token):
    """An access token of a dashboard session."""

    idle_timeout: int
    """Seconds without work on the page after which the session ends (the team's setting)."""


class RenewIn(BaseModel):
    active: bool = True
    """The user worked on the page since the last renewal."""
