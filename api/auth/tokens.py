"""Short-lived signed access tokens (JWT, HS256). A dashboard session's tokens name the session
(claim ``sid``), so that ending the session (logout, deactivation) ends them at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from core.settings import Settings

ISSUER = "kol-telemonitoring"
ALGORITHM = "HS256"


class InvalidToken(Exception):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class Claims:
    user_id: int
    expires_at: datetime
    session_id: int | None
    """The dashboard session the token was renewed from; None for a plain password login."""


def issue(settings: Settings, *, user_id: int, session_id: int | None = None) -> str:
    now = datetime.now(UTC)
    claims: dict[str, object] = {"sub": str(user_id), "iss": ISSUER, "iat": now,
                                 "exp": now + timedelta(seconds=settings.jwt_ttl_seconds)}
    if session_id is not None:
        claims["sid"] = session_id
    return jwt.encode(claims, _key(settings), algorithm=ALGORITHM)


def verify(settings: Settings, token: str) -> Claims:
    """The claims of a valid, unexpired token of ours."""
    try:
        claims = jwt.decode(token, _key(settings), algorithms=[ALGORITHM], issuer=ISSUER,
                            options={"require": ["exp", "iat", "sub", "iss"]})
        sid = claims.get("sid")
        return Claims(user_id=int(claims["sub"]),
                      expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
                      session_id=None if sid is None else int(sid))
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise InvalidToken(str(exc)) from exc


def _key(settings: Settings) -> str:
    key = settings.jwt_secret.get_secret_value()
    if len(key) < 32:
        raise RuntimeError("KOL_JWT_SECRET is missing or shorter than 32 characters")
    return key
