"""Pairing-code redemptions per client address, counted in Redis before the code is looked up:
a counter in the request's transaction would be rolled back with the refusal it counts."""

from __future__ import annotations

import functools
import logging

import redis

from core import errors
from core.settings import Settings

log = logging.getLogger(__name__)

WINDOW_SECONDS = 15 * 60


@functools.cache
def _client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)


def address_key(address: str) -> str:
    return f"kol:pair:addr:{address}"


def reserve(settings: Settings, address: str) -> None:
    """Count this attempt; raise TooManyPairingAttempts beyond the limit, ThrottleUnavailable
    without Redis (eight digits must not be open to unlimited guessing)."""
    key = address_key(address)
    try:
        pipe = _client(settings.redis_url).pipeline()
        pipe.incr(key)
        # NX: the window starts at the first attempt and later ones do not extend it.
        pipe.expire(key, WINDOW_SECONDS, nx=True)
        count = int(pipe.execute()[0])
    except redis.RedisError as exc:
        log.warning("pairing throttle unavailable: %s", exc)
        raise errors.ThrottleUnavailable() from exc
    if count > settings.pairing_attempts_per_address:
        raise errors.TooManyPairingAttempts(retry_after=WINDOW_SECONDS)
