"""Plans: many actions gathered (advisors and owners), their combined runway impact previewed, proposed to the owner,
approved (owners, or advisors allowed to act), then executed as a job (``plan_execution``) with a result per action.

Every change of a plan's status is a conditional update on the status it moves from, so two approvals sent at once
approve once, and a plan is never executed twice; each item's action has an idempotency key derived from the item, so
even a job run twice sends it once. Items are checked against the mirror whenever they change and again at approval,
where what the books said of each item's bill or invoice is kept: the execution compares the mirror of its own moment
with it, and stops an item whose inputs changed instead of acting on stale data. Proposals, approvals, executions and
cancellations go to the audit log in the transaction that makes them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, cast

from pydantic import TypeAdapter
from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from oodaloo.domains.ap.checks import check_bill_payment, pay_effect, schedule_effect
from oodaloo.domains.ap.delay import check_delay, delay_effect
from oodaloo.domains.ap.scheduled import ScheduledPaymentRepository, check_pay_on
from oodaloo.domains.ap.service import checked_payment_date
from oodaloo.domains.ar.payments import check_customer_payment, payment_date, payment_effect
from oodaloo.domains.ar.reminders import check_reminder
from oodaloo.domains.core.action_runner import Actor
from oodaloo.domains.core.audit import AuditLog
from oodaloo.domains.core.freshness import MirrorFreshness
from oodaloo.domains.core.impact import CashEffect, ImpactEstimator
from oodaloo.domains.core.models import today_in
from oodaloo.domains.core.plan_models import Plan, PlanItem, PlanItemStatus, PlanStatus
from oodaloo.domains.core.plan_schemas import (
    ApproveIn,
    DelayBillItem,
    PayBillItem,
    PlanCountsOut,
    PlanIn,
    PlanItemIn,
    PlanItemOut,
    PlanItemsIn,
    PlanOut,
    PlanPreviewOut,
    PlanSummaryOut,
    PlanTransitionOut,
    RecordPaymentItem,
    SchedulePaymentItem,
    SendReminderItem,
)
from oodaloo.domains.qbo.mirror_models import MirroredBill, MirroredInvoice
from oodaloo.domains.qbo.mirror_repository import MirrorRepository
from oodaloo.infra.db.base import utcnow
from oodaloo.infra.db.repository import TenantRepository
from oodaloo.infra.db.session import unit_of_work
from oodaloo.infra.jobs.smart_sync import SmartSyncService
from oodaloo.infra.logging import get_logger
from oodaloo.infra.web.errors import AppError, Conflict, InvalidInput, NotFound

logger = get_logger("oodaloo.plans")

PLAN_JOB = "plans.execute"
ZERO = Decimal("0.00")
EDITABLE = (PlanStatus.DRAFT,)
APPROVABLE = (PlanStatus.DRAFT, PlanStatus.PROPOSED)
CANCELLABLE = (PlanStatus.DRAFT, PlanStatus.PROPOSED, PlanStatus.APPROVED)
ITEM_ADAPTER: TypeAdapter[Any] = TypeAdapter(PlanItemIn)
# Kinds whose success lowers the open balance of their bill or invoice by their amount.
SETTLING_KINDS = frozenset({"bill.pay", "invoice.record_payment"})


def item_key(item_id: uuid.UUID) -> str:
    """The idempotency key of an item's action: one per item, ever, whoever runs it and however often."""
    return f"plan-item:{item_id}"


def plan_serialization_key(business_id: uuid.UUID) -> str:
    return f"plans:{business_id}"


def plan_coalescing_key(plan_id: uuid.UUID) -> str:
    return f"plan:{plan_id}"


# ------------------------------------------------------------------------------------------------------- errors
class PlanNotFound(NotFound):
    code = "plan_not_found"
    message = "No such plan."


class PlanItemNotFound(NotFound):
    code = "plan_item_not_found"
    message = "No such item in this plan."


class PlanInWrongState(Conflict):
    code = "plan_status_conflict"

    def __init__(self, status: PlanStatus, doing: str, allowed: Sequence[PlanStatus]) -> None:
        names = " or ".join(state.value for state in allowed)
        super().__init__(f"The plan is {status.value}: only a plan that is {names} can be {doing}.", field="status")


