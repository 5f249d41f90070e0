"""The table of scheduled bill payments: a payment stored now, earmarked out of free cash, made on its day."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import CheckConstraint, CursorResult, Date, ForeignKey, Index, Numeric, String, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from oodaloo.domains.core.audit import AuditLog
from oodaloo.infra.db.base import Base, str_enum, utcnow

QBO_ID_LENGTH = 32
DESCRIPTION_MAX_LENGTH = 200
REASON_MAX_LENGTH = 2000
LEASE_OWNER_MAX_LENGTH = 120


class ScheduledStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    RUNNING = "running"
    CONFIRMING = "confirming"
    PAID = "paid"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def earmarked(self) -> bool:
        """Its amount is still set aside: it has not been paid (or refused, or cancelled)."""
        return self in (ScheduledStatus.SCHEDULED, ScheduledStatus.RUNNING, ScheduledStatus.CONFIRMING)


class ScheduledPayment(Base):
    """A payment of ``amount`` toward a bill, from an account, on ``pay_on`` (the business's date).

    Lifecycle:
    - ``scheduled``: stored, its amount earmarked. Cancelling it now releases the earmark (``cancelled``).
    - ``running``: its day came and a worker holds it (``lease_owner`` until ``lease_expires_at``, renewed while it
      runs). A worker that dies leaves a lease that runs out; the sweep then gives it to another worker, which sends
      the same ``bill.pay`` action again (its idempotency key is derived from this row's id: QBO is written once).
    - ``confirming``: QBO's answer was unclear; the action log settles it and the sweep reads the outcome.
    - ``paid`` (the BillPayment is in QBO, marked in the same transaction that records it in the mirror), ``failed``
      (refused by QBO, or stopped because its bill was paid elsewhere or its inputs no longer hold). Final.
    The id is the id of the ``bill.schedule_payment`` action that stored it.
    """

    __tablename__ = "ap_scheduled_payments"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_ap_scheduled_payments_business_id_pay_on", "business_id", "pay_on"),
        Index("ix_ap_scheduled_payments_status_pay_on", "status", "pay_on"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    business_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    bill_id: Mapped[str] = mapped_column(String(QBO_ID_LENGTH))
    vendor_id: Mapped[str] = mapped_column(String(QBO_ID_LENGTH))
    description: Mapped[str] = mapped_column(String(DESCRIPTION_MAX_LENGTH))
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    pay_from_account_id: Mapped[str] = mapped_column(String(QBO_ID_LENGTH))
    pay_type: Mapped[str] = mapped_column(String(16))  # Check or CreditCard
    pay_on: Mapped[date] = mapped_column(Date)
    status: Mapped[ScheduledStatus] = mapped_column(
        str_enum(ScheduledStatus, "scheduled_payment_status"),
        default=ScheduledStatus.SCHEDULED,
    )
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    cancelled_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    cancelled_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(LEASE_OWNER_MAX_LENGTH))
    lease_expires_at: Mapped[datetime | None]
    payment_action_id: Mapped[uuid.UUID | None]  # the bill.pay action that makes it
    bill_payment_id: Mapped[str | None] = mapped_column(String(QBO_ID_LENGTH))
    executed_at: Mapped[datetime | None]
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(String(REASON_MAX_LENGTH))


async def mark_scheduled_payment_paid(
    session: AsyncSession, scheduled_id: uuid.UUID, *, action_id: uuid.UUID, bill_payment_id: str
) -> None:
    """In the transaction that records the BillPayment: the earmark ends when the payment shows in the mirror."""
    statement = (
        update(ScheduledPayment)
        .where(
            ScheduledPayment.id == scheduled_id,
            ScheduledPayment.status.in_(
                (ScheduledStatus.SCHEDULED, ScheduledStatus.RUNNING, ScheduledStatus.CONFIRMING)
            ),
        )
        .values(
            status=ScheduledStatus.PAID,
            payment_action_id=action_id,
            bill_payment_id=bill_payment_id,
            executed_at=utcnow(),
            lease_owner=None,
            lease_expires_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    result = cast(CursorResult[Any], await session.execute(statement))
    if result.rowcount == 1:
        row = await session.get(ScheduledPayment, scheduled_id)
        assert row is not None
        await AuditLog(session).record(
            row.business_id,
            None,
            "scheduled_payment.paid",
            subject=("scheduled_payment", scheduled_id),
            detail={"bill_id": row.bill_id, "amount": row.amount, "bill_payment_id": bill_payment_id},
        )
