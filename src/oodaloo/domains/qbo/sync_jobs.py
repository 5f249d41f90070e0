"""The mirror's syncs as background jobs: one job kind, a business's sync, serialized per realm and coalesced per
business — asked for by webhooks, by "sync now", and by the freshness sweep that is the safety net when none come."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oodaloo.domains.qbo.mirror_models import FullSyncProgress, SyncOutcome
from oodaloo.domains.qbo.models import ConnectionStatus, QBOConnection
from oodaloo.domains.qbo.service import QBOBulkScheduledService
from oodaloo.domains.qbo.webhooks import WebhookInbox
from oodaloo.infra.db.base import utcnow
from oodaloo.infra.db.session import unit_of_work
from oodaloo.infra.jobs.smart_sync import JobSender, SmartSyncService, SyncStrategy
from oodaloo.infra.logging import get_logger

logger = get_logger("oodaloo.qbo.sync_jobs")

MIRROR_SYNC_JOB = "qbo.mirror_sync"
# The freshness policy's scope for the whole mirror (one CDC call brings every entity type up to date).
MIRROR_SCOPE = "mirror"
# A full sync stores a page every few seconds; one whose progress has not moved for this long lost its worker (or its
# message). Longer than the minute a dead worker's realm lock and coalescing mark outlive it, so the request it gets
# runs at once; a live sync asked again by mistake costs one merged follow-up, never a second sync at the same time.
STALLED_FULL_SYNC = timedelta(minutes=2)
# A webhook's sync waits this long before it starts, so the rest of a burst (Intuit sends a batch of changes as
# several deliveries over a second or two) merges into the queued job instead of each starting a sync of its own; it
# is also all the staleness it adds.
WEBHOOK_SYNC_DELAY_SECONDS = 2.0


# Called with a business's id after each of its successful syncs, by whatever derives facts from the mirror (the drift
# check): registered from outside, so this module imports none of them. A failing hook is logged; the sync stands.
AfterSync = Callable[[uuid.UUID], Awaitable[object]]


def serialization_key(realm_id: str) -> str:
    """The job layer's key for a realm: no two jobs that touch one realm's mirror run at once, in any process."""
    return f"qbo-realm:{realm_id}"


def _coalescing_key(business_id: uuid.UUID) -> str:
    return f"qbo-mirror-sync:{business_id}"


class MirrorSyncJobs:
    """Registers the sync job kind with SmartSync and asks for syncs; also the webhook inbox's ``SyncRequester``."""

    def __init__(
        self,
        *,
        smart_sync: SmartSyncService,
        bulk: QBOBulkScheduledService,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._smart_sync = smart_sync
        self._bulk = bulk
        self._sessionmaker = sessionmaker
        self._clock = clock
        self._after_sync: list[AfterSync] = []

    def register(self, *, sweep: bool = True) -> None:
        """The job kind, and (``sweep``) the hook that asks for due syncs every sweep interval."""
        self._smart_sync.register_job(MIRROR_SYNC_JOB, self._run, sweep=self._sweep if sweep else None)

    def after_sync(self, hook: AfterSync) -> None:
        """Call ``hook`` after each successful sync of a business."""
        self._after_sync.append(hook)

    async def request(
        self, business_id: uuid.UUID, *, jobs: JobSender | None = None, delay_seconds: float = 0.0
    ) -> bool:
        """Ask for the business's sync (to start ``delay_seconds`` from now); False when merged into one already
        queued (or no queue runs jobs)."""
        async with unit_of_work(self._sessionmaker) as session:
            realm_id = await session.scalar(
                select(QBOConnection.realm_id).where(
                    QBOConnection.business_id == business_id, QBOConnection.status == ConnectionStatus.CONNECTED
                )
            )
        if realm_id is None:
            return False
        payload = {"business_id": str(business_id)}
        keys: dict[str, Any] = {
            "serialize_on": serialization_key(realm_id),
            "coalesce_on": _coalescing_key(business_id),
            "delay_seconds": delay_seconds,
        }
        if jobs is not None:
            return await jobs.enqueue(MIRROR_SYNC_JOB, payload, **keys)
        return await self._smart_sync.enqueue_job(MIRROR_SYNC_JOB, payload, **keys)

    async def request_cdc_sync(self, realm_id: str) -> None:
        """A webhook brought news of ``realm_id``: sync every business connected to it."""
        business_ids = await self._businesses_of(realm_id)
        requested = [
            business_id
            for business_id in business_ids
            if await self.request(business_id, delay_seconds=WEBHOOK_SYNC_DELAY_SECONDS)
        ]
        logger.info("qbo.cdc_sync_requested", realm_id=realm_id, businesses=len(business_ids), queued=len(requested))

    async def _businesses_of(self, realm_id: str) -> list[uuid.UUID]:
        async with unit_of_work(self._sessionmaker) as session:
            statement = select(QBOConnection.business_id).where(
                QBOConnection.realm_id == realm_id, QBOConnection.status == ConnectionStatus.CONNECTED
            )
            return list((await session.scalars(statement)).all())

    async def _run(self, payload: dict[str, Any]) -> None:
        business_id = uuid.UUID(payload["business_id"])
        started = self._clock()
        result = await self._bulk.sync_one(business_id)
        if result.outcome is not SyncOutcome.SUCCEEDED:
            return  # recorded in sync_runs; the sweep asks again when the business is due
        await self._smart_sync.mark_synced(business_id, MIRROR_SCOPE)
        async with unit_of_work(self._sessionmaker) as session:
            realm_id = await session.scalar(
                select(QBOConnection.realm_id).where(QBOConnection.business_id == business_id)
            )
            if realm_id is not None:
                # The sync began after these events arrived, so its CDC call covered them.
                await WebhookInbox(session).mark_processed(realm_id, received_before=started)
        for hook in self._after_sync:
            try:
                await hook(business_id)
            except Exception:
                logger.exception("qbo.after_sync_failed", business_id=str(business_id))

    async def _sweep(self, jobs: JobSender) -> int:
        """Ask for the syncs that are due: full syncs that stalled (their worker died), realms whose webhook events no
        sync has covered (a lost request), then every business the freshness policy finds stale — the periodic CDC
        that catches what no webhook said."""
        async with unit_of_work(self._sessionmaker) as session:
            unprocessed = await WebhookInbox(session).realms_with_unprocessed()
        due: dict[uuid.UUID, None] = dict.fromkeys(await self._stalled_full_syncs())
        for realm_id in unprocessed:
            due.update(dict.fromkeys(await self._businesses_of(realm_id)))
        for business_id in await self._bulk.connected_businesses():
            if await self._smart_sync.should_sync(business_id, MIRROR_SCOPE, SyncStrategy.SCHEDULED):
                due[business_id] = None
        for business_id in due:
            await self.request(business_id, jobs=jobs)
        if due:
            logger.info("qbo.mirror_sync_sweep", requested=len(due))
        return len(due)

    async def _stalled_full_syncs(self) -> list[uuid.UUID]:
        """Connected businesses whose full sync is unfinished and stored nothing for STALLED_FULL_SYNC. Whatever the
        freshness policy says (a business synced an hour ago, then reconnected to another realm, looks fresh), their
        mirror holds part of a realm until the sync ends; the next run continues after the last stored page."""
        unfinished = func.sum(case((FullSyncProgress.done.is_(False), 1), else_=0))
        statement = (
            select(FullSyncProgress.business_id)
            .join(QBOConnection, QBOConnection.business_id == FullSyncProgress.business_id)
            .where(QBOConnection.status == ConnectionStatus.CONNECTED)
            .group_by(FullSyncProgress.business_id)
            .having(unfinished > 0, func.max(FullSyncProgress.updated_at) < self._clock() - STALLED_FULL_SYNC)
        )
        async with unit_of_work(self._sessionmaker) as session:
            return list((await session.scalars(statement)).all())
