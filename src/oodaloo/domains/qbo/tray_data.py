"""The mirror's facts behind the prep tray, as of a business's date: invoices overdue, bills due within the week, and
the bookkeeping problems that make cash uncertain (the hygiene facts). Read through ``QBODataService.get_tray_data``.

What counts as each problem, and why:

* **Uncategorized expense**: a bill or expense (Purchase) line booked to an expense account named like "Uncategorized
  Expense", "Ask My Accountant" or "Suspense" within the last year: the spending is real but nobody said what it is.
* **Unapplied payment**: a customer Payment whose ``UnappliedAmt`` is above zero: money received but no invoice
  marked paid, so receivables (and the forecast's inflows) count it twice.
* **Undeposited funds**: payments and sales receipts received into Undeposited Funds that no Deposit has taken to
  the bank yet; the account's balance (QBO's own) and the oldest item's wait.
* **Bill without a due date**: an open bill with no DueDate, or whose due date QBO defaulted to its bill date because
  neither the bill nor its vendor has terms (QBO always sets a DueDate; without terms it is the bill date).
* **Unsent invoice**: an open invoice QBO marks ``NeedToSend``, or ``NotSet`` with an email address to send to and no
  record of delivery (QBO's EmailStatus: NotSet, NeedToSend, EmailSent).
* **Vendor missing terms or email**: an active vendor with an open bill or a bill in the last 90 days, without default
  terms (its bills fall due on their bill date) or without an email address.
* **Likely duplicate bills**: two live bills of one vendor for the same amount, dated within five days of each other
  in the last 120 days.

Every query reads only the typed columns and the few fields of the raw objects it needs (cut out by the database).
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import ColumnElement, Text, cast, func, or_, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.core.models import Business
from oodaloo.domains.qbo.mirror_models import (
    MirroredAccount,
    MirroredBill,
    MirroredCustomer,
    MirroredDeposit,
    MirroredInvoice,
    MirroredPayment,
    MirroredPurchase,
    MirroredRow,
    MirroredSalesReceipt,
    MirroredVendor,
    MirrorStatus,
)
from oodaloo.infra.db.rows import column_rows
from oodaloo.infra.exact_json import loads_exact

ZERO = Decimal("0.00")
# The tray looks a week ahead for bills: the weekly ritual's horizon.
BILLS_DUE_WITHIN_DAYS = 7
# Uncategorized spending of the last year (the books' current tax year, roughly); older lines are the accountant's
# year-end clean-up, not this week's.
UNCATEGORIZED_LOOKBACK_DAYS = 365
# Expense accounts that hold spending nobody has classified yet, by name (QBO creates "Uncategorized Expense"; many
# accountants add "Ask My Accountant" or "Suspense").
UNCATEGORIZED_ACCOUNT_NAME = re.compile(r"\b(uncategori[sz]ed|ask my accountant|suspense)\b", re.IGNORECASE)
EXPENSE_CLASSIFICATION = "Expense"
UNDEPOSITED_SUB_TYPE = "UndepositedFunds"
# A vendor matters to the tray when it has an open bill, or billed the business this recently.
RECENT_VENDOR_DAYS = 90
# Two bills of one vendor for the same amount this close together are likely one bill entered twice ...
DUPLICATE_WITHIN_DAYS = 5
# ... looked for among the bills of the last four months (an older duplicate was paid or found long ago).
DUPLICATE_LOOKBACK_DAYS = 120
NEED_TO_SEND = "NeedToSend"
NOT_SET = "NotSet"
PRINTED = "PrintComplete"
LINKABLE_TO_DEPOSIT = ("Payment", "SalesReceipt")


# ------------------------------------------------------------------------------------------------------ the facts
@dataclass(frozen=True)
class OverdueInvoice:
    invoice_id: str
    doc_number: str | None
    customer_id: str
    customer_name: str
    txn_date: date
    due_date: date
    total: Decimal
    balance: Decimal
    days_overdue: int


@dataclass(frozen=True)
class DueBill:
    """An open bill due within the week (or overdue: ``days_until_due`` below zero)."""

    bill_id: str
    doc_number: str | None
    vendor_id: str
    vendor_name: str
    due_date: date
    balance: Decimal
    days_until_due: int


@dataclass(frozen=True)
class UncategorizedExpense:
    entity: str  # "Purchase" (an expense, check or card charge) or "Bill"
    txn_id: str
    txn_date: date
    payee_name: str | None
    account_name: str
    amount: Decimal  # of its lines booked to an uncategorized account
    payment_type: str | None  # a Purchase's Cash / Check / CreditCard


@dataclass(frozen=True)
class UnappliedPayment:
    payment_id: str
    customer_id: str | None
    customer_name: str
    txn_date: date | None
    total: Decimal
    unapplied: Decimal


@dataclass(frozen=True)
class UndepositedItem:
    entity: str  # "Payment" or "SalesReceipt"
    txn_id: str
    txn_date: date
    customer_name: str
    amount: Decimal
    days_waiting: int


@dataclass(frozen=True)
class UndepositedFunds:
    """``balance`` is QBO's balance of the Undeposited Funds account(s); ``items`` what is waiting in it."""

    balance: Decimal
    items: tuple[UndepositedItem, ...]

    @property
    def oldest_days(self) -> int | None:
        return max((item.days_waiting for item in self.items), default=None)


