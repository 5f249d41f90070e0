"""The ``bill.pay`` action: create one BillPayment in QBO exactly once (SmartSync's action log runs it), find it again
by its marker, and check later that QBO still shows it. The payment QBO answered is recorded in the mirror in the
transaction that settles the action (no read after the write)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.ap.mirror import record_bill_payment
from oodaloo.domains.ap.scheduled_models import mark_scheduled_payment_paid
from oodaloo.domains.ap.schemas import CENTS
from oodaloo.domains.core.action_handlers import (
    QBOActionHandler,
    find_marked,
    qbo_handler_factory,
    still_written,
)
from oodaloo.domains.core.receipts import receipt
from oodaloo.domains.qbo.auth import ConnectionService
from oodaloo.domains.qbo.client import quote
from oodaloo.domains.qbo.mirror_models import raw_of
from oodaloo.domains.qbo.schemas import BillPayment, CheckPayment, CreditCardPayment, LinkedTxn, PaymentLine, Ref
from oodaloo.infra.jobs.smart_sync import (
    ActionContext,
    ActionHandlerFactory,
    ActionResult,
    SmartSyncService,
)

PAY_BILL = "bill.pay"
BILL_PAYMENT = "BillPayment"
CHECK = "Check"
CREDIT_CARD = "CreditCard"


@dataclass(frozen=True)
class PayBillPayload:
    """The action's payload, as stored on the action (canonical: amounts and dates as strings)."""

    bill_id: str
    vendor_id: str
    amount: Decimal
    account_id: str
    pay_type: str  # "Check" (from a Bank account) or "CreditCard"
    txn_date: date
    # Set when a scheduled payment is being made: the success also ends its earmark (same transaction).
    scheduled_payment_id: uuid.UUID | None = None

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "bill_id": self.bill_id,
            "vendor_id": self.vendor_id,
            "amount": self.amount,
            "account_id": self.account_id,
            "pay_type": self.pay_type,
            "txn_date": self.txn_date,
        }
        if self.scheduled_payment_id is not None:
            payload["scheduled_payment_id"] = self.scheduled_payment_id
        return payload

    @classmethod
    def of(cls, payload: dict[str, Any]) -> PayBillPayload:
        scheduled = payload.get("scheduled_payment_id")
        return cls(
            bill_id=str(payload["bill_id"]),
            vendor_id=str(payload["vendor_id"]),
            amount=Decimal(str(payload["amount"])),
            account_id=str(payload["account_id"]),
            pay_type=str(payload["pay_type"]),
            txn_date=date.fromisoformat(str(payload["txn_date"])),
            scheduled_payment_id=None if scheduled is None else uuid.UUID(str(scheduled)),
        )

    def bill_payment(self, marker: str) -> BillPayment:
        account = Ref(value=self.account_id)
        return BillPayment(
            vendor_ref=Ref(value=self.vendor_id),
            pay_type=self.pay_type,
            check_payment=CheckPayment(bank_account_ref=account) if self.pay_type == CHECK else None,
            credit_card_payment=CreditCardPayment(cc_account_ref=account) if self.pay_type == CREDIT_CARD else None,
            total_amt=self.amount,
            txn_date=self.txn_date,
            private_note=marker,
            line=[PaymentLine(amount=self.amount, linked_txn=[LinkedTxn(txn_id=self.bill_id, txn_type="Bill")])],
        )


class PayBillHandler(QBOActionHandler):
    """Runs ``bill.pay`` for one business: each step talks to QBO with the priority and deadline of its context."""

    async def perform(self, ctx: ActionContext) -> ActionResult:
        payload = PayBillPayload.of(ctx.payload)
        created = await self._create(ctx, payload.bill_payment(ctx.marker), what="the payment")
        return _result(created, payload, ctx)

    async def find(self, ctx: ActionContext) -> ActionResult | None:
        payload = PayBillPayload.of(ctx.payload)
        where = f"VendorRef = {quote(payload.vendor_id)} AND TxnDate = {quote(payload.txn_date.isoformat())}"
        found = await find_marked(self._client(ctx), BillPayment, where=where, marker=ctx.marker)
        return None if found is None else _result(found, payload, ctx)

    async def check(self, ctx: ActionContext, done: ActionResult) -> dict[str, Any] | None:
        return await still_written(self._client(ctx), BillPayment, done.qbo_id)


def _result(payment: BillPayment, payload: PayBillPayload, ctx: ActionContext) -> ActionResult:
    if payment.id is None:
        raise ValueError("QuickBooks answered with a BillPayment without an Id")
    payment_id = payment.id
    raw = raw_of(payment)
    business_id = ctx.business_id

    async def mirror(session: AsyncSession) -> None:
        await record_bill_payment(session, business_id, raw)
        if payload.scheduled_payment_id is not None:
            await mark_scheduled_payment_paid(
                session, payload.scheduled_payment_id, action_id=ctx.action_id, bill_payment_id=payment_id
            )

    paid_from = payment.check_payment.bank_account_ref if payment.check_payment is not None else None
    if payment.credit_card_payment is not None and payment.credit_card_payment.cc_account_ref is not None:
        paid_from = payment.credit_card_payment.cc_account_ref
    linked = [link.txn_id for line in payment.line for link in line.linked_txn if link.txn_type in (None, "Bill")]
    answered_amount = payment.total_amt if payment.total_amt is not None else payload.amount
    return ActionResult(
        qbo_entity=BILL_PAYMENT,
        qbo_id=payment_id,
        result={
            **receipt(
                qbo_entity=BILL_PAYMENT,
                qbo_id=payment_id,
                sync_token=payment.sync_token,
                asked={"amount": payload.amount, "bill_id": payload.bill_id, "account_id": payload.account_id},
                answered={
                    "amount": payment.total_amt,
                    "bill_id": linked[0] if len(linked) == 1 else ",".join(linked),
                    "account_id": None if paid_from is None else paid_from.value,
                },
            ),
            "bill_id": payload.bill_id,
            "bill_payment_id": payment_id,
            "amount": str(answered_amount.quantize(CENTS)),
            "pay_from_account_id": payload.account_id,
            "payment_date": (payment.txn_date or payload.txn_date).isoformat(),
        },
        on_settle=mirror,
    )


def pay_bill_handler_factory(sync: SmartSyncService, connections: ConnectionService) -> ActionHandlerFactory:
    """What SmartSync registers for ``bill.pay``: a handler with the business's QBO credentials."""
    return qbo_handler_factory(PayBillHandler, sync, connections)
