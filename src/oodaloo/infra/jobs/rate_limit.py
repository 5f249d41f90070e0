"""Per-realm QBO rate limiting for SmartSync: a minute and a second moving window, a batches-per-minute window and an
in-flight cap, shared by every process through Redis or kept in-process for the embedded default, with user actions
ahead of background work. A batch is one request to QBO's windows (not one per item) and one to its batch budget.
"""

# Why the windows are not built on the `limits` library (for the ADR):
# - Admission must check the minute window, the second window and the in-flight cap, and consume all three, in one
#   atomic step. `limits` acquires one window (one key) per call, offers no multi-limit acquire and no way to hand an
#   entry back: a request the minute window admitted and the second window refused would have spent minute budget
#   anyway, and every re-check by a waiting request would spend more.
# - Its windows are whole seconds (`expiry: int`) and its Redis scripts stamp entries with each client's clock.
# - The in-flight cap, a lease-based semaphore, is outside its scope.
# So the Redis side is one Lua script per decision (`_limiter_redis.py`, timed by Redis's own clock), and the
# in-process ledger (`_limiter_memory.py`) does the same arithmetic without awaiting mid-decision.

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Protocol

from oodaloo.infra.jobs._limiter_backend import Caps, Decision, Quota, SlotBackend
from oodaloo.infra.jobs._limiter_memory import MemorySlotBackend
from oodaloo.infra.jobs._limiter_redis import RedisSlotBackend
from oodaloo.infra.logging import get_logger

logger = get_logger("oodaloo.rate_limit")

# QBO's limits per realm (API_NOTES §7).
QBO_REQUESTS_PER_MINUTE = 500
QBO_REQUESTS_PER_SECOND = 10
QBO_MAX_IN_FLIGHT = 10
# Batch requests per minute per realm and app; the realm-wide 120 is never reached by one app held to 40.
QBO_BATCHES_PER_MINUTE = 40
# Our windows are a little longer than QBO's: we admit a request when it takes its slot, QBO counts it when it
# arrives, and scheduling and network jitter can bunch requests together on the way. Ten admissions spread over
# 1.1 s stay ten within any second at QBO as long as that jitter is under a tenth of a second (ADR 0004: the acceptance
# load on Redis met no 429 with it, also on a machine loaded five times over; exact 1 s windows met some).
MINUTE_SECONDS = 61.0
SECOND_SECONDS = 1.1
# Background work's share of them (60% of the minute, 7 of 10 per second and in flight), counted against the same
# windows, so the rest is always there for user actions.
BACKGROUND_REQUESTS_PER_MINUTE = 300
BACKGROUND_REQUESTS_PER_SECOND = 7
BACKGROUND_MAX_IN_FLIGHT = 7
BACKGROUND_BATCHES_PER_MINUTE = 24
# While no user request has been seen for a realm for USERS_QUIET_SECONDS, background work may take all but one of the
# per-second window and of the slots in flight: a full sync is not held to 70% of QBO's rate for users who are not
# there, and the one kept back means a user who arrives is admitted at once. That first user request marks the realm
# (shared through the backend, so a web process's user request reins in a worker's sync), and background work is held
# to its share again from its next request until users have been quiet that long. The minute and batch windows keep
# background work's share: they are what a user action would otherwise wait longest for.
QUIET_BACKGROUND_REQUESTS_PER_SECOND = QBO_REQUESTS_PER_SECOND - 1
QUIET_BACKGROUND_MAX_IN_FLIGHT = QBO_MAX_IN_FLIGHT - 1
USERS_QUIET_SECONDS = 30.0
# A held lease is renewed every third of its TTL, so a crashed process's slots come back within one TTL.
LEASE_TTL_SECONDS = 15.0
# QBO cuts a request off after 120 s; a slot held longer is no longer in flight at QBO, so it stops being renewed.
MAX_HOLD_SECONDS = 120.0
# How long a caller waits for a slot unless it says otherwise: a user is told promptly; background work can wait.
DEFAULT_USER_TIMEOUT_SECONDS = 10.0
DEFAULT_BACKGROUND_TIMEOUT_SECONDS = 120.0
DEFAULT_KEY_PREFIX = "oodaloo:rl:"
# Waiting for a freed in-flight slot (Redis does not announce releases): first re-check soon, back off, but stay short
# so a freed slot is taken promptly.
FIRST_POLL_SECONDS = 0.005
MAX_POLL_SECONDS = 0.025
# Spreads waiters that a window would otherwise wake all at the same instant.
WINDOW_WAKE_JITTER_SECONDS = 0.005