class PlanChanged(Conflict):
    code = "plan_changed"

    def __init__(self, seen: int, current: int) -> None:
        super().__init__(
            f"The plan changed since you saw it (revision {seen}, now {current}): look at it again before approving.",
            field="revision",
        )


class PlanIsEmpty(InvalidInput):
    code = "plan_empty"

    def __init__(self) -> None:
        super().__init__("The plan has no items: add at least one before proposing or approving it.", field="items")


class CustomerRemindedTwice(InvalidInput):
    code = "reminded_twice"

    def __init__(self, customer_id: str) -> None:
        super().__init__(
            f"Customer {customer_id} is already reminded by an earlier item of this plan (one reminder per customer "
            "within the cool-down).",
            field="invoice_id",
        )


# ------------------------------------------------------------------------------------------------- repositories
class PlanRepository(TenantRepository[Plan]):
    model = Plan

    async def newest_first(self, status: PlanStatus | None) -> Sequence[Plan]:
        statement = self.select()
        if status is not None:
            statement = statement.where(Plan.status == status)
        return await self.all(statement.order_by(Plan.created_at.desc(), Plan.id.desc()))


class PlanItemRepository(TenantRepository[PlanItem]):
    model = PlanItem

    async def of_plan(self, plan_id: uuid.UUID) -> Sequence[PlanItem]:
        return await self.all(self.select().where(PlanItem.plan_id == plan_id).order_by(PlanItem.position))

    async def of_plans(self, plan_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[PlanItem]]:
        found: dict[uuid.UUID, list[PlanItem]] = {plan_id: [] for plan_id in plan_ids}
        if plan_ids:
            for row in await self.all(self.select().where(PlanItem.plan_id.in_(plan_ids))):
                found[row.plan_id].append(row)
        return found


# ------------------------------------------------------------------------------------------------------ checking
@dataclass
class _Running:
    """What the items before the one being checked do to the books: amounts paid per document, customers reminded."""

    settled: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    reminded: set[str] = field(default_factory=set)

    def already(self, document: str, document_id: str) -> Decimal:
        return self.settled.get((document, document_id), ZERO)

    def add(self, document: str, document_id: str, amount: Decimal) -> None:
        key = (document, document_id)
        self.settled[key] = self.settled.get(key, ZERO) + amount


@dataclass(frozen=True)
class CheckedItem:
    effect: CashEffect | None
    state: dict[str, Any]  # what the mirror says of its bill or invoice now (kept at approval)


def parse_item(request: dict[str, Any]) -> Any:
    return ITEM_ADAPTER.validate_python(request)


async def check_items(
    session: AsyncSession, actor: Actor, items: Sequence[Any], *, scheduled_already: bool = True
) -> list[CheckedItem]:
    """Each item against the mirror, in order (earlier items count: two payments of one bill together may not exceed
    its balance). An item that cannot be done raises its API error, the field prefixed with ``items.<index>.``."""
    today = today_in(actor.timezone)
    running = _Running()
    if scheduled_already:
        for row in await ScheduledPaymentRepository(session, actor.business_id).earmarked():
            running.add("scheduled", row.bill_id, row.amount)
    checked: list[CheckedItem] = []
    for index, item in enumerate(items):
        try:
            checked.append(await _check_item(session, actor, item, today, running))
        except AppError as refused:
            raise _for_item(refused, index) from None
    return checked


