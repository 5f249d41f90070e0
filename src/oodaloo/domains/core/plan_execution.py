"""Executing an approved plan: the job kind ``plans.execute``, one job at a time per business, never inside a request.

A run holds the plan's lease (renewed while it runs), brings the mirror up to date, then takes the items in order. An
item whose action was never sent is first compared with what the books said at approval — its bill or invoice must be
live and its open balance what it was then, less what this plan's own earlier items paid — and stopped with the reason
if not; otherwise it is sent through its domain's service under the item's own idempotency key (``plan-item:<id>``),
the same on every run, so a job that dies and is started again (by the sweep, once its lease runs out) or a plan
executed twice sends each action once: the action log answers a repeat with the first outcome. An item whose outcome
is unclear waits for the action log's reconciler; the plan finishes when every item has ended.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oodaloo.domains.ap.delay import DelayBillIn, DelayService
from oodaloo.domains.ap.scheduled import ScheduledPaymentService, SchedulePaymentIn
from oodaloo.domains.ap.schemas import PayBillIn
from oodaloo.domains.ap.service import BillService
from oodaloo.domains.ar.payments import CustomerPaymentService, RecordPaymentIn
from oodaloo.domains.ar.reminders import ReminderService
from oodaloo.domains.core.action_runner import ActionRunner, Actor
from oodaloo.domains.core.actions import ActionLogRepository
from oodaloo.domains.core.audit import AuditLog
from oodaloo.domains.core.freshness import MirrorFreshness
from oodaloo.domains.core.models import Business
from oodaloo.domains.core.plan_models import LEASE_OWNER_MAX_LENGTH, Plan, PlanItem, PlanItemStatus, PlanStatus
from oodaloo.domains.core.plan_schemas import (
    DelayBillItem,
    PayBillItem,
    RecordPaymentItem,
    SchedulePaymentItem,
    SendReminderItem,
)
from oodaloo.domains.core.plans import (
    PLAN_JOB,
    SETTLING_KINDS,
    PlanItemRepository,
    document_state,
    item_key,
    parse_item,
    plan_coalescing_key,
    plan_serialization_key,
)
from oodaloo.domains.qbo.auth import ConnectionService
from oodaloo.infra.db.base import utcnow
from oodaloo.infra.db.session import unit_of_work
from oodaloo.infra.jobs.models import ActionStatus, QBOAction
from oodaloo.infra.jobs.smart_sync import JobSender, QBOUnavailable, SmartSyncService
from oodaloo.infra.leases import lease_owner, renewed
from oodaloo.infra.logging import get_logger
from oodaloo.infra.web.errors import AppError

logger = get_logger("oodaloo.plans.execution")

# A run holds its plan this long unless it renews (every third of it while it runs); a dead run's plan is taken up by
# the next sweep once it runs out.
DEFAULT_LEASE_SECONDS = 30.0
# After the last item is sent, a run waits this long for unclear outcomes to settle (the reconciler's first checks
# come within seconds); what is still unclear then is looked at again by a later run, RECHECK_SECONDS on.
CONFIRM_WAIT_SECONDS = 60.0
CONFIRM_POLL_SECONDS = 0.5
RECHECK_SECONDS = 5.0
INPUTS_CHANGED = "inputs_changed"
EARLIER_UNCONFIRMED = "earlier_item_unconfirmed"
QBO_UNAVAILABLE = "qbo_unavailable"
SWEEP_BATCH_SIZE = 50
ZERO = Decimal("0.00")
FINAL_ACTION = (ActionStatus.SUCCEEDED, ActionStatus.FAILED)


class _Deferred(Exception):
    """QuickBooks could not be reached: the run ends here and a later one goes on (nothing was sent)."""


class PlanExecutor:
    def __init__(
        self,
        *,
        sync: SmartSyncService,
        connections: ConnectionService,
        sessionmaker: async_sessionmaker[AsyncSession],
        freshness: MirrorFreshness,
        deadline_seconds: float,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        confirm_wait_seconds: float = CONFIRM_WAIT_SECONDS,
    ) -> None:
        self._sync = sync
        self._sessionmaker = sessionmaker
        self._freshness = freshness
        self._lease = timedelta(seconds=lease_seconds)
        self._confirm_wait_seconds = confirm_wait_seconds
        self._owner = lease_owner(LEASE_OWNER_MAX_LENGTH)
        # Plans run in a job: nobody waits on their impact, so none is estimated.
        self._runner = ActionRunner(
            sync=sync, connections=connections, sessionmaker=sessionmaker, deadline_seconds=deadline_seconds
        )
        self._bills = BillService(self._runner)

    def register(self) -> None:
        self._sync.register_job(PLAN_JOB, self._run, sweep=self._sweep)

    # ------------------------------------------------------------------------------------------------- the job
    async def _sweep(self, jobs: JobSender) -> int:
        """Ask for a run of every executing plan nobody holds (its run died, its message was lost, or it waits on
        unclear outcomes)."""
        now = utcnow()
        statement = (
            select(Plan.id, Plan.business_id)
            .where(
                Plan.status == PlanStatus.EXECUTING,
                or_(Plan.lease_expires_at.is_(None), Plan.lease_expires_at <= now),
            )
            .limit(SWEEP_BATCH_SIZE)
        )
        async with unit_of_work(self._sessionmaker) as session:
            due = (await session.execute(statement)).all()
        for plan_id, business_id in due:
            await jobs.enqueue(
                PLAN_JOB,
                {"plan_id": str(plan_id)},
                serialize_on=plan_serialization_key(business_id),
                coalesce_on=plan_coalescing_key(plan_id),
            )
        return len(due)

    async def _run(self, payload: dict[str, Any]) -> None:
        plan_id = uuid.UUID(str(payload["plan_id"]))
        plan = await self._claim(plan_id)
        if plan is None:
            return
        async with renewed(
            lambda: self._renew(plan_id),
            lease_seconds=self._lease.total_seconds(),
            name=f"plan-lease-{plan_id}",
            on_failure=lambda error: logger.warning(
                "plans.lease_renewal_failed", plan_id=str(plan_id), error=repr(error)
            ),
        ):
            try:
                await self._execute(plan)
            except _Deferred as deferred:
                logger.warning("plans.deferred", plan_id=str(plan_id), reason=str(deferred))
                await self._release(plan_id, RECHECK_SECONDS)
                return
            except BaseException:
                await asyncio.shield(self._release(plan_id, 0.0))
                raise

    # ---------------------------------------------------------------------------------------------- the lease
    async def _claim(self, plan_id: uuid.UUID) -> Plan | None:
        now = utcnow()
        statement = (
            update(Plan)
            .where(
                Plan.id == plan_id,
                Plan.status == PlanStatus.EXECUTING,
                or_(Plan.lease_expires_at.is_(None), Plan.lease_expires_at <= now, Plan.lease_owner == self._owner),
            )
            .values(lease_owner=self._owner, lease_expires_at=now + self._lease)
            .execution_options(synchronize_session=False)
        )
        async with unit_of_work(self._sessionmaker) as session:
            result = cast(CursorResult[Any], await session.execute(statement))
            if result.rowcount != 1:
                return None
            plan = await session.get(Plan, plan_id, populate_existing=True)
            assert plan is not None
            if plan.started_at is None:
                plan.started_at = now
            await session.flush()
            session.expunge(plan)
        return plan

    async def _renew(self, plan_id: uuid.UUID) -> None:
        async with unit_of_work(self._sessionmaker) as session:
            await session.execute(
                update(Plan)
                .where(Plan.id == plan_id, Plan.lease_owner == self._owner)
                .values(lease_expires_at=utcnow() + self._lease)
                .execution_options(synchronize_session=False)
            )

    async def _release(self, plan_id: uuid.UUID, after_seconds: float) -> None:
        """Let the sweep start another run ``after_seconds`` from now."""
        async with unit_of_work(self._sessionmaker) as session:
            await session.execute(
                update(Plan)
                .where(Plan.id == plan_id, Plan.lease_owner == self._owner)
                .values(lease_owner=None, lease_expires_at=utcnow() + timedelta(seconds=after_seconds))
                .execution_options(synchronize_session=False)
            )

    # ------------------------------------------------------------------------------------------------ the items
    async def _execute(self, plan: Plan) -> None:
        async with unit_of_work(self._sessionmaker) as session:
            business = await session.get(Business, plan.business_id)
            assert business is not None
            items = list(await PlanItemRepository(session, plan.business_id).of_plan(plan.id))
            for row in items:
                session.expunge(row)
        actor = Actor(business.id, business.timezone, plan.executed_by or plan.approved_by)
        if any(not row.status.is_final for row in items):
            try:
                await self._freshness.ensure_fresh(business.id)
            except AppError:
                raise
            except Exception as error:
                raise _Deferred(f"the mirror could not be brought up to date: {error!r}") from error
        for index, row in enumerate(items):
            if row.status in (PlanItemStatus.PENDING, PlanItemStatus.RUNNING):
                items[index] = await self._item(actor, row, items[:index])
        items = await self._await_confirmations(plan, items)
        if all(row.status.is_final for row in items):
            await self._finish(plan, items)
        else:
            await self._release(plan.id, RECHECK_SECONDS)

    async def _item(self, actor: Actor, row: PlanItem, earlier: Sequence[PlanItem]) -> PlanItem:
        key = item_key(row.id)
        action = await self._action(actor.business_id, key)
        if action is None:
            # Nothing was sent for it yet: the books must still be as they were at approval.
            stopped = await self._stale(actor, row, earlier)
            if stopped is not None:
                code, reason = stopped
                return await self._settle(row, PlanItemStatus.STOPPED, reason_code=code, reason=reason)
        row = await self._settle(row, PlanItemStatus.RUNNING, started=True)
        refused: AppError | None = None
        try:
            await self._dispatch(actor, row, key)
        except QBOUnavailable as error:
            if await self._action(actor.business_id, key) is None:
                await self._settle(row, PlanItemStatus.PENDING)
                raise _Deferred(str(error)) from error
        except AppError as error:
            refused = error
        except Exception as error:
            # Not the books' answer but ours failing: whatever was recorded decides, else the item fails (a re-run
            # would fail the same way, and the plan must end).
            logger.exception("plans.item_failed", item_id=str(row.id))
            refused = AppError(f"The action could not be run: {type(error).__name__}.")
            refused.code = "internal_error"
        action = await self._action(actor.business_id, key)
        if action is None:
            assert refused is not None, "an item's service returned without recording its action"
            return await self._settle(row, PlanItemStatus.FAILED, reason_code=refused.code, reason=refused.message)
        return await self._from_action(row, action)

    async def _dispatch(self, actor: Actor, row: PlanItem, key: str) -> None:
        """Send the item through its domain's service (which checks it once more against the mirror)."""
        item = parse_item(row.request)
        # The single-action bodies are read from the item's stored JSON, as their routes read them.
        body = {name: value for name, value in row.request.items() if name not in ("kind", "bill_id", "invoice_id")}
        if isinstance(item, PayBillItem):
            await self._bills.pay(actor, item.bill_id, PayBillIn.model_validate(body), key)
        elif isinstance(item, DelayBillItem):
            await DelayService(self._runner).delay(actor, item.bill_id, DelayBillIn.model_validate(body), key)
        elif isinstance(item, SchedulePaymentItem):
            schedule = SchedulePaymentIn.model_validate(body)
            await ScheduledPaymentService(self._runner).schedule(actor, item.bill_id, schedule, key)
        elif isinstance(item, RecordPaymentItem):
            received = RecordPaymentIn.model_validate(body)
            await CustomerPaymentService(self._runner).record(actor, item.invoice_id, received, key)
        else:
            assert isinstance(item, SendReminderItem)
            await ReminderService(self._runner, self._freshness).send(actor, item.invoice_id, key)

    async def _stale(self, actor: Actor, row: PlanItem, earlier: Sequence[PlanItem]) -> tuple[str, str] | None:
        """Why the item may not run on the books of now, compared with approval (None: it may)."""
        approved = row.approved_state or {}
        document, document_id = approved.get("document"), approved.get("id")
        if document is None or document_id is None:
            return None
        same = [other for other in earlier if _document_of(other) == (document, document_id)]
        if any(other.status in (PlanItemStatus.RUNNING, PlanItemStatus.CONFIRMING) for other in same):
            return EARLIER_UNCONFIRMED, (
                f"An earlier item of this plan on {document} {document_id} is still being confirmed with QuickBooks, "
                "so this one was not sent; execute the plan again once it is."
            )
        paid_here = sum(
            (
                Decimal(str(other.request["amount"]))
                for other in same
                if other.kind in SETTLING_KINDS and other.status is PlanItemStatus.SUCCEEDED
            ),
            ZERO,
        )
        async with unit_of_work(self._sessionmaker) as session:
            now = await document_state(session, actor.business_id, str(document), str(document_id))
        label = f"{str(document).capitalize()} {document_id}"
        if now["status"] != "active":
            return INPUTS_CHANGED, (
                f"{label} is {now['status']} in QuickBooks now; it was live when the plan was approved, so nothing "
                "was done."
            )
        if approved.get("balance") is None or now["balance"] is None:
            return None
        expected = Decimal(str(approved["balance"])) - paid_here
        current = Decimal(str(now["balance"]))
        if current != expected:
            ours = f", less {paid_here} paid by this plan since" if paid_here else ""
            return INPUTS_CHANGED, (
                f"{label}'s open balance is {current} now, not {expected} as at approval "
                f"({approved['balance']}{ours}): it changed in QuickBooks since, so this action was not taken on "
                "stale data. Review and approve a new plan."
            )
        return None

    async def _action(self, business_id: uuid.UUID, key: str) -> QBOAction | None:
        async with unit_of_work(self._sessionmaker) as session:
            action = await ActionLogRepository(session, business_id).by_key(key)
            if action is not None:
                session.expunge(action)
            return action

    async def _from_action(self, row: PlanItem, action: QBOAction) -> PlanItem:
        if action.status is ActionStatus.SUCCEEDED:
            return await self._settle(row, PlanItemStatus.SUCCEEDED, action_id=action.id, receipt=action.result)
        if action.status is ActionStatus.FAILED:
            return await self._settle(
                row,
                PlanItemStatus.FAILED,
                action_id=action.id,
                reason_code=action.error_code,
                reason=action.error_message,
            )
        return await self._settle(row, PlanItemStatus.CONFIRMING, action_id=action.id)

    async def _await_confirmations(self, plan: Plan, items: list[PlanItem]) -> list[PlanItem]:
        deadline = time.monotonic() + self._confirm_wait_seconds
        while True:
            waiting = [index for index, row in enumerate(items) if row.status is PlanItemStatus.CONFIRMING]
            if not waiting or time.monotonic() > deadline:
                return items
            for index in waiting:
                action = await self._action(plan.business_id, item_key(items[index].id))
                if action is not None and action.status in FINAL_ACTION:
                    items[index] = await self._from_action(items[index], action)
            if any(items[index].status is PlanItemStatus.CONFIRMING for index in waiting):
                await asyncio.sleep(CONFIRM_POLL_SECONDS)

    async def _settle(
        self,
        row: PlanItem,
        status: PlanItemStatus,
        *,
        started: bool = False,
        action_id: uuid.UUID | None = None,
        reason_code: str | None = None,
        reason: str | None = None,
        receipt: dict[str, Any] | None = None,
    ) -> PlanItem:
        now = utcnow()
        async with unit_of_work(self._sessionmaker) as session:
            current = await session.get(PlanItem, row.id, populate_existing=True)
            assert current is not None
            if current.status.is_final:
                session.expunge(current)
                return current  # settled already (by an earlier run): a final result never changes
            current.status = status
            if started and current.started_at is None:
                current.started_at = now
            if action_id is not None:
                current.action_id = action_id
            if status.is_final:
                current.reason_code = reason_code
                current.reason = None if reason is None else reason[:2000]
                current.receipt = receipt
                current.finished_at = now
            await session.flush()
            session.expunge(current)
        logger.info("plans.item", item_id=str(row.id), status=status.value, code=reason_code)
        return current

    async def _finish(self, plan: Plan, items: Sequence[PlanItem]) -> None:
        now = utcnow()
        counts: dict[str, int] = {}
        for row in items:
            counts[row.status.value] = counts.get(row.status.value, 0) + 1
        async with unit_of_work(self._sessionmaker) as session:
            result = cast(
                CursorResult[Any],
                await session.execute(
                    update(Plan)
                    .where(Plan.id == plan.id, Plan.status == PlanStatus.EXECUTING, Plan.lease_owner == self._owner)
                    .values(status=PlanStatus.FINISHED, finished_at=now, lease_owner=None, lease_expires_at=None)
                    .execution_options(synchronize_session=False)
                ),
            )
            if result.rowcount == 1:
                await AuditLog(session).record(
                    plan.business_id, None, "plan.finished", subject=("plan", plan.id), detail={"items": counts}
                )
        logger.info("plans.finished", plan_id=str(plan.id), items=counts)


def _document_of(row: PlanItem) -> tuple[str, str] | None:
    state = row.approved_state or {}
    document, document_id = state.get("document"), state.get("id")
    return None if document is None or document_id is None else (str(document), str(document_id))
