"""A business's daily snapshot: cash, runway, receivables and payables with their aging, burn, DSO and DPO, as they
stood on one of its days — taken once per business-local day, the record the runway trend and the runway-drop alert
are read from. Also the runway as the background checks read it (``RunwayGauge``: the runway core lives above the
domains, so it is handed in)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Integer, Numeric, UniqueConstraint, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from oodaloo.domains.core.models import Business
from oodaloo.infra.db.base import Base, IdMixin, utcnow
from oodaloo.infra.db.repository import TenantRepository

MONEY = Numeric(18, 2)
# Days of sales or purchases outstanding, to a tenth of a day (9,999,999.9 days is beyond any real figure).
RATIO_DAYS = Numeric(8, 1)


@dataclass(frozen=True)
class RunwayReading:
    """The runway of a business today: ``days`` until free cash falls below its floor; None when free cash stays
    above it all through the forecast's ``horizon_days``."""

    days: int | None
    horizon_days: int

    @property
    def capped_days(self) -> int:
        """The days, a runway beyond the horizon counted as the horizon: how two readings are compared."""
        return self.horizon_days if self.days is None else self.days

    def describe(self) -> str:
        return f"beyond the {self.horizon_days}-day horizon" if self.days is None else f"{self.days} days"


# The runway of ``business`` today, read through ``session``; None while its mirror has not completed a first sync
# (an empty mirror proves nothing). ``runway.monitoring.read_runway`` is the one the app hands in.
RunwayGauge = Callable[[AsyncSession, Business], Awaitable[RunwayReading | None]]


class DailySnapshot(IdMixin, Base):
    """One business's figures on one of its days (its own time zone). Taken once a day by the snapshot job; never
    changed afterwards: a snapshot records what the books said that day. ``runway_days`` None: beyond the horizon."""

    __tablename__ = "core_daily_snapshots"
    __table_args__ = (UniqueConstraint("business_id", "day", name="uq_core_daily_snapshots_business_id_day"),)

    business_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    taken_at: Mapped[datetime] = mapped_column(default=utcnow)
    cash: Mapped[Decimal] = mapped_column(MONEY)
    burn: Mapped[Decimal] = mapped_column(MONEY)  # average weekly net outflow, trailing 90 days
    runway_days: Mapped[int | None] = mapped_column(Integer)
    horizon_days: Mapped[int] = mapped_column(Integer)
    ar_total: Mapped[Decimal] = mapped_column(MONEY)
    ar_current: Mapped[Decimal] = mapped_column(MONEY)
    ar_1_30: Mapped[Decimal] = mapped_column(MONEY)
    ar_31_60: Mapped[Decimal] = mapped_column(MONEY)
    ar_61_90: Mapped[Decimal] = mapped_column(MONEY)
    ar_over_90: Mapped[Decimal] = mapped_column(MONEY)
    ap_total: Mapped[Decimal] = mapped_column(MONEY)
    ap_current: Mapped[Decimal] = mapped_column(MONEY)
    ap_1_30: Mapped[Decimal] = mapped_column(MONEY)
    ap_31_60: Mapped[Decimal] = mapped_column(MONEY)
    ap_61_90: Mapped[Decimal] = mapped_column(MONEY)
    ap_over_90: Mapped[Decimal] = mapped_column(MONEY)
    dso_days: Mapped[Decimal | None] = mapped_column(RATIO_DAYS)
    dpo_days: Mapped[Decimal | None] = mapped_column(RATIO_DAYS)

    @property
    def runway(self) -> RunwayReading:
        return RunwayReading(self.runway_days, self.horizon_days)


class SnapshotRepository(TenantRepository[DailySnapshot]):
    model = DailySnapshot

    async def on(self, day: date) -> DailySnapshot | None:
        return await self.one_or_none(self.select().where(DailySnapshot.day == day))

    async def latest_before(self, day: date) -> DailySnapshot | None:
        statement = self.select().where(DailySnapshot.day < day).order_by(DailySnapshot.day.desc()).limit(1)
        return await self.one_or_none(statement)

    async def between(self, first: date, last: date) -> Sequence[DailySnapshot]:
        """The snapshots from ``first`` to ``last`` (both included), oldest first."""
        statement = (
            self.select().where(DailySnapshot.day >= first, DailySnapshot.day <= last).order_by(DailySnapshot.day)
        )
        return await self.all(statement)

    async def add_once(self, values: dict[str, object]) -> bool:
        """Insert the snapshot of ``values["day"]`` unless the business has one for that day (another worker took it
        first: the unique key decides, the loser changes nothing). True when this call inserted it."""
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert(DailySnapshot) if dialect == "postgresql" else sqlite.insert(DailySnapshot)
        row = {"id": uuid.uuid4(), "taken_at": utcnow(), **values, "business_id": self.business_id}
        statement = (
            insert.values(row).on_conflict_do_nothing(index_elements=["business_id", "day"]).returning(DailySnapshot.id)
        )
        return (await self.session.execute(statement)).first() is not None


async def latest_days(session: AsyncSession, business_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, date]:
    """The day of each business's latest snapshot (businesses without one are left out). Across businesses: for the
    snapshot sweep, which decides per business whether its day's snapshot is due."""
    if not business_ids:
        return {}
    statement = (
        select(DailySnapshot.business_id, func.max(DailySnapshot.day))
        .where(DailySnapshot.business_id.in_(list(business_ids)))
        .group_by(DailySnapshot.business_id)
    )
    return {business_id: day for business_id, day in (await session.execute(statement)).all()}
