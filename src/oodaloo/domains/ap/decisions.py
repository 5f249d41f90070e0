"""What people decided about payables, kept beside the mirror (QBO has no place for it): per vendor, whether it is
critical, how many days past due it tolerates and whether it charges late fees; per bill, a class chosen over the
rules (Must Pay / Can Delay) with a note, and the day we plan to pay it. A planned date is our plan only: the bill's
due date in QuickBooks stays the vendor's."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Integer, String, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from oodaloo.domains.core.models import User
from oodaloo.infra.db.base import Base, IdMixin, str_enum, utcnow
from oodaloo.infra.db.repository import TenantRepository

# QBO ids as the mirror keeps them (``mirror_models.QBO_ID_LENGTH``).
QBO_ID_LENGTH = 32
NOTE_MAX_LENGTH = 1000
# A vendor nobody said anything about: not critical, no grace beyond the due date, no late fees known.
DEFAULT_GRACE_DAYS = 0


class BillClass(enum.StrEnum):
    """Must Pay: pay by its planned date, never later. Can Delay: may wait, up to its latest safe pay date."""

    MUST_PAY = "must_pay"
    CAN_DELAY = "can_delay"

    @property
    def label(self) -> str:
        return "Must Pay" if self is BillClass.MUST_PAY else "Can Delay"


class VendorSetting(IdMixin, Base):
    """A business's view of one QBO vendor. No row: the defaults (see :class:`VendorSettings`)."""

    __tablename__ = "ap_vendor_settings"
    __table_args__ = (
        UniqueConstraint("business_id", "vendor_id", name="uq_ap_vendor_settings_business_id_vendor_id"),
        CheckConstraint("grace_days >= 0", name="grace_days_not_negative"),
    )

    business_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    vendor_id: Mapped[str] = mapped_column(String(QBO_ID_LENGTH))
    critical: Mapped[bool] = mapped_column(Boolean, default=False)
    grace_days: Mapped[int] = mapped_column(Integer, default=DEFAULT_GRACE_DAYS)
    late_fees: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(String(NOTE_MAX_LENGTH))
    updated_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class BillPlan(IdMixin, Base):
    """A business's plan for one QBO bill: a class chosen over the rules, a note, a planned pay date (each optional;
    a plan with none of them is deleted)."""

    __tablename__ = "ap_bill_plans"
    __table_args__ = (UniqueConstraint("business_id", "bill_id", name="uq_ap_bill_plans_business_id_bill_id"),)

    business_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    bill_id: Mapped[str] = mapped_column(String(QBO_ID_LENGTH))
    class_override: Mapped[BillClass | None] = mapped_column(str_enum(BillClass, "bill_class"))
    note: Mapped[str | None] = mapped_column(String(NOTE_MAX_LENGTH))
    planned_pay_date: Mapped[date | None] = mapped_column(Date)
    set_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    set_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def empty(self) -> bool:
        return self.class_override is None and self.note is None and self.planned_pay_date is None


# -- what the rules read: plain values, no session ------------------------------------------------------------------


@dataclass(frozen=True)
class VendorSettings:
    critical: bool = False
    grace_days: int = DEFAULT_GRACE_DAYS
    late_fees: bool = False
    note: str | None = None

    @classmethod
    def of(cls, row: VendorSetting | None) -> VendorSettings:
        if row is None:
            return cls()
        return cls(critical=row.critical, grace_days=row.grace_days, late_fees=row.late_fees, note=row.note)


@dataclass(frozen=True)
class PlanChoice:
    """A bill's plan as the rules and the API see it; ``set_by_name`` is who set it, as people read it."""

    class_override: BillClass | None
    note: str | None
    planned_pay_date: date | None
    set_by_name: str | None
    set_at: datetime

    @classmethod
    def of(cls, row: BillPlan, set_by_name: str | None) -> PlanChoice:
        return cls(row.class_override, row.note, row.planned_pay_date, set_by_name, row.set_at)


# -- repositories: tenant-scoped by the base class ------------------------------------------------------------------


class VendorSettingRepository(TenantRepository[VendorSetting]):
    model = VendorSetting

    async def by_vendor(self) -> dict[str, VendorSetting]:
        return {row.vendor_id: row for row in await self.all(self.select())}

    async def for_vendor(self, vendor_id: str) -> VendorSetting | None:
        return await self.one_or_none(self.select().where(VendorSetting.vendor_id == vendor_id))

    async def for_vendor_or_new(self, vendor_id: str) -> VendorSetting:
        """The vendor's row, inserted with the defaults when it has none (a concurrent insert of the same vendor wins
        the unique constraint, and its row is returned)."""
        existing = await self.for_vendor(vendor_id)
        if existing is not None:
            return existing
        try:
            async with self.session.begin_nested():
                return await self.add(
                    VendorSetting(
                        business_id=self.business_id,
                        vendor_id=vendor_id,
                        critical=False,
                        grace_days=DEFAULT_GRACE_DAYS,
                        late_fees=False,
                    )
                )
        except IntegrityError:
            raced = await self.for_vendor(vendor_id)
            if raced is None:
                raise
            return raced


class BillPlanRepository(TenantRepository[BillPlan]):
    model = BillPlan

    async def choices(self, bill_ids: Sequence[str] | None = None) -> dict[str, PlanChoice]:
        """Plans by bill id (of ``bill_ids`` only, when given), each with the name of who set it."""
        statement = (
            select(BillPlan, User.display_name)
            .outerjoin(User, User.id == BillPlan.set_by)
            .where(BillPlan.business_id == self.business_id)
        )
        if bill_ids is not None:
            statement = statement.where(BillPlan.bill_id.in_(list(bill_ids)))
        rows = (await self.session.execute(statement)).all()
        return {plan.bill_id: PlanChoice.of(plan, name) for plan, name in rows}

    async def for_bill(self, bill_id: str) -> BillPlan | None:
        return await self.one_or_none(self.select().where(BillPlan.bill_id == bill_id))

    async def for_bill_or_new(self, bill_id: str) -> BillPlan:
        """The bill's plan, a new empty one when it has none (a concurrent insert wins, as for vendor settings)."""
        existing = await self.for_bill(bill_id)
        if existing is not None:
            return existing
        try:
            async with self.session.begin_nested():
                return await self.add(BillPlan(business_id=self.business_id, bill_id=bill_id))
        except IntegrityError:
            raced = await self.for_bill(bill_id)
            if raced is None:
                raise
            return raced
