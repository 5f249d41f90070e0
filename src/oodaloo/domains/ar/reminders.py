"""Invoice reminders through QuickBooks' own invoice email (``QBOClient.send_invoice``), run as the
``invoice.send_reminder`` action exactly once: never for a paid invoice (checked against a mirror synced moments
before sending), and at most one per customer within ``REMINDER_COOLDOWN``.

The cool-down is a claim in the database (``ar_reminder_cooldowns``), taken by the action itself right before it
sends, with a conditional write: two reminders to one customer at the same moment, from any processes, cannot both
get it. A reminder QuickBooks refuses gives the claim back; one whose outcome is unknown keeps it (it was most likely
sent, and a customer mailed twice is worse than a reminder a few days late).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from pydantic import BaseModel, Field
from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oodaloo.domains.ap.errors import read_error
from oodaloo.domains.ar.payments import InvoiceAlreadyPaid, invoice_name, live_invoice
from oodaloo.domains.ar.reminder_models import ReminderCooldown
from oodaloo.domains.core.action_handlers import QBOActionHandler, app_error_rejection, qbo_handler_factory, rejection
from oodaloo.domains.core.action_runner import (
    CONFIRMING_MESSAGE,
    ActionAnswer,
    ActionRunner,
    Actor,
    IdempotencyKeyReused,
)
from oodaloo.domains.core.freshness import MirrorFreshness
from oodaloo.domains.core.impact import ActionImpactOut
from oodaloo.domains.core.receipts import receipt
from oodaloo.domains.qbo.auth import ConnectionService
from oodaloo.domains.qbo.errors import QBOError
from oodaloo.domains.qbo.mirror_models import MirroredCustomer, MirroredInvoice, raw_of, ref_name
from oodaloo.domains.qbo.mirror_repository import MirrorRepository, SyncStateRepository
from oodaloo.domains.qbo.schemas import Invoice
from oodaloo.infra.db.base import utcnow
from oodaloo.infra.db.session import unit_of_work
from oodaloo.infra.jobs.models import QBOAction
from oodaloo.infra.jobs.smart_sync import (
    ActionContext,
    ActionHandlerFactory,
    ActionRejected,
    ActionResult,
    Credentials,
    SmartSyncService,
)
from oodaloo.infra.web.errors import AppError, Conflict, InvalidInput

SEND_REMINDER = "invoice.send_reminder"
# A customer hears from us at most once in three days, whichever of its invoices is overdue: more is nagging, and
# QBO's own reminder schedules use the same order of spacing.
REMINDER_COOLDOWN = timedelta(days=3)
EMAIL_SENT = "EmailSent"
# QBO stamps an email's DeliveryTime to the second, by its own clock: an email delivered this long before our claim
# still counts as ours (none of ours went to the customer in the days before: the cool-down).
DELIVERY_CLOCK_TOLERANCE = timedelta(minutes=5)
SENT_MESSAGE = "Sent by QuickBooks."
FIELD_OF_ELEMENT = {"BillEmail": "invoice_id", "Id": "invoice_id"}


# ------------------------------------------------------------------------------------------------------- errors
class ReminderCoolingDown(Conflict):
    code = "reminder_cooling_down"

    def __init__(self, customer: str, last_sent_at: datetime) -> None:
        allowed = last_sent_at + REMINDER_COOLDOWN
        super().__init__(
            f"{customer} was sent a reminder at {last_sent_at.isoformat(timespec='minutes')}; the next one may go "
            f"from {allowed.isoformat(timespec='minutes')} ({REMINDER_COOLDOWN.days} days apart per customer).",
            field="invoice_id",
        )


class NoEmailAddress(InvalidInput):
    code = "no_email_address"

    def __init__(self, invoice_id: str) -> None:
        super().__init__(
            f"Invoice {invoice_id} has no billing email and its customer no email address in QuickBooks: add one "
            "there first.",
            field="invoice_id",
        )


# ------------------------------------------------------------------------------------------------------ schemas
class ReminderOut(BaseModel):
    action_id: uuid.UUID
    status: str = Field(description="succeeded, or pending_verification while QuickBooks' answer is confirmed.")
    invoice_id: str
    customer_id: str
    sent_to: str
    message: str
    repeated: bool
    next_reminder_from: datetime = Field(description="The customer's next reminder may go from then.")
    receipt: dict[str, Any] | None
    impact: ActionImpactOut | None = Field(description="A reminder moves no money: the runway as it stands.")


# ------------------------------------------------------------------------------------------------------ checking
@dataclass(frozen=True)
class CheckedReminder:
    invoice_id: str
    customer_id: str
    name: str
    send_to: str


async def check_reminder(
    session: AsyncSession, business_id: uuid.UUID, invoice_id: str, now: datetime
) -> CheckedReminder:
    """Against the mirror (the caller synced it moments before): the invoice is live and unpaid, someone can be mailed,
    and its customer is not cooling down."""
    await SyncStateRepository(session, business_id).require_synced()
    invoice = await live_invoice(session, business_id, invoice_id)
    if invoice.balance is None or invoice.balance <= 0:
        raise InvoiceAlreadyPaid(invoice_id)
    assert invoice.customer_id is not None
    send_to = await _address(session, business_id, invoice)
    if send_to is None:
        raise NoEmailAddress(invoice_id)
    cooldown = await _cooldown(session, business_id, invoice.customer_id)
    if cooldown is not None and cooldown.last_sent_at > now - REMINDER_COOLDOWN:
        raise ReminderCoolingDown(_customer_label(invoice), cooldown.last_sent_at)
    return CheckedReminder(invoice_id, invoice.customer_id, invoice_name(invoice), send_to)


async def _address(session: AsyncSession, business_id: uuid.UUID, invoice: MirroredInvoice) -> str | None:
    """The invoice's billing email, else its customer's primary email (QBO then keeps it as the billing email)."""
    billed = invoice.raw.get("BillEmail")
    address = billed.get("Address") if isinstance(billed, dict) else None
    if address:
        return str(address)
    assert invoice.customer_id is not None
    customers = MirrorRepository.of(session, business_id, "Customer")
    customer = (await customers.by_qbo_ids([invoice.customer_id])).get(invoice.customer_id)
    primary = customer.raw.get("PrimaryEmailAddr") if isinstance(customer, MirroredCustomer) else None
    address = primary.get("Address") if isinstance(primary, dict) else None
    return str(address) if address else None


async def _cooldown(session: AsyncSession, business_id: uuid.UUID, customer_id: str) -> ReminderCooldown | None:
    statement = select(ReminderCooldown).where(
        ReminderCooldown.business_id == business_id, ReminderCooldown.customer_id == customer_id
    )
    return (await session.execute(statement)).scalars().one_or_none()


def _customer_label(invoice: MirroredInvoice) -> str:
    return ref_name(invoice.raw, "CustomerRef") or f"Customer {invoice.customer_id}"


# ------------------------------------------------------------------------------------------------ the cool-down
class CooldownClaims:
    """The per-customer claim, each step its own short transaction."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def claim(
        self, business_id: uuid.UUID, customer_id: str, invoice_id: str, action_id: uuid.UUID, now: datetime
    ) -> datetime | None:
        """Take the customer's cool-down for ``action_id`` (kept if it already holds it: a re-send after a crash).
        Returns None when taken, else when the customer was last sent a reminder."""
        async with unit_of_work(self._sessionmaker) as session:
            current = await _cooldown(session, business_id, customer_id)
            if current is not None and current.last_action_id == action_id:
                return None
            if current is None:
                try:
                    async with session.begin_nested():
                        session.add(
                            ReminderCooldown(
                                business_id=business_id,
                                customer_id=customer_id,
                                last_sent_at=now,
                                last_invoice_id=invoice_id,
                                last_action_id=action_id,
                                previous_sent_at=None,
                            )
                        )
                    return None
                except IntegrityError:
                    current = await _cooldown(session, business_id, customer_id)
                    assert current is not None
            if current.last_sent_at > now - REMINDER_COOLDOWN:
                return current.last_sent_at
            statement = (
                update(ReminderCooldown)
                .where(ReminderCooldown.id == current.id, ReminderCooldown.last_sent_at == current.last_sent_at)
                .values(
                    last_sent_at=now,
                    last_invoice_id=invoice_id,
                    last_action_id=action_id,
                    previous_sent_at=current.last_sent_at,
                )
                .execution_options(synchronize_session=False)
            )
            result = cast(CursorResult[Any], await session.execute(statement))
            if result.rowcount == 1:
                return None
        async with unit_of_work(self._sessionmaker) as session:
            raced = await _cooldown(session, business_id, customer_id)
            return now if raced is None else raced.last_sent_at

    async def release(self, business_id: uuid.UUID, customer_id: str, action_id: uuid.UUID) -> None:
        """Give the claim back (QBO refused the send): the customer's previous reminder counts again."""
        async with unit_of_work(self._sessionmaker) as session:
            current = await _cooldown(session, business_id, customer_id)
            if current is None or current.last_action_id != action_id:
                return
            if current.previous_sent_at is None:
                await session.execute(
                    delete(ReminderCooldown)
                    .where(ReminderCooldown.id == current.id)
                    .execution_options(synchronize_session=False)
                )
            else:
                current.last_sent_at = current.previous_sent_at

    async def sent_at(self, business_id: uuid.UUID, customer_id: str, action_id: uuid.UUID) -> datetime | None:
        """When ``action_id`` claimed the customer's cool-down (None: it does not hold it)."""
        async with unit_of_work(self._sessionmaker) as session:
            current = await _cooldown(session, business_id, customer_id)
        if current is None or current.last_action_id != action_id:
            return None
        return current.last_sent_at


