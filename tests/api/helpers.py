"""Users and tokens for route tests: real users in the run's database, real tokens from the
login endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from core.access import SYSTEM, Role
from tests.conftest import unique
from users import service
from users.schemas import UserCreate

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    username: str
    role: Role
    headers: dict[str, str]


def create_user(conn: psycopg.Connection[Any], *, role: Role, teams: list[str]) -> str:
    """A committed user with ``PASSWORD``; its username."""
    username = unique(role)
    service.create_user(conn, viewer=SYSTEM, data=UserCreate(
        username=username, password=PASSWORD, role=role, teams=teams))
    return username


def make_user(client: TestClient, conn: psycopg.Connection[Any], *, role: Role,
              teams: list[str]) -> User:
    username = create_user(conn, role=role, teams=teams)
    response = client.post("/api/v1/auth/token", data={"username": username,
                                                       "password": PASSWORD})
    assert response.status_code == 200, response.text
    return User(username=username, role=role,
                headers={"Authorization": f"Bearer {response.json()['access_token']}"})

