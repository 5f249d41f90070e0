"""Scheduled bill payments: a payment stored now for a later day, its amount out of free cash from that moment, made on
its day (in the business's time zone) by the job system, exactly once however many schedulers and workers run — and
cancelled, before it runs, to release the earmark.

- **Scheduling** is the ``bill.schedule_payment`` action: its handler stores the row (its id is the action's), so a
  repeated key answers the first outcome and the row exists once.
- **On its day** the job kind ``payments.pay_scheduled`` makes it. Every sweep asks for a job per payment that is due
  (or whose worker died: a running row whose lease ran out, or one being confirmed); a job claims the row with a
  conditional update (``scheduled`` → ``running``, or an expired lease taken over), brings the mirror up to date,
  checks the bill is still open for the amount and sends the ``bill.pay`` action whose idempotency key is derived from
  the row's id. A second job, a second scheduler, a worker killed mid-send and taken over: each meets either a claim it
  cannot take or the same action key, whose first outcome the action log returns — QBO is written once.
- **The earmark** is the row itself while it is ``scheduled``, ``running`` or ``confirming``
  (``load_scheduled_payments``, which the runway calculator reads); it ends with the payment, in the transaction that
  records the BillPayment in the mirror, or when the payment fails or is cancelled.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import CursorResult, and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oodaloo.domains.ap.actions import PAY_BILL, PayBillPayload
from oodaloo.domains.ap.checks import CheckedBillPayment, check_bill_payment, schedule_effect
from oodaloo.domains.ap.history import load_open_bills
from oodaloo.domains.ap.payables import load_decision_inputs
from oodaloo.domains.ap.scheduled_models import LEASE_OWNER_MAX_LENGTH, ScheduledPayment, ScheduledStatus
from oodaloo.domains.ap.schemas import CENTS, QBOId, WrittenDate, plain_amount
from oodaloo.domains.core.action_handlers import app_error_rejection
from oodaloo.domains.core.action_runner import (
    CONFIRMING_MESSAGE,
    ActionAnswer,
    ActionRunner,
    Actor,
    IdempotencyKeyReused,
)
from oodaloo.domains.core.actions import ActionLogRepository
from oodaloo.domains.core.audit import AuditLog
from oodaloo.domains.core.freshness import MirrorFreshness
from oodaloo.domains.core.impact import ActionImpactOut, CashEffect, EffectKind
from oodaloo.domains.core.models import Business, today_in
from oodaloo.infra.db.base import utcnow
from oodaloo.infra.db.repository import TenantRepository
from oodaloo.infra.db.session import unit_of_work
from oodaloo.infra.jobs.models import ActionStatus
from oodaloo.infra.jobs.smart_sync import (
    ActionContext,
    ActionHandler,
    ActionHandlerFactory,
    ActionResult,
    JobSender,
    SmartSyncService,
)
from oodaloo.infra.leases import lease_owner, renewed
from oodaloo.infra.logging import get_logger
from oodaloo.infra.web.errors import AppError, Conflict, InvalidInput, NotFound

logger = get_logger("oodaloo.ap.scheduled")

SCHEDULE_PAYMENT = "bill.schedule_payment"
SCHEDULED_PAYMENT_JOB = "payments.pay_scheduled"
# A scheduled payment falls inside the 13-week runway the console forecasts, or the forecast could not show it.
SCHEDULE_MAX_DAYS_AHEAD = 13 * 7
# The worker making a payment holds it this long unless it renews (every third of it while it runs): a dead worker's
# payment is taken over by the next sweep after its lease runs out. As long as an action's lease, by default.
DEFAULT_LEASE_SECONDS = 30.0
# Payments looked at per sweep (each becomes one job).
SWEEP_BATCH_SIZE = 100
# No time zone is more than a day ahead of UTC: a payment dated after UTC's tomorrow is due nowhere yet.
MAX_ZONE_LEAD = timedelta(days=1)
SCHEDULED_MESSAGE = "Scheduled: its amount is set aside until it is paid on its day."
INPUTS_CHANGED_CODE = "inputs_changed"
ZERO = Decimal("0.00")


def scheduled_payment_key(scheduled_id: uuid.UUID) -> str:
    """The idempotency key of the ``bill.pay`` action that makes a scheduled payment: one per payment, ever."""
    return f"scheduled-payment:{scheduled_id}"


# ------------------------------------------------------------------------------------------------------- errors
class ScheduledPaymentNotFound(NotFound):
    code = "scheduled_payment_not_found"
    message = "No such scheduled payment."


class ScheduledPaymentNotCancellable(Conflict):
    code = "scheduled_payment_not_cancellable"

    def __init__(self, status: ScheduledStatus) -> None:
        super().__init__(
            f"This scheduled payment is {status.value}: only a payment still waiting for its day can be cancelled."
        )


class PayOnOutOfRange(InvalidInput):
    code = "pay_on_out_of_range"

    def __init__(self, message: str) -> None:
        super().__init__(message, field="pay_on")


# ------------------------------------------------------------------------------------------------------ schemas
class SchedulePaymentIn(BaseModel):
    """Pay ``amount`` (a plain decimal, at most the bill's open balance) from a Bank or Credit Card account on
    ``pay_on`` (from today, the business's, to 13 weeks ahead)."""

    model_config = ConfigDict(extra="forbid")

    amount: Decimal = Field(gt=0, max_digits=15, decimal_places=2, allow_inf_nan=False)
    pay_from_account_id: QBOId
    pay_on: WrittenDate

    @field_validator("amount", mode="before")
    @classmethod
    def _plain_decimal(cls, value: Any) -> Any:
        return plain_amount(value)


class ScheduledPaymentOut(BaseModel):
    scheduled_payment_id: uuid.UUID
    bill_id: str
    vendor_id: str
    description: str
    amount: str
    pay_from_account_id: str
    pay_on: date
    status: ScheduledStatus
    earmarked: bool = Field(description="Its amount is out of free cash (until it is paid, fails or is cancelled).")
    created_at: datetime
    created_by: uuid.UUID | None
    cancelled_at: datetime | None
    executed_at: datetime | None
    payment_action_id: uuid.UUID | None = Field(description="The bill.pay action that makes it, once started.")
    bill_payment_id: str | None
    failure_code: str | None
    failure_message: str | None


class ScheduledAnswerOut(BaseModel):
    action_id: uuid.UUID
    status: str = Field(description="The scheduling action's status.")
    scheduled_payment: ScheduledPaymentOut | None
    message: str
    repeated: bool
    impact: ActionImpactOut | None


class CancelledOut(BaseModel):
    scheduled_payment: ScheduledPaymentOut
    already_cancelled: bool
    impact: ActionImpactOut | None


# ----------------------------------------------------------------------------------------- what the forecast reads
@dataclass(frozen=True)
class ScheduledOutflow:
    """A scheduled payment as the forecast takes it: an outflow of ``amount`` on ``pay_on`` toward ``bill_id``, and an
    earmark of the same amount from now until then (``source_id`` names it, e.g. in a what-if ``remove``)."""

    source_id: str
    bill_id: str
    name: str
    amount: Decimal
    pay_on: date


async def load_scheduled_payments(session: AsyncSession, business_id: uuid.UUID) -> list[ScheduledOutflow]:
    """Every scheduled payment of the business whose amount is still earmarked, soonest first."""
    rows = await ScheduledPaymentRepository(session, business_id).earmarked()
    return [ScheduledOutflow(str(row.id), row.bill_id, row.description, row.amount, row.pay_on) for row in rows]


class ScheduledPaymentRepository(TenantRepository[ScheduledPayment]):
    model = ScheduledPayment

    async def earmarked(self) -> Sequence[ScheduledPayment]:
        statement = self.select().where(
            ScheduledPayment.status.in_([status for status in ScheduledStatus if status.earmarked])
        )
        return await self.all(statement.order_by(ScheduledPayment.pay_on, ScheduledPayment.created_at))

    async def listed(self, status: ScheduledStatus | None) -> Sequence[ScheduledPayment]:
        statement = self.select()
        if status is not None:
            statement = statement.where(ScheduledPayment.status == status)
        return await self.all(statement.order_by(ScheduledPayment.pay_on.desc(), ScheduledPayment.created_at.desc()))


def scheduled_out(row: ScheduledPayment) -> ScheduledPaymentOut:
    return ScheduledPaymentOut(
        scheduled_payment_id=row.id,
        bill_id=row.bill_id,
        vendor_id=row.vendor_id,
        description=row.description,
        amount=str(row.amount.quantize(CENTS)),
        pay_from_account_id=row.pay_from_account_id,
        pay_on=row.pay_on,
        status=row.status,
        earmarked=row.status.earmarked,
        created_at=row.created_at,
        created_by=row.created_by,
        cancelled_at=row.cancelled_at,
        executed_at=row.executed_at,
        payment_action_id=row.payment_action_id,
        bill_payment_id=row.bill_payment_id,
        failure_code=row.failure_code,
        failure_message=row.failure_message,
    )


def check_pay_on(pay_on: date, today: date) -> None:
    latest = today + timedelta(days=SCHEDULE_MAX_DAYS_AHEAD)
    if not today <= pay_on <= latest:
        raise PayOnOutOfRange(
            f"pay_on must lie between today, {today.isoformat()}, and {latest.isoformat()} ({SCHEDULE_MAX_DAYS_AHEAD} "
            "days ahead, in the business's time zone)."
        )


def schedule_payload(
    checked: CheckedBillPayment, amount: Decimal, pay_on: date, user_id: uuid.UUID | None
) -> dict[str, Any]:
    return {
        "bill_id": checked.bill_id,
        "vendor_id": checked.vendor_id,
        "description": checked.name,
        "amount": amount,
        "account_id": checked.account_id,
        "pay_type": checked.pay_type,
        "pay_on": pay_on,
        "created_by": user_id,
    }


# ------------------------------------------------------------------------------------------ the scheduling action
class SchedulePaymentHandler:
    """Runs ``bill.schedule_payment``: stores the row under the action's id (once: a re-run finds it there)."""

    def __init__(self, sync: SmartSyncService) -> None:
        self._sync = sync

    async def perform(self, ctx: ActionContext) -> ActionResult:
        payload = ctx.payload
        created_by = payload.get("created_by")
        row = ScheduledPayment(
            id=ctx.action_id,
            business_id=ctx.business_id,
            bill_id=str(payload["bill_id"]),
            vendor_id=str(payload["vendor_id"]),
            description=str(payload["description"])[:200],
            amount=Decimal(str(payload["amount"])),
            pay_from_account_id=str(payload["account_id"]),
            pay_type=str(payload["pay_type"]),
            pay_on=date.fromisoformat(str(payload["pay_on"])),
            status=ScheduledStatus.SCHEDULED,
            created_by=uuid.UUID(str(created_by)) if created_by else None,
        )
        try:
            async with unit_of_work(self._sync.sessionmaker) as session:
                session.add(row)
                await session.flush()
                await AuditLog(session).record(
                    ctx.business_id,
                    row.created_by,
                    "scheduled_payment.created",
                    subject=("scheduled_payment", row.id),
                    detail={"bill_id": row.bill_id, "amount": row.amount, "pay_on": row.pay_on},
                )
        except IntegrityError:
            pass  # stored by an earlier attempt of this very action
        except AppError as refused:
            raise app_error_rejection(refused) from refused
        return _schedule_result(ctx.action_id, payload)

    async def find(self, ctx: ActionContext) -> ActionResult | None:
        async with unit_of_work(self._sync.sessionmaker) as session:
            row = await session.get(ScheduledPayment, ctx.action_id)
        return None if row is None else _schedule_result(ctx.action_id, ctx.payload)

    async def check(self, ctx: ActionContext, done: ActionResult) -> dict[str, Any] | None:
        return None  # nothing was written to QuickBooks (the payment itself is its own bill.pay action)


def _schedule_result(scheduled_id: uuid.UUID, payload: dict[str, Any]) -> ActionResult:
    return ActionResult(
        qbo_entity="ScheduledPayment",
        qbo_id=str(scheduled_id),
        result={
            "scheduled_payment_id": str(scheduled_id),
            "bill_id": str(payload["bill_id"]),
            "amount": str(payload["amount"]),
            "pay_on": str(payload["pay_on"]),
            "pay_from_account_id": str(payload["account_id"]),
            "qbo_write": False,
        },
    )


def schedule_payment_handler_factory(sync: SmartSyncService) -> ActionHandlerFactory:
    """What SmartSync registers for ``bill.schedule_payment``."""

    async def factory(business_id: uuid.UUID, realm_id: str) -> ActionHandler:
        return SchedulePaymentHandler(sync)

    return factory


# ------------------------------------------------------------------------------------------------------ service
class ScheduledPaymentService:
    """Scheduling, listing and cancelling for the API."""

    def __init__(self, runner: ActionRunner) -> None:
        self._runner = runner

    async def schedule(
        self, actor: Actor, bill_id: str, request: SchedulePaymentIn, key: str
    ) -> tuple[ScheduledAnswerOut, int]:
        earlier = await self._runner.earlier(actor.business_id, key)
        if earlier is not None:
            return await self._repeat(actor, earlier, bill_id, request, key)
        check_pay_on(request.pay_on, today_in(actor.timezone))
        realm_id = await self._runner.realm_of(actor.business_id)
        async with unit_of_work(self._runner.sessionmaker) as session:
            checked = await check_bill_payment(
                session,
                actor.business_id,
                bill_id,
                request.amount,
                request.pay_from_account_id,
                already=await _earmarked_for(session, actor.business_id, bill_id),
            )
        answer = await self._runner.run(
            actor,
            realm_id,
            kind=SCHEDULE_PAYMENT,
            key=key,
            payload=schedule_payload(checked, request.amount, request.pay_on, actor.user_id),
            effects=[schedule_effect(checked, request.amount, request.pay_on, None)],
        )
        return await self._answer(actor, answer), answer.http_status

    async def _repeat(
        self, actor: Actor, earlier: Any, bill_id: str, request: SchedulePaymentIn, key: str
    ) -> tuple[ScheduledAnswerOut, int]:
        payload = earlier.payload
        same = (
            earlier.kind == SCHEDULE_PAYMENT
            and str(payload.get("bill_id")) == bill_id
            and Decimal(str(payload.get("amount"))) == request.amount
            and str(payload.get("account_id")) == request.pay_from_account_id
            and str(payload.get("pay_on")) == request.pay_on.isoformat()
        )
        if not same:
            raise IdempotencyKeyReused()
        answer = await self._runner.replay(actor, earlier, key)
        return await self._answer(actor, answer), answer.http_status

    async def _answer(self, actor: Actor, answer: ActionAnswer) -> ScheduledAnswerOut:
        async with unit_of_work(self._runner.sessionmaker) as session:
            row = await ScheduledPaymentRepository(session, actor.business_id).get(answer.outcome.action_id)
            out = None if row is None else scheduled_out(row)
        return ScheduledAnswerOut(
            action_id=answer.outcome.action_id,
            status=answer.status,
            scheduled_payment=out,
            message=SCHEDULED_MESSAGE if answer.succeeded else CONFIRMING_MESSAGE,
            repeated=answer.outcome.repeated,
            impact=answer.impact,
        )

    async def listed(self, business_id: uuid.UUID, status: ScheduledStatus | None) -> list[ScheduledPaymentOut]:
        async with unit_of_work(self._runner.sessionmaker) as session:
            rows = await ScheduledPaymentRepository(session, business_id).listed(status)
            return [scheduled_out(row) for row in rows]

    async def get(self, business_id: uuid.UUID, scheduled_id: uuid.UUID) -> ScheduledPaymentOut:
        async with unit_of_work(self._runner.sessionmaker) as session:
            row = await ScheduledPaymentRepository(session, business_id).get(scheduled_id)
            if row is None:
                raise ScheduledPaymentNotFound()
            return scheduled_out(row)

    async def cancel(self, actor: Actor, scheduled_id: uuid.UUID) -> CancelledOut:
        """Cancel a payment still waiting for its day (its earmark is released); cancelling it again answers the
        same. A payment already running, paid or failed cannot be cancelled (409)."""
        current = await self.get(actor.business_id, scheduled_id)
        if current.status is ScheduledStatus.CANCELLED:
            return CancelledOut(scheduled_payment=current, already_cancelled=True, impact=None)
        if current.status is not ScheduledStatus.SCHEDULED:
            raise ScheduledPaymentNotCancellable(current.status)
        effect = CashEffect(
            EffectKind.CANCEL_SCHEDULED_PAYMENT,
            current.bill_id,
            amount=Decimal(current.amount),
            on=await self._planned_day(actor, current.bill_id),
            name=current.description,
            scheduled_id=str(scheduled_id),
        )
        impact = await self._runner.estimate(actor.business_id, [effect])
        async with unit_of_work(self._runner.sessionmaker) as session:
            statement = (
                update(ScheduledPayment)
                .where(
                    ScheduledPayment.id == scheduled_id,
                    ScheduledPayment.business_id == actor.business_id,
                    ScheduledPayment.status == ScheduledStatus.SCHEDULED,
                )
                .values(status=ScheduledStatus.CANCELLED, cancelled_by=actor.user_id, cancelled_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            result = cast(CursorResult[Any], await session.execute(statement))
            if result.rowcount == 1:
                await AuditLog(session).record(
                    actor.business_id,
                    actor.user_id,
                    "scheduled_payment.cancelled",
                    subject=("scheduled_payment", scheduled_id),
                    detail={"bill_id": current.bill_id, "amount": current.amount, "pay_on": current.pay_on},
                )
        after = await self.get(actor.business_id, scheduled_id)
        if result.rowcount != 1:
            if after.status is ScheduledStatus.CANCELLED:
                return CancelledOut(scheduled_payment=after, already_cancelled=True, impact=None)
            raise ScheduledPaymentNotCancellable(after.status)  # its day came while we were asked
        return CancelledOut(scheduled_payment=after, already_cancelled=False, impact=impact)

    async def _planned_day(self, actor: Actor, bill_id: str) -> date:
        """The day the bill is planned to be paid (its decision's): where a cancelled payment's amount goes back."""
        today = today_in(actor.timezone)
        async with unit_of_work(self._runner.sessionmaker) as session:
            bills = await load_open_bills(session, actor.business_id, bill_ids=[bill_id])
            decisions = await load_decision_inputs(session, actor.business_id)
        return decisions.decide(bills[0], today).planned_pay_date if bills else today


async def _earmarked_for(session: AsyncSession, business_id: uuid.UUID, bill_id: str) -> Decimal:
    """What payments already scheduled for the bill will pay: scheduling more than its balance is refused."""
    rows = await ScheduledPaymentRepository(session, business_id).earmarked()
    return sum((row.amount for row in rows if row.bill_id == bill_id), ZERO)


# ------------------------------------------------------------------------------------------ making it on its day
class ScheduledPayments:
    """The job kind that makes scheduled payments on their day, and its sweep."""

    def __init__(
        self,
        *,
        sync: SmartSyncService,
        sessionmaker: async_sessionmaker[AsyncSession],
        freshness: MirrorFreshness,
        deadline_seconds: float,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> None:
        self._sync = sync
        self._sessionmaker = sessionmaker
        self._freshness = freshness
        self._deadline_seconds = deadline_seconds
        self._lease = timedelta(seconds=lease_seconds)
        self._owner = lease_owner(LEASE_OWNER_MAX_LENGTH)

    def register(self) -> None:
        self._sync.register_job(SCHEDULED_PAYMENT_JOB, self._run, sweep=self._sweep)

    async def _sweep(self, jobs: JobSender) -> int:
        """Ask for a job per payment that is due in its business's time zone, whose worker died, or whose outcome is
        being confirmed."""
        now = utcnow()
        horizon = (now + MAX_ZONE_LEAD).date()
        statement = (
            select(ScheduledPayment, Business.timezone)
            .join(Business, Business.id == ScheduledPayment.business_id)
            .where(
                or_(
                    and_(ScheduledPayment.status == ScheduledStatus.SCHEDULED, ScheduledPayment.pay_on <= horizon),
                    and_(ScheduledPayment.status == ScheduledStatus.RUNNING, ScheduledPayment.lease_expires_at <= now),
                    ScheduledPayment.status == ScheduledStatus.CONFIRMING,
                )
            )
            .order_by(ScheduledPayment.pay_on)
            .limit(SWEEP_BATCH_SIZE)
        )
        async with unit_of_work(self._sessionmaker) as session:
            found = (await session.execute(statement)).all()
        due = [row.id for row, timezone in found if row.status is not ScheduledStatus.SCHEDULED or _due(row, timezone)]
        for scheduled_id in due:
            key = f"scheduled-payment:{scheduled_id}"
            await jobs.enqueue(SCHEDULED_PAYMENT_JOB, {"scheduled_payment_id": str(scheduled_id)}, coalesce_on=key)
        if due:
            logger.info("scheduled_payments.swept", due=len(due))
        return len(due)

    async def _run(self, payload: dict[str, Any]) -> None:
        scheduled_id = uuid.UUID(str(payload["scheduled_payment_id"]))
        claimed = await self._claim(scheduled_id)
        if claimed is None:
            return
        async with renewed(
            lambda: self._renew(scheduled_id),
            lease_seconds=self._lease.total_seconds(),
            name=f"scheduled-lease-{scheduled_id}",
            on_failure=lambda error: logger.warning("scheduled_payments.lease_renewal_failed", error=repr(error)),
        ):
            await self._make(claimed)

    # ------------------------------------------------------------------------------------------------ claiming
    async def _claim(self, scheduled_id: uuid.UUID) -> ScheduledPayment | None:
        """The row, held by this process now: a due ``scheduled`` one, a ``running`` one whose lease ran out, or a
        ``confirming`` one (re-asked of the action log). None when it is not ours to make."""
        now = utcnow()
        async with unit_of_work(self._sessionmaker) as session:
            row = await session.get(ScheduledPayment, scheduled_id)
            if row is None:
                return None
            business = await session.get(Business, row.business_id)
            assert business is not None
            conditions: list[Any] = [ScheduledPayment.id == scheduled_id, ScheduledPayment.status == row.status]
            if row.status is ScheduledStatus.SCHEDULED:
                if not _due(row, business.timezone):
                    return None
            elif row.status is ScheduledStatus.RUNNING:
                if row.lease_expires_at is not None and row.lease_expires_at > now:
                    return None  # a live worker is making it
                conditions.append(ScheduledPayment.lease_expires_at == row.lease_expires_at)
            elif row.status is not ScheduledStatus.CONFIRMING:
                return None
            statement = (
                update(ScheduledPayment)
                .where(*conditions)
                .values(status=ScheduledStatus.RUNNING, lease_owner=self._owner, lease_expires_at=now + self._lease)
                .execution_options(synchronize_session=False)
            )
            result = cast(CursorResult[Any], await session.execute(statement))
            if result.rowcount != 1:
                return None  # another worker claimed it first
            session.expunge(row)
        logger.info("scheduled_payments.claimed", scheduled_payment_id=str(scheduled_id), was=row.status.value)
        return row

    async def _renew(self, scheduled_id: uuid.UUID) -> None:
        async with unit_of_work(self._sessionmaker) as session:
            await session.execute(
                update(ScheduledPayment)
                .where(
                    ScheduledPayment.id == scheduled_id,
                    ScheduledPayment.status == ScheduledStatus.RUNNING,
                    ScheduledPayment.lease_owner == self._owner,
                )
                .values(lease_expires_at=utcnow() + self._lease)
                .execution_options(synchronize_session=False)
            )

    # ------------------------------------------------------------------------------------------------ making it
    async def _make(self, row: ScheduledPayment) -> None:
        key = scheduled_payment_key(row.id)
        payload = PayBillPayload(
            bill_id=row.bill_id,
            vendor_id=row.vendor_id,
            amount=row.amount,
            account_id=row.pay_from_account_id,
            pay_type=row.pay_type,
            txn_date=row.pay_on,
            scheduled_payment_id=row.id,
        )
        async with unit_of_work(self._sessionmaker) as session:
            sent_before = await ActionLogRepository(session, row.business_id).by_key(key)
        if sent_before is None:
            # Nothing was sent yet: the books may have moved since it was scheduled. Checked on a fresh mirror; once
            # the action exists the check is skipped (its own payment would fail it), and its outcome is the answer.
            try:
                await self._freshness.ensure_fresh(row.business_id)
            except Exception as error:
                await self._release(row.id, repr(error))
                return
            stopped = await self._stopped(row)
            if stopped is not None:
                await self._finish(row.id, ScheduledStatus.FAILED, code=INPUTS_CHANGED_CODE, message=stopped.message)
                return
        realm_id = sent_before.realm_id if sent_before is not None else await self._realm_of(row.business_id)
        if realm_id is None:
            await self._finish(row.id, ScheduledStatus.FAILED, code="qbo_not_connected", message=_NOT_CONNECTED)
            return
        outcome = await self._sync.execute_action(
            business_id=row.business_id,
            realm_id=realm_id,
            kind=PAY_BILL,
            idempotency_key=key,
            payload=payload.to_payload(),
            user_id=row.created_by,
            deadline_seconds=self._deadline_seconds,
        )
        if outcome.status is ActionStatus.SUCCEEDED:
            await self._finish(
                row.id, ScheduledStatus.PAID, action_id=outcome.action_id, bill_payment_id=outcome.qbo_id
            )
        elif outcome.status is ActionStatus.FAILED:
            await self._finish(
                row.id,
                ScheduledStatus.FAILED,
                action_id=outcome.action_id,
                code=outcome.error_code,
                message=outcome.error_message,
            )
        else:
            await self._finish(row.id, ScheduledStatus.CONFIRMING, action_id=outcome.action_id)

    async def _stopped(self, row: ScheduledPayment) -> AppError | None:
        """Why the payment can no longer be made as scheduled (its bill paid elsewhere, the account gone), or None."""
        try:
            async with unit_of_work(self._sessionmaker) as session:
                await check_bill_payment(session, row.business_id, row.bill_id, row.amount, row.pay_from_account_id)
        except AppError as refused:
            return refused
        return None

    async def _realm_of(self, business_id: uuid.UUID) -> str | None:
        async with unit_of_work(self._sessionmaker) as session:
            business = await session.get(Business, business_id)
        return None if business is None else business.qbo_realm_id

    async def _release(self, scheduled_id: uuid.UUID, reason: str) -> None:
        """Give the payment back for the next sweep (QuickBooks could not be read to check it first)."""
        logger.warning("scheduled_payments.deferred", scheduled_payment_id=str(scheduled_id), reason=reason)
        async with unit_of_work(self._sessionmaker) as session:
            await session.execute(
                update(ScheduledPayment)
                .where(ScheduledPayment.id == scheduled_id, ScheduledPayment.lease_owner == self._owner)
                .values(status=ScheduledStatus.SCHEDULED, lease_owner=None, lease_expires_at=None)
                .execution_options(synchronize_session=False)
            )

    async def _finish(
        self,
        scheduled_id: uuid.UUID,
        status: ScheduledStatus,
        *,
        action_id: uuid.UUID | None = None,
        bill_payment_id: str | None = None,
        code: str | None = None,
        message: str | None = None,
    ) -> None:
        values: dict[str, Any] = {"status": status, "lease_owner": None, "lease_expires_at": None}
        if action_id is not None:
            values["payment_action_id"] = action_id
        if status is ScheduledStatus.PAID:
            values.update(bill_payment_id=bill_payment_id, executed_at=utcnow())
        if status is ScheduledStatus.FAILED:
            values.update(failure_code=code, failure_message=(message or "")[:2000], executed_at=utcnow())
        async with unit_of_work(self._sessionmaker) as session:
            # The bill.pay action's success may have marked it paid already (in the transaction that recorded it).
            result = cast(
                CursorResult[Any],
                await session.execute(
                    update(ScheduledPayment)
                    .where(
                        ScheduledPayment.id == scheduled_id,
                        ScheduledPayment.status.in_((ScheduledStatus.RUNNING, ScheduledStatus.CONFIRMING)),
                    )
                    .values(**values)
                    .execution_options(synchronize_session=False)
                ),
            )
            row = await session.get(ScheduledPayment, scheduled_id)
            # Recorded once, by whoever moved the row (a success usually moves it in its own settle transaction).
            if row is not None and result.rowcount == 1 and status in (ScheduledStatus.PAID, ScheduledStatus.FAILED):
                await AuditLog(session).record(
                    row.business_id,
                    None,
                    f"scheduled_payment.{status.value}",
                    subject=("scheduled_payment", scheduled_id),
                    detail={"bill_id": row.bill_id, "amount": row.amount, "code": code, "message": message},
                )
        logger.info("scheduled_payments.settled", scheduled_payment_id=str(scheduled_id), status=status.value)


_NOT_CONNECTED = "The business is no longer connected to QuickBooks: the payment was not made."


def _due(row: ScheduledPayment, timezone: str) -> bool:
    return row.pay_on <= today_in(timezone)
