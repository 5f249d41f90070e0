"""Listing and paying bills: the open bills and the accounts they can be paid from, and a payment checked before it is
sent, then run as the ``bill.pay`` action exactly once (which records its result in the mirror as it settles).

Once a business's mirror has been synced, everything is read from it: listing never waits on QuickBooks, and a
payment is checked there (bill open, amount within its balance, account usable), so paying is one QuickBooks round
trip whether or not the bills were listed first; a bill or account the mirror does not have yet (created since its last
sync) is read from QuickBooks. Until the first sync completes the mirror is empty for the business, and proves
nothing: listing reads QuickBooks, and a payment is checked against the snapshots a listing kept, else QuickBooks."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal, TypeVar

from oodaloo.domains.ap.actions import CHECK, CREDIT_CARD, PAY_BILL, PayBillPayload
from oodaloo.domains.ap.errors import (
    AccountNotUsable,
    BillNotFound,
    PaymentDateOutOfRange,
    failed_action_error,
    lookup_error,
    read_error,
)
from oodaloo.domains.ap.mirror import PayablesMirror, account_currency, account_name
from oodaloo.domains.ap.payables import PayablesService
from oodaloo.domains.ap.schemas import BillPaymentOut, OpenBillOut, PayBillIn, PayFromAccountOut
from oodaloo.domains.ap.snapshots import PAY_TYPE_OF_ACCOUNT, AccountSnapshot, BillSnapshot, SnapshotCache, money
from oodaloo.domains.core.action_runner import ActionRunner, Actor, IdempotencyKeyReused
from oodaloo.domains.core.impact import ActionImpactOut, CashEffect, EffectKind
from oodaloo.domains.core.models import today_in
from oodaloo.domains.qbo.client import QBOClient, quote
from oodaloo.domains.qbo.errors import QBOError, QBONotFound, QBOValidationError
from oodaloo.domains.qbo.mirror_models import MirroredAccount, MirroredBill, MirrorStatus
from oodaloo.domains.qbo.schemas import Account, Bill
from oodaloo.infra.db.session import unit_of_work
from oodaloo.infra.jobs.models import ActionStatus, QBOAction
from oodaloo.infra.jobs.smart_sync import ActionOutcome
from oodaloo.infra.web.errors import InvalidInput, NotFound

# What the errors call a bill payment ("already used for a different payment").
PAYMENT = "payment"
PAID_MESSAGE = "Paid in QuickBooks."
CONFIRMING_MESSAGE = "The payment was sent and is being confirmed with QuickBooks."
# A payment recorded after the fact (a check written last month) is routine; one dated more than a year back lands in
# a period the accountant has usually closed (QBO's closing date) and changes reports already filed: a mistyped year,
# not an intent. QBO itself takes any date, 0001-01-01 included.
PAYMENT_DATE_MAX_DAYS_BACK = 365
# A payment dated ahead must fall within the 13-week runway the console forecasts, or the forecast could not show it.
PAYMENT_DATE_MAX_DAYS_AHEAD = 13 * 7
OPEN_BILLS = "Balance > '0'"
PAY_FROM_ACCOUNTS = "AccountType IN (" + ", ".join(quote(kind) for kind in PAY_TYPE_OF_ACCOUNT) + ")"

A = TypeVar("A")
B = TypeVar("B")


@dataclass(frozen=True)
class PaymentAnswer:
    """The API's answer: ``body`` with HTTP 200 when settled, 202 while QuickBooks is being asked."""

    body: BillPaymentOut

    @property
    def http_status(self) -> int:
        return 200 if self.body.status == "succeeded" else 202


@dataclass(frozen=True)
class Mirrored:
    """What a synced mirror says of a payment's bill and account (None: not mirrored yet)."""

    bill: BillSnapshot | None
    bill_deleted: bool
    account: AccountSnapshot | None


