"""Per-realm circuit breaker for QBO: after repeated server failures, stop calling the realm for a cool-down.

States: closed (calls pass) → open after ``failure_threshold`` consecutive server failures (5xx, timeouts, connection
errors; never 4xx) within ``failure_window_seconds`` → after ``cooldown_seconds`` half-open: one caller gets the
probe, the rest are refused → the probe's success closes the circuit, its failure re-opens it. A probe whose caller
vanished (crash, never sent) is given up after ``probe_lease_seconds`` and another caller probes.

Why hand-written rather than a library: pybreaker keeps its Redis state through the synchronous redis client, and
aiobreaker / purgatory are async but in-process only (purgatory's Redis storage was dropped). Sharing the state
across processes atomically takes one small Lua script per transition, as the rate limiter does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import redis.asyncio as redis

FAILURE_THRESHOLD = 5
FAILURE_WINDOW_SECONDS = 30.0
COOLDOWN_SECONDS = 15.0
PROBE_LEASE_SECONDS = 60.0
DEFAULT_KEY_PREFIX = "oodaloo:cb:"


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Admission(StrEnum):
    ALLOWED = "allowed"
    PROBE = "probe"  # allowed as the one trial call of a half-open circuit
    REFUSED = "refused"


class Transition(StrEnum):
    NONE = "none"
    OPENED = "opened"
    REOPENED = "reopened"
    CLOSED = "closed"


@dataclass(frozen=True)
class BreakerSettings:
    failure_threshold: int = FAILURE_THRESHOLD
    failure_window_seconds: float = FAILURE_WINDOW_SECONDS
    cooldown_seconds: float = COOLDOWN_SECONDS
    probe_lease_seconds: float = PROBE_LEASE_SECONDS

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if min(self.failure_window_seconds, self.cooldown_seconds, self.probe_lease_seconds) <= 0:
            raise ValueError("breaker durations must be positive")


class CircuitBreaker(Protocol):
    async def admit(self, realm_id: str) -> Admission: ...

    async def record_success(self, realm_id: str) -> Transition: ...

    async def record_failure(self, realm_id: str) -> Transition: ...

    async def release_probe(self, realm_id: str) -> None:
        """The probe this caller was given ended without an answer (cancelled, or it never sent): another caller may
        probe now rather than after the probe's lease."""

    async def state(self, realm_id: str) -> BreakerState: ...

    async def aclose(self) -> None: ...


@dataclass
class _Circuit:
    failures: int = 0
    window_start: float = 0.0
    open_until: float = 0.0  # 0: closed
    probe_until: float = 0.0


class MemoryCircuitBreaker:
    """The breaker for one process (the embedded default). Never awaits mid-decision, so needs no lock."""

    def __init__(self, settings: BreakerSettings = BreakerSettings(), *, clock: Callable[[], float] = time.monotonic):
        self._settings = settings
        self._clock = clock
        self._circuits: dict[str, _Circuit] = {}

    async def admit(self, realm_id: str) -> Admission:
        circuit = self._circuits.get(realm_id)
        if circuit is None or circuit.open_until == 0:
            return Admission.ALLOWED
        now = self._clock()
        if now < circuit.open_until or now < circuit.probe_until:
            return Admission.REFUSED
        circuit.probe_until = now + self._settings.probe_lease_seconds
        return Admission.PROBE

    async def record_success(self, realm_id: str) -> Transition:
        circuit = self._circuits.pop(realm_id, None)
        return Transition.CLOSED if circuit is not None and circuit.open_until else Transition.NONE

    async def record_failure(self, realm_id: str) -> Transition:
        now = self._clock()
        circuit = self._circuits.setdefault(realm_id, _Circuit())
        if circuit.open_until:
            circuit.open_until, circuit.probe_until = now + self._settings.cooldown_seconds, 0.0
            return Transition.REOPENED
        if circuit.failures == 0 or now - circuit.window_start > self._settings.failure_window_seconds:
            circuit.failures, circuit.window_start = 0, now
        circuit.failures += 1
        if circuit.failures < self._settings.failure_threshold:
            return Transition.NONE
        circuit.failures, circuit.open_until, circuit.probe_until = 0, now + self._settings.cooldown_seconds, 0.0
        return Transition.OPENED

    async def release_probe(self, realm_id: str) -> None:
        circuit = self._circuits.get(realm_id)
        if circuit is not None and circuit.open_until:
            circuit.probe_until = 0.0

    async def state(self, realm_id: str) -> BreakerState:
        circuit = self._circuits.get(realm_id)
        if circuit is None or circuit.open_until == 0:
            return BreakerState.CLOSED
        return BreakerState.OPEN if self._clock() < circuit.open_until else BreakerState.HALF_OPEN

    async def aclose(self) -> None:
        self._circuits.clear()


