"""Login throttling against password guessing, atomic in Redis so that it holds across API
processes and under concurrent guesses.

Every login attempt first *reserves* a try (:func:`reserve`, one Lua script: check every limit
and count the attempt in one step) and only then is the password checked; a correct password
gives its reservation back (:func:`release`). So N concurrent wrong passwords for one account
from one address cost at most ``login_attempts_per_user_and_address`` password checks, whatever
N is.

- username + client address: 5 failures in 15 min lock that address out for that username;
- client address: 50 failures in 15 min (guessing many usernames) lock the address out;
- username, all addresses: beyond 20 failures in an hour the username is *slowed* to one
  password check per 10 s across all addresses.

(The limits are settings: ``KOL_LOGIN_ATTEMPTS_PER_USER_AND_ADDRESS``,
``KOL_LOGIN_ATTEMPTS_PER_ADDRESS``, ``KOL_LOGIN_ATTEMPTS_PER_USER``, ``KOL_LOGIN_SLOW_SECONDS``.)

A username is never locked for everyone: guesses from other addresses lock out those
addresses, and beyond the per-username limit they slow the account down instead, so a nurse
logging in from her own (clean) address gets in, at worst after a few seconds.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any

import redis

from core.settings import Settings

log = logging.getLogger(__name__)

PAIR_WINDOW_SECONDS = 15 * 60
ADDRESS_WINDOW_SECONDS = 15 * 60
USER_WINDOW_SECONDS = 60 * 60
_PREFIX = "kol:login:"

_RESERVE = """
-- KEYS: pair, address, user, the user's slow-mode slot
-- ARGV: pair limit, address limit, user limit, pair window, address window, user window,
--       slow interval in ms
local function wait(key, limit)
  if tonumber(redis.call('GET', key) or '0') >= limit then
    return math.max(redis.call('TTL', key), 1)
  end
  return 0
end
local locked = math.max(wait(KEYS[1], tonumber(ARGV[1])), wait(KEYS[2], tonumber(ARGV[2])))
if locked > 0 then return locked end
if tonumber(redis.call('GET', KEYS[3]) or '0') >= tonumber(ARGV[3]) then
  if not redis.call('SET', KEYS[4], '1', 'NX', 'PX', ARGV[7]) then
    return math.max(math.ceil(redis.call('PTTL', KEYS[4]) / 1000), 1)
  end
end
for i = 1, 3 do
  redis.call('INCR', KEYS[i])
  -- The window starts at the first attempt and is not extended by later ones.
  if redis.call('TTL', KEYS[i]) < 0 then redis.call('EXPIRE', KEYS[i], ARGV[3 + i]) end
end
return 0
"""

_RELEASE = """
-- KEYS: pair, address, user. A correct password: its username's failures from this address
-- are forgiven, and its own reservation is given back to the address and the username (their
-- other failures stay: one valid account must not reset an address guessing at others).
redis.call('DEL', KEYS[1])
for i = 2, 3 do
  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end
end
return 0
"""


_GIVE_BACK = """
-- KEYS: pair, address, user. The attempt could not be judged (the database failed): only its own
-- reservation is given back; failures stay counted.
for i = 1, 3 do
  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end
end
return 0
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class Locked:
    retry_after: int


@functools.cache
def _script(redis_url: str, source: str) -> Any:
    client = redis.Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)
    return client.register_script(source)


def _keys(username: str, address: str) -> list[str]:
    user = username.lower()
    return [f"{_PREFIX}pair:{user}\0{address}", f"{_PREFIX}addr:{address}",
            f"{_PREFIX}user:{user}", f"{_PREFIX}slot:{user}"]


def _run(settings: Settings, script: str, keys: list[str], args: list[Any]) -> int | None:
    """The script's answer; None without Redis: logins go on unthrottled (logged), since the
    nurses' access to the dashboard matters more than the throttle."""
    try:
        return int(_script(settings.redis_url, script)(keys=keys, args=args))
    except redis.RedisError as exc:
        log.warning("login throttling unavailable: %s", exc)
        return None


def reserve(settings: Settings, *, username: str, address: str) -> Locked | None:
    """Count this attempt before its password is checked; or, if a limit is reached, how long
    to wait (nothing counted then)."""
    wait = _run(settings, _RESERVE, _keys(username, address), [
        settings.login_attempts_per_user_and_address, settings.login_attempts_per_address,
        settings.login_attempts_per_user, PAIR_WINDOW_SECONDS, ADDRESS_WINDOW_SECONDS,
        USER_WINDOW_SECONDS, int(settings.login_slow_seconds * 1000)])
    return Locked(retry_after=wait) if wait else None


def release(settings: Settings, *, username: str, address: str) -> None:
    """The password was right: give the reservation back."""
    _run(settings, _RELEASE, _keys(username, address)[:3], [])


def give_back(settings: Settings, *, username: str, address: str) -> None:
    """The password could not be checked (the database failed): this attempt does not count, so
    that an outage locks no one out."""
    _run(settings, _GIVE_BACK, _keys(username, address)[:3], [])
