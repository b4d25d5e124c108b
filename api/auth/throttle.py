"""Login throttling against password guessing: failed logins are counted in Redis per username
and per client address over a window; at the limit, logins from that name or address answer 429
until the window ends. Counting in Redis holds across API processes."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import redis

log = logging.getLogger(__name__)

WINDOW_SECONDS = 15 * 60
USER_LIMIT = 5
"""Failures per username per window: a nurse mistyping a few times is not locked out."""
ADDRESS_LIMIT = 50
"""Failures per client address per window: one address trying many usernames (a ward's
shared address stays well below this)."""
_PREFIX = "kol:login-failures:"


@dataclass(frozen=True, slots=True, kw_only=True)
class Locked:
    retry_after: int


@functools.cache
def _client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)


def _keys(username: str, address: str) -> list[tuple[str, int]]:
    return [(f"{_PREFIX}user:{username.lower()}", USER_LIMIT),
            (f"{_PREFIX}addr:{address}", ADDRESS_LIMIT)]


def check(redis_url: str, *, username: str, address: str) -> Locked | None:
    """Whether logins for this username or from this address are locked, and for how long.
    Without Redis, logins go on unthrottled (logged): the nurses' access matters more."""
    try:
        pipe = _client(redis_url).pipeline()
        for key, _ in _keys(username, address):
            pipe.get(key)
            pipe.ttl(key)
        replies = pipe.execute()
    except redis.RedisError as exc:
        log.warning("login throttling unavailable: %s", exc)
        return None
    waits = [max(int(ttl), 1) for (_, limit), count, ttl
             in zip(_keys(username, address), replies[::2], replies[1::2], strict=True)
             if count is not None and int(count) >= limit]
    return Locked(retry_after=max(waits)) if waits else None


def record_failure(redis_url: str, *, username: str, address: str) -> None:
    try:
        pipe = _client(redis_url).pipeline()
        for key, _ in _keys(username, address):
            pipe.incr(key)
            # The window starts at the first failure and is not extended by later ones.
            pipe.expire(key, WINDOW_SECONDS, nx=True)
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("login throttling unavailable: %s", exc)


def record_success(redis_url: str, *, username: str) -> None:
    """A successful login clears its username's failures. The address count is kept, so that one
    valid account cannot be used to reset an address that is guessing at others."""
    try:
        _client(redis_url).delete(_keys(username, "")[0][0])
    except redis.RedisError as exc:
        log.warning("login throttling unavailable: %s", exc)