async def _check_item(session: AsyncSession, actor: Actor, item: Any, today: date, running: _Running) -> CheckedItem:
    business_id = actor.business_id
    if isinstance(item, PayBillItem):
        on = checked_payment_date(item.payment_date, today)
        already = running.already("bill", item.bill_id) + running.already("scheduled", item.bill_id)
        paid = await check_bill_payment(
            session, business_id, item.bill_id, item.amount, item.pay_from_account_id, already=already
        )
        running.add("bill", item.bill_id, item.amount)
        return CheckedItem(
            pay_effect(paid, item.amount, on), await document_state(session, business_id, "bill", item.bill_id)
        )
    if isinstance(item, SchedulePaymentItem):
        check_pay_on(item.pay_on, today)
        already = running.already("bill", item.bill_id) + running.already("scheduled", item.bill_id)
        paid = await check_bill_payment(
            session, business_id, item.bill_id, item.amount, item.pay_from_account_id, already=already
        )
        running.add("scheduled", item.bill_id, item.amount)
        effect = schedule_effect(paid, item.amount, item.pay_on, None)
        return CheckedItem(effect, await document_state(session, business_id, "bill", item.bill_id))
    if isinstance(item, DelayBillItem):
        delayed = await check_delay(session, business_id, item.bill_id, item.planned_pay_date, today)
        return CheckedItem(delay_effect(delayed), await document_state(session, business_id, "bill", item.bill_id))
    if isinstance(item, RecordPaymentItem):
        on = payment_date(item.payment_date, actor.timezone)
        received = await check_customer_payment(
            session,
            business_id,
            item.invoice_id,
            item.amount,
            item.deposit_to_account_id,
            already=running.already("invoice", item.invoice_id),
        )
        running.add("invoice", item.invoice_id, item.amount)
        state = await document_state(session, business_id, "invoice", item.invoice_id)
        return CheckedItem(payment_effect(received, item.amount, on), state)
    assert isinstance(item, SendReminderItem)
    reminder = await check_reminder(session, business_id, item.invoice_id, utcnow())
    if reminder.customer_id in running.reminded:
        raise CustomerRemindedTwice(reminder.customer_id)
    running.reminded.add(reminder.customer_id)
    return CheckedItem(None, await document_state(session, business_id, "invoice", item.invoice_id))


async def document_state(
    session: AsyncSession, business_id: uuid.UUID, document: str, document_id: str
) -> dict[str, Any]:
    """The bill's or invoice's open balance and status in the mirror now."""
    entity = "Bill" if document == "bill" else "Invoice"
    row = (await MirrorRepository.of(session, business_id, entity).by_qbo_ids([document_id])).get(document_id)
    if not isinstance(row, MirroredBill | MirroredInvoice):
        return {"document": document, "id": document_id, "status": "missing", "balance": None, "sync_token": None}
    balance = row.balance if row.balance is not None else ZERO
    return {
        "document": document,
        "id": document_id,
        "status": row.status.value,
        "balance": str(balance),
        "sync_token": row.sync_token,
    }


def _for_item(refused: AppError, index: int) -> AppError:
    """The same error, naming the item: ``items.3.amount``."""
    refused.field = f"items.{index}.{refused.field or 'kind'}"
    refused.message = f"items.{index}: {refused.message}"
    return refused


