"""What an action does to the cash forecast, said in the domains' words (``CashEffect``), and the port through which the
runway layer answers with the runway impact (``ImpactEstimator``): domains may not import the runway, so the runway
implements this protocol and the routes hand it to the services. An action's impact is kept beside it
(``action_impacts``) so that a repeat of its idempotency key answers with the impact the first request was given.

An impact is always estimated *before* the action runs, from the forecast of that moment: after it, the books already
show the action and there is nothing left to compare with.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from pydantic import BaseModel, Field
from sqlalchemy import JSON, ForeignKey, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from oodaloo.infra.db.base import Base, utcnow


class EffectKind(enum.StrEnum):
    PAY_BILL = "pay_bill"  # money leaves for a bill on a day (all of it, or part)
    COLLECT_INVOICE = "collect_invoice"  # money comes in for an invoice on a day
    DELAY_BILL = "delay_bill"  # a bill's planned pay date moves
    SCHEDULE_PAYMENT = "schedule_payment"  # part of a bill paid on a later day, earmarked until then
    CANCEL_SCHEDULED_PAYMENT = "cancel_scheduled_payment"  # that earmark and payment taken out again


@dataclass(frozen=True)
class CashEffect:
    """One action's effect on cash. ``source_id`` names the bill or invoice (for a scheduled payment: the bill; for
    a cancellation: the scheduled payment). ``reaches_bank`` is False for money that does not move a bank account
    when the action runs: a bill paid by credit card (the card is paid later), a payment received into Undeposited
    Funds (the bank sees it with the deposit)."""

    kind: EffectKind
    source_id: str
    amount: Decimal | None = None
    on: date | None = None
    reaches_bank: bool = True
    name: str = ""
    scheduled_id: str | None = None  # a scheduled payment's id (SCHEDULE_PAYMENT, CANCEL_SCHEDULED_PAYMENT)


class RunwayFigure(BaseModel):
    days: int | None = Field(description="Days of runway; null: beyond the 13-week horizon.")
    runs_out_on: date | None


class ActionImpactOut(BaseModel):
    """The runway before and after the action, from the forecast at the moment it was asked for (money as decimal
    strings)."""

    before: RunwayFigure
    after: RunwayFigure
    change_days: int | None = Field(description="after - before in days; null when either is beyond the horizon.")
    free_cash_today_before: str
    free_cash_today_after: str
    lowest_free_cash_before: str
    lowest_free_cash_after: str
    ending_cash_before: str = Field(description="Cash at the end of the 13 weeks.")
    ending_cash_after: str
    description: str


class ImpactEstimator(Protocol):
    """The runway layer's answer to "what would these effects do to the runway?" (None: no forecast to compare with,
    e.g. the business's mirror has not finished its first sync)."""

    async def estimate(self, business_id: uuid.UUID, effects: Sequence[CashEffect]) -> ActionImpactOut | None: ...


class ActionImpact(Base):
    """The impact an action's first request was answered with. Written once, never changed."""

    __tablename__ = "action_impacts"

    action_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("qbo_actions.id", ondelete="CASCADE"), primary_key=True)
    business_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"), index=True)
    impact: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


async def remember_impact(
    session: AsyncSession, business_id: uuid.UUID, action_id: uuid.UUID, impact: ActionImpactOut | None
) -> ActionImpactOut | None:
    """The impact kept for the action: ``impact`` when it is the first, else the one kept before (two copies of one
    request racing each computed one; the first kept is the answer to both)."""
    kept = await session.get(ActionImpact, action_id)
    if kept is None and impact is not None:
        try:
            async with session.begin_nested():
                session.add(
                    ActionImpact(action_id=action_id, business_id=business_id, impact=impact.model_dump(mode="json"))
                )
        except IntegrityError:
            kept = await session.get(ActionImpact, action_id)
        else:
            return impact
    if kept is None or kept.business_id != business_id:
        return None
    return ActionImpactOut.model_validate(kept.impact)


async def kept_impacts(
    session: AsyncSession, business_id: uuid.UUID, action_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, ActionImpactOut]:
    if not action_ids:
        return {}
    rows = await session.scalars(
        select(ActionImpact).where(ActionImpact.business_id == business_id, ActionImpact.action_id.in_(action_ids))
    )
    return {row.action_id: ActionImpactOut.model_validate(row.impact) for row in rows}