class Priority(StrEnum):
    USER = "user"
    BACKGROUND = "background"


@dataclass(frozen=True)
class Budget:
    """The most one priority may use of a realm: requests per minute and per second, slots in flight, batches."""

    per_minute: int
    per_second: int
    in_flight: int
    batches_per_minute: int = QBO_BATCHES_PER_MINUTE


@dataclass(frozen=True)
class RateLimits:
    """A realm's limits. ``user`` is the whole budget; ``background`` is the part of it background work may use.

    Both count against the same windows and slots, so whatever background work is held back from stays free for user
    actions. ``quiet_background`` (``QBO_LIMITS`` sets it) lets background work use more while no user request has been
    seen for the realm for ``users_quiet_seconds``. The window lengths and lease times are shortened only in tests.
    """

    user: Budget = Budget(QBO_REQUESTS_PER_MINUTE, QBO_REQUESTS_PER_SECOND, QBO_MAX_IN_FLIGHT)
    background: Budget = Budget(
        BACKGROUND_REQUESTS_PER_MINUTE,
        BACKGROUND_REQUESTS_PER_SECOND,
        BACKGROUND_MAX_IN_FLIGHT,
        BACKGROUND_BATCHES_PER_MINUTE,
    )
    minute_seconds: float = MINUTE_SECONDS
    second_seconds: float = SECOND_SECONDS
    lease_ttl_seconds: float = LEASE_TTL_SECONDS
    max_hold_seconds: float = MAX_HOLD_SECONDS
    # What background work may use while no user request has been seen for the realm for ``users_quiet_seconds``
    # (between ``background`` and ``user``); None: never more than ``background``.
    quiet_background: Budget | None = None
    users_quiet_seconds: float = USERS_QUIET_SECONDS

    def __post_init__(self) -> None:
        for budget_field in fields(Budget):
            whole, share = getattr(self.user, budget_field.name), getattr(self.background, budget_field.name)
            if not 0 < share <= whole:
                raise ValueError(f"background {budget_field.name} must be within 1..{whole} (the user budget)")
            if self.quiet_background is not None:
                quiet = getattr(self.quiet_background, budget_field.name)
                if not share <= quiet <= whole:
                    raise ValueError(f"quiet background {budget_field.name} must be within {share}..{whole}")
        if self.users_quiet_seconds <= 0:
            raise ValueError("users_quiet_seconds must be positive")
        if min(self.minute_seconds, self.second_seconds, self.lease_ttl_seconds) <= 0:
            raise ValueError("window lengths and the lease TTL must be positive")
        if self.max_hold_seconds < self.lease_ttl_seconds:
            raise ValueError("max_hold_seconds must be at least lease_ttl_seconds")

    def budget(self, priority: Priority) -> Budget:
        return self.user if priority is Priority.USER else self.background

    def quota(self, priority: Priority) -> Quota:
        budget = self.budget(priority)
        quiet = self.quiet_background if priority is Priority.BACKGROUND else None
        return Quota(
            per_minute=budget.per_minute,
            per_second=budget.per_second,
            in_flight=budget.in_flight,
            batches_per_minute=budget.batches_per_minute,
            minute_seconds=self.minute_seconds,
            second_seconds=self.second_seconds,
            lease_ttl_seconds=self.lease_ttl_seconds,
            when_users_quiet=None if quiet is None else _caps(quiet),
            marks_user=priority is Priority.USER,
            users_quiet_seconds=self.users_quiet_seconds,
        )


