"""Logging in: check a username and password, issue a token; dashboard sessions whose rotating
refresh token renews short access tokens for a shift."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import psycopg
from psycopg import Connection

from api.auth import throttle, tokens
from api.auth.schemas import SessionToken, Token
from core import errors
from core.passwords import hash_password, verify_password
from core.settings import Settings
from users import repository as users_repository

# Verified against when the user does not exist, so that a wrong username costs as much time as a
# wrong password and usernames cannot be told apart by timing.
_DUMMY_HASH = hash_password(secrets.token_hex(16))


def _check_password(conn: Connection[Any], settings: Settings, *, username: str, password: str,
                    address: str) -> dict[str, Any]:
    """The user of a valid username and password from ``address`` (the client's IP); 429
    while this username from this address, or this address, is locked out after repeated
    failures, or while the username is slowed down (``api.auth.throttle``). The attempt is
    counted before the password is checked."""
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
    return user


def login(conn: Connection[Any], settings: Settings, *, username: str, password: str,
          address: str) -> Token:
    """A token for a valid username and password from ``address`` (the client's IP); 429 while
    this username from this address, or this address, is locked out after repeated failures,
    or while the username is slowed down (``api.auth.throttle``). The attempt is counted before
    the password is checked."""
    user = _check_password(conn, settings, username=username, password=password, address=address)
    return Token(access_token=tokens.issue(settings, user_id=user["id"]),
                 expires_in=settings.jwt_ttl_seconds)


@dataclass(frozen=True, slots=True, kw_only=True)
class Renewed:
    """An access token and, when the refresh token rotated, the new one for the cookie."""

    token: SessionToken
    refresh_token: str | None


def _hash(refresh_token: str) -> bytes:
    return hashlib.sha256(refresh_token.encode()).digest()


def _idle_seconds(settings: Settings, team_minutes: int | None) -> int:
    return 60 * (team_minutes if team_minutes is not None else settings.session_idle_minutes)


def _session_token(settings: Settings, *, user_id: int, session_id: int,
                   idle_seconds: int) -> SessionToken:
    return SessionToken(access_token=tokens.issue(settings, user_id=user_id,
                                                  session_id=session_id),
                        expires_in=settings.jwt_ttl_seconds, idle_timeout=idle_seconds)


def start_session(conn: Connection[Any], settings: Settings, *, username: str, password: str,
                  address: str) -> Renewed:
    """A password login that opens a dashboard session: an access token, and a refresh token
    for the cookie (stored only as its hash)."""
    user = _check_password(conn, settings, username=username, password=password, address=address)
    refresh = secrets.token_urlsafe(32)
    session_id = users_repository.insert_session(
        conn, user_id=user["id"], refresh_hash=_hash(refresh),
        lifetime_seconds=settings.session_max_hours * 3600)
    idle = _idle_seconds(settings, users_repository.user_idle_timeout_minutes(conn, user["id"]))
    return Renewed(token=_session_token(settings, user_id=user["id"], session_id=session_id,
                                        idle_seconds=idle), refresh_token=refresh)


def renew(conn: Connection[Any], settings: Settings, *, refresh_token: str | None,
          active: bool) -> Renewed:
    """A new access token from the session's refresh token, which rotates; ``active``: the user
    worked on the page since the last renewal (the idle timeout counts from her last work).

    A refresh token replaced more than ``session_refresh_grace_seconds`` ago is taken as stolen
    and ends the session, as do the idle timeout and the session's lifetime: the session is
    revoked and :class:`~core.errors.SessionEnded` raised, and the caller commits the revocation
    with the refusal."""
    if not refresh_token:
        raise errors.SessionEnded("no session")
    row = users_repository.session_by_refresh(conn, _hash(refresh_token))
    if row is None or row["revoked_at"] is not None:
        raise errors.SessionEnded()
    user = users_repository.find_by_id(conn, row["user_id"])
    idle = _idle_seconds(settings, row["idle_timeout_minutes"])
    ended = None
    if user is None or not user["active"]:
        ended = "user-deactivated"
    elif row["now"] >= row["expires_at"]:
        ended = "expired"
    elif not active and row["now"] - row["last_active_at"] > timedelta(seconds=idle):
        ended = "idle"
    elif not row["current"] and (row["rotated_at"] is None or row["now"] - row["rotated_at"]
                                 > timedelta(seconds=settings.session_refresh_grace_seconds)):
        ended = "refresh-token-reused"
    if ended is not None:
        users_repository.revoke_session(conn, row["id"], ended)
        raise errors.SessionEnded(f"the session has ended ({ended}); log in again",
                                  reason=ended)
    token = _session_token(settings, user_id=row["user_id"], session_id=row["id"],
                           idle_seconds=idle)
    if not row["current"]:
        # A second tab renewing with the token another one just replaced: the cookie already
        # holds the newer one, so only an access token is handed out.
        return Renewed(token=token, refresh_token=None)
    refresh = secrets.token_urlsafe(32)
    users_repository.rotate_session(conn, session_id=row["id"], refresh_hash=_hash(refresh),
                                    active=active)
    return Renewed(token=token, refresh_token=refresh)


def end_session(conn: Connection[Any], *, refresh_token: str | None) -> None:
    """Logout: the session's refresh token and every access token renewed from it stop working."""
    if refresh_token:
        row = users_repository.session_by_refresh(conn, _hash(refresh_token))
        if row is not None:
            users_repository.revoke_session(conn, row["id"], "logout")