class BillService:
    """A boundary: every database access runs in its own short unit of work, never across a call to QBO."""

    def __init__(self, runner: ActionRunner) -> None:
        self._runner = runner
        self._sync = runner.sync
        self._sessionmaker = runner.sessionmaker

    async def open_bills(self, business_id: uuid.UUID, timezone: str) -> list[OpenBillOut]:
        """The bills with a balance left, soonest due first: from the mirror once synced, each with its class (Must
        Pay / Can Delay), reason and dates. Read from QuickBooks before that (without decisions: they need the
        mirror), each bill and each Bank or Credit Card account is kept as a snapshot for a few minutes so that paying
        from this list needs QuickBooks only for the payment itself."""
        realm_id = await self._realm_of(business_id)
        async with unit_of_work(self._sessionmaker) as session:
            if await PayablesMirror(session, business_id).synced(realm_id):
                payables = PayablesService(session, business_id=business_id, timezone=timezone, realm_id=realm_id)
                return sorted(await payables.open_bills(), key=_soonest_due_first)
        client = self._runner.client(business_id, realm_id)
        try:
            bills, accounts = await _both(
                client.query_all(Bill, where=OPEN_BILLS), client.query_all(Account, where=PAY_FROM_ACCOUNTS)
            )
            listed = [(bill, BillSnapshot.of(bill, str(bill.id))) for bill in bills if _listable(bill)]
        except QBOError as error:
            raise read_error(error, realm_id) from error
        snapshots = SnapshotCache(self._sync, realm_id)
        await _keep_accounts(snapshots, accounts)
        for _, snapshot in listed:
            await snapshots.keep_bill(snapshot)
        return sorted((_open_bill_out(bill, snapshot) for bill, snapshot in listed), key=_soonest_due_first)

    async def pay_from_accounts(self, business_id: uuid.UUID) -> list[PayFromAccountOut]:
        """The active Bank and Credit Card accounts with their balances, banks first, then by name: from the mirror
        once synced; else from QuickBooks, kept as snapshots like the open bills."""
        realm_id = await self._realm_of(business_id)
        async with unit_of_work(self._sessionmaker) as session:
            mirror = PayablesMirror(session, business_id)
            if await mirror.synced(realm_id):
                listed = [_mirrored_account_out(row) for row in await mirror.active_accounts(PAY_TYPE_OF_ACCOUNT)]
                return sorted(listed, key=_banks_first)
        try:
            accounts = await self._runner.client(business_id, realm_id).query_all(Account, where=PAY_FROM_ACCOUNTS)
        except QBOError as error:
            raise read_error(error, realm_id) from error
        await _keep_accounts(SnapshotCache(self._sync, realm_id), accounts)
        usable = [out for account in accounts if (out := _pay_from_out(account)) is not None]
        return sorted(usable, key=_banks_first)

    async def pay(self, payer: Actor, bill_id: str, request: PayBillIn, idempotency_key: str) -> PaymentAnswer:
        """Pay ``request.amount`` of ``bill_id``. A repeated ``idempotency_key`` returns the first outcome, without
        asking QuickBooks again (the bill is paid by then): the key is what makes a retry safe, so there is always
        one."""
        earlier = await self._runner.earlier(payer.business_id, idempotency_key)
        if earlier is not None:
            return await self._repeat(payer, earlier, bill_id, request, idempotency_key)
        txn_date = checked_payment_date(request.payment_date, today_in(payer.timezone))
        realm_id = await self._realm_of(payer.business_id)
        mirrored = await self._mirrored(payer.business_id, realm_id, bill_id, request.pay_from_account_id)
        snapshots = SnapshotCache(self._sync, realm_id)
        client = self._runner.client(payer.business_id, realm_id)
        try:
            bill, pay_type = await _both(
                self._open_bill(client, snapshots, mirrored, bill_id, request.amount),
                self._pay_type(client, snapshots, mirrored, request.pay_from_account_id),
            )
        except (InvalidInput, NotFound):
            # Two copies of one request sent at once: the other may have paid the bill since the key was looked up
            # (that is why this one is refused). It is then a repeat, answered with the other's outcome.
            earlier = await self._runner.earlier(payer.business_id, idempotency_key)
            if earlier is None:
                raise
            return await self._repeat(payer, earlier, bill_id, request, idempotency_key)
        payload = PayBillPayload(
            bill_id=bill_id,
            vendor_id=bill.vendor_id,
            amount=request.amount,
            account_id=request.pay_from_account_id,
            pay_type=pay_type,
            txn_date=txn_date,
        )
        impact = await self._runner.estimate(payer.business_id, [_payment_effect(payload)])
        outcome = await self._runner.execute(
            payer, realm_id, kind=PAY_BILL, key=idempotency_key, payload=payload.to_payload(), what=PAYMENT
        )
        if mirrored is None and not outcome.repeated:
            await _after_payment(snapshots, bill, request.amount, outcome.status)
        return _answer(outcome, payload, await self._runner.keep(payer.business_id, outcome, impact))

    # ----------------------------------------------------------------------------------------------- internals
    async def _repeat(
        self, payer: Actor, earlier: QBOAction, bill_id: str, request: PayBillIn, key: str
    ) -> PaymentAnswer:
        if earlier.kind != PAY_BILL:
            raise IdempotencyKeyReused(PAYMENT)
        first = PayBillPayload.of(earlier.payload)
        same = (
            first.bill_id == bill_id
            and first.amount == request.amount
            and first.account_id == request.pay_from_account_id
            and (request.payment_date is None or request.payment_date == first.txn_date)
        )
        if not same:
            raise IdempotencyKeyReused(PAYMENT)
        # The same payload again: the action log answers with the first outcome, waiting for it if still running.
        outcome = await self._runner.execute(
            payer, earlier.realm_id, kind=PAY_BILL, key=key, payload=first.to_payload(), what=PAYMENT
        )
        return _answer(outcome, first, await self._runner.keep(payer.business_id, outcome, None))

    async def _realm_of(self, business_id: uuid.UUID) -> str:
        return await self._runner.realm_of(business_id)

    async def _mirrored(self, business_id: uuid.UUID, realm_id: str, bill_id: str, account_id: str) -> Mirrored | None:
        """The mirror's bill and account, or None when the business's mirror of this realm was never synced."""
        async with unit_of_work(self._sessionmaker) as session:
            mirror = PayablesMirror(session, business_id)
            if not await mirror.synced(realm_id):
                return None
            bill, account = await mirror.bill(bill_id), await mirror.account(account_id)
        deleted = bill is not None and bill.status is MirrorStatus.DELETED
        return Mirrored(
            bill=None if bill is None or deleted or bill.vendor_id is None else _bill_snapshot(bill),
            bill_deleted=deleted,
            account=None if account is None else _account_snapshot(account),
        )

    async def _open_bill(
        self, client: QBOClient, snapshots: SnapshotCache, mirrored: Mirrored | None, bill_id: str, amount: Decimal
    ) -> BillSnapshot:
        """The bill, checked open for ``amount``. The synced mirror decides (QuickBooks checks again on create); a
        bill it does not have yet is read from QuickBooks. Before a sync, a cached snapshot may only let the payment
        through; a refusal is then always decided on QuickBooks' current data."""
        if mirrored is not None and mirrored.bill_deleted:
            raise BillNotFound(bill_id)
        if mirrored is not None and mirrored.bill is not None:
            mirrored.bill.check_payable(amount)
            return mirrored.bill
        cached = None if mirrored is not None else await snapshots.bill(bill_id)
        if cached is not None and cached.can_pay(amount):
            return cached
        bill = await self._read_bill(client, snapshots, bill_id)
        bill.check_payable(amount)
        return bill

    async def _read_bill(self, client: QBOClient, snapshots: SnapshotCache, bill_id: str) -> BillSnapshot:
        try:
            bill = await client.read(Bill, bill_id)
            snapshot = None if bill.is_deleted else BillSnapshot.of(bill, bill_id)
        except QBOValidationError as error:
            # QBO answers a malformed id (not a number) with a validation fault: there is no such bill either way.
            raise BillNotFound(bill_id) from error
        except QBOError as error:
            raise lookup_error(error, bill_id=bill_id, realm_id=client.realm_id) from error
        if snapshot is None:
            await snapshots.forget_bill(bill_id)
            raise BillNotFound(bill_id)
        await snapshots.keep_bill(snapshot)
        return snapshot

    async def _pay_type(
        self, client: QBOClient, snapshots: SnapshotCache, mirrored: Mirrored | None, account_id: str
    ) -> str:
        """How a payment from the account is made (Check or CreditCard): decided like the bill's check."""
        if mirrored is not None and mirrored.account is not None:
            return mirrored.account.pay_type()
        cached = None if mirrored is not None else await snapshots.account(account_id)
        if cached is not None and cached.usable:
            return cached.pay_type()
        try:
            account = await client.read(Account, account_id)
        except (QBONotFound, QBOValidationError) as error:
            raise AccountNotUsable(f"QuickBooks has no account {account_id}.") from error
        except QBOError as error:
            raise read_error(error, client.realm_id) from error
        snapshot = AccountSnapshot.of(account, account_id)
        await snapshots.keep_account(snapshot)
        return snapshot.pay_type()