# ------------------------------------------------------------------------------------------------------- action
class SendReminderHandler(QBOActionHandler):
    """Runs ``invoice.send_reminder``: the last checks against the mirror, the claim, then QBO's invoice email."""

    def __init__(self, sync: SmartSyncService, credentials: Credentials, realm_id: str) -> None:
        super().__init__(sync, credentials, realm_id)
        self._claims = CooldownClaims(sync.sessionmaker)

    async def perform(self, ctx: ActionContext) -> ActionResult:
        invoice_id, customer_id = str(ctx.payload["invoice_id"]), str(ctx.payload["customer_id"])
        send_to = str(ctx.payload["send_to"])
        try:
            async with unit_of_work(self._sync.sessionmaker) as session:
                invoice = await live_invoice(session, ctx.business_id, invoice_id)
                if invoice.balance is None or invoice.balance <= 0:
                    raise InvoiceAlreadyPaid(invoice_id)
        except AppError as stale:
            raise app_error_rejection(stale) from stale
        last = await self._claims.claim(ctx.business_id, customer_id, invoice_id, ctx.action_id, utcnow())
        if last is not None:
            cooling = ReminderCoolingDown(f"Customer {customer_id}", last)
            raise ActionRejected(cooling.code, cooling.message, cooling.field)
        try:
            sent = await self._client(ctx).send_invoice(invoice_id, send_to=send_to, requestid=ctx.requestid)
        except QBOError as error:
            definite = rejection(error, what="the reminder", fields=FIELD_OF_ELEMENT)
            if definite is None:
                raise
            await self._claims.release(ctx.business_id, customer_id, ctx.action_id)
            raise definite from error
        return _result(sent, ctx, send_to)

    async def find(self, ctx: ActionContext) -> ActionResult | None:
        """Sent, if QBO's invoice shows an email delivered since this action claimed the customer's cool-down."""
        claimed_at = await self._claims.sent_at(ctx.business_id, str(ctx.payload["customer_id"]), ctx.action_id)
        if claimed_at is None:
            return None
        invoice = await self._client(ctx).read(Invoice, str(ctx.payload["invoice_id"]))
        delivered = invoice.delivery_info.delivery_time if invoice.delivery_info is not None else None
        sent_since = claimed_at - DELIVERY_CLOCK_TOLERANCE
        if invoice.email_status == EMAIL_SENT and delivered is not None and delivered >= sent_since:
            return _result(invoice, ctx, str(ctx.payload["send_to"]))
        return None

    async def check(self, ctx: ActionContext, done: ActionResult) -> dict[str, Any] | None:
        return None  # an email sent stays sent: nothing in QuickBooks can undo it


