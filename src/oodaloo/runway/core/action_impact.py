"""The runway impact of actions, for their replies and for a plan's preview: the business's forecast as it stands
against the forecast of the books as the actions would leave them (the domains' ``CashEffect``s applied to the
forecast's inputs with its what-if changes). Implements ``domains.core.impact.ImpactEstimator``.

How each effect changes the books, as the mirror records the action and a fresh forecast reads them:
- a bill paid from a bank account today (or dated earlier), an invoice collected into one: today's bank cash moves by
  the amount (the forecast starts from the bank balance at the end of today), and the bill or invoice keeps the rest;
  a payment dated ahead leaves the bank on its day;
- a bill paid by card, a payment received into Undeposited Funds: no bank account moves now, and the forecast counts
  bank cash only; the amount leaves the bill (or invoice) and moves nowhere within the 13 weeks;
- a delay moves the bill to its new day;
- a scheduled payment takes its amount out of the bill and pays it on its day, earmarked until then; cancelling one
  takes it out again and gives the amount back to the bill at the bill's planned date.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oodaloo.domains.core.impact import ActionImpactOut, CashEffect, EffectKind, RunwayFigure
from oodaloo.domains.core.models import Business
from oodaloo.domains.qbo.mirror_repository import SyncStateRepository
from oodaloo.infra.db.session import unit_of_work
from oodaloo.infra.logging import get_logger
from oodaloo.runway.core.cache import RunwayCache, runway_cache
from oodaloo.runway.core.forecast import (
    HORIZON_DAYS,
    AddPayment,
    Change,
    Collect,
    Delay,
    Forecast,
    ForecastInputs,
    Impact,
    InvalidChange,
    Pay,
    Remove,
    apply_changes,
    forecast,
)

logger = get_logger("oodaloo.runway.action_impact")

SCHEDULED_KIND = "scheduled_payment"


class RunwayImpactEstimator:
    """Reads the business's forecast in its own short unit of work (never across a call to QuickBooks)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], cache: RunwayCache = runway_cache) -> None:
        self._sessionmaker = sessionmaker
        self._cache = cache

    async def estimate(self, business_id: uuid.UUID, effects: Sequence[CashEffect]) -> ActionImpactOut | None:
        async with unit_of_work(self._sessionmaker) as session:
            business = await session.get(Business, business_id)
            if business is None or not await _synced(session, business):
                return None  # no forecast to compare with before a first full sync
            current = await self._cache.current(session, business)
        try:
            return impact_out(impact_of(current.basis.inputs, effects, baseline=current.forecast))
        except InvalidChange as refused:
            # The forecast does not hold what the action names (e.g. a bill it no longer counts): no figure is better
            # than a wrong one.
            logger.warning("runway.impact_unavailable", business_id=str(business_id), reason=refused.message)
            return None


async def _synced(session: AsyncSession, business: Business) -> bool:
    state = await SyncStateRepository(session, business.id).current()
    return state is not None and state.cdc_cursor is not None and state.realm_id == business.qbo_realm_id


def impact_of(inputs: ForecastInputs, effects: Sequence[CashEffect], *, baseline: Forecast | None = None) -> Impact:
    """The runway before and after ``effects``: two full forecasts, of ``inputs`` (``baseline`` when it is already
    computed) and of the books after them."""
    before = baseline if baseline is not None else forecast(inputs)
    after = forecast(after_effects(inputs, effects))
    return Impact.between(before, after)


def after_effects(inputs: ForecastInputs, effects: Sequence[CashEffect]) -> ForecastInputs:
    """The forecast's inputs as the books would be after ``effects`` (InvalidChange when one names nothing there)."""
    cash = inputs.starting_cash
    for effect in effects:
        moved_today = effect.reaches_bank and effect.amount is not None and (effect.on or inputs.today) <= inputs.today
        if effect.kind is EffectKind.PAY_BILL and moved_today:
            cash -= effect.amount or 0
        elif effect.kind is EffectKind.COLLECT_INVOICE and moved_today:
            cash += effect.amount or 0
    return replace(apply_changes(inputs, changes_of(inputs, effects)), starting_cash=cash)


def changes_of(inputs: ForecastInputs, effects: Sequence[CashEffect]) -> list[Change]:
    """The forecast's changes for ``effects``, in order. Money an action moves in the bank today is not among them
    (``after_effects`` moves today's cash): an amount taken out of its bill or invoice is dated past the 13 weeks,
    where it moves nothing the forecast counts."""
    today = inputs.today
    outside = today + timedelta(days=HORIZON_DAYS)
    changes: list[Change] = []
    for index, effect in enumerate(effects):
        on = max(effect.on, today) if effect.on is not None else today
        amount = effect.amount
        later = effect.reaches_bank and effect.on is not None and effect.on > today
        if effect.kind is EffectKind.PAY_BILL:
            changes.append(Pay(effect.source_id, amount, outside, kind="bill"))
            if later:
                assert amount is not None
                paid = f"paid-{index + 1}-{effect.source_id}"
                changes.append(AddPayment(paid, effect.name, amount, on, earmark=False, kind="bill"))
        elif effect.kind is EffectKind.COLLECT_INVOICE:
            changes.append(Collect(effect.source_id, amount, outside, kind="invoice"))
        elif effect.kind is EffectKind.DELAY_BILL:
            changes.append(Delay(effect.source_id, on, kind="bill"))
        elif effect.kind is EffectKind.SCHEDULE_PAYMENT:
            assert amount is not None
            source = effect.scheduled_id or f"planned-{index + 1}-{effect.source_id}"
            changes.append(Pay(effect.source_id, amount, outside, kind="bill"))
            changes.append(AddPayment(source, effect.name, amount, on, earmark=True, kind=SCHEDULED_KIND))
        elif effect.kind is EffectKind.CANCEL_SCHEDULED_PAYMENT:
            assert amount is not None
            assert effect.scheduled_id is not None
            changes.append(Remove(effect.scheduled_id, kind=SCHEDULED_KIND))
            restored = f"{effect.source_id}:restored:{effect.scheduled_id}"
            changes.append(AddPayment(restored, effect.name, amount, on, earmark=False, kind="bill"))
    return changes


def impact_out(result: Impact) -> ActionImpactOut:
    return ActionImpactOut(
        before=RunwayFigure(days=result.before.days, runs_out_on=result.before.runs_out_on),
        after=RunwayFigure(days=result.after.days, runs_out_on=result.after.runs_out_on),
        change_days=result.change_days,
        free_cash_today_before=_money(result.free_cash_today_before),
        free_cash_today_after=_money(result.free_cash_today_after),
        lowest_free_cash_before=_money(result.lowest_free_cash_before),
        lowest_free_cash_after=_money(result.lowest_free_cash_after),
        ending_cash_before=_money(result.ending_cash_before),
        ending_cash_after=_money(result.ending_cash_after),
        description=result.describe(),
    )


def _money(amount: Decimal) -> str:
    return str(amount.quantize(Decimal("0.01")))
