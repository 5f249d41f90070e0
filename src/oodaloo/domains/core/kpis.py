"""The KPIs an owner or advisor watches week to week, and the daily snapshot job that records them for the trend.

Formulas (every figure "as of" a day D from transactions dated on or before D, so a past day can be replayed):

- **DSO** (days sales outstanding) = receivables open at the end of D ÷ invoiced in the trailing 90 days (invoices
  dated after D - 90 and on or before D) x 90. None when nothing was invoiced in the window (no sales to measure by).
- **DPO** (days payables outstanding) = bills open at the end of D ÷ billed in the trailing 90 days x 90; None when
  nothing was billed. Billed purchases stand in for cost of sales: the books of a small business rarely separate it.
- **Aging** of receivables and payables: open balances by days past due on D — current (not yet due, or due on D),
  1-30, 31-60, 61-90, 90+; a bill without a due date is due on its date plus its term (``OpenBill``).
- **Burn**: the bank accounts' average weekly net outflow over the trailing 90 days (``CashLedger.burn``).
- **Runway trend**: the runway recorded by each daily snapshot (one per business-local day, ``DailySnapshots``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oodaloo.domains.ap.history import OpenBill, Payables, load_payables
from oodaloo.domains.ar.collections import AGING_BUCKETS, AgingBucket, AgingTotal, aging, aging_bucket
from oodaloo.domains.ar.history import Receivables, load_receivables
from oodaloo.domains.core.cash import DEFAULT_BURN_DAYS, CashLedger, load_cash_ledger
from oodaloo.domains.core.models import Business, today_in
from oodaloo.domains.core.snapshots import (
    DailySnapshot,
    RunwayGauge,
    RunwayReading,
    SnapshotRepository,
    latest_days,
)
from oodaloo.domains.qbo.mirror_models import SyncState
from oodaloo.domains.qbo.mirror_repository import MirrorNotSynced, SyncStateRepository
from oodaloo.domains.qbo.models import ConnectionStatus, QBOConnection
from oodaloo.infra.db.session import unit_of_work
from oodaloo.infra.jobs.smart_sync import JobSender, SmartSyncService
from oodaloo.infra.logging import get_logger

logger = get_logger("oodaloo.core.kpis")

ZERO = Decimal("0.00")
TENTH = Decimal("0.1")
# DSO and DPO look back a quarter: long enough to smooth a lumpy month, short enough to show a change of habit.
OUTSTANDING_WINDOW_DAYS = 90
DEFAULT_TREND_DAYS = 90
MAX_TREND_DAYS = 366
SNAPSHOT_JOB = "core.daily_snapshot"

DSO_FORMULA = "DSO = open receivables ÷ invoiced in the trailing 90 days x 90"
DPO_FORMULA = "DPO = open payables ÷ billed in the trailing 90 days x 90"
BURN_FORMULA = "Burn = (bank outflows - bank inflows) over the trailing 90 days ÷ 90 x 7, per week"


# ------------------------------------------------------------------------------------------------- the figures
@dataclass(frozen=True)
class Aging:
    """Open balances by bucket of days past due, every bucket listed in order."""

    buckets: tuple[AgingTotal, ...]

    @property
    def total(self) -> Decimal:
        return sum((bucket.balance for bucket in self.buckets), ZERO)

    def balance(self, bucket: AgingBucket) -> Decimal:
        return next(found.balance for found in self.buckets if found.bucket == bucket)


@dataclass(frozen=True)
class DaysOutstanding:
    """``outstanding`` ÷ ``period_total`` (invoiced or billed over ``window_days``) x ``window_days``."""

    outstanding: Decimal
    period_total: Decimal
    window_days: int

    @property
    def days(self) -> Decimal | None:
        if self.period_total <= 0:
            return None
        return (self.outstanding / self.period_total * self.window_days).quantize(TENTH, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Figures:
    """A business's KPIs as of ``as_of`` (everything but the runway, which the forecast gives)."""

    as_of: date
    cash: Decimal
    burn: Decimal
    receivables: Aging
    payables: Aging
    dso: DaysOutstanding
    dpo: DaysOutstanding