def _result(invoice: Invoice, ctx: ActionContext, send_to: str) -> ActionResult:
    if invoice.id is None:
        raise ValueError("QuickBooks answered with an Invoice without an Id")
    raw = raw_of(invoice)
    business_id = ctx.business_id

    async def mirror(session: AsyncSession) -> None:
        # The invoice's new version (EmailStatus, DeliveryInfo, SyncToken): the next sync would bring the same.
        await MirrorRepository.of(session, business_id, "Invoice").store([raw])

    billed = invoice.bill_email.address if invoice.bill_email is not None else None
    delivered = invoice.delivery_info.delivery_time if invoice.delivery_info is not None else None
    return ActionResult(
        qbo_entity="Invoice",
        qbo_id=invoice.id,
        result={
            **receipt(
                qbo_entity="Invoice",
                qbo_id=invoice.id,
                sync_token=invoice.sync_token,
                asked={"invoice_id": str(ctx.payload["invoice_id"]), "email_status": EMAIL_SENT, "sent_to": send_to},
                answered={"invoice_id": invoice.id, "email_status": invoice.email_status, "sent_to": billed},
                delivered_at=delivered,
            ),
            "invoice_id": invoice.id,
            "customer_id": str(ctx.payload["customer_id"]),
            "sent_to": send_to,
        },
        on_settle=mirror,
    )


