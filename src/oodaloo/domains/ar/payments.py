"""Recording a customer's payment in QuickBooks: a Payment applied to one invoice, deposited to a bank account or to
Undeposited Funds, checked against the mirror before it is sent, run as the ``invoice.record_payment`` action exactly
once, and recorded in the mirror from QuickBooks' answer in the transaction that settles it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.ap.schemas import CENTS, QBOId, WrittenDate, plain_amount
from oodaloo.domains.core.action_handlers import (
    QBOActionHandler,
    find_marked,
    qbo_handler_factory,
    still_written,
)
from oodaloo.domains.core.action_runner import (
    CONFIRMING_MESSAGE,
    ActionAnswer,
    ActionRunner,
    Actor,
    IdempotencyKeyReused,
)
from oodaloo.domains.core.impact import ActionImpactOut, CashEffect, EffectKind
from oodaloo.domains.core.models import today_in
from oodaloo.domains.core.receipts import receipt
from oodaloo.domains.qbo.auth import ConnectionService
from oodaloo.domains.qbo.client import quote
from oodaloo.domains.qbo.mirror_models import (
    MirroredAccount,
    MirroredInvoice,
    MirrorStatus,
    Raw,
    raw_of,
    ref_id,
    ref_name,
)
from oodaloo.domains.qbo.mirror_payments import record_payment
from oodaloo.domains.qbo.mirror_repository import MirrorRepository, SyncStateRepository
from oodaloo.domains.qbo.schemas import LinkedTxn, Payment, PaymentLine, Ref
from oodaloo.infra.db.session import unit_of_work
from oodaloo.infra.jobs.smart_sync import (
    ActionContext,
    ActionHandlerFactory,
    ActionResult,
    SmartSyncService,
)
from oodaloo.infra.web.errors import Conflict, InvalidInput, NotFound

RECORD_PAYMENT = "invoice.record_payment"
PAYMENT = "Payment"
UNDEPOSITED_FUNDS_SUBTYPE = "UndepositedFunds"
# A payment received is recorded on the day it came (at most a year back: older lands in a closed period) and never
# ahead: money not yet received is a forecast, not a payment.
PAYMENT_DATE_MAX_DAYS_BACK = 365
RECORDED_MESSAGE = "Recorded in QuickBooks."
ZERO = Decimal("0.00")
# QBO's element names on a Payment → the request field the client can change.
FIELD_OF_ELEMENT = {
    "TotalAmt": "amount",
    "Line": "amount",
    "Line.Amount": "amount",
    "DepositToAccountRef": "deposit_to_account_id",
    "Line.LinkedTxn": "invoice_id",
    "Line.LinkedTxn.TxnId": "invoice_id",
    "CustomerRef": "invoice_id",
    "TxnDate": "payment_date",
}


# ------------------------------------------------------------------------------------------------------- errors
class InvoiceNotFound(NotFound):
    code = "invoice_not_found"

    def __init__(self, invoice_id: str, why: str = "has no") -> None:
        super().__init__(f"QuickBooks {why} invoice {invoice_id}.", field="invoice_id")


class InvoiceAlreadyPaid(Conflict):
    code = "invoice_paid"

    def __init__(self, invoice_id: str) -> None:
        super().__init__(f"Invoice {invoice_id} is paid in full.", field="invoice_id")


class AmountOverInvoiceBalance(InvalidInput):
    code = "amount_over_balance"

    def __init__(self, amount: Decimal, balance: Decimal) -> None:
        super().__init__(
            f"The amount {amount.quantize(CENTS)} is more than the invoice's open balance {balance.quantize(CENTS)}.",
            field="amount",
        )


class DepositAccountNotUsable(InvalidInput):
    code = "account_not_usable"

    def __init__(self, reason: str) -> None:
        super().__init__(reason, field="deposit_to_account_id")


class PaymentDateNotAllowed(InvalidInput):
    code = "payment_date_out_of_range"

    def __init__(self, message: str) -> None:
        super().__init__(message, field="payment_date")


# ------------------------------------------------------------------------------------------------------ schemas
class RecordPaymentIn(BaseModel):
    """``amount`` as a plain decimal, applied to the invoice; deposited to ``deposit_to_account_id`` (a Bank account
    or Undeposited Funds; Undeposited Funds when left out); ``payment_date`` defaults to today in the business's time
    zone."""

    model_config = ConfigDict(extra="forbid")

    amount: Decimal = Field(gt=0, max_digits=15, decimal_places=2, allow_inf_nan=False)
    deposit_to_account_id: QBOId | None = None
    payment_date: WrittenDate | None = None

    @field_validator("amount", mode="before")
    @classmethod
    def _plain_decimal(cls, value: Any) -> Any:
        return plain_amount(value)


class CustomerPaymentOut(BaseModel):
    action_id: uuid.UUID
    status: str = Field(description="succeeded, or pending_verification while QuickBooks' answer is confirmed.")
    invoice_id: str
    payment_id: str | None
    amount: str
    deposit_to_account_id: str | None = Field(description="Null: QuickBooks' Undeposited Funds.")
    payment_date: date
    message: str
    repeated: bool
    receipt: dict[str, Any] | None
    impact: ActionImpactOut | None


# ------------------------------------------------------------------------------------------------------ checking
@dataclass(frozen=True)
class CheckedPayment:
    """A customer payment the mirror says can be recorded."""

    invoice_id: str
    customer_id: str
    name: str  # "Acme, invoice 1042"
    balance: Decimal
    deposit_account_id: str | None  # None: QBO's own Undeposited Funds
    reaches_bank: bool


async def check_customer_payment(
    session: AsyncSession,
    business_id: uuid.UUID,
    invoice_id: str,
    amount: Decimal,
    deposit_account_id: str | None,
    *,
    already: Decimal = ZERO,
) -> CheckedPayment:
    """Against the synced mirror: the invoice is live and open for ``amount`` (beyond ``already``, what earlier
    actions of a plan apply to it), the account takes deposits."""
    await SyncStateRepository(session, business_id).require_synced()
    invoice = await live_invoice(session, business_id, invoice_id)
    balance = (invoice.balance if invoice.balance is not None else ZERO) - already
    if balance <= 0:
        raise InvoiceAlreadyPaid(invoice_id)
    if amount > balance:
        raise AmountOverInvoiceBalance(amount, balance)
    account_id, reaches_bank = await _deposit_account(session, business_id, deposit_account_id)
    assert invoice.customer_id is not None
    return CheckedPayment(invoice_id, invoice.customer_id, invoice_name(invoice), balance, account_id, reaches_bank)


async def live_invoice(session: AsyncSession, business_id: uuid.UUID, invoice_id: str) -> MirroredInvoice:
    row = (await MirrorRepository.of(session, business_id, "Invoice").by_qbo_ids([invoice_id])).get(invoice_id)
    if not isinstance(row, MirroredInvoice) or row.status is MirrorStatus.DELETED or row.customer_id is None:
        raise InvoiceNotFound(invoice_id)
    if row.status is not MirrorStatus.ACTIVE:
        raise InvoiceNotFound(invoice_id, why=f"shows as {row.status.value}:")
    return row


def invoice_name(invoice: MirroredInvoice) -> str:
    name = ref_name(invoice.raw, "CustomerRef")
    number = f"invoice {invoice.doc_number}" if invoice.doc_number else f"invoice #{invoice.qbo_id}"
    return f"{name or 'Customer ' + str(invoice.customer_id)}, {number}"


async def _deposit_account(
    session: AsyncSession, business_id: uuid.UUID, account_id: str | None
) -> tuple[str | None, bool]:
    accounts = MirrorRepository.of(session, business_id, "Account")
    if account_id is None:
        statement = accounts.select().where(
            MirroredAccount.account_sub_type == UNDEPOSITED_FUNDS_SUBTYPE, MirroredAccount.status == MirrorStatus.ACTIVE
        )
        found = [row for row in await accounts.all(statement) if isinstance(row, MirroredAccount)]
        return (found[0].qbo_id if found else None), False
    row = (await accounts.by_qbo_ids([account_id])).get(account_id)
    if not isinstance(row, MirroredAccount) or row.status is MirrorStatus.DELETED:
        raise DepositAccountNotUsable(f"QuickBooks has no account {account_id}.")
    label = row.name or account_id
    if row.status is not MirrorStatus.ACTIVE or row.active is False:
        raise DepositAccountNotUsable(f"Account {label} is inactive in QuickBooks.")
    if row.account_type == "Bank":
        return account_id, True
    if row.account_sub_type == UNDEPOSITED_FUNDS_SUBTYPE:
        return account_id, False
    raise DepositAccountNotUsable(
        f"Payments are deposited to a Bank account or to Undeposited Funds; {label} is "
        f"{row.account_type or 'of no known type'}."
    )


def payment_date(requested: date | None, timezone: str) -> date:
    today = today_in(timezone)
    if requested is None:
        return today
    earliest = today - timedelta(days=PAYMENT_DATE_MAX_DAYS_BACK)
    if not earliest <= requested <= today:
        raise PaymentDateNotAllowed(
            f"payment_date must lie between {earliest.isoformat()} and today, {today.isoformat()} (in the "
            "business's time zone): a payment is recorded on the day it was received."
        )
    return requested


def payment_effect(checked: CheckedPayment, amount: Decimal, on: date) -> CashEffect:
    return CashEffect(
        EffectKind.COLLECT_INVOICE,
        checked.invoice_id,
        amount=amount,
        on=on,
        reaches_bank=checked.reaches_bank,
        name=checked.name,
    )


# ------------------------------------------------------------------------------------------------------- action
@dataclass(frozen=True)
class RecordPaymentPayload:
    invoice_id: str
    customer_id: str
    amount: Decimal
    deposit_account_id: str | None
    txn_date: date

    def to_payload(self) -> dict[str, Any]:
        return {
            "invoice_id": self.invoice_id,
            "customer_id": self.customer_id,
            "amount": self.amount,
            "deposit_account_id": self.deposit_account_id,
            "txn_date": self.txn_date,
        }

    @classmethod
    def of(cls, payload: dict[str, Any]) -> RecordPaymentPayload:
        account = payload.get("deposit_account_id")
        return cls(
            invoice_id=str(payload["invoice_id"]),
            customer_id=str(payload["customer_id"]),
            amount=Decimal(str(payload["amount"])),
            deposit_account_id=None if account is None else str(account),
            txn_date=date.fromisoformat(str(payload["txn_date"])),
        )

    def payment(self, marker: str) -> Payment:
        return Payment(
            customer_ref=Ref(value=self.customer_id),
            total_amt=self.amount,
            txn_date=self.txn_date,
            private_note=marker,
            deposit_to_account_ref=None if self.deposit_account_id is None else Ref(value=self.deposit_account_id),
            line=[PaymentLine(amount=self.amount, linked_txn=[LinkedTxn(txn_id=self.invoice_id, txn_type="Invoice")])],
        )


class RecordPaymentHandler(QBOActionHandler):
    """Runs ``invoice.record_payment`` for one business."""

    async def perform(self, ctx: ActionContext) -> ActionResult:
        payload = RecordPaymentPayload.of(ctx.payload)
        created = await self._create(ctx, payload.payment(ctx.marker), what="the payment", fields=FIELD_OF_ELEMENT)
        return _result(created, payload, ctx.business_id)

    async def find(self, ctx: ActionContext) -> ActionResult | None:
        payload = RecordPaymentPayload.of(ctx.payload)
        where = f"CustomerRef = {quote(payload.customer_id)} AND TxnDate = {quote(payload.txn_date.isoformat())}"
        found = await find_marked(self._client(ctx), Payment, where=where, marker=ctx.marker)
        return None if found is None else _result(found, payload, ctx.business_id)

    async def check(self, ctx: ActionContext, done: ActionResult) -> dict[str, Any] | None:
        return await still_written(self._client(ctx), Payment, done.qbo_id)


def _result(payment: Payment, payload: RecordPaymentPayload, business_id: uuid.UUID) -> ActionResult:
    if payment.id is None:
        raise ValueError("QuickBooks answered with a Payment without an Id")
    raw = raw_of(payment)

    async def mirror(session: AsyncSession) -> None:
        await record_customer_payment(session, business_id, raw)

    linked = [link.txn_id for line in payment.line for link in line.linked_txn if link.txn_type in (None, "Invoice")]
    deposited = payment.deposit_to_account_ref.value if payment.deposit_to_account_ref is not None else None
    asked: dict[str, Any] = {"amount": payload.amount, "invoice_id": payload.invoice_id}
    answered: dict[str, Any] = {"amount": payment.total_amt, "invoice_id": ",".join(linked)}
    if payload.deposit_account_id is not None:
        asked["account_id"], answered["account_id"] = payload.deposit_account_id, deposited
    answered_amount = payment.total_amt if payment.total_amt is not None else payload.amount
    return ActionResult(
        qbo_entity=PAYMENT,
        qbo_id=payment.id,
        result={
            **receipt(
                qbo_entity=PAYMENT, qbo_id=payment.id, sync_token=payment.sync_token, asked=asked, answered=answered
            ),
            "invoice_id": payload.invoice_id,
            "payment_id": payment.id,
            "amount": str(answered_amount.quantize(CENTS)),
            "deposit_to_account_id": deposited,
            "payment_date": (payment.txn_date or payload.txn_date).isoformat(),
        },
        on_settle=mirror,
    )


def record_payment_handler_factory(sync: SmartSyncService, connections: ConnectionService) -> ActionHandlerFactory:
    """What SmartSync registers for ``invoice.record_payment``."""
    return qbo_handler_factory(RecordPaymentHandler, sync, connections)


# --------------------------------------------------------------------------------------- its mark on the mirror
async def record_customer_payment(session: AsyncSession, business_id: uuid.UUID, payment: Raw) -> None:
    """The Payment QBO answered, and what QBO did with it that its answer does not carry: each invoice paid loses the
    line's amount from its Balance and lists the payment in its LinkedTxn; the deposit account is debited, the A/R
    account credited and the customer's balance lowered by the total."""
    await record_payment(
        session,
        business_id,
        payment,
        entity=PAYMENT,
        pays="Invoice",
        link_type=PAYMENT,
        debited=ref_id(payment, "DepositToAccountRef"),
        credited=ref_id(payment, "ARAccountRef"),
        party="Customer",
        party_id=ref_id(payment, "CustomerRef"),
    )