def payables_aging(bills: Iterable[OpenBill], day: date) -> Aging:
    counts = dict.fromkeys(AGING_BUCKETS, 0)
    balances = dict.fromkeys(AGING_BUCKETS, ZERO)
    for bill in bills:
        due = bill.effective_due_date
        bucket = aging_bucket((day - due).days if due is not None else 0)
        counts[bucket] += 1
        balances[bucket] += bill.balance
    return Aging(tuple(AgingTotal(bucket, counts[bucket], balances[bucket]) for bucket in AGING_BUCKETS))


def invoiced_in_window(receivables: Receivables, day: date, window_days: int = OUTSTANDING_WINDOW_DAYS) -> Decimal:
    """Invoices dated after ``day - window_days`` and on or before ``day``, their totals summed."""
    start = day - timedelta(days=window_days)
    return sum((invoice.total for invoice in receivables.created_by(day) if invoice.txn_date > start), ZERO)


def billed_in_window(payables: Payables, day: date, window_days: int = OUTSTANDING_WINDOW_DAYS) -> Decimal:
    start = day - timedelta(days=window_days)
    return sum(
        (bill.total for bill in payables.bills if bill.txn_date is not None and start < bill.txn_date <= day), ZERO
    )


def figures_as_of(receivables: Receivables, payables: Payables, ledger: CashLedger, day: date) -> Figures:
    """The KPIs at the end of ``day``, from transactions dated on or before it."""
    open_invoices = receivables.open_as_of(day)
    open_bills = payables.open_as_of(day)
    receivables_aged = Aging(tuple(aging(open_invoices)))
    payables_aged = payables_aging(open_bills, day)
    return Figures(
        as_of=day,
        cash=ledger.cash_as_of(day),
        burn=ledger.burn(day),
        receivables=receivables_aged,
        payables=payables_aged,
        dso=DaysOutstanding(receivables_aged.total, invoiced_in_window(receivables, day), OUTSTANDING_WINDOW_DAYS),
        dpo=DaysOutstanding(payables_aged.total, billed_in_window(payables, day), OUTSTANDING_WINDOW_DAYS),
    )


async def load_figures(session: AsyncSession, business: Business, day: date) -> Figures:
    receivables = await load_receivables(session, business.id)
    payables = await load_payables(session, business.id)
    ledger = await load_cash_ledger(session, business.id)
    return figures_as_of(receivables, payables, ledger, day)


# ------------------------------------------------------------------------------------------------- the replies
class AgingBucketOut(BaseModel):
    bucket: AgingBucket
    count: int
    balance: Decimal


class AgingOut(BaseModel):
    total: Decimal
    buckets: list[AgingBucketOut] = Field(description="current (not yet due), 1-30, 31-60, 61-90, 90+ days past due.")


class DaysOutstandingOut(BaseModel):
    days: Decimal | None = Field(
        description="To a tenth of a day; null when nothing was invoiced (billed) in the window."
    )
    outstanding: Decimal = Field(description="Open receivables (payables) at the end of today.")
    period_total: Decimal = Field(description="Invoiced (billed) in the window, by transaction date.")
    window_days: int
    formula: str


class BurnOut(BaseModel):
    weekly: Decimal = Field(description="Average weekly net outflow of the bank accounts; negative: they gained.")
    window_days: int
    formula: str


class TrendPointOut(BaseModel):
    day: date
    runway_days: int | None = Field(description="null: beyond the forecast's horizon that day.")
    beyond_horizon: bool
    cash: Decimal
    burn: Decimal


