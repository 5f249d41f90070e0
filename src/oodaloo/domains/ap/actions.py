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

from oodaloo.domains.ap.errors import (
    NOT_CONNECTED_CODE,
    QBO_VALIDATION_CODE,
    RECONNECT_REQUIRED_CODE,
    field_of_element,
    qbo_message,
)
from oodaloo.domains.ap.mirror import raw_of, record_bill_payment
from oodaloo.domains.ap.schemas import CENTS
from oodaloo.domains.qbo.auth import ConnectionService
from oodaloo.domains.qbo.client import QBOClient, quote
from oodaloo.domains.qbo.errors import (
    QBOAuthError,
    QBODuplicate,
    QBONotConnected,
    QBONotFound,
    QBOReconnectRequired,
    QBOValidationError,
)
from oodaloo.domains.qbo.schemas import BillPayment, CheckPayment, CreditCardPayment, LinkedTxn, PaymentLine, Ref
from oodaloo.infra.jobs.smart_sync import (
    ActionContext,
    ActionHandler,
    ActionHandlerFactory,
    ActionRejected,
    ActionResult,
    Credentials,
    SmartSyncService,
)

PAY_BILL = "bill.pay"
BILL_PAYMENT = "BillPayment"
CHECK = "Check"
CREDIT_CARD = "CreditCard"
# QBO prefixes a voided payment's memo with this (and zeroes its total).
VOIDED_NOTE_PREFIX = "Voided"


@dataclass(frozen=True)
class PayBillPayload:
    """The action's payload, as stored on the action (canonical: amounts and dates as strings)."""

    bill_id: str
    vendor_id: str
    amount: Decimal
    account_id: str
    pay_type: str  # "Check" (from a Bank account) or "CreditCard"
    txn_date: date

    def to_payload(self) -> dict[str, Any]:
        return {
            "bill_id": self.bill_id,
            "vendor_id": self.vendor_id,
            "amount": self.amount,
            "account_id": self.account_id,
            "pay_type": self.pay_type,
            "txn_date": self.txn_date,
        }

    @classmethod
    def of(cls, payload: dict[str, Any]) -> PayBillPayload:
        return cls(
            bill_id=str(payload["bill_id"]),
            vendor_id=str(payload["vendor_id"]),
            amount=Decimal(str(payload["amount"])),
            account_id=str(payload["account_id"]),
            pay_type=str(payload["pay_type"]),
            txn_date=date.fromisoformat(str(payload["txn_date"])),
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


class PayBillHandler:
    """Runs ``bill.pay`` for one business: each step talks to QBO with the priority and deadline of its context."""

    def __init__(self, sync: SmartSyncService, credentials: Credentials, realm_id: str) -> None:
        self._sync = sync
        self._credentials = credentials
        self._realm_id = realm_id

    def _client(self, ctx: ActionContext) -> QBOClient:
        return QBOClient(self._sync, self._credentials, self._realm_id, priority=ctx.priority, deadline=ctx.deadline)

    async def perform(self, ctx: ActionContext) -> ActionResult:
        payload = PayBillPayload.of(ctx.payload)
        try:
            created = await self._client(ctx).create(payload.bill_payment(ctx.marker), requestid=ctx.requestid)
        except QBOReconnectRequired as error:
            # Raised before the write was sent (no connection, or no token could be had): nothing reached QBO.
            code = NOT_CONNECTED_CODE if isinstance(error, QBONotConnected) else RECONNECT_REQUIRED_CODE
            raise ActionRejected(code, error.message) from error
        except (QBOValidationError, QBONotFound, QBODuplicate) as error:
            raise ActionRejected(QBO_VALIDATION_CODE, qbo_message(error), field_of_element(error.element)) from error
        except QBOAuthError as error:
            # 401/403 come from QBO's gateway before the request is processed: the payment was not written.
            raise ActionRejected("qbo_auth", qbo_message(error)) from error
        return _result(created, payload, ctx.business_id)

    async def find(self, ctx: ActionContext) -> ActionResult | None:
        payload = PayBillPayload.of(ctx.payload)
        where = f"VendorRef = {quote(payload.vendor_id)} AND TxnDate = {quote(payload.txn_date.isoformat())}"
        async for payment in self._client(ctx).query(BillPayment, where=where):
            if payment.private_note == ctx.marker:
                return _result(payment, payload, ctx.business_id)
        return None

    async def check(self, ctx: ActionContext, done: ActionResult) -> dict[str, Any] | None:
        try:
            payment = await self._client(ctx).read(BillPayment, done.qbo_id)
        except QBONotFound:
            return {"reason": "missing", "message": f"BillPayment {done.qbo_id} is no longer in QuickBooks"}
        if payment.is_deleted:
            return {"reason": "deleted", "message": f"BillPayment {done.qbo_id} was deleted in QuickBooks"}
        if (payment.private_note or "").startswith(VOIDED_NOTE_PREFIX) or payment.total_amt == 0:
            return {"reason": "voided", "message": f"BillPayment {done.qbo_id} was voided in QuickBooks"}
        return None


def _result(payment: BillPayment, payload: PayBillPayload, business_id: uuid.UUID) -> ActionResult:
    if payment.id is None:
        raise ValueError("QuickBooks answered with a BillPayment without an Id")
    raw = raw_of(payment)

    async def mirror(session: AsyncSession) -> None:
        await record_bill_payment(session, business_id, raw)

    return ActionResult(
        qbo_entity=BILL_PAYMENT,
        qbo_id=payment.id,
        result={
            "bill_id": payload.bill_id,
            "bill_payment_id": payment.id,
            "amount": str((payment.total_amt if payment.total_amt is not None else payload.amount).quantize(CENTS)),
            "pay_from_account_id": payload.account_id,
            "payment_date": (payment.txn_date or payload.txn_date).isoformat(),
        },
        on_settle=mirror,
    )


def pay_bill_handler_factory(sync: SmartSyncService, connections: ConnectionService) -> ActionHandlerFactory:
    """What SmartSync registers for ``bill.pay``: a handler with the business's QBO credentials."""

    async def factory(business_id: uuid.UUID, realm_id: str) -> ActionHandler:
        return PayBillHandler(sync, connections.credentials(business_id), realm_id)

    return factory
