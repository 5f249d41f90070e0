"""Delaying a bill: its planned pay date moved (our plan; the due date in QuickBooks stays the vendor's). Nothing is
written to QuickBooks, yet it is an action like the others — ``bill.delay`` in the action log, under an idempotency
key, with a reply carrying its status and runway impact — so that it shows in the business's actions, in plans, and
never happens twice."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.ap.decisions import BillPlanRepository
from oodaloo.domains.ap.errors import BillNotFound
from oodaloo.domains.ap.payables import (
    PLAN_MAX_DAYS_AHEAD,
    BillNotOpen,
    PayablesService,
    PlannedPayDateOutOfRange,
)
from oodaloo.domains.ap.schemas import BillPlanPatch, WrittenDate
from oodaloo.domains.core.action_handlers import app_error_rejection
from oodaloo.domains.core.action_runner import (
    CONFIRMING_MESSAGE,
    ActionAnswer,
    ActionRunner,
    Actor,
    IdempotencyKeyReused,
)
from oodaloo.domains.core.impact import ActionImpactOut, CashEffect, EffectKind
from oodaloo.domains.core.models import Business, today_in
from oodaloo.domains.qbo.mirror_models import MirroredBill, MirrorStatus, ref_name
from oodaloo.domains.qbo.mirror_repository import MirrorRepository, SyncStateRepository
from oodaloo.infra.db.session import unit_of_work
from oodaloo.infra.jobs.smart_sync import (
    ActionContext,
    ActionHandler,
    ActionHandlerFactory,
    ActionResult,
    SmartSyncService,
)
from oodaloo.infra.web.errors import AppError

DELAY_BILL = "bill.delay"
DELAYED_MESSAGE = "The bill's planned pay date is moved."


class DelayBillIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    planned_pay_date: WrittenDate = Field(description="The day to pay it: from today (the business's) to a year ahead.")


class DelayOut(BaseModel):
    action_id: uuid.UUID
    status: str
    bill_id: str
    planned_pay_date: date
    previous_planned_pay_date: date | None = Field(description="The date people had planned before (null: none).")
    message: str
    repeated: bool
    impact: ActionImpactOut | None


@dataclass(frozen=True)
class CheckedDelay:
    bill_id: str
    name: str
    planned_pay_date: date


async def check_delay(
    session: AsyncSession, business_id: uuid.UUID, bill_id: str, planned: date, today: date
) -> CheckedDelay:
    """Against the synced mirror: the bill is live and open, the date within the planning window."""
    await SyncStateRepository(session, business_id).require_synced()
    latest = today + timedelta(days=PLAN_MAX_DAYS_AHEAD)
    if not today <= planned <= latest:
        raise PlannedPayDateOutOfRange(
            f"planned_pay_date must lie between today, {today.isoformat()}, and {latest.isoformat()} (in the "
            "business's time zone)."
        )
    row = (await MirrorRepository.of(session, business_id, "Bill").by_qbo_ids([bill_id])).get(bill_id)
    if not isinstance(row, MirroredBill) or row.status is not MirrorStatus.ACTIVE or row.vendor_id is None:
        raise BillNotFound(bill_id)
    if row.balance is None or row.balance <= 0:
        raise BillNotOpen(bill_id)
    return CheckedDelay(bill_id, bill_name(row), planned)


def bill_name(row: MirroredBill) -> str:
    name = ref_name(row.raw, "VendorRef")
    number = f"bill {row.doc_number}" if row.doc_number else f"bill #{row.qbo_id}"
    return f"{name or 'Vendor ' + str(row.vendor_id)}, {number}"


def delay_effect(checked: CheckedDelay) -> CashEffect:
    return CashEffect(EffectKind.DELAY_BILL, checked.bill_id, on=checked.planned_pay_date, name=checked.name)


def delay_payload(bill_id: str, planned: date, user_id: uuid.UUID | None) -> dict[str, Any]:
    return {"bill_id": bill_id, "planned_pay_date": planned, "set_by": user_id}


class DelayBillHandler:
    """Runs ``bill.delay``: B's plan for the bill, written in one short transaction (setting a date twice is the same
    as once, so a re-run after a crash is harmless)."""

    def __init__(self, sync: SmartSyncService, realm_id: str) -> None:
        self._sync = sync
        self._realm_id = realm_id

    async def perform(self, ctx: ActionContext) -> ActionResult:
        bill_id = str(ctx.payload["bill_id"])
        planned = date.fromisoformat(str(ctx.payload["planned_pay_date"]))
        set_by = ctx.payload.get("set_by")
        try:
            async with unit_of_work(self._sync.sessionmaker) as session:
                business = await session.get(Business, ctx.business_id)
                assert business is not None
                before = await BillPlanRepository(session, ctx.business_id).for_bill(bill_id)
                previous = None if before is None else before.planned_pay_date
                payables = PayablesService(
                    session, business_id=ctx.business_id, timezone=business.timezone, realm_id=self._realm_id
                )
                decided = await payables.plan_bill(
                    bill_id,
                    BillPlanPatch(planned_pay_date=planned),
                    uuid.UUID(str(set_by)) if set_by else None,  # type: ignore[arg-type]
                )
        except AppError as refused:
            raise app_error_rejection(refused) from refused
        return _result(bill_id, planned, previous, decided.decision.klass.value)

    async def find(self, ctx: ActionContext) -> ActionResult | None:
        bill_id = str(ctx.payload["bill_id"])
        planned = date.fromisoformat(str(ctx.payload["planned_pay_date"]))
        async with unit_of_work(self._sync.sessionmaker) as session:
            plan = await BillPlanRepository(session, ctx.business_id).for_bill(bill_id)
        if plan is None or plan.planned_pay_date != planned:
            return None
        return _result(bill_id, planned, None, plan.class_override.value if plan.class_override else None)

    async def check(self, ctx: ActionContext, done: ActionResult) -> dict[str, Any] | None:
        return None  # nothing was written to QuickBooks


def _result(bill_id: str, planned: date, previous: date | None, klass: str | None) -> ActionResult:
    return ActionResult(
        qbo_entity="Bill",
        qbo_id=bill_id,
        result={
            "bill_id": bill_id,
            "planned_pay_date": planned.isoformat(),
            "previous_planned_pay_date": None if previous is None else previous.isoformat(),
            "class": klass,
            "qbo_write": False,
        },
    )


def delay_bill_handler_factory(sync: SmartSyncService) -> ActionHandlerFactory:
    """What SmartSync registers for ``bill.delay``."""

    async def factory(business_id: uuid.UUID, realm_id: str) -> ActionHandler:
        return DelayBillHandler(sync, realm_id)

    return factory


class DelayService:
    def __init__(self, runner: ActionRunner) -> None:
        self._runner = runner

    async def delay(self, actor: Actor, bill_id: str, request: DelayBillIn, key: str) -> tuple[DelayOut, int]:
        earlier = await self._runner.earlier(actor.business_id, key)
        if earlier is not None:
            return await self._repeat(actor, earlier, bill_id, request, key)
        realm_id = await self._runner.realm_of(actor.business_id)
        async with unit_of_work(self._runner.sessionmaker) as session:
            checked = await check_delay(
                session, actor.business_id, bill_id, request.planned_pay_date, today_in(actor.timezone)
            )
        answer = await self._runner.run(
            actor,
            realm_id,
            kind=DELAY_BILL,
            key=key,
            payload=delay_payload(bill_id, request.planned_pay_date, actor.user_id),
            effects=[delay_effect(checked)],
        )
        return delay_out(answer, bill_id, request.planned_pay_date), answer.http_status

    async def _repeat(
        self, actor: Actor, earlier: Any, bill_id: str, request: DelayBillIn, key: str
    ) -> tuple[DelayOut, int]:
        same = (
            earlier.kind == DELAY_BILL
            and str(earlier.payload.get("bill_id")) == bill_id
            and str(earlier.payload.get("planned_pay_date")) == request.planned_pay_date.isoformat()
        )
        if not same:
            raise IdempotencyKeyReused()
        answer = await self._runner.replay(actor, earlier, key)
        return delay_out(answer, bill_id, request.planned_pay_date), answer.http_status


def delay_out(answer: ActionAnswer, bill_id: str, planned: date) -> DelayOut:
    previous = answer.result.get("previous_planned_pay_date")
    return DelayOut(
        action_id=answer.outcome.action_id,
        status=answer.status,
        bill_id=bill_id,
        planned_pay_date=planned,
        previous_planned_pay_date=date.fromisoformat(previous) if isinstance(previous, str) else None,
        message=DELAYED_MESSAGE if answer.succeeded else CONFIRMING_MESSAGE,
        repeated=answer.outcome.repeated,
        impact=answer.impact,
    )
