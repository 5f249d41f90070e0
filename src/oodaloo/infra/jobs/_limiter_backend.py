"""The atomic operations a realm limiter is built on, implemented in memory and in Redis alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Caps:
    """The most one attempt may find used of a realm's windows and slots, itself included."""

    per_minute: int
    per_second: int
    in_flight: int
    batches_per_minute: int


@dataclass(frozen=True)
class Quota:
    """What one attempt may use of a realm's budget: the caps that apply to its priority, and the window lengths.

    ``when_users_quiet`` replaces the caps while no request that ``marks_user`` has been made for the realm for
    ``users_quiet_seconds``; an attempt that ``marks_user`` marks the realm whether or not it is granted (a user waiting
    for a slot counts as present). Deciding which caps apply is part of the same atomic step as the admission.
    """

    per_minute: int
    per_second: int
    in_flight: int
    batches_per_minute: int
    minute_seconds: float
    second_seconds: float
    lease_ttl_seconds: float
    when_users_quiet: Caps | None = None
    marks_user: bool = False
    users_quiet_seconds: float = 30.0

    def caps(self, users_quiet: bool) -> Caps:
        if users_quiet and self.when_users_quiet is not None:
            return self.when_users_quiet
        return Caps(self.per_minute, self.per_second, self.in_flight, self.batches_per_minute)


@dataclass(frozen=True)
class Decision:
    """The outcome of one attempt to take a slot.

    ``retry_after`` is set when a rate window refused: the earliest moment (seconds from now) at which it could admit
    the request, since a window frees only as entries age out. It is None when the in-flight cap refused, because a
    slot frees whenever a holder releases one.
    """

    granted: bool
    retry_after: float | None = None


GRANTED = Decision(granted=True)
IN_FLIGHT_FULL = Decision(granted=False)


class SlotBackend(Protocol):
    async def try_acquire(
        self, realm_id: str, lease_id: str, quota: Quota, cost: int, *, batch: bool = False
    ) -> Decision:
        """Atomically: admit ``cost`` requests in both windows and take an in-flight lease, or change nothing.

        A ``batch`` also takes one place in the batches-per-minute window (over the minute's length).
        """
        ...

    async def renew(self, realm_id: str, lease_id: str, ttl_seconds: float) -> bool:
        """Push the lease's expiry ``ttl_seconds`` ahead; False if it had already expired or been released."""
        ...

    async def release(self, realm_id: str, lease_id: str) -> None:
        """Free the in-flight slot (idempotent). Window entries stay: the requests were made."""
        ...

    async def in_flight(self, realm_id: str) -> int:
        """Leases currently held for the realm, expired ones not counted."""
        ...

    async def wait_for_release(self, realm_id: str, seconds: float) -> None:
        """Sleep up to ``seconds``; a backend that can tell when a slot frees may return earlier."""
        ...

    async def aclose(self) -> None: ...
