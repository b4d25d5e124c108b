"""Short-lived signed access tokens (JWT, HS256)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt

from core.settings import Settings

ISSUER = "kol-telemonitoring"
ALGORITHM = "HS256"


class InvalidToken(Exception):
    pass


def issue(settings: Settings, *, user_id: int) -> str:
    now = datetime.now(UTC)
    claims = {"sub": str(user_id), "iss": ISSUER, "iat": now,
              "exp": now + timedelta(seconds=settings.jwt_ttl_seconds)}
    return jwt.encode(claims, _key(settings), algorithm=ALGORITHM)


def verify(settings: Settings, token: str) -> int:
    """The user id in a valid, unexpired token of ours."""
    return verify_until(settings, token)[0]


def verify_until(settings: Settings, token: str) -> tuple[int, datetime]:
    """The user id in a valid, unexpired token of ours, and when the token expires."""
    try:
        claims = jwt.decode(token, _key(settings), algorithms=[ALGORITHM], issuer=ISSUER,
                            options={"require": ["exp", "iat", "sub", "iss"]})
        return int(claims["sub"]), datetime.fromtimestamp(int(claims["exp"]), UTC)
    except (jwt.PyJWTError, ValueError) as exc:
        raise InvalidToken(str(exc)) from exc


def _key(settings: Settings) -> str:
    key = settings.jwt_secret.get_secret_value()
    if len(key) < 32:
        raise RuntimeError("KOL_JWT_SECRET is missing or shorter than 32 characters")
    return key