class RunwayTrendOut(BaseModel):
    days: int = Field(description="The window: snapshots of the last this many days, today's included.")
    points: list[TrendPointOut] = Field(description="One per day a snapshot was taken, oldest first.")
    change_days: int | None = Field(
        description="Runway days of the last point less those of the first; null with fewer than two points or when "
        "either is beyond the horizon (then ``direction`` still says which way it went)."
    )
    direction: Literal["up", "down", "flat"] | None


class KpisOut(BaseModel):
    as_of: date = Field(description="Today in the business's time zone.")
    timezone: str
    currency: str
    cash: Decimal = Field(description="Cash in the bank accounts at the end of today.")
    burn: BurnOut
    dso: DaysOutstandingOut
    dpo: DaysOutstandingOut
    receivables_aging: AgingOut
    payables_aging: AgingOut
    runway_trend: RunwayTrendOut


def _aging_out(aged: Aging) -> AgingOut:
    return AgingOut(
        total=aged.total,
        buckets=[AgingBucketOut(bucket=b.bucket, count=b.count, balance=b.balance) for b in aged.buckets],
    )


def _outstanding_out(figure: DaysOutstanding, formula: str) -> DaysOutstandingOut:
    return DaysOutstandingOut(
        days=figure.days,
        outstanding=figure.outstanding,
        period_total=figure.period_total,
        window_days=figure.window_days,
        formula=formula,
    )


def runway_trend(snapshots: Sequence[DailySnapshot], days: int) -> RunwayTrendOut:
    points = [
        TrendPointOut(
            day=snapshot.day,
            runway_days=snapshot.runway_days,
            beyond_horizon=snapshot.runway_days is None,
            cash=snapshot.cash,
            burn=snapshot.burn,
        )
        for snapshot in snapshots
    ]
    change: int | None = None
    direction: Literal["up", "down", "flat"] | None = None
    if len(snapshots) >= 2:
        first, last = snapshots[0].runway, snapshots[-1].runway
        if first.days is not None and last.days is not None:
            change = last.days - first.days
        # Beyond the horizon counts as longer than any runway within it.
        before = first.days if first.days is not None else float("inf")
        after = last.days if last.days is not None else float("inf")
        direction = "up" if after > before else "down" if after < before else "flat"
    return RunwayTrendOut(days=days, points=points, change_days=change, direction=direction)


class KpiService:
    """One business's KPIs today and the runway trend of its snapshots, read through the caller's session."""

    def __init__(self, session: AsyncSession, business: Business) -> None:
        self._session = session
        self._business = business

    async def kpis(self, trend_days: int = DEFAULT_TREND_DAYS) -> KpisOut:
        business = self._business
        await require_synced(self._session, business)
        today = business.today()
        figures = await load_figures(self._session, business, today)
        snapshots = await SnapshotRepository(self._session, business.id).between(
            today - timedelta(days=trend_days - 1), today
        )
        return KpisOut(
            as_of=today,
            timezone=business.timezone,
            currency=business.currency,
            cash=figures.cash,
            burn=BurnOut(weekly=figures.burn, window_days=DEFAULT_BURN_DAYS, formula=BURN_FORMULA),
            dso=_outstanding_out(figures.dso, DSO_FORMULA),
            dpo=_outstanding_out(figures.dpo, DPO_FORMULA),
            receivables_aging=_aging_out(figures.receivables),
            payables_aging=_aging_out(figures.payables),
            runway_trend=runway_trend(snapshots, trend_days),
        )


async def mirror_synced(session: AsyncSession, business: Business) -> bool:
    """Whether the business's mirror completed a first sync of the realm it is connected to."""
    realm_id = business.qbo_realm_id
    return realm_id is not None and await SyncStateRepository(session, business.id).synced(realm_id)


async def require_synced(session: AsyncSession, business: Business) -> None:
    # Until a first full sync of its realm completed, the mirror proves nothing (an empty one is not "no invoices").
    if not await mirror_synced(session, business):
        raise MirrorNotSynced()