# ------------------------------------------------------------------------------------------------------ shaping
def item_out(row: PlanItem) -> PlanItemOut:
    return PlanItemOut(
        item_id=row.id,
        position=row.position,
        kind=row.kind,
        request=row.request,
        status=row.status,
        action_id=row.action_id,
        reason_code=row.reason_code,
        reason=row.reason,
        receipt=row.receipt,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def counts_of(items: Sequence[PlanItem]) -> PlanCountsOut:
    counts = {status.value: 0 for status in PlanItemStatus}
    for row in items:
        counts[row.status.value] += 1
    return PlanCountsOut(**counts)


def plan_out(plan: Plan, items: Sequence[PlanItem]) -> PlanOut:
    return PlanOut(
        plan_id=plan.id,
        title=plan.title,
        note=plan.note,
        status=plan.status,
        revision=plan.revision,
        created_by=plan.created_by,
        created_at=plan.created_at,
        proposed_by=plan.proposed_by,
        proposed_at=plan.proposed_at,
        approved_by=plan.approved_by,
        approved_at=plan.approved_at,
        executed_by=plan.executed_by,
        execution_requested_at=plan.execution_requested_at,
        started_at=plan.started_at,
        finished_at=plan.finished_at,
        cancelled_at=plan.cancelled_at,
        counts=counts_of(items),
        items=[item_out(row) for row in sorted(items, key=lambda row: row.position)],
    )


# ------------------------------------------------------------------------------------------------------ service
class PlanService:
    """A boundary: short units of work of its own (approval brings the mirror up to date with QuickBooks first, and no
    transaction is held across that)."""

    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        sync: SmartSyncService,
        freshness: MirrorFreshness,
        impacts: ImpactEstimator | None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._sync = sync
        self._freshness = freshness
        self._impacts = impacts

    async def create(self, actor: Actor, body: PlanIn) -> PlanOut:
        async with unit_of_work(self._sessionmaker) as session:
            if body.items:
                await check_items(session, actor, body.items)
            plan = await PlanRepository(session, actor.business_id).add(
                Plan(
                    business_id=actor.business_id,
                    title=body.title,
                    note=body.note or None,
                    status=PlanStatus.DRAFT,
                    revision=1,
                    created_by=actor.user_id,
                )
            )
            items = [await self._add(session, plan, position, item) for position, item in enumerate(body.items)]
            await AuditLog(session).record(
                actor.business_id,
                actor.user_id,
                "plan.created",
                subject=("plan", plan.id),
                detail={"title": plan.title, "items": len(items)},
            )
            return plan_out(plan, items)

    async def listed(self, business_id: uuid.UUID, status: PlanStatus | None) -> list[PlanSummaryOut]:
        async with unit_of_work(self._sessionmaker) as session:
            plans = await PlanRepository(session, business_id).newest_first(status)
            items = await PlanItemRepository(session, business_id).of_plans([plan.id for plan in plans])
        return [
            PlanSummaryOut(
                plan_id=plan.id,
                title=plan.title,
                status=plan.status,
                created_at=plan.created_at,
                items=len(items[plan.id]),
                counts=counts_of(items[plan.id]),
            )
            for plan in plans
        ]

    async def get(self, business_id: uuid.UUID, plan_id: uuid.UUID) -> PlanOut:
        async with unit_of_work(self._sessionmaker) as session:
            plan, items = await _load(session, business_id, plan_id)
            return plan_out(plan, items)

    async def add_items(self, actor: Actor, plan_id: uuid.UUID, body: PlanItemsIn) -> PlanOut:
        async with unit_of_work(self._sessionmaker) as session:
            plan, items = await _load(session, actor.business_id, plan_id, for_update=True)
            _require(plan, EDITABLE, "changed")
            existing = [parse_item(row.request) for row in items]
            await check_items(session, actor, [*existing, *body.items])
            start = max((row.position for row in items), default=-1) + 1
            added = [await self._add(session, plan, start + offset, item) for offset, item in enumerate(body.items)]
            await _bump(session, plan)
            return plan_out(plan, [*items, *added])

    async def remove_item(self, actor: Actor, plan_id: uuid.UUID, item_id: uuid.UUID) -> PlanOut:
        async with unit_of_work(self._sessionmaker) as session:
            plan, items = await _load(session, actor.business_id, plan_id, for_update=True)
            _require(plan, EDITABLE, "changed")
            row = next((row for row in items if row.id == item_id), None)
            if row is None:
                raise PlanItemNotFound()
            await PlanItemRepository(session, actor.business_id).delete(row)
            await _bump(session, plan)
            return plan_out(plan, [other for other in items if other.id != item_id])

    async def preview(self, actor: Actor, plan_id: uuid.UUID) -> PlanPreviewOut:
        """The combined impact of the items still to run, on the forecast of now."""
        async with unit_of_work(self._sessionmaker) as session:
            plan, items = await _load(session, actor.business_id, plan_id)
            waiting = [row for row in items if row.status is PlanItemStatus.PENDING]
            checked = await check_items(session, actor, [parse_item(row.request) for row in waiting])
        effects = [item.effect for item in checked if item.effect is not None]
        impact = None if self._impacts is None else await self._impacts.estimate(actor.business_id, effects)
        return PlanPreviewOut(plan_id=plan.id, as_of=today_in(actor.timezone), items=len(waiting), impact=impact)

    async def propose(self, actor: Actor, plan_id: uuid.UUID) -> PlanTransitionOut:
        async with unit_of_work(self._sessionmaker) as session:
            plan, items = await _load(session, actor.business_id, plan_id)
            if plan.status is PlanStatus.PROPOSED:
                return PlanTransitionOut(plan=plan_out(plan, items), changed=False)
            _require(plan, EDITABLE, "proposed")
            if not items:
                raise PlanIsEmpty()
            await check_items(session, actor, [parse_item(row.request) for row in items])
            moved = await _move(
                session,
                plan,
                EDITABLE,
                PlanStatus.PROPOSED,
                proposed_by=actor.user_id,
                proposed_at=utcnow(),
            )
            if not moved:
                return await self._unchanged(session, actor.business_id, plan_id, PlanStatus.PROPOSED, "proposed")
            await AuditLog(session).record(
                actor.business_id, actor.user_id, "plan.proposed", subject=("plan", plan.id), detail=_summary(items)
            )
            return PlanTransitionOut(plan=await self._current(session, actor.business_id, plan_id), changed=True)

    async def approve(self, actor: Actor, plan_id: uuid.UUID, body: ApproveIn) -> PlanTransitionOut:
        """Approve the plan as it stands (or as ``body.revision`` was): every item is checked on a mirror brought up
        to date first, and what the books say of each item's bill or invoice is kept for the execution to compare."""
        try:
            await self._freshness.ensure_fresh(actor.business_id)
        except AppError:
            raise
        except Exception as error:  # QuickBooks unreachable: approve on the mirror as it is (execution re-checks)
            logger.warning("plans.approve_on_stale_mirror", business_id=str(actor.business_id), error=repr(error))
        async with unit_of_work(self._sessionmaker) as session:
            plan, items = await _load(session, actor.business_id, plan_id)
            if plan.status is PlanStatus.APPROVED:
                raise PlanInWrongState(plan.status, "approved", APPROVABLE)
            _require(plan, APPROVABLE, "approved")
            if body.revision is not None and body.revision != plan.revision:
                raise PlanChanged(body.revision, plan.revision)
            if not items:
                raise PlanIsEmpty()
            checked = await check_items(session, actor, [parse_item(row.request) for row in items])
            moved = await _move(
                session,
                plan,
                APPROVABLE,
                PlanStatus.APPROVED,
                revision=plan.revision,
                approved_by=actor.user_id,
                approved_at=utcnow(),
                approved_revision=plan.revision,
            )
            if not moved:
                # Another approval (or a change) got there first: this one approves nothing.
                current, _ = await _load(session, actor.business_id, plan_id)
                if current.revision != plan.revision and current.status in APPROVABLE:
                    raise PlanChanged(plan.revision, current.revision)
                raise PlanInWrongState(current.status, "approved", APPROVABLE)
            for row, item in zip(items, checked, strict=True):
                row.approved_state = item.state
            await AuditLog(session).record(
                actor.business_id,
                actor.user_id,
                "plan.approved",
                subject=("plan", plan.id),
                detail={**_summary(items), "revision": plan.revision},
            )
            await session.flush()
            return PlanTransitionOut(plan=await self._current(session, actor.business_id, plan_id), changed=True)

    async def execute(self, actor: Actor, plan_id: uuid.UUID) -> PlanTransitionOut:
        """Start the execution of an approved plan (a job, one per business at a time); asked again while it runs,
        the job is asked for again (it goes on where it is: nothing runs twice). A finished plan stays finished."""
        async with unit_of_work(self._sessionmaker) as session:
            plan, items = await _load(session, actor.business_id, plan_id)
            if plan.status in (PlanStatus.EXECUTING, PlanStatus.FINISHED):
                if plan.status is PlanStatus.EXECUTING:
                    self._schedule(session, plan)
                return PlanTransitionOut(plan=plan_out(plan, items), changed=False)
            _require(plan, (PlanStatus.APPROVED,), "executed")
            moved = await _move(
                session,
                plan,
                (PlanStatus.APPROVED,),
                PlanStatus.EXECUTING,
                executed_by=actor.user_id,
                execution_requested_at=utcnow(),
            )
            if not moved:
                return await self._unchanged(session, actor.business_id, plan_id, PlanStatus.EXECUTING, "executed")
            await AuditLog(session).record(
                actor.business_id, actor.user_id, "plan.executed", subject=("plan", plan.id), detail=_summary(items)
            )
            self._schedule(session, plan)
            return PlanTransitionOut(plan=await self._current(session, actor.business_id, plan_id), changed=True)

    async def cancel(self, actor: Actor, plan_id: uuid.UUID) -> PlanTransitionOut:
        async with unit_of_work(self._sessionmaker) as session:
            plan, items = await _load(session, actor.business_id, plan_id)
            if plan.status is PlanStatus.CANCELLED:
                return PlanTransitionOut(plan=plan_out(plan, items), changed=False)
            _require(plan, CANCELLABLE, "cancelled")
            moved = await _move(
                session, plan, CANCELLABLE, PlanStatus.CANCELLED, cancelled_by=actor.user_id, cancelled_at=utcnow()
            )
            if not moved:
                return await self._unchanged(session, actor.business_id, plan_id, PlanStatus.CANCELLED, "cancelled")
            await AuditLog(session).record(
                actor.business_id, actor.user_id, "plan.cancelled", subject=("plan", plan.id), detail=_summary(items)
            )
            return PlanTransitionOut(plan=await self._current(session, actor.business_id, plan_id), changed=True)

    # ----------------------------------------------------------------------------------------------- internals
    async def _add(self, session: AsyncSession, plan: Plan, position: int, item: Any) -> PlanItem:
        return await PlanItemRepository(session, plan.business_id).add(
            PlanItem(
                plan_id=plan.id,
                business_id=plan.business_id,
                position=position,
                kind=item.kind,
                request=item.model_dump(mode="json"),
                status=PlanItemStatus.PENDING,
            )
        )

    def _schedule(self, session: AsyncSession, plan: Plan) -> None:
        self._sync.schedule_job(
            session,
            PLAN_JOB,
            {"plan_id": str(plan.id)},
            serialize_on=plan_serialization_key(plan.business_id),
            coalesce_on=plan_coalescing_key(plan.id),
        )

    async def _current(self, session: AsyncSession, business_id: uuid.UUID, plan_id: uuid.UUID) -> PlanOut:
        plan, items = await _load(session, business_id, plan_id)
        return plan_out(plan, items)

    async def _unchanged(
        self, session: AsyncSession, business_id: uuid.UUID, plan_id: uuid.UUID, wanted: PlanStatus, doing: str
    ) -> PlanTransitionOut:
        """A concurrent request moved the plan first: the same move is answered as done, another as a conflict."""
        plan, items = await _load(session, business_id, plan_id)
        if plan.status is wanted:
            return PlanTransitionOut(plan=plan_out(plan, items), changed=False)
        raise PlanInWrongState(plan.status, doing, (wanted,))


async def _load(
    session: AsyncSession, business_id: uuid.UUID, plan_id: uuid.UUID, *, for_update: bool = False
) -> tuple[Plan, list[PlanItem]]:
    plans = PlanRepository(session, business_id)
    statement = plans.select().where(Plan.id == plan_id).execution_options(populate_existing=True)
    if for_update:
        statement = statement.with_for_update()
    plan = await plans.one_or_none(statement)
    if plan is None:
        raise PlanNotFound()
    items = list(await PlanItemRepository(session, business_id).of_plan(plan_id))
    return plan, items


def _require(plan: Plan, allowed: Sequence[PlanStatus], doing: str) -> None:
    if plan.status not in allowed:
        raise PlanInWrongState(plan.status, doing, allowed)


async def _move(
    session: AsyncSession,
    plan: Plan,
    allowed: Sequence[PlanStatus],
    to: PlanStatus,
    *,
    revision: int | None = None,
    **values: Any,
) -> bool:
    """Move the plan to ``to`` if it is still in one of ``allowed`` (and at ``revision``): the one write that decides
    between concurrent requests."""
    conditions: list[Any] = [Plan.id == plan.id, Plan.business_id == plan.business_id, Plan.status.in_(allowed)]
    if revision is not None:
        conditions.append(Plan.revision == revision)
    statement = (
        update(Plan)
        .where(*conditions)
        .values(status=to, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    result = cast(CursorResult[Any], await session.execute(statement))
    return result.rowcount == 1


async def _bump(session: AsyncSession, plan: Plan) -> None:
    """A change of items: only while still a draft, and the revision moves (an approval of the old one then fails)."""
    statement = (
        update(Plan)
        .where(Plan.id == plan.id, Plan.status.in_(EDITABLE), Plan.revision == plan.revision)
        .values(revision=Plan.revision + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    result = cast(CursorResult[Any], await session.execute(statement))
    if result.rowcount != 1:
        current = await session.scalar(select(Plan.status).where(Plan.id == plan.id))
        raise PlanInWrongState(current or plan.status, "changed", EDITABLE)
    set_committed_value(plan, "revision", plan.revision + 1)


def _summary(items: Sequence[PlanItem]) -> dict[str, Any]:
    kinds: dict[str, int] = {}
    for row in items:
        kinds[row.kind] = kinds.get(row.kind, 0) + 1
    return {"items": len(items), "kinds": kinds}