async def _both(first: Awaitable[A], second: Awaitable[B]) -> tuple[A, B]:
    """Await both at once; both finish either way, and the first's error is raised before the second's."""
    first_result, second_result = await asyncio.gather(first, second, return_exceptions=True)
    if isinstance(first_result, BaseException):
        raise first_result
    if isinstance(second_result, BaseException):
        raise second_result
    return first_result, second_result


async def _after_payment(snapshots: SnapshotCache, bill: BillSnapshot, amount: Decimal, status: ActionStatus) -> None:
    """Keep the bill's snapshot true to what this payment did; when its outcome is not known (or QuickBooks refused
    it, perhaps because the snapshot was stale), drop it so the next payment reads QuickBooks."""
    remaining = bill.after_paying(amount)
    if status is ActionStatus.SUCCEEDED and remaining.balance > 0:
        await snapshots.keep_bill(remaining)
    else:
        await snapshots.forget_bill(bill.bill_id)


def _answer(outcome: ActionOutcome, payload: PayBillPayload, impact: ActionImpactOut | None) -> PaymentAnswer:
    if outcome.status is ActionStatus.FAILED:
        raise failed_action_error(outcome.error_code, outcome.error_message, _failed_field(outcome.result))
    succeeded = outcome.status is ActionStatus.SUCCEEDED
    result = outcome.result or {}
    body = BillPaymentOut(
        action_id=outcome.action_id,
        status="succeeded" if succeeded else "pending_verification",
        bill_id=payload.bill_id,
        bill_payment_id=outcome.qbo_id if succeeded else None,
        amount=money(payload.amount),
        pay_from_account_id=payload.account_id,
        payment_date=date.fromisoformat(str(result.get("payment_date", payload.txn_date.isoformat()))),
        message=PAID_MESSAGE if succeeded else CONFIRMING_MESSAGE,
        repeated=outcome.repeated,
        receipt=result if succeeded else None,
        impact=impact,
    )
    return PaymentAnswer(body)