def _caps(budget: Budget) -> Caps:
    return Caps(budget.per_minute, budget.per_second, budget.in_flight, budget.batches_per_minute)


# QBO's limits as SmartSync applies them: background work at its share, or all but one slot while users are quiet.
QBO_LIMITS = RateLimits(
    quiet_background=Budget(
        BACKGROUND_REQUESTS_PER_MINUTE,
        QUIET_BACKGROUND_REQUESTS_PER_SECOND,
        QUIET_BACKGROUND_MAX_IN_FLIGHT,
        BACKGROUND_BATCHES_PER_MINUTE,
    )
)


@dataclass
class Lease:
    """A held slot.

    ``waited_seconds`` is how long the caller queued for it (SmartSync reports it for user actions). ``lost`` turns
    True when the lease stopped guaranteeing a slot: it expired before it could be renewed (the process stalled past
    the TTL) or it was held past QBO's request cutoff.
    """

    realm_id: str
    priority: Priority
    cost: int
    lease_id: str
    waited_seconds: float
    attempts: int
    lost: bool = False


class SlotTimeout(TimeoutError):
    """No slot could be had within the caller's timeout."""

    def __init__(self, realm_id: str, priority: Priority, cost: int, waited_seconds: float) -> None:
        super().__init__(f"no {priority} slot (cost {cost}) for realm {realm_id} after {waited_seconds:.3f}s")
        self.realm_id = realm_id
        self.priority = priority
        self.cost = cost
        self.waited_seconds = waited_seconds


class RealmLimiter(Protocol):
    def slot(
        self,
        realm_id: str,
        *,
        priority: Priority = Priority.USER,
        cost: int = 1,
        timeout: float | None = None,
        batch: bool = False,
    ) -> AbstractAsyncContextManager[Lease]:
        """Wait until the realm's windows admit ``cost`` requests and an in-flight slot is free; hold it until exit.

        A ``batch`` request also needs room in the batches-per-minute window (it counts there once).

        Raises SlotTimeout once the slot cannot be had within ``timeout`` (default by priority) — at once if a window
        will not admit the request before then — and ValueError for a cost the priority's budget can never admit.
        """
        ...

    async def in_flight(self, realm_id: str) -> int: ...

    async def aclose(self) -> None: ...