@dataclass(frozen=True)
class BillWithoutDueDate:
    bill_id: str
    doc_number: str | None
    vendor_id: str
    vendor_name: str
    txn_date: date | None
    balance: Decimal


@dataclass(frozen=True)
class UnsentInvoice:
    invoice_id: str
    doc_number: str | None
    customer_id: str | None
    customer_name: str
    txn_date: date | None
    balance: Decimal
    email: str | None
    email_status: str


@dataclass(frozen=True)
class VendorMissingInfo:
    vendor_id: str
    name: str
    missing_terms: bool
    missing_email: bool
    open_balance: Decimal


@dataclass(frozen=True)
class DuplicateBills:
    """``duplicate`` is the one entered later (the likelier copy); ``original`` the one it repeats."""

    vendor_id: str
    vendor_name: str
    amount: Decimal
    original_id: str
    original_date: date
    duplicate_id: str
    duplicate_date: date
    duplicate_balance: Decimal


@dataclass(frozen=True)
class HygieneFacts:
    uncategorized: tuple[UncategorizedExpense, ...]
    unapplied_payments: tuple[UnappliedPayment, ...]
    undeposited: UndepositedFunds
    bills_without_due_date: tuple[BillWithoutDueDate, ...]
    unsent_invoices: tuple[UnsentInvoice, ...]
    vendors_missing_info: tuple[VendorMissingInfo, ...]
    duplicate_bills: tuple[DuplicateBills, ...]


@dataclass(frozen=True)
class TrayData:
    """One business's tray facts as of ``as_of`` (its own date). Lists are largest amount (or oldest) first."""

    as_of: date
    overdue_invoices: tuple[OverdueInvoice, ...]
    bills_due: tuple[DueBill, ...]
    hygiene: HygieneFacts


async def load_tray_data(session: AsyncSession, business: Business, today: date) -> TrayData:
    reader = _Reader(session, business, today)
    customers = await reader.names(MirroredCustomer)
    vendors = await reader.names(MirroredVendor)
    return TrayData(
        as_of=today,
        overdue_invoices=await reader.overdue_invoices(customers),
        bills_due=await reader.bills_due(vendors),
        hygiene=await reader.hygiene(customers, vendors),
    )


async def load_hygiene_facts(session: AsyncSession, business: Business, today: date) -> HygieneFacts:
    """The tray's hygiene facts alone (the digest's and the portfolio's need)."""
    reader = _Reader(session, business, today)
    return await reader.hygiene(await reader.names(MirroredCustomer), await reader.names(MirroredVendor))