# ------------------------------------------------------------------------------------------------------ service
class CustomerPaymentService:
    """Records customer payments for the API (a boundary: short units of work, none across the call to QBO)."""

    def __init__(self, runner: ActionRunner) -> None:
        self._runner = runner

    async def record(
        self, actor: Actor, invoice_id: str, request: RecordPaymentIn, key: str
    ) -> tuple[CustomerPaymentOut, int]:
        """Record ``request.amount`` received against ``invoice_id``; a repeated ``key`` answers the first outcome."""
        earlier = await self._runner.earlier(actor.business_id, key)
        if earlier is not None:
            return await self._repeat(actor, earlier, invoice_id, request, key)
        txn_date = payment_date(request.payment_date, actor.timezone)
        realm_id = await self._runner.realm_of(actor.business_id)
        try:
            async with unit_of_work(self._runner.sessionmaker) as session:
                checked = await check_customer_payment(
                    session, actor.business_id, invoice_id, request.amount, request.deposit_to_account_id
                )
        except (InvalidInput, NotFound, Conflict):
            # Two copies of one request at once: the other may have recorded it since the key was looked up.
            earlier = await self._runner.earlier(actor.business_id, key)
            if earlier is None:
                raise
            return await self._repeat(actor, earlier, invoice_id, request, key)
        payload = RecordPaymentPayload(
            invoice_id, checked.customer_id, request.amount, checked.deposit_account_id, txn_date
        )
        answer = await self._runner.run(
            actor,
            realm_id,
            kind=RECORD_PAYMENT,
            key=key,
            payload=payload.to_payload(),
            effects=[payment_effect(checked, request.amount, txn_date)],
        )
        return customer_payment_out(answer, payload), answer.http_status

    async def _repeat(
        self, actor: Actor, earlier: Any, invoice_id: str, request: RecordPaymentIn, key: str
    ) -> tuple[CustomerPaymentOut, int]:
        if earlier.kind != RECORD_PAYMENT:
            raise IdempotencyKeyReused()
        first = RecordPaymentPayload.of(earlier.payload)
        same = (
            first.invoice_id == invoice_id
            and first.amount == request.amount
            and (request.deposit_to_account_id in (None, first.deposit_account_id))
            and (request.payment_date is None or request.payment_date == first.txn_date)
        )
        if not same:
            raise IdempotencyKeyReused()
        answer = await self._runner.replay(actor, earlier, key)
        return customer_payment_out(answer, first), answer.http_status


def customer_payment_out(answer: ActionAnswer, payload: RecordPaymentPayload) -> CustomerPaymentOut:
    result = answer.result
    return CustomerPaymentOut(
        action_id=answer.outcome.action_id,
        status=answer.status,
        invoice_id=payload.invoice_id,
        payment_id=answer.outcome.qbo_id if answer.succeeded else None,
        amount=str(payload.amount.quantize(CENTS)),
        deposit_to_account_id=result.get("deposit_to_account_id", payload.deposit_account_id),
        payment_date=date.fromisoformat(str(result.get("payment_date", payload.txn_date.isoformat()))),
        message=RECORDED_MESSAGE if answer.succeeded else CONFIRMING_MESSAGE,
        repeated=answer.outcome.repeated,
        receipt=result if answer.succeeded else None,
        impact=answer.impact,
    )
