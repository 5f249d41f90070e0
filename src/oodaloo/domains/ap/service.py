"""Paying a bill: check the request against QuickBooks' current data, then run the ``bill.pay`` action exactly once."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oodaloo.domains.ap.actions import CHECK, CREDIT_CARD, PAY_BILL, PayBillPayload
from oodaloo.domains.ap.errors import (
    AccountNotUsable,
    AmountOverBalance,
    BillAlreadyPaid,
    BillNotFound,
    IdempotencyKeyConflict,
    QBOUnavailableNow,
    api_error_from,
    connection_error,
    failed_action_error,
)
from oodaloo.domains.ap.repository import ActionRepository
from oodaloo.domains.ap.schemas import CENTS, ActionOut, BillPaymentOut, PayBillIn
from oodaloo.domains.qbo.auth import ConnectionService
from oodaloo.domains.qbo.client import QBOClient
from oodaloo.domains.qbo.errors import QBOError, QBONotFound, QBOValidationError
from oodaloo.domains.qbo.schemas import Account, Bill
from oodaloo.infra.db.session import unit_of_work
from oodaloo.infra.jobs.models import ActionStatus, QBOAction
from oodaloo.infra.jobs.smart_sync import ActionOutcome, IdempotencyConflict, Priority, SmartSyncService

# How long a user waits on QuickBooks for one step of paying a bill (validating, then the write) unless configured.
USER_ACTION_DEADLINE = 8.0
PAY_TYPE_OF_ACCOUNT = {"Bank": CHECK, "Credit Card": CREDIT_CARD}
PAID_MESSAGE = "Paid in QuickBooks."
CONFIRMING_MESSAGE = "The payment was sent and is being confirmed with QuickBooks."


@dataclass(frozen=True)
class Payer:
    """Who pays and for which business."""

    business_id: uuid.UUID
    timezone: str
    user_id: uuid.UUID


@dataclass(frozen=True)
class PaymentAnswer:
    """The API's answer: ``body`` with HTTP 200 when settled, 202 while QuickBooks is being asked."""

    body: BillPaymentOut

    @property
    def http_status(self) -> int:
        return 200 if self.body.status == "succeeded" else 202