def send_reminder_handler_factory(sync: SmartSyncService, connections: ConnectionService) -> ActionHandlerFactory:
    """What SmartSync registers for ``invoice.send_reminder``."""
    return qbo_handler_factory(SendReminderHandler, sync, connections)


# ------------------------------------------------------------------------------------------------------ service
class ReminderService:
    """Sends reminders for the API: brings the mirror up to date, checks, then runs the action."""

    def __init__(self, runner: ActionRunner, freshness: MirrorFreshness) -> None:
        self._runner = runner
        self._freshness = freshness

    async def send(self, actor: Actor, invoice_id: str, key: str) -> tuple[ReminderOut, int]:
        earlier = await self._runner.earlier(actor.business_id, key)
        if earlier is not None:
            return await self._repeat(actor, earlier, invoice_id, key)
        realm_id = await self._runner.realm_of(actor.business_id)
        try:
            await self._freshness.ensure_fresh(actor.business_id)
        except QBOError as error:
            # Never send on a mirror that could not be brought up to date: QuickBooks is asked again later.
            raise read_error(error, realm_id) from error
        try:
            async with unit_of_work(self._runner.sessionmaker) as session:
                checked = await check_reminder(session, actor.business_id, invoice_id, utcnow())
        except AppError:
            earlier = await self._runner.earlier(actor.business_id, key)
            if earlier is None:
                raise
            return await self._repeat(actor, earlier, invoice_id, key)
        answer = await self._runner.run(
            actor,
            realm_id,
            kind=SEND_REMINDER,
            key=key,
            payload=reminder_payload(checked),
            effects=[],
        )
        return await self._out(actor, answer), answer.http_status

    async def _repeat(self, actor: Actor, earlier: Any, invoice_id: str, key: str) -> tuple[ReminderOut, int]:
        if earlier.kind != SEND_REMINDER or str(earlier.payload.get("invoice_id")) != invoice_id:
            raise IdempotencyKeyReused()
        answer = await self._runner.replay(actor, earlier, key)
        return await self._out(actor, answer), answer.http_status

    async def _out(self, actor: Actor, answer: ActionAnswer) -> ReminderOut:
        payload = answer.outcome.result or {}
        claims = CooldownClaims(self._runner.sessionmaker)
        customer_id = str(payload.get("customer_id", ""))
        async with unit_of_work(self._runner.sessionmaker) as session:
            action = await session.get(QBOAction, answer.outcome.action_id)
            request = dict(action.payload) if action is not None else {}
        customer_id = customer_id or str(request.get("customer_id", ""))
        sent_at = await claims.sent_at(actor.business_id, customer_id, answer.outcome.action_id) or utcnow()
        return ReminderOut(
            action_id=answer.outcome.action_id,
            status=answer.status,
            invoice_id=str(request.get("invoice_id", payload.get("invoice_id", ""))),
            customer_id=customer_id,
            sent_to=str(request.get("send_to", payload.get("sent_to", ""))),
            message=SENT_MESSAGE if answer.succeeded else CONFIRMING_MESSAGE,
            repeated=answer.outcome.repeated,
            next_reminder_from=sent_at + REMINDER_COOLDOWN,
            receipt=payload if answer.succeeded else None,
            impact=answer.impact,
        )


def reminder_payload(checked: CheckedReminder) -> dict[str, Any]:
    return {"invoice_id": checked.invoice_id, "customer_id": checked.customer_id, "send_to": checked.send_to}
