"""A mirror synced moments ago, for the actions that must not act on stale books: a reminder is never sent for an
invoice paid since the last sync, and a plan or a scheduled payment is checked against QuickBooks as it is when it
runs. When the business's last successful sync started more than ``MAX_MIRROR_AGE`` ago, an incremental sync (one CDC
call, ``MirrorSync.incremental``) runs first.
"""

from __future__ import annotations

import asyncio
import uuid
import weakref
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oodaloo.domains.qbo.mirror_models import SyncOutcome
from oodaloo.domains.qbo.mirror_repository import SyncRunRepository, SyncStateRepository
from oodaloo.domains.qbo.sync import SyncReport
from oodaloo.infra.db.base import utcnow
from oodaloo.infra.db.session import unit_of_work

# "Moments before": a CDC call costs one request, so a minute-old mirror is refreshed before acting on it.
MAX_MIRROR_AGE = timedelta(minutes=1)


class IncrementalSync(Protocol):
    """``MirrorSync`` as this module uses it."""

    async def incremental(self, business_id: uuid.UUID) -> SyncReport: ...


class MirrorFreshness:
    """Brings a business's mirror up to date when it is older than ``max_age``; one sync at a time per business in
    this process (a second caller waits for the first's and finds the mirror fresh)."""

    def __init__(
        self,
        mirror: IncrementalSync,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        max_age: timedelta = MAX_MIRROR_AGE,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._mirror = mirror
        self._sessionmaker = sessionmaker
        self._max_age = max_age
        self._clock = clock
        self._locks: weakref.WeakValueDictionary[uuid.UUID, asyncio.Lock] = weakref.WeakValueDictionary()

    async def ensure_fresh(self, business_id: uuid.UUID) -> datetime:
        """When the mirror's last successful sync started (now or earlier); MirrorNotSynced before a first full
        sync. A failed sync raises (QuickBooks could not be read: acting on the old copy is what this prevents)."""
        lock = self._locks.get(business_id)
        if lock is None:
            lock = self._locks[business_id] = asyncio.Lock()
        async with lock:
            synced_at = await self._last_synced(business_id)
            if self._clock() - synced_at <= self._max_age:
                return synced_at
            report = await self._mirror.incremental(business_id)
            return report.finished_at

    async def _last_synced(self, business_id: uuid.UUID) -> datetime:
        async with unit_of_work(self._sessionmaker) as session:
            await SyncStateRepository(session, business_id).require_synced()
            run = await SyncRunRepository(session, business_id).latest(outcome=SyncOutcome.SUCCEEDED)
        return run.started_at if run is not None else datetime.min.replace(tzinfo=self._clock().tzinfo)
