"""The Friday digest as background jobs: each sweep (``oodaloo scheduler``, or the embedded app's loop) asks
``QBOBulkScheduledService`` which digests are due — businesses past Friday's send hour in their own time zone,
advisors likewise — and enqueues one job per digest; the job builds it (``digest.py``) and hands it to the mail
transport through ``send_digest_once``, which claims the week's row first so it goes out once whatever runs twice.

A business whose mirror the freshness policy finds stale gets a sync first (the mirror's own job, coalesced with any
the mirror sweep asked for: no extra QuickBooks call), and its digest a sweep after the sync lands; if the sync has not
landed SYNC_GRACE after the send hour (QuickBooks down), the digest goes out from the mirror as it is, saying when it
was last synced. The digest itself never calls QuickBooks.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oodaloo.domains.core.digest_audience import business_recipients, recipient
from oodaloo.domains.core.digest_sends import DigestKey, DigestKind, DigestLedger
from oodaloo.domains.core.models import Business, User
from oodaloo.domains.qbo.service import DigestOutcome, DueDigest, QBOBulkScheduledService, SentDigest
from oodaloo.domains.qbo.sync_jobs import MIRROR_SCOPE, MirrorSyncJobs
from oodaloo.infra.db.base import utcnow
from oodaloo.infra.db.session import unit_of_work
from oodaloo.infra.jobs.smart_sync import JobSender, SmartSyncService, SyncStrategy
from oodaloo.infra.logging import get_logger
from oodaloo.infra.mail import MailTransport, mail_transport
from oodaloo.runway.experiences.digest import (
    ClientFigures,
    advisor_clients,
    advisor_mail,
    build_advisor_digest,
    build_business_digest,
    business_mail,
)
from oodaloo.settings import Settings

logger = get_logger("oodaloo.digest")

BUSINESS_DIGEST_JOB = "digest.business"
ADVISOR_DIGEST_JOB = "digest.advisor"
# How long after the send hour a digest waits for the sync its stale mirror asked for: a sync takes seconds, so this
# only matters when QuickBooks cannot be reached; then the digest goes out from the mirror as it is.
SYNC_GRACE = timedelta(minutes=30)
# Digests built at once in one process: building is CPU work on the event loop (the forecast, the chart), so more at
# once would only queue on the loop and the database pool; workers scale it out.
BUILD_CONCURRENCY = 4


@dataclass(frozen=True)
class DigestConfig:
    """``base_url``: where the mail's links point; ``sender``: its From; ``sync_stale``: ask for a sync of a stale
    mirror before its digest (off only where nothing may call QuickBooks unasked, as the mirror sweep)."""

    base_url: str
    sender: str
    sync_stale: bool


def digest_config(settings: Settings) -> DigestConfig:
    return DigestConfig(settings.public_base_url, settings.mail_from, sync_stale=settings.mirror_sweep)


def settings_transport(settings: Settings) -> MailTransport:
    """SMTP when configured, else the file outbox (``settings`` refuse the outbox in production)."""
    return mail_transport(
        smtp_host=settings.smtp_host,
        smtp_port=settings.smtp_port,
        smtp_username=settings.smtp_username,
        smtp_password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        smtp_starttls=settings.smtp_starttls,
        smtp_timeout_seconds=settings.smtp_timeout_seconds,
        outbox_dir=settings.outbox_dir,
    )


def _payload(key: DigestKey) -> dict[str, Any]:
    return {"subject_id": str(key.subject_id), "week": key.week.isoformat()}


def _key(kind: DigestKind, payload: dict[str, Any]) -> DigestKey:
    return DigestKey(kind, uuid.UUID(payload["subject_id"]), date.fromisoformat(payload["week"]))


class DigestJobs:
    """Registers the two digest job kinds (a business's, an advisor's) and their sweeps; builds and sends digests."""

    def __init__(
        self,
        *,
        smart_sync: SmartSyncService,
        bulk: QBOBulkScheduledService,
        mirror_jobs: MirrorSyncJobs,
        sessionmaker: async_sessionmaker[AsyncSession],
        transport: MailTransport,
        config: DigestConfig,
    ) -> None:
        self._smart_sync = smart_sync
        self._bulk = bulk
        self._mirror_jobs = mirror_jobs
        self._sessionmaker = sessionmaker
        self._transport = transport
        self._config = config
        self._building = asyncio.Semaphore(BUILD_CONCURRENCY)

    def register(self, *, sweep: bool = True) -> None:
        """The job kinds always (a worker must run what another process's sweep enqueued); their sweeps when
        ``sweep``."""
        self._smart_sync.register_job(
            BUSINESS_DIGEST_JOB, self._run_business, sweep=self.sweep_businesses if sweep else None
        )
        self._smart_sync.register_job(
            ADVISOR_DIGEST_JOB, self._run_advisor, sweep=self.sweep_advisors if sweep else None
        )

    # ---------------------------------------------------------------------------------------------- the sweeps
    async def sweep_businesses(self, jobs: JobSender) -> int:
        """Enqueue the digest of every business whose digest is due (or first its stale mirror's sync)."""
        due = await self._bulk.digests_due()
        now = utcnow()
        for item in due:
            if await self._waits_for_sync(item, now, jobs):
                continue
            await jobs.enqueue(BUSINESS_DIGEST_JOB, _payload(item.key), coalesce_on=item.key.label)
        if due:
            logger.info("digest.business_sweep", due=len(due))
        return len(due)

    async def sweep_advisors(self, jobs: JobSender) -> int:
        due = await self._bulk.advisor_digests_due()
        for item in due:
            await jobs.enqueue(ADVISOR_DIGEST_JOB, _payload(item.key), coalesce_on=item.key.label)
        if due:
            logger.info("digest.advisor_sweep", due=len(due))
        return len(due)

    async def _waits_for_sync(self, item: DueDigest, now: datetime, jobs: JobSender) -> bool:
        """Whether the digest waits for its business's sync (asked for here): the mirror is stale by the freshness
        policy, syncing is allowed, and the grace after the send hour is not over."""
        if not self._config.sync_stale or now - item.due_at >= SYNC_GRACE:
            return False
        business_id = item.key.subject_id
        if not await self._smart_sync.should_sync(business_id, MIRROR_SCOPE, SyncStrategy.SCHEDULED):
            return False
        await self._mirror_jobs.request(business_id, jobs=jobs)
        return True

    # ------------------------------------------------------------------------------------------------ the jobs
    async def _run_business(self, payload: dict[str, Any]) -> None:
        await self.deliver(_key("business", payload))

    async def _run_advisor(self, payload: dict[str, Any]) -> None:
        await self.deliver(_key("advisor", payload))

    async def deliver(self, key: DigestKey) -> DigestOutcome:
        """Send ``key``'s digest unless it is sent or being sent (``QBOBulkScheduledService.send_digest_once``)."""
        send = self.send_business if key.kind == "business" else self.send_advisor
        return await self._bulk.send_digest_once(key, send)

    async def send_business(self, key: DigestKey) -> SentDigest:
        """Build the business's digest and hand it to the transport (to nobody: nothing is sent)."""
        async with self._building, unit_of_work(self._sessionmaker) as session:
            business = await session.get(Business, key.subject_id)
            recipients = await business_recipients(session, key.subject_id) if business is not None else []
            if business is None or not recipients:
                return SentDigest(None, 0)
            digest = await build_business_digest(session, business, week=key.week, base_url=self._config.base_url)
        mail = business_mail(digest, key=key.label, sender=self._config.sender, to=recipients)
        await self._transport.send(mail)
        return SentDigest(mail.message_id, len(recipients), summary=digest.figures.as_json())

    async def send_advisor(self, key: DigestKey) -> SentDigest:
        async with self._building, unit_of_work(self._sessionmaker) as session:
            user = await session.get(User, key.subject_id)
            advisor = await recipient(session, key.subject_id)
            if user is None or advisor is None:
                return SentDigest(None, 0)
            sent = await DigestLedger(session).summaries(
                [business.id for business in await advisor_clients(session, user)], key.week
            )
            digest = await build_advisor_digest(
                session,
                user,
                week=key.week,
                base_url=self._config.base_url,
                sent={business_id: ClientFigures.from_json(summary) for business_id, summary in sent.items()},
            )
        if not digest.clients:
            return SentDigest(None, 0)
        mail = advisor_mail(digest, key=key.label, sender=self._config.sender)
        await self._transport.send(mail)
        return SentDigest(mail.message_id, 1)


def register_digests(
    settings: Settings,
    sync: SmartSyncService,
    bulk: QBOBulkScheduledService,
    mirror_jobs: MirrorSyncJobs,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> DigestJobs:
    """The digest's job kinds, with their sweeps when ``settings.digest_schedule``."""
    digests = DigestJobs(
        smart_sync=sync,
        bulk=bulk,
        mirror_jobs=mirror_jobs,
        sessionmaker=sessionmaker,
        transport=settings_transport(settings),
        config=digest_config(settings),
    )
    digests.register(sweep=settings.digest_schedule)
    return digests
