"""The freshness policy: whether a business's data must be read from QBO again (``should_sync``, by strategy), from
when each scope was last synced and when the business was last active, both kept in SmartSync's cache."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from enum import StrEnum

from oodaloo.infra.jobs._cache import Cache

# A user action always reads QBO; a page the user opens re-reads data older than 5 minutes; the scheduler refreshes a
# business every 4 hours, or every 30 minutes while someone used it within the last hour (their numbers should not
# lag their work in QBO).
ON_DEMAND_STALE_SECONDS = 5 * 60.0
SCHEDULED_STALE_SECONDS = 4 * 3600.0
SCHEDULED_ACTIVE_STALE_SECONDS = 30 * 60.0
ACTIVE_WINDOW_SECONDS = 3600.0


class SyncStrategy(StrEnum):
    USER_ACTION = "user_action"  # the user is acting on this data: always read QBO
    ON_DEMAND = "on_demand"  # a page the user opened: stale after ON_DEMAND_STALE_SECONDS
    SCHEDULED = "scheduled"  # the background refresh: stale after 4 h, or 30 min for a business active lately


class FreshnessPolicy:
    """Sync stamps and activity stamps in ``cache``, read against ``wall_clock`` (seconds)."""

    def __init__(self, cache: Cache, wall_clock: Callable[[], float]) -> None:
        self._cache = cache
        self._wall_clock = wall_clock

    async def should_sync(self, business_id: uuid.UUID, scope: str, strategy: SyncStrategy) -> bool:
        """Whether ``scope`` (e.g. "bills") of the business must be read from QBO again under ``strategy``."""
        if strategy is SyncStrategy.USER_ACTION:
            return True
        last_synced = await self._cache.get(_synced_key(business_id, scope))
        if last_synced is None:
            return True
        now = self._wall_clock()
        if strategy is SyncStrategy.ON_DEMAND:
            stale_after = ON_DEMAND_STALE_SECONDS
        else:
            last_active = await self._cache.get(_activity_key(business_id))
            recently_active = last_active is not None and now - float(last_active) < ACTIVE_WINDOW_SECONDS
            stale_after = SCHEDULED_ACTIVE_STALE_SECONDS if recently_active else SCHEDULED_STALE_SECONDS
        return now - float(last_synced) >= stale_after

    async def mark_synced(self, business_id: uuid.UUID, scope: str) -> None:
        # Kept as long as the longest staleness threshold; once gone, the scope is stale under every strategy.
        await self._cache.set(_synced_key(business_id, scope), self._wall_clock(), SCHEDULED_STALE_SECONDS)

    async def mark_active(self, business_id: uuid.UUID) -> None:
        """Someone used the business just now: its scheduled refreshes come sooner for ACTIVE_WINDOW_SECONDS."""
        await self._cache.set(_activity_key(business_id), self._wall_clock(), ACTIVE_WINDOW_SECONDS)


def _synced_key(business_id: uuid.UUID, scope: str) -> str:
    return f"synced:{business_id}:{scope}"


def _activity_key(business_id: uuid.UUID) -> str:
    return f"active:{business_id}"
