"""Reserves (earmarks) and the reserve floor: money a business sets aside (the next payroll, a tax payment, a custom
amount), not free though still in the bank, and the least free cash it wants to keep. The forecast takes both: free
cash is cash less the reserves held, and the runway ends when free cash falls below the floor.

A reserve with ``until`` is held on every day before it and released on it (the day the payment it earmarks is made);
without, it is held until removed. Changes are recorded in the audit log.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Numeric, String
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from oodaloo.domains.core.audit import AuditLog
from oodaloo.infra.db.base import Base, IdMixin, str_enum, utcnow
from oodaloo.infra.db.repository import TenantRepository
from oodaloo.infra.web.errors import InvalidInput, NotFound

RESERVE_NAME_MAX_LENGTH = 200
MONEY = Numeric(18, 2)
ZERO = Decimal("0.00")


class ReserveKind(enum.StrEnum):
    PAYROLL = "payroll"
    TAXES = "taxes"
    CUSTOM = "custom"


class Reserve(IdMixin, Base):
    """An amount set aside. Lifecycle: created, edited, deleted by the business's advisors and owners; held until
    ``until`` (then kept, no longer held, until deleted)."""

    __tablename__ = "core_reserves"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_core_reserves_business_id", "business_id"),
    )

    business_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    kind: Mapped[ReserveKind] = mapped_column(str_enum(ReserveKind, "reserve_kind"))
    name: Mapped[str] = mapped_column(String(RESERVE_NAME_MAX_LENGTH))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    until: Mapped[date | None] = mapped_column(Date)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def held_on(self, day: date) -> bool:
        return self.until is None or day < self.until


class ReserveFloor(IdMixin, Base):
    """The least free cash a business wants to keep; no row: zero."""

    __tablename__ = "core_reserve_floors"
    __table_args__ = (CheckConstraint("amount >= 0", name="amount_not_negative"),)

    business_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"), unique=True)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ReserveNotFound(NotFound):
    code = "reserve_not_found"
    message = "No such reserve in this business."


class ReserveUntilInThePast(InvalidInput):
    code = "reserve_until_in_the_past"

    def __init__(self, until: date, today: date) -> None:
        message = f"until: {until.isoformat()} is before today, {today.isoformat()}; a reserve ends today or later."
        super().__init__(message, field="until")


@dataclass(frozen=True)
class Earmark:
    """A reserve as the forecast takes it."""

    id: uuid.UUID
    kind: ReserveKind
    name: str
    amount: Decimal
    until: date | None


@dataclass(frozen=True)
class Earmarks:
    """Every reserve of a business and its floor: what the forecast subtracts from cash."""

    reserves: tuple[Earmark, ...]
    floor: Decimal

    def held_on(self, day: date) -> Decimal:
        return sum((r.amount for r in self.reserves if r.until is None or day < r.until), ZERO)


class ReserveRepository(TenantRepository[Reserve]):
    model = Reserve

    async def listed(self) -> Sequence[Reserve]:
        return await self.all(self.select().order_by(Reserve.created_at, Reserve.id))


class ReserveFloorRepository(TenantRepository[ReserveFloor]):
    model = ReserveFloor

    async def current(self) -> ReserveFloor | None:
        return await self.one_or_none(self.select())


_UNSET = object()


class ReserveService:
    """One business's reserves and floor, in the caller's session (which commits)."""

    def __init__(self, session: AsyncSession, business_id: uuid.UUID) -> None:
        self._business_id = business_id
        self._reserves = ReserveRepository(session, business_id)
        self._floors = ReserveFloorRepository(session, business_id)
        self._audit = AuditLog(session)

    async def listed(self) -> Sequence[Reserve]:
        return await self._reserves.listed()

    async def get(self, reserve_id: uuid.UUID) -> Reserve:
        reserve = await self._reserves.get(reserve_id)
        if reserve is None:
            raise ReserveNotFound()
        return reserve

    async def create(
        self,
        *,
        kind: ReserveKind,
        name: str,
        amount: Decimal,
        until: date | None,
        today: date,
        actor_id: uuid.UUID,
    ) -> Reserve:
        _check_until(until, today)
        reserve = Reserve(
            business_id=self._business_id,
            kind=kind,
            name=name,
            amount=amount,
            until=until,
            created_by=actor_id,
            updated_by=actor_id,
        )
        await self._reserves.add(reserve)
        await self._record(actor_id, "reserve.created", reserve)
        return reserve

    async def update(
        self,
        reserve_id: uuid.UUID,
        *,
        today: date,
        actor_id: uuid.UUID,
        kind: ReserveKind | None = None,
        name: str | None = None,
        amount: Decimal | None = None,
        until: date | object | None = _UNSET,
    ) -> Reserve:
        """Changes what is given; ``until=None`` makes it held until removed."""
        reserve = await self.get(reserve_id)
        if kind is not None:
            reserve.kind = kind
        if name is not None:
            reserve.name = name
        if amount is not None:
            reserve.amount = amount
        if until is not _UNSET:
            assert until is None or isinstance(until, date)
            _check_until(until, today)
            reserve.until = until
        reserve.updated_by = actor_id
        await self._reserves.session.flush()
        await self._record(actor_id, "reserve.changed", reserve)
        return reserve

    async def delete(self, reserve_id: uuid.UUID, *, actor_id: uuid.UUID) -> None:
        reserve = await self.get(reserve_id)
        await self._record(actor_id, "reserve.deleted", reserve)
        await self._reserves.delete(reserve)

    async def floor(self) -> Decimal:
        row = await self._floors.current()
        return ZERO if row is None else row.amount

    async def set_floor(self, amount: Decimal, *, actor_id: uuid.UUID) -> Decimal:
        row = await self._floors.current()
        if row is None:
            await self._floors.add(ReserveFloor(business_id=self._business_id, amount=amount, updated_by=actor_id))
        else:
            row.amount, row.updated_by = amount, actor_id
            await self._floors.session.flush()
        await self._audit.record(
            self._business_id,
            actor_id,
            "reserve_floor.changed",
            subject=("reserve_floor", None),
            detail={"amount": amount},
        )
        return amount

    async def earmarks(self) -> Earmarks:
        reserves = tuple(
            Earmark(row.id, row.kind, row.name, row.amount, row.until) for row in await self._reserves.listed()
        )
        return Earmarks(reserves, await self.floor())

    async def _record(self, actor_id: uuid.UUID, action: str, reserve: Reserve) -> None:
        detail = {
            "kind": reserve.kind.value,
            "name": reserve.name,
            "amount": reserve.amount,
            "until": reserve.until.isoformat() if reserve.until else None,
        }
        await self._audit.record(
            self._business_id, actor_id, action, subject=("reserve", str(reserve.id)), detail=detail
        )


def _check_until(until: date | None, today: date) -> None:
    if until is not None and until < today:
        raise ReserveUntilInThePast(until, today)