# ------------------------------------------------------------------------------------------- the daily snapshot
class DailySnapshots:
    """The snapshot job kind: each connected business with a synced mirror gets one snapshot per day of its own time
    zone, the first sweep after its midnight asking for it; the unique (business, day) key makes a second run of the
    same day, in any process, change nothing."""

    def __init__(
        self,
        *,
        smart_sync: SmartSyncService,
        sessionmaker: async_sessionmaker[AsyncSession],
        gauge: RunwayGauge,
    ) -> None:
        self._smart_sync = smart_sync
        self._sessionmaker = sessionmaker
        self._gauge = gauge

    def register(self, *, sweep: bool = True) -> None:
        self._smart_sync.register_job(SNAPSHOT_JOB, self._run, sweep=self._sweep if sweep else None)

    async def take(self, business_id: uuid.UUID) -> DailySnapshot | None:
        """Take the business's snapshot of its today unless it has one; returns the day's snapshot (None when the
        business is gone or its mirror has not been synced)."""
        async with unit_of_work(self._sessionmaker) as session:
            business = await session.get(Business, business_id)
            if business is None:
                return None
            snapshots = SnapshotRepository(session, business_id)
            today = business.today()
            taken = await snapshots.on(today)
            if taken is not None:
                return taken
            reading = await self._gauge(session, business)
            if reading is None:
                return None
            figures = await load_figures(session, business, today)
            if await snapshots.add_once(snapshot_values(figures, reading)):
                logger.info("core.snapshot_taken", business_id=str(business_id), day=today.isoformat())
            return await snapshots.on(today)

    async def _run(self, payload: dict[str, Any]) -> None:
        await self.take(uuid.UUID(payload["business_id"]))

    async def _sweep(self, jobs: JobSender) -> int:
        """Ask for the snapshot of every business whose today has none yet."""
        due = await self.due()
        for business_id in due:
            await jobs.enqueue(
                SNAPSHOT_JOB, {"business_id": str(business_id)}, coalesce_on=f"core-snapshot:{business_id}"
            )
        return len(due)

    async def due(self) -> list[uuid.UUID]:
        """Connected businesses with a synced mirror and no snapshot of their today."""
        statement = (
            select(Business.id, Business.timezone)
            .join(SyncState, SyncState.business_id == Business.id)
            .join(QBOConnection, QBOConnection.business_id == Business.id)
            .where(
                SyncState.cdc_cursor.is_not(None),
                SyncState.realm_id == Business.qbo_realm_id,
                QBOConnection.status == ConnectionStatus.CONNECTED,
            )
        )
        async with unit_of_work(self._sessionmaker) as session:
            businesses = list((await session.execute(statement)).all())
            latest = await latest_days(session, [business_id for business_id, _ in businesses])
        due: list[uuid.UUID] = []
        for business_id, timezone in businesses:
            if latest.get(business_id, date.min) < today_in(timezone):
                due.append(business_id)
        return due


def snapshot_values(figures: Figures, reading: RunwayReading) -> dict[str, object]:
    receivables, payables = figures.receivables, figures.payables
    return {
        "day": figures.as_of,
        "cash": figures.cash,
        "burn": figures.burn,
        "runway_days": reading.days,
        "horizon_days": reading.horizon_days,
        "ar_total": receivables.total,
        "ar_current": receivables.balance("current"),
        "ar_1_30": receivables.balance("1-30"),
        "ar_31_60": receivables.balance("31-60"),
        "ar_61_90": receivables.balance("61-90"),
        "ar_over_90": receivables.balance("90+"),
        "ap_total": payables.total,
        "ap_current": payables.balance("current"),
        "ap_1_30": payables.balance("1-30"),
        "ap_31_60": payables.balance("31-60"),
        "ap_61_90": payables.balance("61-90"),
        "ap_over_90": payables.balance("90+"),
        "dso_days": figures.dso.days,
        "dpo_days": figures.dpo.days,
    }
