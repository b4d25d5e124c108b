"""Celery beat that runs its schedule only while it holds a lock in Redis, so that a beat on
every host (for failover) still sends each scheduled task once.

The lock is one Redis key with a token naming its holder and a time to live. The holder renews
it on every tick (at most :data:`TICK_SECONDS` apart); the others try to take it on every tick
and otherwise send nothing. A holder that dies or loses Redis stops renewing and the key
expires after :data:`LOCK_TTL_SECONDS`; a standby takes over within one tick after that. A
holder that cannot renew (Redis away, or the key taken) stops sending at once, before its own
key could have expired: the renewal comes at least ``LOCK_TTL - TICK`` seconds before expiry.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

import redis
from celery.beat import PersistentScheduler

log = logging.getLogger("worker.beat")

LOCK_KEY = "kol:beat:lock"
LOCK_TTL_SECONDS = 20.0
TICK_SECONDS = 5.0
"""Longest sleep between ticks (``beat_max_loop_interval``): renewals come this often."""

# Renew only our own lock: compare and extend in one step, or a holder whose key expired would
# extend the lock another beat has taken meanwhile.
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


def holder_token() -> str:
    """Who holds the lock: host and process, for the operator reading the key."""
    return f"{socket.gethostname()}:{os.getpid()}"


class SingleBeatScheduler(PersistentScheduler):
    """A :class:`~celery.beat.PersistentScheduler` that ticks only while it holds the lock."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_interval = int(min(self.max_interval or TICK_SECONDS, TICK_SECONDS))
        self._redis = redis.Redis.from_url(self.app.conf.broker_url, socket_timeout=3,
                                           socket_connect_timeout=3)
        self._token = holder_token()
        self._holding = False

    def _hold(self) -> bool:
        ttl_ms = int(LOCK_TTL_SECONDS * 1000)
        try:
            if self._holding:
                held = bool(self._redis.eval(_RENEW, 1, LOCK_KEY, self._token, ttl_ms))
            else:
                held = bool(self._redis.set(LOCK_KEY, self._token, nx=True, px=ttl_ms))
        except redis.RedisError as exc:
            if self._holding:
                log.warning("beat: cannot renew the lock, standing by: %s", exc)
            held = False
        if held != self._holding:
            log.warning("beat: %s", "holds the lock, sending the schedule" if held
                        else "lost the lock, standing by")
        self._holding = held
        return held

    def tick(self, *args: Any, **kwargs: Any) -> float:
        if not self._hold():
            return TICK_SECONDS
        return min(float(super().tick(*args, **kwargs)), TICK_SECONDS)

    def close(self) -> None:
        # A clean stop hands over at once instead of after the lock's time to live.
        if self._holding:
            try:
                self._redis.eval(_RELEASE, 1, LOCK_KEY, self._token)
            except redis.RedisError:
                pass
        super().close()
