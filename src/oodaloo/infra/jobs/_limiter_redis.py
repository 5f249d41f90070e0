"""Realm limiter state in Redis, shared by every process: each decision is one Lua script, so it is atomic."""

from __future__ import annotations

import asyncio

import redis.asyncio as redis

from oodaloo.infra.jobs._limiter_backend import GRANTED, IN_FLIGHT_FULL, Decision, Quota
from oodaloo.infra.logging import get_logger
from oodaloo.infra.redis_client import connect as redis_connect

logger = get_logger("oodaloo.rate_limit")

# Per realm, four sorted sets and a marker whose keys share the hash tag {realm} (one cluster slot, so one script may
# touch all):
#   <prefix>{<realm>}:minute and :second  one member per admitted request unit, scored by admission time;
#   <prefix>{<realm>}:batches             one member per admitted batch request, scored by admission time;
#   <prefix>{<realm>}:leases              one member per in-flight lease, scored by its expiry;
#   <prefix>{<realm>}:users               exists while a user request was made within the users' quiet time (PX).
# Times come from Redis's TIME, never a client's clock, so processes on hosts with skewed clocks share one timeline.
# Scores are written with "%.6f": Lua's default number formatting keeps only 14 digits, i.e. 0.1 ms of an epoch time.
_LUA_HELPERS = """
local function redis_now()
    local t = redis.call('TIME')
    return tonumber(t[1]) + tonumber(t[2]) / 1000000
end

local function score(x)
    return string.format('%.6f', x)
end

-- Keep an idle realm's key no longer than its content can matter.
local function keep_for(key, seconds)
    local ms = math.ceil(seconds * 1000)
    if redis.call('PTTL', key) < ms then
        redis.call('PEXPIRE', key, ms)
    end
end
"""

# KEYS: minute window, second window, leases, batch window, users marker.
# ARGV: lease id, cost, per-minute cap, minute seconds, per-second cap, second seconds, in-flight cap, lease TTL,
#       1 for a batch request (0 otherwise), batches-per-minute cap, 1 to mark a user request (0 otherwise), the users'
#       quiet seconds, 1 if other caps apply while users are quiet (0 otherwise), and those per-minute, per-second,
#       in-flight and batches-per-minute caps.
# Returns {1} when granted; {0, ms} when a window refused (ms until it could admit); {0, -1} when no slot is free.
# Nothing is written unless all three admit, so a refusal never spends budget.
_ACQUIRE = (
    _LUA_HELPERS
    + """
local now = redis_now()
local lease_id, cost = ARGV[1], tonumber(ARGV[2])

local is_batch = tonumber(ARGV[9]) == 1
local per_minute, per_second, in_flight, batches = tonumber(ARGV[3]), tonumber(ARGV[5]), tonumber(ARGV[7]),
    tonumber(ARGV[10])
if tonumber(ARGV[11]) == 1 then
    redis.call('SET', KEYS[5], '1', 'PX', math.ceil(tonumber(ARGV[12]) * 1000))
elseif tonumber(ARGV[13]) == 1 and redis.call('EXISTS', KEYS[5]) == 0 then
    per_minute, per_second, in_flight, batches = tonumber(ARGV[14]), tonumber(ARGV[15]), tonumber(ARGV[16]),
        tonumber(ARGV[17])
end

local function seconds_until_room(key, limit, seconds, units)
    redis.call('ZREMRANGEBYSCORE', key, '-inf', score(now - seconds))
    local excess = redis.call('ZCARD', key) + units - limit
    if excess <= 0 then
        return 0
    end
    local oldest = redis.call('ZRANGE', key, excess - 1, excess - 1, 'WITHSCORES')
    if oldest[2] == nil then
        return seconds
    end
    return tonumber(oldest[2]) + seconds - now
end

local minute_seconds, second_seconds = tonumber(ARGV[4]), tonumber(ARGV[6])
local wait = math.max(
    seconds_until_room(KEYS[1], per_minute, minute_seconds, cost),
    seconds_until_room(KEYS[2], per_second, second_seconds, cost))
if is_batch then
    wait = math.max(wait, seconds_until_room(KEYS[4], batches, minute_seconds, 1))
end
if wait > 0 then
    return {0, math.ceil(wait * 1000)}
end

redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', score(now))
if redis.call('ZCARD', KEYS[3]) >= in_flight then
    return {0, -1}
end

for unit = 1, cost do
    local member = lease_id .. ':' .. unit
    redis.call('ZADD', KEYS[1], score(now), member)
    redis.call('ZADD', KEYS[2], score(now), member)
end
if is_batch then
    redis.call('ZADD', KEYS[4], score(now), lease_id)
    keep_for(KEYS[4], minute_seconds)
end
local ttl = tonumber(ARGV[8])
redis.call('ZADD', KEYS[3], score(now + ttl), lease_id)
keep_for(KEYS[1], minute_seconds)
keep_for(KEYS[2], second_seconds)
keep_for(KEYS[3], ttl)
return {1}
"""
)