def _payment_effect(payload: PayBillPayload) -> CashEffect:
    """What the payment does to the runway (estimated before it is made; None before a first sync)."""
    return CashEffect(
        EffectKind.PAY_BILL,
        payload.bill_id,
        amount=payload.amount,
        on=payload.txn_date,
        reaches_bank=payload.pay_type == CHECK,
    )


def checked_payment_date(requested: date | None, today: date) -> date:
    """The date to record the payment on: today (the business's) unless asked, and then within the window."""
    if requested is None:
        return today
    earliest = today - timedelta(days=PAYMENT_DATE_MAX_DAYS_BACK)
    latest = today + timedelta(days=PAYMENT_DATE_MAX_DAYS_AHEAD)
    if not earliest <= requested <= latest:
        raise PaymentDateOutOfRange(
            f"payment_date must lie between {earliest.isoformat()} and {latest.isoformat()} (at most "
            f"{PAYMENT_DATE_MAX_DAYS_BACK} days back and {PAYMENT_DATE_MAX_DAYS_AHEAD} days ahead of today, "
            f"{today.isoformat()}, in the business's time zone)."
        )
    return requested


def _failed_field(result: dict[str, Any] | None) -> str | None:
    """The request field a failed action names: the action log keeps it as its own value beside the message."""
    field = (result or {}).get("field")
    return field if isinstance(field, str) else None


