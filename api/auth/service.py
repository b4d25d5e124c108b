"""Logging in: check a username and password, issue a token."""

from __future__ import annotations

import secrets
from typing import Any

import psycopg
from psycopg import Connection

from api.auth import throttle, tokens
from api.auth.schemas import Token
from core import errors
from core.passwords import hash_password, verify_password
from core.settings import Settings
from users import repository as users_repository

# Verified against when the user does not exist, so that a wrong username costs as much time as a
# wrong password and usernames cannot be told apart by timing.
_DUMMY_HASH = hash_password(secrets.token_hex(16))


def login(conn: Connection[Any], settings: Settings, *, username: str, password: str,
          address: str) -> Token:
    """A token for a valid username and password from ``address`` (the client's IP); 429 while
    this username from this address, or this address, is locked out after repeated failures,
    or while the username is slowed down (``api.auth.throttle``). The attempt is counted before
    the password is checked."""
    locked = throttle.reserve(settings, username=username, address=address)
    if locked is not None:
        raise errors.TooManyLoginAttempts(retry_after=locked.retry_after)
    try:
        # No username holds a NUL (PostgreSQL text cannot), so one with it names no user.
        user = None if "\x00" in username else users_repository.find_by_username(conn, username)
    except (psycopg.OperationalError, psycopg.InterfaceError):
        # The database failed, not the password (the request is answered 503, perhaps run again
        # by api.retry): counted as a failure, a database restart would lock nurses out.
        throttle.give_back(settings, username=username, address=address)
        raise
    if user is None:
        verify_password(_DUMMY_HASH, password)
    if user is None or not user["active"] or not verify_password(user["password_hash"], password):
        raise errors.InvalidCredentials()
    throttle.release(settings, username=username, address=address)
    return Token(access_token=tokens.issue(settings, user_id=user["id"]),
                 expires_in=settings.jwt_ttl_seconds)
