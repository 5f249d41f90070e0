"""Attempt limits for abuse-prone requests (sign-in): a moving window per key, shared through Redis by every process,
or held in this process in the embedded default.

Why not the ``limits`` library: its windows only ever add hits, while sign-in needs an attempt counted *before* the
password is checked (so parallel guesses cannot slip past the count) and uncounted once it proves legitimate (so a
user signing in often is never throttled). That is a ticket per attempt in a sorted set — a few lines of Lua, in the
same style as the realm limiter (``infra/jobs``) and the locks (``infra/locks.py``).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis

DEFAULT_KEY_PREFIX = "oodaloo:throttle:"

Clock = Callable[[], float]


@dataclass(frozen=True)
class AttemptLimit:
    """At most ``attempts`` counted attempts per key in any ``window_seconds``."""

    attempts: int
    window_seconds: float


@dataclass(frozen=True)
class Admission:
    """One attempt's outcome: admitted and counted under ``ticket``, or refused until ``retry_after_seconds`` pass."""

    granted: bool
    ticket: str = ""
    retry_after_seconds: float = 0.0


class AttemptThrottle(Protocol):
    async def admit(self, key: str, limit: AttemptLimit) -> Admission:
        """Count one attempt against ``key`` if its window has room; otherwise count nothing and refuse."""
        ...

    async def forgive(self, key: str, ticket: str) -> None:
        """Uncount an admitted attempt (idempotent): it turned out to be legitimate."""
        ...

    async def aclose(self) -> None: ...


def _stored_key(key: str) -> str:
    # Keys carry emails and addresses: a digest keeps them out of Redis and bounds the key's length.
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


class LocalThrottle:
    """The windows in this process's memory (the embedded default). Every method is free of awaits, so atomic."""

    def __init__(self, *, clock: Clock = time.time) -> None:
        self._clock = clock
        # key -> (ticket -> admitted at), ordered by each key's latest admission, so expired keys sit at the front.
        self._windows: dict[str, dict[str, float]] = {}
        self._expiry: dict[str, float] = {}

    async def admit(self, key: str, limit: AttemptLimit) -> Admission:
        now = self._clock()
        self._drop_expired_keys(now)
        stored = _stored_key(key)
        window = {ticket: at for ticket, at in self._windows.pop(stored, {}).items() if at > now - limit.window_seconds}
        if len(window) >= limit.attempts:
            self._keep(stored, window, limit)
            oldest = sorted(window.values())[len(window) - limit.attempts]
            return Admission(granted=False, retry_after_seconds=oldest + limit.window_seconds - now)
        ticket = uuid.uuid4().hex
        window[ticket] = now
        self._keep(stored, window, limit)
        return Admission(granted=True, ticket=ticket)

    async def forgive(self, key: str, ticket: str) -> None:
        self._windows.get(_stored_key(key), {}).pop(ticket, None)

    async def aclose(self) -> None:
        return None

    def _keep(self, stored: str, window: dict[str, float], limit: AttemptLimit) -> None:
        if window:
            self._windows[stored] = window
            self._expiry[stored] = max(window.values()) + limit.window_seconds
        else:
            self._expiry.pop(stored, None)

    def _drop_expired_keys(self, now: float) -> None:
        # Bounds memory under a spray of distinct keys (emails): each admission sweeps the stale front of the map.
        while self._windows:
            stored = next(iter(self._windows))
            if self._expiry.get(stored, 0.0) > now:
                break
            del self._windows[stored]
            self._expiry.pop(stored, None)


# KEYS[1]: the key's sorted set of tickets scored by admission time.
# ARGV: now, window seconds, attempts allowed, ticket.
# Returns {1} when admitted; {0, "seconds"} when refused (a string: Lua would truncate a number to an integer).
# Scores are written with "%.6f": Lua's default formatting keeps only 14 digits, i.e. 0.1 ms of an epoch time.
_ADMIT = """
local now, window, attempts = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.6f', now - window))
local counted = redis.call('ZCARD', KEYS[1])
if counted >= attempts then
    local frees = redis.call('ZRANGE', KEYS[1], counted - attempts, counted - attempts, 'WITHSCORES')
    return {0, tostring(tonumber(frees[2]) + window - now)}
end
redis.call('ZADD', KEYS[1], string.format('%.6f', now), ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
return {1}
"""


class RedisThrottle:
    """The windows in Redis, shared by every process; each admission is one Lua script, so atomic.

    Time comes from the caller's clock, not Redis's ``TIME`` (unlike the realm limiter): windows here last minutes,
    so a few seconds of skew between hosts is immaterial, and tests can move the clock past a window.
    """

    def __init__(
        self, redis: Redis, *, key_prefix: str = DEFAULT_KEY_PREFIX, clock: Clock = time.time, owns_client: bool = False
    ) -> None:
        self._redis = redis
        self._key_prefix = key_prefix
        self._clock = clock
        self._owns_client = owns_client
        self._admit = redis.register_script(_ADMIT)

    async def admit(self, key: str, limit: AttemptLimit) -> Admission:
        ticket = uuid.uuid4().hex
        args: list[str | int] = [f"{self._clock():.6f}", f"{limit.window_seconds:.6f}", limit.attempts, ticket]
        result = await self._admit(keys=[self._key_prefix + _stored_key(key)], args=args)
        if int(result[0]) == 1:
            return Admission(granted=True, ticket=ticket)
        return Admission(granted=False, retry_after_seconds=float(result[1]))

    async def forgive(self, key: str, ticket: str) -> None:
        await self._redis.zrem(self._key_prefix + _stored_key(key), ticket)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._redis.aclose()


def make_throttle(redis: Redis | None, *, key_prefix: str = DEFAULT_KEY_PREFIX) -> AttemptThrottle:
    """Shared windows when the app has Redis (every process counts together), in-process ones otherwise."""
    if redis is not None:
        return RedisThrottle(redis, key_prefix=key_prefix)
    return LocalThrottle()