class BillService:
    """A boundary: every database access runs in its own short unit of work, never across a call to QBO."""

    def __init__(
        self,
        *,
        sync: SmartSyncService,
        connections: ConnectionService,
        sessionmaker: async_sessionmaker[AsyncSession],
        deadline_seconds: float = USER_ACTION_DEADLINE,
    ) -> None:
        self._sync = sync
        self._connections = connections
        self._sessionmaker = sessionmaker
        self._deadline_seconds = deadline_seconds

    async def pay(self, payer: Payer, bill_id: str, request: PayBillIn, idempotency_key: str | None) -> PaymentAnswer:
        """Pay ``request.amount`` of ``bill_id``. A repeated ``idempotency_key`` returns the first outcome, without
        asking QuickBooks again (the bill is paid by then)."""
        key = idempotency_key or f"auto-{uuid.uuid4().hex}"
        earlier = await self._earlier(payer.business_id, key)
        if earlier is not None:
            return await self._repeat(payer, earlier, bill_id, request, key)
        realm_id = await self._realm_of(payer.business_id)
        client = QBOClient(
            self._sync,
            self._connections.credentials(payer.business_id),
            realm_id,
            priority=Priority.USER,
            deadline=time.monotonic() + self._deadline_seconds,
        )
        bill = await self._open_bill(client, bill_id, request.amount)
        pay_type = await self._pay_type(client, request.pay_from_account_id)
        payload = PayBillPayload(
            bill_id=bill_id,
            vendor_id=_vendor_of(bill, bill_id),
            amount=request.amount,
            account_id=request.pay_from_account_id,
            pay_type=pay_type,
            txn_date=request.payment_date or _today_in(payer.timezone),
        )
        return await self._execute(payer, realm_id, key, payload)

    async def action(self, business_id: uuid.UUID, action_id: uuid.UUID) -> ActionOut | None:
        async with unit_of_work(self._sessionmaker) as session:
            row = await ActionRepository(session, business_id).by_id(action_id)
            return None if row is None else _action_out(row)

    # ----------------------------------------------------------------------------------------------- internals
    async def _earlier(self, business_id: uuid.UUID, key: str) -> QBOAction | None:
        async with unit_of_work(self._sessionmaker) as session:
            row = await ActionRepository(session, business_id).by_key(key)
            if row is not None:
                session.expunge(row)
            return row

    async def _repeat(
        self, payer: Payer, earlier: QBOAction, bill_id: str, request: PayBillIn, key: str
    ) -> PaymentAnswer:
        if earlier.kind != PAY_BILL:
            raise IdempotencyKeyConflict()
        first = PayBillPayload.of(earlier.payload)
        same = (
            first.bill_id == bill_id
            and first.amount == request.amount
            and first.account_id == request.pay_from_account_id
            and (request.payment_date is None or request.payment_date == first.txn_date)
        )
        if not same:
            raise IdempotencyKeyConflict()
        # The same payload again: the action log answers with the first outcome, waiting for it if still running.
        return await self._execute(payer, earlier.realm_id, key, first)

    async def _realm_of(self, business_id: uuid.UUID) -> str:
        state = await self._connections.status(business_id)
        if state.status != "connected" or state.realm_id is None:
            raise connection_error(state.message or "")
        return state.realm_id

    async def _open_bill(self, client: QBOClient, bill_id: str, amount: Decimal) -> Bill:
        try:
            bill = await client.read(Bill, bill_id)
        except QBOValidationError as error:
            # QBO answers a malformed id (not a number) with a validation fault: there is no such bill either way.
            raise BillNotFound(bill_id) from error
        except QBOError as error:
            raise api_error_from(error, bill_id=bill_id) from error
        if bill.is_deleted:
            raise BillNotFound(bill_id)
        balance = bill.balance if bill.balance is not None else Decimal(0)
        if balance <= 0:
            raise BillAlreadyPaid(bill_id)
        if amount > balance:
            raise AmountOverBalance(_money(amount), _money(balance))
        return bill

    async def _pay_type(self, client: QBOClient, account_id: str) -> str:
        try:
            account = await client.read(Account, account_id)
        except (QBONotFound, QBOValidationError) as error:
            raise AccountNotUsable(f"QuickBooks has no account {account_id}.") from error
        except QBOError as error:
            raise api_error_from(error, bill_id="") from error
        if account.active is False:
            raise AccountNotUsable(f"Account {account.name or account_id} is inactive in QuickBooks.")
        pay_type = PAY_TYPE_OF_ACCOUNT.get(account.account_type or "")
        if pay_type is None:
            raise AccountNotUsable(
                f"Bills are paid from a Bank or Credit Card account; {account.name or account_id} is "
                f"{account.account_type or 'of no known type'}."
            )
        return pay_type

    async def _execute(self, payer: Payer, realm_id: str, key: str, payload: PayBillPayload) -> PaymentAnswer:
        try:
            outcome = await self._sync.execute_action(
                business_id=payer.business_id,
                realm_id=realm_id,
                kind=PAY_BILL,
                idempotency_key=key,
                payload=payload.to_payload(),
                user_id=payer.user_id,
                deadline_seconds=self._deadline_seconds,
            )
        except IdempotencyConflict as conflict:
            raise IdempotencyKeyConflict() from conflict
        return _answer(outcome, payload)


def _answer(outcome: ActionOutcome, payload: PayBillPayload) -> PaymentAnswer:
    if outcome.status is ActionStatus.FAILED:
        field = (outcome.result or {}).get("field")
        message = outcome.error_message or ""
        if field:
            message = message.removesuffix(f" (field: {field})")
        raise failed_action_error(outcome.error_code, message, field)
    succeeded = outcome.status is ActionStatus.SUCCEEDED
    result = outcome.result or {}
    body = BillPaymentOut(
        action_id=outcome.action_id,
        status="succeeded" if succeeded else "pending_verification",
        bill_id=payload.bill_id,
        bill_payment_id=outcome.qbo_id if succeeded else None,
        amount=_money(payload.amount),
        pay_from_account_id=payload.account_id,
        payment_date=date.fromisoformat(str(result.get("payment_date", payload.txn_date.isoformat()))),
        message=PAID_MESSAGE if succeeded else CONFIRMING_MESSAGE,
        repeated=outcome.repeated,
    )
    return PaymentAnswer(body)


def _vendor_of(bill: Bill, bill_id: str) -> str:
    if bill.vendor_ref is None:
        raise QBOUnavailableNow(f"QuickBooks sent bill {bill_id} without its vendor; try again shortly.")
    return bill.vendor_ref.value


def _today_in(timezone: str) -> date:
    return datetime.now(ZoneInfo(timezone)).date()


def _money(amount: Decimal) -> str:
    return str(amount.quantize(CENTS))


def _action_out(row: QBOAction) -> ActionOut:
    return ActionOut(
        action_id=row.id,
        kind=row.kind,
        status=row.status.value,
        attempts=row.attempts,
        qbo_entity=row.qbo_entity,
        qbo_id=row.qbo_id,
        error_code=row.error_code,
        error_message=row.error_message,
        created_at=row.created_at,
        completed_at=row.completed_at,
        drift=row.drift,
    )
