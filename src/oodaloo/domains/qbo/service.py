"""QBOBulkScheduledService: background data work across many businesses — bringing the mirror of every connected
business up to date (``oodaloo sync --all``, periodic runs), and the Friday digest run (which digests are due, and
sending each exactly once). Never on a user-action path (import-linter contract 4): it may hold a realm's background
budget for minutes.

Each business gets a full sync when its mirror has never completed one, belongs to another realm, or has a full sync
left unfinished (which the full sync then continues); otherwise an incremental one (CDC, or a reconciliation when the
cursor is beyond CDC's reach — ``MirrorSync.incremental`` decides). Every run is recorded in ``sync_runs`` by the
mirror; a failure is recorded and logged for its business and never stops the others.

The digest: a business's is due from Friday at the send hour in its own time zone until its week ends (Sunday night),
once its mirror has completed a first sync; an advisor's, at the same hour in the zone most of their clients share.
``send_digest_once`` claims the week's row in the send ledger (``domains/core/digest_sends.py``) before the mail is
built and sent, under a lease renewed while it works, and marks it sent after: any number of schedulers, workers and
retried jobs send it once, and a sender that dies leaves a lease that runs out (ADR 0013). What a digest says and how
it is sent is handed in (``DigestSender``): the experiences build it, this module only decides when and who.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oodaloo.domains.core.digest_audience import advisor_client_zones, advisor_zone
from oodaloo.domains.core.digest_models import LEASE_OWNER_MAX_LENGTH
from oodaloo.domains.core.digest_sends import Claim, DigestKey, DigestKind, DigestLedger
from oodaloo.domains.core.models import Business
from oodaloo.domains.qbo.mirror_models import SyncKind, SyncOutcome, SyncState
from oodaloo.domains.qbo.mirror_repository import FullSyncProgressRepository, SyncStateRepository
from oodaloo.domains.qbo.models import ConnectionStatus, QBOConnection
from oodaloo.domains.qbo.repository import QBOConnectionRepository
from oodaloo.domains.qbo.sync import MirrorSync, SyncReport
from oodaloo.infra.db.base import utcnow
from oodaloo.infra.db.session import unit_of_work
from oodaloo.infra.leases import lease_owner, renewed

logger = structlog.get_logger(__name__)

# Businesses synced at once. QBO's limits are per realm (SmartSync's realm limiter enforces them whatever this is),
# so this bound protects our own process: each sync pages FULL_SYNC_CONCURRENCY types at once, holding up to 1000
# objects per page in memory and a database connection per stored page (SQLite has one writer; PostgreSQL's pool
# defaults to 5 + 10 overflow). 4 x 4 pages in flight keeps the pool and memory comfortable.
BULK_SYNC_CONCURRENCY = 4
# The longest error text kept in a result (the full one is in ``sync_runs.error``).
MAX_ERROR_CHARS = 500
# The digest goes out on Friday (Monday is 0) at the send hour, in the recipient's own time zone.
DIGEST_WEEKDAY = 4
DEFAULT_DIGEST_HOUR = 7
# A digest being sent is leased this long, renewed every third of it while its sender works: a sender that died is
# replaced by the first sweep after its lease ran out (within about a minute and a sweep).
DIGEST_LEASE = timedelta(seconds=60)
# The longest one digest may take to build and hand over. A mail server that hangs is cut off here and the attempt
# counts as failed (tried again later), so no live sender keeps a digest for long.
DIGEST_DEADLINE_SECONDS = 180.0
# An advisor's digest waits for its clients' own digests of the week (it quotes their figures), at most this long after
# its send hour: a client's digest held for its mirror's sync, or failing, does not keep the advisor's back for long.
ADVISOR_DIGEST_WAIT = timedelta(hours=1)


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


def digest_week(timezone: str, now: datetime, *, hour: int = DEFAULT_DIGEST_HOUR) -> tuple[date, datetime] | None:
    """The week (its Monday) whose digest is due at ``now`` in ``timezone``, and the moment it fell due (Friday at
    ``hour`` there); None before that moment in the week ``now`` falls in. Sunday night ends the week: a digest not
    sent by then is not sent late on Monday (a new week has begun, whose own digest comes on Friday)."""
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    monday = local.date() - timedelta(days=local.weekday())
    due_at = datetime.combine(monday + timedelta(days=DIGEST_WEEKDAY), clock_time(hour), tzinfo=zone)
    return (monday, due_at) if local >= due_at else None


@dataclass(frozen=True)
class DueDigest:
    """A digest with work left: never claimed, or claimable again (a dead sender's, a failed one's retry)."""

    key: DigestKey
    due_at: datetime


@dataclass(frozen=True)
class SentDigest:
    """What a ``DigestSender`` handed over: the message's id (None when the digest had nobody to go to), and for a
    business's digest the figures it gave, kept for its advisors' digests."""

    message_id: str | None
    recipients: int
    summary: dict[str, Any] | None = None


class DigestOutcome(enum.StrEnum):
    SENT = "sent"
    SKIPPED = "skipped"  # sent already, being sent elsewhere, waiting for its retry, or out of attempts
    FAILED = "failed"  # this attempt raised; recorded, tried again later while attempts remain


# Builds and sends one digest (the experiences do: content, recipients, transport).
DigestSender = Callable[[DigestKey], Awaitable[SentDigest]]


class QBOBulkScheduledService:
    """Syncs many businesses' mirrors, at most ``concurrency`` at once; finds the digests due and sends each once."""

    def __init__(
        self,
        *,
        mirror: MirrorSync,
        sessionmaker: async_sessionmaker[AsyncSession],
        concurrency: int = BULK_SYNC_CONCURRENCY,
        digest_hour: int = DEFAULT_DIGEST_HOUR,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._mirror = mirror
        self._sessionmaker = sessionmaker
        self._concurrency = concurrency
        self._digest_hour = digest_hour
        self._clock = clock
        self._owner = lease_owner(LEASE_OWNER_MAX_LENGTH)

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

    # ------------------------------------------------------------------------------------------ the Friday digest
    async def digests_due(self) -> list[DueDigest]:
        """Businesses whose digest of this week is due now and not yet sent (nor being sent): connected, their
        mirror synced once at least, and past Friday's send hour in their own time zone."""
        now = self._clock()
        statement = (
            select(Business.id, Business.timezone)
            .join(SyncState, SyncState.business_id == Business.id)
            .join(QBOConnection, QBOConnection.business_id == Business.id)
            .where(
                SyncState.cdc_cursor.is_not(None),
                SyncState.realm_id == Business.qbo_realm_id,
                QBOConnection.status == ConnectionStatus.CONNECTED,
            )
            .order_by(Business.created_at, Business.id)
        )
        async with unit_of_work(self._sessionmaker) as session:
            businesses = [(business_id, zone) for business_id, zone in (await session.execute(statement)).all()]
            return await self._unsettled(session, "business", businesses, now)

    async def advisor_digests_due(self) -> list[DueDigest]:
        """Advisors whose digest of this week is due now and not yet sent: past Friday's send hour in the zone
        most of their clients share (``advisor_zone``), and after their clients' own digests went out (whose figures
        it quotes), or ADVISOR_DIGEST_WAIT after the hour whatever is left."""
        now = self._clock()
        clients_due = {item.key.subject_id for item in await self.digests_due()}
        async with unit_of_work(self._sessionmaker) as session:
            advisors = await advisor_client_zones(session)
            due = await self._unsettled(
                session,
                "advisor",
                [(user_id, advisor_zone(list(zones.values()), now)) for user_id, zones in advisors.items()],
                now,
            )
        return [
            item
            for item in due
            if now >= item.due_at + ADVISOR_DIGEST_WAIT or clients_due.isdisjoint(advisors[item.key.subject_id])
        ]

    async def _unsettled(
        self, session: AsyncSession, kind: DigestKind, subjects: list[tuple[uuid.UUID, str]], now: datetime
    ) -> list[DueDigest]:
        due: dict[tuple[uuid.UUID, date], datetime] = {}
        for subject_id, zone in subjects:
            week = digest_week(zone, now, hour=self._digest_hour)
            if week is not None:
                due[(subject_id, week[0])] = week[1]
        left = await DigestLedger(session).unsettled(kind, due, now=now)
        return [
            DueDigest(DigestKey(kind, subject, week), due_at)
            for (subject, week), due_at in due.items()
            if (subject, week) in left
        ]

    async def send_digest_once(self, key: DigestKey, send: DigestSender) -> DigestOutcome:
        """Send ``key``'s digest unless it is sent or being sent: claim it, run ``send`` under the renewed lease (cut
        off after DIGEST_DEADLINE_SECONDS), mark it sent. A failure is recorded for a later retry, never raised."""
        async with unit_of_work(self._sessionmaker) as session:
            claim = await DigestLedger(session).claim(key, self._owner, now=self._clock(), lease=DIGEST_LEASE)
        if claim is None:
            return DigestOutcome.SKIPPED
        log = logger.bind(digest=key.label, attempt=claim.attempt)
        try:
            async with self._leased(claim), asyncio.timeout(DIGEST_DEADLINE_SECONDS):
                sent = await send(key)
        except Exception as error:  # one digest's failure must not stop the others; it is tried again
            message = f"{type(error).__name__}: {error}"[:MAX_ERROR_CHARS]
            async with unit_of_work(self._sessionmaker) as session:
                await DigestLedger(session).fail(claim, message, now=self._clock())
            log.warning("qbo_bulk_digest_failed", error=message)
            return DigestOutcome.FAILED
        async with unit_of_work(self._sessionmaker) as session:
            kept = await DigestLedger(session).finish(
                claim,
                message_id=sent.message_id or "",
                recipients=sent.recipients,
                now=self._clock(),
                summary=sent.summary,
            )
        if not kept:
            # Our lease ran out while we sent (a stalled process): another sender may have sent it too (ADR 0013).
            log.warning("qbo_bulk_digest_lease_lost")
        log.info("qbo_bulk_digest_sent", recipients=sent.recipients, message_id=sent.message_id)
        return DigestOutcome.SENT

    def _leased(self, claim: Claim) -> contextlib.AbstractAsyncContextManager[None]:
        async def renew() -> None:
            async with unit_of_work(self._sessionmaker) as session:
                await DigestLedger(session).renew(claim, now=self._clock(), lease=DIGEST_LEASE)

        return renewed(
            renew,
            lease_seconds=DIGEST_LEASE.total_seconds(),
            name=f"digest-lease-{claim.key.label}",
            on_failure=lambda error: logger.warning(
                "qbo_bulk_digest_lease_renewal_failed", digest=claim.key.label, error=repr(error)
            ),
        )