# KEYS: leases. ARGV: lease id, TTL. Returns 1 if renewed, 0 if the lease had expired or been released.
_RENEW = (
    _LUA_HELPERS
    + """
local now = redis_now()
local expiry = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not expiry or tonumber(expiry) <= now then
    redis.call('ZREM', KEYS[1], ARGV[1])
    return 0
end
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], 'XX', score(now + ttl), ARGV[1])
keep_for(KEYS[1], ttl)
return 1
"""
)

# KEYS: leases. Returns the number of leases not yet expired.
_COUNT_LIVE = (
    _LUA_HELPERS
    + """
return redis.call('ZCOUNT', KEYS[1], '(' .. score(redis_now()), '+inf')
"""
)


class RedisSlotBackend:
    """Every realm's windows and leases in Redis under ``key_prefix``."""

    def __init__(self, client: redis.Redis, *, key_prefix: str) -> None:
        self._client = client
        self._key_prefix = key_prefix
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._count_live = client.register_script(_COUNT_LIVE)

    @classmethod
    def from_url(cls, url: str, *, key_prefix: str) -> RedisSlotBackend:
        return cls(redis_connect(url), key_prefix=key_prefix)

    async def try_acquire(
        self, realm_id: str, lease_id: str, quota: Quota, cost: int, *, batch: bool = False
    ) -> Decision:
        keys = [
            self._key(realm_id, "minute"),
            self._key(realm_id, "second"),
            self._key(realm_id, "leases"),
            self._key(realm_id, "batches"),
            self._key(realm_id, "users"),
        ]
        quiet = quota.when_users_quiet
        args: list[str | int | float] = [
            lease_id,
            cost,
            quota.per_minute,
            quota.minute_seconds,
            quota.per_second,
            quota.second_seconds,
            quota.in_flight,
            quota.lease_ttl_seconds,
            1 if batch else 0,
            quota.batches_per_minute,
            1 if quota.marks_user else 0,
            quota.users_quiet_seconds,
            0 if quiet is None else 1,
            *(
                (0, 0, 0, 0)
                if quiet is None
                else (quiet.per_minute, quiet.per_second, quiet.in_flight, quiet.batches_per_minute)
            ),
        ]
        reply = await self._acquire(keys=keys, args=args)
        if int(reply[0]) == 1:
            return GRANTED
        wait_ms = int(reply[1])
        return IN_FLIGHT_FULL if wait_ms < 0 else Decision(granted=False, retry_after=wait_ms / 1000)

    async def renew(self, realm_id: str, lease_id: str, ttl_seconds: float) -> bool:
        renewed = await self._renew(keys=[self._key(realm_id, "leases")], args=[lease_id, ttl_seconds])
        return int(renewed) == 1

    async def release(self, realm_id: str, lease_id: str) -> None:
        try:
            await self._client.zrem(self._key(realm_id, "leases"), lease_id)
        except (redis.RedisError, OSError) as error:
            # The caller's request is already done; failing it now would invite a needless retry. The lease is no
            # longer renewed, so it expires within its TTL.
            logger.warning("rate_limit.release_failed", realm_id=realm_id, lease_id=lease_id, error=repr(error))

    async def in_flight(self, realm_id: str) -> int:
        return int(await self._count_live(keys=[self._key(realm_id, "leases")]))

    async def wait_for_release(self, realm_id: str, seconds: float) -> None:
        # Releases are not announced across processes; the limiter keeps these sleeps short.
        await asyncio.sleep(seconds)

    async def aclose(self) -> None:
        await self._client.aclose()

    def _key(self, realm_id: str, part: str) -> str:
        return f"{self._key_prefix}{{{realm_id}}}:{part}"