def _listable(bill: Bill) -> bool:
    return bill.id is not None and not bill.is_deleted


async def _keep_accounts(snapshots: SnapshotCache, accounts: list[Account]) -> None:
    for account in accounts:
        if account.id is not None:
            await snapshots.keep_account(AccountSnapshot.of(account, account.id))


def _pay_from_out(account: Account) -> PayFromAccountOut | None:
    """The account as the API lists it, or None when bills cannot be paid from it (inactive, or of another type)."""
    if account.id is None or account.active is False or account.account_type not in PAY_TYPE_OF_ACCOUNT:
        return None
    account_type: Literal["Bank", "Credit Card"] = "Bank" if account.account_type == "Bank" else "Credit Card"
    return PayFromAccountOut(
        account_id=account.id,
        name=account.fully_qualified_name or account.name or account.id,
        account_type=account_type,
        pay_type=CHECK if account_type == "Bank" else CREDIT_CARD,
        current_balance=money(account.current_balance or Decimal(0)),
        currency=account.currency_ref.value if account.currency_ref is not None else None,
    )


def _open_bill_out(bill: Bill, snapshot: BillSnapshot) -> OpenBillOut:
    return OpenBillOut(
        bill_id=snapshot.bill_id,
        vendor_id=snapshot.vendor_id,
        vendor_name=bill.vendor_ref.name if bill.vendor_ref is not None else None,
        doc_number=bill.doc_number,
        txn_date=bill.txn_date,
        due_date=bill.due_date,
        total=money(bill.total_amt if bill.total_amt is not None else snapshot.balance),
        balance=money(snapshot.balance),
    )


def _bill_snapshot(row: MirroredBill) -> BillSnapshot:
    return BillSnapshot(
        bill_id=row.qbo_id,
        vendor_id=row.vendor_id or "",
        balance=row.balance if row.balance is not None else Decimal(0),
        due_date=row.due_date,
        doc_number=row.doc_number,
    )


def _account_snapshot(row: MirroredAccount) -> AccountSnapshot:
    return AccountSnapshot(row.qbo_id, row.account_type, row.status is MirrorStatus.ACTIVE, row.name)


def _mirrored_account_out(row: MirroredAccount) -> PayFromAccountOut:
    account_type: Literal["Bank", "Credit Card"] = "Bank" if row.account_type == "Bank" else "Credit Card"
    return PayFromAccountOut(
        account_id=row.qbo_id,
        name=account_name(row),
        account_type=account_type,
        pay_type=CHECK if account_type == "Bank" else CREDIT_CARD,
        current_balance=money(row.current_balance or Decimal(0)),
        currency=account_currency(row),
    )


def _banks_first(account: PayFromAccountOut) -> tuple[bool, str, str]:
    return (account.account_type != "Bank", account.name.casefold(), account.account_id)


def _soonest_due_first(bill: OpenBillOut) -> tuple[bool, date, str]:
    """Bills without a due date last; ties in QuickBooks' order of creation (Ids are numeric strings)."""
    return (bill.due_date is None, bill.due_date or date.max, bill.bill_id.zfill(20))