# ----------------------------------------------------------------------------------------------------- reading
class _Reader:
    """The queries, each tenant-scoped to the business and to live rows."""

    def __init__(self, session: AsyncSession, business: Business, today: date) -> None:
        self._session = session
        self._business_id = business.id
        self._today = today
        self._dialect = session.get_bind().dialect.name

    def _live(self, model: type[MirroredRow]) -> list[ColumnElement[bool]]:
        return [model.business_id == self._business_id, model.status == MirrorStatus.ACTIVE]

    def _field(self, model: type[MirroredRow], *path: str) -> ColumnElement[Any]:
        return json_field(model, self._dialect, *path)

    async def names(self, model: type[MirroredCustomer] | type[MirroredVendor]) -> dict[str, str]:
        rows = await column_rows(
            self._session,
            select(model.qbo_id, model.name).where(
                model.business_id == self._business_id, model.status != MirrorStatus.DELETED
            ),
        )
        return {qbo_id: name or f"#{qbo_id}" for qbo_id, name in rows}

    async def hygiene(self, customers: dict[str, str], vendors: dict[str, str]) -> HygieneFacts:
        return HygieneFacts(
            uncategorized=await self.uncategorized(vendors),
            unapplied_payments=await self.unapplied_payments(customers),
            undeposited=await self.undeposited(customers),
            bills_without_due_date=await self.bills_without_due_date(vendors),
            unsent_invoices=await self.unsent_invoices(customers),
            vendors_missing_info=await self.vendors_missing_info(),
            duplicate_bills=await self.duplicate_bills(vendors),
        )

    # -- what is due ---------------------------------------------------------------------------------------------
    async def overdue_invoices(self, customers: dict[str, str]) -> tuple[OverdueInvoice, ...]:
        due = func.coalesce(MirroredInvoice.due_date, MirroredInvoice.txn_date)
        rows = await column_rows(
            self._session,
            select(
                MirroredInvoice.qbo_id,
                MirroredInvoice.doc_number,
                MirroredInvoice.customer_id,
                MirroredInvoice.txn_date,
                due,
                MirroredInvoice.total_amt,
                MirroredInvoice.balance,
            ).where(*self._live(MirroredInvoice), MirroredInvoice.balance > 0, due < self._today),
        )
        found = [
            OverdueInvoice(
                invoice_id=qbo_id,
                doc_number=doc_number,
                customer_id=customer_id or "",
                customer_name=customers.get(customer_id or "", "Unknown customer"),
                txn_date=txn_date or due_date,
                due_date=due_date,
                total=total or balance or ZERO,
                balance=balance or ZERO,
                days_overdue=(self._today - due_date).days,
            )
            for qbo_id, doc_number, customer_id, txn_date, due_date, total, balance in rows
            if due_date is not None
        ]
        return tuple(sorted(found, key=lambda item: (-item.balance, item.due_date, item.invoice_id)))

    async def bills_due(self, vendors: dict[str, str]) -> tuple[DueBill, ...]:
        due = func.coalesce(MirroredBill.due_date, MirroredBill.txn_date)
        until = self._today + timedelta(days=BILLS_DUE_WITHIN_DAYS)
        rows = await column_rows(
            self._session,
            select(
                MirroredBill.qbo_id, MirroredBill.doc_number, MirroredBill.vendor_id, due, MirroredBill.balance
            ).where(*self._live(MirroredBill), MirroredBill.balance > 0, due <= until),
        )
        found = [
            DueBill(
                bill_id=qbo_id,
                doc_number=doc_number,
                vendor_id=vendor_id or "",
                vendor_name=vendors.get(vendor_id or "", "Unknown vendor"),
                due_date=due_date,
                balance=balance or ZERO,
                days_until_due=(due_date - self._today).days,
            )
            for qbo_id, doc_number, vendor_id, due_date, balance in rows
            if due_date is not None
        ]
        return tuple(sorted(found, key=lambda bill: (bill.due_date, -bill.balance, bill.bill_id)))

    # -- hygiene ---------------------------------------------------------------------------------------------------
    async def uncategorized(self, vendors: dict[str, str]) -> tuple[UncategorizedExpense, ...]:
        accounts = await column_rows(
            self._session,
            select(MirroredAccount.qbo_id, MirroredAccount.name).where(
                MirroredAccount.business_id == self._business_id,
                MirroredAccount.status != MirrorStatus.DELETED,
                MirroredAccount.classification == EXPENSE_CLASSIFICATION,
            ),
        )
        wanted = {qbo_id: name for qbo_id, name in accounts if name and UNCATEGORIZED_ACCOUNT_NAME.search(name)}
        if not wanted:
            return ()
        since = self._today - timedelta(days=UNCATEGORIZED_LOOKBACK_DAYS)
        purchases = await column_rows(
            self._session,
            select(
                MirroredPurchase.qbo_id,
                MirroredPurchase.txn_date,
                self._field(MirroredPurchase, "EntityRef", "name"),
                MirroredPurchase.payment_type,
                self._field(MirroredPurchase, "Line"),
            ).where(*self._live(MirroredPurchase), MirroredPurchase.txn_date >= since),
        )
        bills = await column_rows(
            self._session,
            select(
                MirroredBill.qbo_id,
                MirroredBill.txn_date,
                MirroredBill.vendor_id,
                self._field(MirroredBill, "Line"),
            ).where(*self._live(MirroredBill), MirroredBill.txn_date >= since),
        )
        found: list[UncategorizedExpense] = []
        for qbo_id, txn_date, payee, payment_type, lines in purchases:
            found.extend(_uncategorized("Purchase", qbo_id, txn_date, payee, payment_type, lines, wanted))
        for qbo_id, txn_date, vendor_id, lines in bills:
            payee = vendors.get(vendor_id) if vendor_id else None
            found.extend(_uncategorized("Bill", qbo_id, txn_date, payee, None, lines, wanted))
        return tuple(sorted(found, key=lambda item: (-item.amount, item.txn_date, item.txn_id)))

    async def unapplied_payments(self, customers: dict[str, str]) -> tuple[UnappliedPayment, ...]:
        rows = await column_rows(
            self._session,
            select(
                MirroredPayment.qbo_id,
                MirroredPayment.customer_id,
                MirroredPayment.txn_date,
                MirroredPayment.total_amt,
                MirroredPayment.unapplied_amt,
            ).where(*self._live(MirroredPayment), MirroredPayment.unapplied_amt > 0),
        )
        found = [
            UnappliedPayment(
                payment_id=qbo_id,
                customer_id=customer_id,
                customer_name=customers.get(customer_id or "", "Unknown customer"),
                txn_date=txn_date,
                total=total or unapplied or ZERO,
                unapplied=unapplied or ZERO,
            )
            for qbo_id, customer_id, txn_date, total, unapplied in rows
        ]
        return tuple(sorted(found, key=lambda item: (-item.unapplied, item.payment_id)))

    async def undeposited(self, customers: dict[str, str]) -> UndepositedFunds:
        accounts = await column_rows(
            self._session,
            select(MirroredAccount.qbo_id, MirroredAccount.current_balance).where(
                *self._live(MirroredAccount), MirroredAccount.account_sub_type == UNDEPOSITED_SUB_TYPE
            ),
        )
        if not accounts:
            return UndepositedFunds(ZERO, ())
        balance = sum((amount or ZERO for _, amount in accounts), ZERO)
        account_ids = [qbo_id for qbo_id, _ in accounts]
        received: list[tuple[str, str, date, str | None, Decimal]] = []
        for model in (MirroredPayment, MirroredSalesReceipt):
            rows = await column_rows(
                self._session,
                select(model.qbo_id, model.txn_date, model.customer_id, model.total_amt).where(
                    *self._live(model), model.deposit_account_id.in_(account_ids), model.total_amt > 0
                ),
            )
            received += [
                (model.qbo_entity, qbo_id, txn_date, customer_id, total)
                for qbo_id, txn_date, customer_id, total in rows
                if txn_date is not None and total is not None
            ]
        if not received:
            return UndepositedFunds(balance, ())
        deposited = await self._deposited_since(min(item[2] for item in received))
        items = [
            UndepositedItem(
                entity=entity,
                txn_id=qbo_id,
                txn_date=txn_date,
                customer_name=customers.get(customer_id or "", "Unknown customer"),
                amount=total,
                days_waiting=max((self._today - txn_date).days, 0),
            )
            for entity, qbo_id, txn_date, customer_id, total in received
            if (entity, qbo_id) not in deposited
        ]
        return UndepositedFunds(balance, tuple(sorted(items, key=lambda item: (item.txn_date, item.txn_id))))

    async def _deposited_since(self, since: date) -> set[tuple[str, str]]:
        """(entity, id) of every payment and sales receipt a live Deposit dated on or after ``since`` took in."""
        rows = await column_rows(
            self._session,
            select(self._field(MirroredDeposit, "Line")).where(
                *self._live(MirroredDeposit), MirroredDeposit.txn_date >= since
            ),
        )
        linked: set[tuple[str, str]] = set()
        for (lines,) in rows:
            for line in lines_of(lines):
                for link in line.get("LinkedTxn") or []:
                    if isinstance(link, dict) and link.get("TxnType") in LINKABLE_TO_DEPOSIT and link.get("TxnId"):
                        linked.add((str(link["TxnType"]), str(link["TxnId"])))
        return linked

    async def bills_without_due_date(self, vendors: dict[str, str]) -> tuple[BillWithoutDueDate, ...]:
        bill_terms = self._field(MirroredBill, "SalesTermRef", "value")
        rows = await column_rows(
            self._session,
            select(
                MirroredBill.qbo_id,
                MirroredBill.doc_number,
                MirroredBill.vendor_id,
                MirroredBill.txn_date,
                MirroredBill.balance,
            ).where(
                *self._live(MirroredBill),
                MirroredBill.balance > 0,
                or_(
                    MirroredBill.due_date.is_(None),
                    (MirroredBill.due_date == MirroredBill.txn_date) & bill_terms.is_(None),
                ),
            ),
        )
        vendors_with_terms = await self._vendors_with_terms()
        found = [
            BillWithoutDueDate(
                bill_id=qbo_id,
                doc_number=doc_number,
                vendor_id=vendor_id or "",
                vendor_name=vendors.get(vendor_id or "", "Unknown vendor"),
                txn_date=txn_date,
                balance=balance or ZERO,
            )
            for qbo_id, doc_number, vendor_id, txn_date, balance in rows
            # Due on its bill date by the vendor's own terms ("Due on receipt") is a due date someone chose.
            if vendor_id not in vendors_with_terms
        ]
        return tuple(sorted(found, key=lambda bill: (-bill.balance, bill.bill_id)))

    async def _vendors_with_terms(self) -> set[str]:
        rows = await column_rows(
            self._session,
            select(MirroredVendor.qbo_id).where(
                *self._live(MirroredVendor), self._field(MirroredVendor, "TermRef", "value").is_not(None)
            ),
        )
        return {qbo_id for (qbo_id,) in rows}

    async def unsent_invoices(self, customers: dict[str, str]) -> tuple[UnsentInvoice, ...]:
        status = self._field(MirroredInvoice, "EmailStatus")
        email = self._field(MirroredInvoice, "BillEmail", "Address")
        delivered = self._field(MirroredInvoice, "DeliveryInfo", "DeliveryType")
        printed = self._field(MirroredInvoice, "PrintStatus")
        rows = await column_rows(
            self._session,
            select(
                MirroredInvoice.qbo_id,
                MirroredInvoice.doc_number,
                MirroredInvoice.customer_id,
                MirroredInvoice.txn_date,
                MirroredInvoice.balance,
                email,
                status,
            ).where(
                *self._live(MirroredInvoice),
                MirroredInvoice.balance > 0,
                or_(
                    status == NEED_TO_SEND,
                    (func.coalesce(status, NOT_SET) == NOT_SET)
                    & email.is_not(None)
                    & delivered.is_(None)
                    & (func.coalesce(printed, "") != PRINTED),
                ),
            ),
        )
        found = [
            UnsentInvoice(
                invoice_id=qbo_id,
                doc_number=doc_number,
                customer_id=customer_id,
                customer_name=customers.get(customer_id or "", "Unknown customer"),
                txn_date=txn_date,
                balance=balance,
                email=address,
                email_status=email_status or NOT_SET,
            )
            for qbo_id, doc_number, customer_id, txn_date, balance, address, email_status in rows
        ]
        return tuple(sorted(found, key=lambda invoice: (-invoice.balance, invoice.invoice_id)))

    async def vendors_missing_info(self) -> tuple[VendorMissingInfo, ...]:
        recent = self._today - timedelta(days=RECENT_VENDOR_DAYS)
        billed = await column_rows(
            self._session,
            select(MirroredBill.vendor_id, func.sum(MirroredBill.balance))
            .where(
                *self._live(MirroredBill),
                MirroredBill.vendor_id.is_not(None),
                or_(MirroredBill.balance > 0, MirroredBill.txn_date >= recent),
            )
            .group_by(MirroredBill.vendor_id),
        )
        owed = {vendor_id: amount or ZERO for vendor_id, amount in billed if vendor_id is not None}
        if not owed:
            return ()
        terms = self._field(MirroredVendor, "TermRef", "value")
        email = self._field(MirroredVendor, "PrimaryEmailAddr", "Address")
        rows = await column_rows(
            self._session,
            select(MirroredVendor.qbo_id, MirroredVendor.name, terms, email).where(
                *self._live(MirroredVendor),
                MirroredVendor.qbo_id.in_(list(owed)),
                or_(terms.is_(None), email.is_(None)),
            ),
        )
        found = [
            VendorMissingInfo(
                vendor_id=qbo_id,
                name=name or f"Vendor {qbo_id}",
                missing_terms=term_id is None,
                missing_email=not address,
                open_balance=max(owed.get(qbo_id, ZERO), ZERO),
            )
            for qbo_id, name, term_id, address in rows
        ]
        return tuple(sorted(found, key=lambda vendor: (-vendor.open_balance, vendor.name.casefold())))

    async def duplicate_bills(self, vendors: dict[str, str]) -> tuple[DuplicateBills, ...]:
        since = self._today - timedelta(days=DUPLICATE_LOOKBACK_DAYS)
        rows = await column_rows(
            self._session,
            select(
                MirroredBill.qbo_id,
                MirroredBill.vendor_id,
                MirroredBill.txn_date,
                MirroredBill.total_amt,
                MirroredBill.balance,
                MirroredBill.qbo_created_at,
            ).where(*self._live(MirroredBill), MirroredBill.txn_date >= since, MirroredBill.total_amt > 0),
        )
        groups: dict[tuple[str, Decimal], list[_BillSeen]] = defaultdict(list)
        for qbo_id, vendor_id, txn_date, total, balance, created_at in rows:
            if vendor_id is not None and txn_date is not None and total is not None:
                entered = created_at.isoformat() if created_at is not None else ""
                groups[(vendor_id, total)].append(_BillSeen(qbo_id, txn_date, balance or ZERO, entered))
        found = [
            pair
            for (vendor_id, total), bills in groups.items()
            if len(bills) > 1
            for pair in _close_pairs(vendor_id, vendors.get(vendor_id, "Unknown vendor"), total, bills)
        ]
        return tuple(sorted(found, key=lambda pair: (-pair.amount, pair.duplicate_id)))


