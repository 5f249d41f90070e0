"""QBOBulkScheduledService: background data work across many businesses — today, bringing the mirror of every
connected business up to date (``oodaloo sync --all``, periodic runs). Never on a user-action path (import-linter
contract 4): it may hold a realm's background budget for minutes.

Each business gets a full sync when its mirror has never completed one, belongs to another realm, or has a full sync
left unfinished (which the full sync then continues); otherwise an incremental one (CDC, or a reconciliation when the
cursor is beyond CDC's reach — ``MirrorSync.incremental`` decides). Every run is recorded in ``sync_runs`` by the
mirror; a failure is recorded and logged for its business and never stops the others.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oodaloo.domains.core.models import Business
from oodaloo.domains.qbo.mirror_models import SyncKind, SyncOutcome
from oodaloo.domains.qbo.mirror_repository import FullSyncProgressRepository, SyncStateRepository
from oodaloo.domains.qbo.models import ConnectionStatus, QBOConnection
from oodaloo.domains.qbo.repository import QBOConnectionRepository
from oodaloo.domains.qbo.sync import MirrorSync, SyncReport
from oodaloo.infra.db.session import unit_of_work

logger = structlog.get_logger(__name__)

# Businesses synced at once. QBO's limits are per realm (SmartSync's realm limiter enforces them whatever this is),
# so this bound protects our own process: each sync pages FULL_SYNC_CONCURRENCY types at once, holding up to 1000
# objects per page in memory and a database connection per stored page (SQLite has one writer; PostgreSQL's pool
# defaults to 5 + 10 overflow). 4 x 4 pages in flight keeps the pool and memory comfortable.
BULK_SYNC_CONCURRENCY = 4
# The longest error text kept in a result (the full one is in ``sync_runs.error``).
MAX_ERROR_CHARS = 500


class BusinessNotSyncable(Exception):
    """A business that cannot be synced: unknown, or not connected to QuickBooks. The message says which."""


@dataclass(frozen=True)
class BusinessSyncResult:
    """One business's part of a bulk run: the kind chosen, how it ended, and what it did or why it failed."""

    business_id: uuid.UUID
    kind: SyncKind
    outcome: SyncOutcome
    report: SyncReport | None
    error: str | None
    duration_seconds: float


ResultHook = Callable[[BusinessSyncResult], None]


class QBOBulkScheduledService:
    """Syncs many businesses' mirrors, at most ``concurrency`` at once."""

    def __init__(
        self,
        *,
        mirror: MirrorSync,
        sessionmaker: async_sessionmaker[AsyncSession],
        concurrency: int = BULK_SYNC_CONCURRENCY,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._mirror = mirror
        self._sessionmaker = sessionmaker
        self._concurrency = concurrency

    async def connected_businesses(self) -> list[uuid.UUID]:
        """Every business connected to QuickBooks now, oldest connection first."""
        statement = (
            select(QBOConnection.business_id)
            .where(QBOConnection.status == ConnectionStatus.CONNECTED)
            .order_by(QBOConnection.connected_at, QBOConnection.business_id)
        )
        async with unit_of_work(self._sessionmaker) as session:
            return list((await session.scalars(statement)).all())

    async def check_syncable(self, business_id: uuid.UUID) -> None:
        """Raise :class:`BusinessNotSyncable` naming the problem unless the business exists and is connected."""
        async with unit_of_work(self._sessionmaker) as session:
            if await session.get(Business, business_id) is None:
                raise BusinessNotSyncable(f"No business has the id {business_id}.")
            connection = await QBOConnectionRepository(session, business_id).current()
        if connection is None or connection.status is not ConnectionStatus.CONNECTED:
            state = "not connected" if connection is None else connection.status.value.replace("_", " ")
            raise BusinessNotSyncable(f"Business {business_id} is not connected to QuickBooks ({state}).")

    async def kind_for(self, business_id: uuid.UUID) -> SyncKind:
        """FULL when the mirror never completed a full sync of the connected realm or one is unfinished; else CDC
        (which ``MirrorSync.incremental`` turns into a reconciliation when the cursor is beyond CDC's reach)."""
        async with unit_of_work(self._sessionmaker) as session:
            connection = await QBOConnectionRepository(session, business_id).current()
            state = await SyncStateRepository(session, business_id).current()
            progress = await FullSyncProgressRepository(session, business_id).by_entity()
        never_synced = state is None or state.cdc_cursor is None
        other_realm = state is not None and connection is not None and state.realm_id != connection.realm_id
        unfinished = any(not row.done for row in progress.values())
        return SyncKind.FULL if never_synced or other_realm or unfinished else SyncKind.CDC

    async def sync_one(self, business_id: uuid.UUID) -> BusinessSyncResult:
        """Sync one business; a failure is returned (and recorded by the mirror), never raised."""
        started = time.monotonic()
        kind = SyncKind.FULL
        try:
            kind = await self.kind_for(business_id)
            report = await (
                self._mirror.full(business_id) if kind is SyncKind.FULL else self._mirror.incremental(business_id)
            )
        except Exception as error:  # one business's failure must not stop the others
            message = f"{type(error).__name__}: {error}"[:MAX_ERROR_CHARS]
            logger.warning(
                "qbo_bulk_sync_business_failed", business_id=str(business_id), kind=kind.value, error=message
            )
            return BusinessSyncResult(business_id, kind, SyncOutcome.FAILED, None, message, time.monotonic() - started)
        return BusinessSyncResult(business_id, report.kind, report.outcome, report, None, time.monotonic() - started)

    async def sync_all(
        self, business_ids: Iterable[uuid.UUID] | None = None, *, on_result: ResultHook | None = None
    ) -> list[BusinessSyncResult]:
        """Sync ``business_ids`` (every connected business when None), at most ``concurrency`` at once; results in
        the order given. ``on_result`` hears each business as it finishes (a progress bar)."""
        targets = list(business_ids) if business_ids is not None else await self.connected_businesses()
        semaphore = asyncio.Semaphore(self._concurrency)
        started = time.monotonic()

        async def one(business_id: uuid.UUID) -> BusinessSyncResult:
            async with semaphore:
                result = await self.sync_one(business_id)
            if on_result is not None:
                on_result(result)
            return result

        results = list(await asyncio.gather(*(one(business_id) for business_id in targets)))
        failed = sum(result.outcome is not SyncOutcome.SUCCEEDED for result in results)
        logger.info(
            "qbo_bulk_sync_finished",
            businesses=len(results),
            failed=failed,
            calls=sum(result.report.calls for result in results if result.report is not None),
            duration_ms=round((time.monotonic() - started) * 1000),
        )
        return results