# One hash per realm: failures, window_start, open_until (0 or absent: closed), probe_until. Times are Redis's own
# clock (TIME), so processes with skewed clocks agree; "%.6f" keeps microseconds of an epoch time in a Lua number.
_LUA_HELPERS = """
local function redis_now()
    local t = redis.call('TIME')
    return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function num(field)
    return tonumber(redis.call('HGET', KEYS[1], field) or '0') or 0
end
local function stamp(x)
    return string.format('%.6f', x)
end
"""

# ARGV: probe lease seconds, key TTL ms. Returns 0 refused, 1 allowed, 2 probe.
_ADMIT = (
    _LUA_HELPERS
    + """
local open_until = num('open_until')
if open_until == 0 then return 1 end
local now = redis_now()
if now < open_until or now < num('probe_until') then return 0 end
redis.call('HSET', KEYS[1], 'probe_until', stamp(now + tonumber(ARGV[1])))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 2
"""
)

# ARGV: threshold, window seconds, cool-down seconds, key TTL ms. Returns 0 none, 1 opened, 2 re-opened.
_FAILURE = (
    _LUA_HELPERS
    + """
local now = redis_now()
local cooldown = tonumber(ARGV[3])
if num('open_until') > 0 then
    redis.call('HSET', KEYS[1], 'open_until', stamp(now + cooldown), 'probe_until', '0')
    redis.call('PEXPIRE', KEYS[1], ARGV[4])
    return 2
end
local failures, window_start = num('failures'), num('window_start')
if failures == 0 or now - window_start > tonumber(ARGV[2]) then
    failures, window_start = 0, now
end
failures = failures + 1
local result = 0
if failures >= tonumber(ARGV[1]) then
    redis.call('HSET', KEYS[1], 'failures', '0', 'open_until', stamp(now + cooldown), 'probe_until', '0')
    result = 1
else
    redis.call('HSET', KEYS[1], 'failures', failures, 'window_start', stamp(window_start))
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return result
"""
)

# Returns 1 when an open (or half-open) circuit was closed.
_SUCCESS = (
    _LUA_HELPERS
    + """
local was_open = num('open_until') > 0
redis.call('DEL', KEYS[1])
if was_open then return 1 end
return 0
"""
)

# A half-open circuit's probe ended without an answer: the next caller may probe.
_RELEASE_PROBE = (
    _LUA_HELPERS
    + """
if num('open_until') > 0 then redis.call('HSET', KEYS[1], 'probe_until', '0') end
return 0
"""
)

# Returns 0 closed, 1 open, 2 half-open.
_STATE = (
    _LUA_HELPERS
    + """
local open_until = num('open_until')
if open_until == 0 then return 0 end
if redis_now() < open_until then return 1 end
return 2
"""
)


class RedisCircuitBreaker:
    """The breaker shared by every process through Redis, so all of them stop calling a failing realm together."""

    def __init__(
        self,
        client: redis.Redis,
        settings: BreakerSettings = BreakerSettings(),
        *,
        key_prefix: str = DEFAULT_KEY_PREFIX,
    ) -> None:
        self._client = client
        self._settings = settings
        self._key_prefix = key_prefix
        # A circuit's key outlives every duration that can matter to it, then disappears (closed).
        longest = max(settings.failure_window_seconds, settings.cooldown_seconds + settings.probe_lease_seconds)
        self._ttl_ms = int(2 * longest * 1000)
        self._admit = client.register_script(_ADMIT)
        self._failure = client.register_script(_FAILURE)
        self._success = client.register_script(_SUCCESS)
        self._state = client.register_script(_STATE)
        self._release_probe = client.register_script(_RELEASE_PROBE)

    def _key(self, realm_id: str) -> str:
        return f"{self._key_prefix}{{{realm_id}}}"

    async def admit(self, realm_id: str) -> Admission:
        result = await self._admit(keys=[self._key(realm_id)], args=[self._settings.probe_lease_seconds, self._ttl_ms])
        return {0: Admission.REFUSED, 1: Admission.ALLOWED, 2: Admission.PROBE}[int(result)]

    async def record_success(self, realm_id: str) -> Transition:
        result = await self._success(keys=[self._key(realm_id)])
        return Transition.CLOSED if int(result) else Transition.NONE

    async def record_failure(self, realm_id: str) -> Transition:
        settings = self._settings
        result = await self._failure(
            keys=[self._key(realm_id)],
            args=[settings.failure_threshold, settings.failure_window_seconds, settings.cooldown_seconds, self._ttl_ms],
        )
        return {0: Transition.NONE, 1: Transition.OPENED, 2: Transition.REOPENED}[int(result)]

    async def release_probe(self, realm_id: str) -> None:
        await self._release_probe(keys=[self._key(realm_id)])

    async def state(self, realm_id: str) -> BreakerState:
        result = await self._state(keys=[self._key(realm_id)])
        return {0: BreakerState.CLOSED, 1: BreakerState.OPEN, 2: BreakerState.HALF_OPEN}[int(result)]

    async def aclose(self) -> None:
        """The Redis client is the service's; it closes it."""