@dataclass(frozen=True)
class _BillSeen:
    bill_id: str
    txn_date: date
    balance: Decimal
    entered: str  # QBO's CreateTime, ISO (sorts as time); "" when unknown


def _close_pairs(vendor_id: str, vendor_name: str, total: Decimal, bills: Sequence[_BillSeen]) -> list[DuplicateBills]:
    """Consecutive bills (by date) of one vendor and amount no more than ``DUPLICATE_WITHIN_DAYS`` apart; the one
    entered later is the likely copy."""
    ordered = sorted(bills, key=lambda bill: (bill.txn_date, bill.entered, _id_order(bill.bill_id)))
    pairs = []
    for first, second in itertools.pairwise(ordered):
        if (second.txn_date - first.txn_date).days > DUPLICATE_WITHIN_DAYS:
            continue
        original, copy = sorted((first, second), key=lambda bill: (bill.entered, _id_order(bill.bill_id)))
        pairs.append(
            DuplicateBills(
                vendor_id=vendor_id,
                vendor_name=vendor_name,
                amount=total,
                original_id=original.bill_id,
                original_date=original.txn_date,
                duplicate_id=copy.bill_id,
                duplicate_date=copy.txn_date,
                duplicate_balance=copy.balance,
            )
        )
    return pairs


