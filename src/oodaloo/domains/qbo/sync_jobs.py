"""The mirror's syncs as background jobs: one job kind, a business's sync, serialized per realm and coalesced per
business — asked for by webhooks, by "sync now", and by the freshness sweep that is the safety net when none come."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oodaloo.domains.qbo.mirror_models import SyncOutcome
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


def _serialization_key(realm_id: str) -> str:
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

    def register(self, *, sweep: bool = True) -> None:
        """The job kind, and (``sweep``) the hook that asks for due syncs every sweep interval."""
        self._smart_sync.register_job(MIRROR_SYNC_JOB, self._run, sweep=self._sweep if sweep else None)

    async def request(self, business_id: uuid.UUID, *, jobs: JobSender | None = None) -> bool:
        """Ask for the business's sync; False when merged into one already queued (or no queue runs jobs)."""
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
            "serialize_on": _serialization_key(realm_id),
            "coalesce_on": _coalescing_key(business_id),
        }
        if jobs is not None:
            return await jobs.enqueue(MIRROR_SYNC_JOB, payload, **keys)
        return await self._smart_sync.enqueue_job(MIRROR_SYNC_JOB, payload, **keys)

    async def request_cdc_sync(self, realm_id: str) -> None:
        """A webhook brought news of ``realm_id``: sync every business connected to it."""
        business_ids = await self._businesses_of(realm_id)
        requested = [business_id for business_id in business_ids if await self.request(business_id)]
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

    async def _sweep(self, jobs: JobSender) -> int:
        """Ask for the syncs that are due: realms whose webhook events no sync has covered (a lost request), then
        every business the freshness policy finds stale — the periodic CDC that catches what no webhook said."""
        async with unit_of_work(self._sessionmaker) as session:
            unprocessed = await WebhookInbox(session).realms_with_unprocessed()
        due: dict[uuid.UUID, None] = {}
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