class SlotLimiter:
    """The RealmLimiter over a backend: waiting, timeouts, priorities and lease renewal live here, once."""

    def __init__(self, backend: SlotBackend, limits: RateLimits = QBO_LIMITS) -> None:
        self._backend = backend
        self._limits = limits

    # `timeout` bounds only the wait for the slot, not the time it is held, which `asyncio.timeout` around the
    # `async with` could not express.
    @asynccontextmanager
    async def slot(
        self,
        realm_id: str,
        *,
        priority: Priority = Priority.USER,
        cost: int = 1,
        timeout: float | None = None,  # noqa: ASYNC109
        batch: bool = False,
    ) -> AsyncIterator[Lease]:
        wait_seconds = timeout if timeout is not None else _default_timeout(priority)
        lease = await self._acquire(realm_id, priority, cost, wait_seconds, batch)
        keeper = asyncio.create_task(self._keep_alive(lease), name=f"rate-limit-lease-{lease.lease_id}")
        try:
            yield lease
        finally:
            keeper.cancel()
            await self._backend.release(realm_id, lease.lease_id)

    async def in_flight(self, realm_id: str) -> int:
        return await self._backend.in_flight(realm_id)

    async def aclose(self) -> None:
        await self._backend.aclose()

    async def _acquire(self, realm_id: str, priority: Priority, cost: int, wait_seconds: float, batch: bool) -> Lease:
        self._check_request(realm_id, priority, cost)
        quota = self._limits.quota(priority)
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + wait_seconds
        lease_id = uuid.uuid4().hex
        poll_seconds = FIRST_POLL_SECONDS
        attempts = 0
        while True:
            attempts += 1
            decision = await self._attempt(realm_id, lease_id, quota, cost, batch)
            now = loop.time()
            if decision.granted:
                return Lease(realm_id, priority, cost, lease_id, waited_seconds=now - started, attempts=attempts)
            remaining = deadline - now
            if decision.retry_after is not None:
                # A window frees only as entries age out: if that is past the deadline, waiting cannot help.
                if decision.retry_after > remaining:
                    raise SlotTimeout(realm_id, priority, cost, waited_seconds=now - started)
                await asyncio.sleep(decision.retry_after + random.uniform(0, WINDOW_WAKE_JITTER_SECONDS))
            else:
                if remaining <= 0:
                    raise SlotTimeout(realm_id, priority, cost, waited_seconds=now - started)
                await self._backend.wait_for_release(realm_id, min(poll_seconds, remaining))
                poll_seconds = min(poll_seconds * 2, MAX_POLL_SECONDS)

    async def _attempt(self, realm_id: str, lease_id: str, quota: Quota, cost: int, batch: bool) -> Decision:
        try:
            return await self._backend.try_acquire(realm_id, lease_id, quota, cost, batch=batch)
        except BaseException:
            # Cancelled or disconnected after the backend may have granted the lease: hand it back now rather than
            # leave the slot taken until its TTL runs out.
            await self._backend.release(realm_id, lease_id)
            raise

    async def _keep_alive(self, lease: Lease) -> None:
        """Renew the lease while it is held, but not past QBO's request cutoff."""
        loop = asyncio.get_running_loop()
        ttl = self._limits.lease_ttl_seconds
        give_up_at = loop.time() + self._limits.max_hold_seconds
        while True:
            await asyncio.sleep(ttl / 3)
            # The last renewal is cut short so the lease ends at the cutoff rather than up to a TTL after it.
            renew_for = min(ttl, give_up_at - loop.time())
            if renew_for <= 0:
                lease.lost = True
                logger.warning("rate_limit.lease_held_past_cutoff", realm_id=lease.realm_id, lease_id=lease.lease_id)
                return
            try:
                renewed = await self._backend.renew(lease.realm_id, lease.lease_id, renew_for)
            except Exception as error:
                # Keep trying: if the store stays unreachable the lease simply expires, which is the safe outcome.
                logger.warning("rate_limit.renew_failed", realm_id=lease.realm_id, error=repr(error))
                continue
            if not renewed:
                lease.lost = True
                logger.warning("rate_limit.lease_lost", realm_id=lease.realm_id, lease_id=lease.lease_id)
                return

    def _check_request(self, realm_id: str, priority: Priority, cost: int) -> None:
        if not realm_id:
            raise ValueError("realm_id must not be empty")
        budget = self._limits.budget(priority)
        largest = min(budget.per_minute, budget.per_second)
        if not 1 <= cost <= largest:
            # A batch larger than the per-second budget could never be admitted; refuse it instead of timing out.
            raise ValueError(f"cost must be within 1..{largest} for {priority} requests, got {cost}")


def _default_timeout(priority: Priority) -> float:
    return DEFAULT_USER_TIMEOUT_SECONDS if priority is Priority.USER else DEFAULT_BACKGROUND_TIMEOUT_SECONDS


def make_limiter(
    redis_url: str | None, *, key_prefix: str = DEFAULT_KEY_PREFIX, limits: RateLimits = QBO_LIMITS
) -> RealmLimiter:
    """Shared by every process through Redis when ``redis_url`` is given; in-process (embedded default) otherwise."""
    backend: SlotBackend = (
        RedisSlotBackend.from_url(redis_url, key_prefix=key_prefix) if redis_url else MemorySlotBackend()
    )
    return SlotLimiter(backend, limits)