def _id_order(qbo_id: str) -> tuple[int, str]:
    """QBO ids are numbers as text: "99" before "100"."""
    return (int(qbo_id), "") if qbo_id.isdigit() else (0, qbo_id)


def _uncategorized(
    entity: str,
    txn_id: str,
    txn_date: date | None,
    payee: str | None,
    payment_type: str | None,
    lines: str | list[Any] | None,
    accounts: dict[str, str],
) -> Iterable[UncategorizedExpense]:
    amount, names = ZERO, []
    for line in lines_of(lines):
        detail = line.get("AccountBasedExpenseLineDetail")
        account = detail.get("AccountRef") if isinstance(detail, dict) else None
        account_id = str(account.get("value")) if isinstance(account, dict) else None
        if account_id in accounts:
            amount += _amount(line.get("Amount"))
            names.append(accounts[account_id])
    if names and txn_date is not None:
        yield UncategorizedExpense(entity, txn_id, txn_date, payee, names[0], amount, payment_type)


# ------------------------------------------------------------------------------------------------ raw JSON fields
def json_field(model: type[MirroredRow], dialect: str, *path: str) -> ColumnElement[Any]:
    """A field of the raw QBO object (``json_field(MirroredInvoice, d, "BillEmail", "Address")``) as text, cut out by
    the database: reading whole objects (metadata, lines, memos) costs most of a query's time. An object or array
    comes as JSON text, a missing field as NULL."""
    if dialect == "postgresql":
        document = cast(model.raw, JSONB)
        field: ColumnElement[Any] = (document[path] if len(path) > 1 else document[path[0]]).astext
        return field
    return func.json_extract(model.raw, "$." + ".".join(path), type_=Text)


def lines_of(lines: str | list[Any] | None) -> list[dict[str, Any]]:
    """A ``Line`` array as ``json_field`` gives it, with its amounts as Decimals (never floats: they are money)."""
    parsed = loads_exact(lines) if isinstance(lines, str) else lines
    return [line for line in parsed if isinstance(line, dict)] if isinstance(parsed, list) else []


def _amount(value: Any) -> Decimal:
    if value in (None, "") or isinstance(value, bool):
        return ZERO
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return ZERO
    return amount if amount.is_finite() else ZERO
