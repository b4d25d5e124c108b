from __future__ import annotations

from pydantic import BaseModel, Field

from core.access import Role


class UserCreate(BaseModel):
    username: str = Field(pattern=r"^[A-Za-z0-9._@-]{3,64}$")
    password: str = Field(min_length=10, max_length=200)
    role: Role
    display_name: str = Field(default="", max_length=200)
    teams: list[str] = Field(default_factory=list)


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: Role
    active: bool
    teams: list[str]
