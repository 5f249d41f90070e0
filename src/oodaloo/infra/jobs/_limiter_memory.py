"""In-process realm limiter state for the embedded default: atomic because a decision never awaits midway."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field

from oodaloo.infra.jobs._limiter_backend import GRANTED, IN_FLIGHT_FULL, Decision, Quota


class _MovingWindow:
    """The requests admitted in the last N seconds, oldest first, as (admitted at, cost)."""

    def __init__(self) -> None:
        self._entries: deque[tuple[float, int]] = deque()
        self._used = 0

    def seconds_until_room(self, now: float, seconds: float, limit: int, cost: int) -> float:
        """0 if ``cost`` more fit now, else how long until enough of the oldest entries have aged out."""
        self._forget_older_than(now - seconds)
        excess = self._used + cost - limit
        if excess <= 0:
            return 0.0
        freed = 0
        for admitted_at, entry_cost in self._entries:
            freed += entry_cost
            if freed >= excess:
                return admitted_at + seconds - now
        return seconds  # only when cost > limit, which callers refuse before asking

    def admit(self, now: float, cost: int) -> None:
        self._entries.append((now, cost))
        self._used += cost

    def _forget_older_than(self, cutoff: float) -> None:
        while self._entries and self._entries[0][0] <= cutoff:
            _, cost = self._entries.popleft()
            self._used -= cost


@dataclass
class _RealmLedger:
    minute: _MovingWindow = field(default_factory=_MovingWindow)
    second: _MovingWindow = field(default_factory=_MovingWindow)
    batches: _MovingWindow = field(default_factory=_MovingWindow)
    lease_expiries: dict[str, float] = field(default_factory=dict)
    # Until when a user request made for the realm keeps background work at its share.
    user_present_until: float = float("-inf")
    # Set (and replaced) whenever a lease is released, so waiters for a slot wake at once instead of polling.
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def live_leases(self, now: float) -> int:
        for lease_id in [lease_id for lease_id, expiry in self.lease_expiries.items() if expiry <= now]:
            del self.lease_expiries[lease_id]
        return len(self.lease_expiries)


class MemorySlotBackend:
    """Every realm's windows and leases in this process; use from one event loop."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._realms: dict[str, _RealmLedger] = {}

    async def try_acquire(
        self, realm_id: str, lease_id: str, quota: Quota, cost: int, *, batch: bool = False
    ) -> Decision:
        ledger = self._ledger(realm_id)
        now = self._clock()
        if quota.marks_user:
            ledger.user_present_until = now + quota.users_quiet_seconds
        caps = quota.caps(users_quiet=now >= ledger.user_present_until)
        wait = max(
            ledger.minute.seconds_until_room(now, quota.minute_seconds, caps.per_minute, cost),
            ledger.second.seconds_until_room(now, quota.second_seconds, caps.per_second, cost),
            ledger.batches.seconds_until_room(now, quota.minute_seconds, caps.batches_per_minute, 1) if batch else 0.0,
        )
        if wait > 0:
            return Decision(granted=False, retry_after=wait)
        if ledger.live_leases(now) >= caps.in_flight:
            return IN_FLIGHT_FULL
        ledger.minute.admit(now, cost)
        ledger.second.admit(now, cost)
        if batch:
            ledger.batches.admit(now, 1)
        ledger.lease_expiries[lease_id] = now + quota.lease_ttl_seconds
        return GRANTED

    async def renew(self, realm_id: str, lease_id: str, ttl_seconds: float) -> bool:
        ledger = self._ledger(realm_id)
        now = self._clock()
        expiry = ledger.lease_expiries.get(lease_id)
        if expiry is None or expiry <= now:
            ledger.lease_expiries.pop(lease_id, None)
            return False
        ledger.lease_expiries[lease_id] = now + ttl_seconds
        return True

    async def release(self, realm_id: str, lease_id: str) -> None:
        ledger = self._ledger(realm_id)
        if ledger.lease_expiries.pop(lease_id, None) is not None:
            ledger.released.set()
            ledger.released = asyncio.Event()

    async def in_flight(self, realm_id: str) -> int:
        return self._ledger(realm_id).live_leases(self._clock())

    async def wait_for_release(self, realm_id: str, seconds: float) -> None:
        with suppress(TimeoutError):
            await asyncio.wait_for(self._ledger(realm_id).released.wait(), seconds)

    async def aclose(self) -> None:
        self._realms.clear()

    def _ledger(self, realm_id: str) -> _RealmLedger:
        ledger = self._realms.get(realm_id)
        if ledger is None:
            ledger = self._realms[realm_id] = _RealmLedger()
        return ledger
