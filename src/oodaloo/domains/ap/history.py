"""A business's payables read from the QBO mirror in one pass: every live bill with the payments that settled it, each
dated by its BillPayment, so which bills were open, and for how much, can be answered as of any day using only what
was dated on or before it (the backtest replays past weeks this way; today is the same question with today's date).

Voided and deleted transactions are left out. A bill is settled by the BillPayment lines linked to it (``LinkedTxn``
of type ``Bill``), whether the payment spent cash or applied a vendor credit (a credit applied is a line linked to the
``VendorCredit`` on the same payment). Loading reads the columns it needs and the raw objects of bills and payments as
text (no ORM objects), a handful of queries whatever the number of bills, and builds the history once every row is
fetched, with the cyclic garbage collector held off (it would otherwise walk the growing history again and again)."""

from __future__ import annotations

import bisect
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import Select, Text, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.core.models import Business
from oodaloo.domains.qbo.mirror_models import (
    MirroredAccount,
    MirroredBill,
    MirroredBillPayment,
    MirroredItem,
    MirroredTerm,
    MirroredVendor,
    MirroredVendorCredit,
    MirrorStatus,
    ref_id,
    ref_name,
)
from oodaloo.infra.collector import collector_paused
from oodaloo.infra.db.rows import column_rows
from oodaloo.infra.exact_json import loads_exact

ZERO = Decimal("0.00")
# A bill without a TxnDate (QBO always sets one; a hand-made object might not) has been there all along.
UNDATED = date.min
# Voided and deleted transactions settle nothing and owe nothing.
_LIVE = (MirrorStatus.ACTIVE,)


@dataclass(frozen=True)
class ExpenseAccount:
    """An account a bill's line is booked to: its QBO name (fully qualified), type and subtype."""

    account_id: str
    name: str
    account_type: str | None
    account_sub_type: str | None


@dataclass(frozen=True)
class Term:
    term_id: str
    name: str
    due_days: int | None


@dataclass(frozen=True)
class Vendor:
    vendor_id: str
    name: str
    active: bool


@dataclass(frozen=True)
class Settlement:
    """What one BillPayment did to one bill on the payment's date; ``with_credit``: the payment applied a vendor
    credit (the bill is settled all the same)."""

    bill_id: str
    payment_id: str | None  # None: a fall the mirror shows no payment for (see PayableBill.unexplained)
    day: date
    amount: Decimal
    with_credit: bool = False


@dataclass(frozen=True)
class OpenBill:
    """A bill with something left to pay on a day, and what the rules need to know of it."""

    bill_id: str
    doc_number: str | None
    vendor_id: str
    vendor_name: str
    txn_date: date | None
    due_date: date | None
    total: Decimal
    balance: Decimal
    expense_accounts: tuple[ExpenseAccount, ...]
    term: Term | None

    @property
    def effective_due_date(self) -> date | None:
        """The due date; without one, the transaction date plus the term's days, else the transaction date."""
        if self.due_date is not None:
            return self.due_date
        if self.txn_date is None:
            return None
        days = self.term.due_days if self.term is not None and self.term.due_days is not None else 0
        return self.txn_date + timedelta(days=days)


@dataclass(frozen=True)
class PayableBill:
    """A live bill and every settlement of it, oldest first. ``current_balance`` is QBO's own Balance now."""

    bill_id: str
    doc_number: str | None
    vendor_id: str
    vendor_name: str
    txn_date: date | None
    due_date: date | None
    total: Decimal
    current_balance: Decimal
    expense_accounts: tuple[ExpenseAccount, ...]
    term: Term | None
    settlements: tuple[Settlement, ...]

    def settled_by(self, day: date) -> Decimal:
        settled = ZERO
        for item in self.settlements:  # oldest first
            if item.day > day:
                break
            settled += item.amount
        return settled

    def balance_as_of(self, day: date) -> Decimal:
        """What was left to pay at the end of ``day``: the total less what was settled on or before it (never below
        zero, never above the total), or zero when the bill is dated after ``day``."""
        if (self.txn_date or UNDATED) > day:
            return ZERO
        return min(self.total, max(ZERO, self.total - self.settled_by(day)))

    def open_with(self, balance: Decimal) -> OpenBill:
        return OpenBill(
            bill_id=self.bill_id,
            doc_number=self.doc_number,
            vendor_id=self.vendor_id,
            vendor_name=self.vendor_name,
            txn_date=self.txn_date,
            due_date=self.due_date,
            total=self.total,
            balance=balance,
            expense_accounts=self.expense_accounts,
            term=self.term,
        )


@dataclass(frozen=True)
class VendorCreditHistory:
    """A live vendor credit and each use of it (a BillPayment line linked to it: the payment's date and amount)."""

    credit_id: str
    vendor_id: str
    txn_date: date | None
    total: Decimal
    applied: tuple[tuple[date, Decimal], ...]

    def left_as_of(self, day: date) -> Decimal:
        if (self.txn_date or UNDATED) > day:
            return ZERO
        used = sum((amount for applied_on, amount in self.applied if applied_on <= day), ZERO)
        return max(ZERO, self.total - used)


class Payables:
    """One business's bills with their settlements, its vendors and vendor credits, held in memory: pure answers as
    of a day."""

    def __init__(
        self,
        bills: Iterable[PayableBill],
        vendors: Mapping[str, Vendor],
        credits: Iterable[VendorCreditHistory] = (),
    ) -> None:
        self.bills = sorted(bills, key=lambda bill: (bill.txn_date or UNDATED, bill.bill_id))
        self.vendors = dict(vendors)
        self.credits = list(credits)
        self._txn_dates = [bill.txn_date or UNDATED for bill in self.bills]
        self._by_id = {bill.bill_id: bill for bill in self.bills}

    def bill(self, bill_id: str) -> PayableBill | None:
        return self._by_id.get(bill_id)

    def open_as_of(self, day: date) -> list[OpenBill]:
        """The bills with a balance left at the end of ``day``, counting only transactions dated on or before it (a
        bill dated after ``day`` is not there), in order of their transaction dates."""
        known = bisect.bisect_right(self._txn_dates, day)
        found: list[OpenBill] = []
        for bill in self.bills[:known]:
            balance = bill.balance_as_of(day)
            if balance > 0:
                found.append(bill.open_with(balance))
        return found

    def open_now(self) -> list[OpenBill]:
        """The bills QuickBooks shows open now, with its balances (where a payment dated ahead already counts)."""
        return [bill.open_with(bill.current_balance) for bill in self.bills if bill.current_balance > 0]

    def settlements_between(self, start: date, end: date) -> list[Settlement]:
        """Every settlement dated from ``start`` to ``end`` (both included), by date."""
        found = [item for bill in self.bills for item in bill.settlements if start <= item.day <= end]
        return sorted(found, key=lambda item: (item.day, item.bill_id))

    def credit_as_of(self, day: date) -> dict[str, Decimal]:
        """By vendor: the vendor credits dated on or before ``day`` and not used up by then (what the business may
        still set against that vendor's bills)."""
        available: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for credit in self.credits:
            left = credit.left_as_of(day)
            if left > 0:
                available[credit.vendor_id] += left
        return dict(available)


# -- loading --------------------------------------------------------------------------------------------------------


async def load_payables(session: AsyncSession, business_id: uuid.UUID) -> Payables:
    """Every live bill of the business's mirror with its settlements, its vendors and vendor credits."""
    lists = await _load_lists(session, business_id)
    zone = await _zone_of(session, business_id)
    payment_rows = await column_rows(session, _payment_rows(business_id))
    bill_rows = await column_rows(session, _bill_rows(business_id))
    credit_rows = await column_rows(session, _credit_rows(business_id))
    # Everything is fetched: what follows is pure computation, with no await for another task to run during.
    with collector_paused():
        payments = _payment_lines(payment_rows)
        bills = [
            _payable(fact, lists, payments.by_bill.get(fact.bill_id, ()), zone)
            for fact in _bill_facts(bill_rows, lists)
        ]
        credits = _credits(credit_rows, payments.by_credit)
        return Payables(bills, lists.vendors, credits)


async def load_open_bills(
    session: AsyncSession,
    business_id: uuid.UUID,
    *,
    bill_ids: Sequence[str] | None = None,
    vendor_id: str | None = None,
) -> list[OpenBill]:
    """The bills QuickBooks shows open now (its Balance, as mirrored), without their payment history: what today's
    lists show (only ``bill_ids``, or only ``vendor_id``'s, when given)."""
    lists = await _load_lists(session, business_id)
    statement = _bill_rows(business_id, open_only=True, bill_ids=bill_ids, vendor_id=vendor_id)
    rows = await column_rows(session, statement)
    return [_open_now(fact) for fact in _bill_facts(rows, lists)]


async def load_vendors(session: AsyncSession, business_id: uuid.UUID) -> dict[str, Vendor]:
    return (await _load_lists(session, business_id, vendors_only=True)).vendors


@dataclass(frozen=True)
class _Lists:
    vendors: dict[str, Vendor]
    accounts: dict[str, ExpenseAccount]
    item_accounts: dict[str, str]
    terms: dict[str, Term]
    booked_alike: dict[tuple[str, ...], tuple[ExpenseAccount, ...]] = field(default_factory=dict)


# A bill as ``_bill_rows`` reads it: id, doc number, vendor, dates, total, balance, last change, the raw object.
_BillRow = tuple[
    str, str | None, str | None, date | None, date | None, Decimal | None, Decimal | None, datetime | None, str
]


@dataclass(frozen=True)
class _BillFact:
    bill_id: str
    doc_number: str | None
    vendor_id: str
    vendor_name: str
    txn_date: date | None
    due_date: date | None
    total: Decimal
    balance: Decimal
    updated_at: datetime | None
    expense_accounts: tuple[ExpenseAccount, ...]
    term: Term | None


@dataclass
class _PaymentLines:
    by_bill: dict[str, list[Settlement]] = field(default_factory=lambda: defaultdict(list))
    by_credit: dict[str, list[tuple[date, Decimal]]] = field(default_factory=lambda: defaultdict(list))


async def _zone_of(session: AsyncSession, business_id: uuid.UUID) -> ZoneInfo:
    timezone = await session.scalar(select(Business.timezone).where(Business.id == business_id))
    return ZoneInfo(timezone or "UTC")


async def _load_lists(session: AsyncSession, business_id: uuid.UUID, *, vendors_only: bool = False) -> _Lists:
    """Vendors, accounts, items and terms, inactive ones too (an old bill may name them)."""
    vendor_rows = await session.execute(
        select(MirroredVendor.qbo_id, MirroredVendor.name, MirroredVendor.status).where(
            MirroredVendor.business_id == business_id, MirroredVendor.status != MirrorStatus.DELETED
        )
    )
    vendors = {
        qbo_id: Vendor(qbo_id, name or qbo_id, status is MirrorStatus.ACTIVE) for qbo_id, name, status in vendor_rows
    }
    if vendors_only:
        return _Lists(vendors, {}, {}, {})
    account_rows = await session.execute(
        select(
            MirroredAccount.qbo_id,
            MirroredAccount.name,
            MirroredAccount.account_type,
            MirroredAccount.account_sub_type,
            type_coerce(MirroredAccount.raw, Text),
        ).where(MirroredAccount.business_id == business_id)
    )
    expense_accounts = {
        qbo_id: ExpenseAccount(qbo_id, _qualified_name(raw) or name or qbo_id, account_type, sub_type)
        for qbo_id, name, account_type, sub_type, raw in account_rows
    }
    item_rows = await session.execute(
        select(MirroredItem.qbo_id, MirroredItem.expense_account_id).where(MirroredItem.business_id == business_id)
    )
    term_rows = await session.execute(
        select(MirroredTerm.qbo_id, MirroredTerm.name, MirroredTerm.due_days).where(
            MirroredTerm.business_id == business_id
        )
    )
    return _Lists(
        vendors,
        expense_accounts,
        {qbo_id: account_id for qbo_id, account_id in item_rows if account_id is not None},
        {qbo_id: Term(qbo_id, name or qbo_id, due_days) for qbo_id, name, due_days in term_rows},
    )


def _qualified_name(raw: str) -> str | None:
    name = orjson.loads(raw).get("FullyQualifiedName")
    return str(name) if name else None


def _bill_rows(
    business_id: uuid.UUID,
    *,
    open_only: bool = False,
    bill_ids: Sequence[str] | None = None,
    vendor_id: str | None = None,
) -> Select[*_BillRow]:
    """The live bills with a vendor: the typed columns, and the raw object as text (its references and names are
    read from it; parsing the whole object in Python costs less than having the database cut parts out of it)."""
    statement = select(
        MirroredBill.qbo_id,
        MirroredBill.doc_number,
        MirroredBill.vendor_id,
        MirroredBill.txn_date,
        MirroredBill.due_date,
        MirroredBill.total_amt,
        MirroredBill.balance,
        MirroredBill.qbo_updated_at,
        type_coerce(MirroredBill.raw, Text),
    ).where(
        MirroredBill.business_id == business_id,
        MirroredBill.status.in_(_LIVE),
        MirroredBill.vendor_id.is_not(None),
    )
    if open_only:
        statement = statement.where(MirroredBill.balance > 0)
    if bill_ids is not None:
        statement = statement.where(MirroredBill.qbo_id.in_(list(bill_ids)))
    if vendor_id is not None:
        statement = statement.where(MirroredBill.vendor_id == vendor_id)
    return statement


def _bill_facts(rows: Iterable[_BillRow], lists: _Lists) -> list[_BillFact]:
    return [_bill_fact(*row, lists=lists) for row in rows]


def _bill_fact(
    qbo_id: str,
    doc_number: str | None,
    vendor_ref: str | None,
    txn_date: date | None,
    due_date: date | None,
    total: Decimal | None,
    balance: Decimal | None,
    updated_at: datetime | None,
    raw_text: str,
    *,
    lists: _Lists,
) -> _BillFact:
    # Only names and references are read from the raw bill (its amounts come from the typed columns), so the fast
    # parser's floats are never used for money.
    raw: dict[str, Any] = orjson.loads(raw_text)
    balance = balance if balance is not None else ZERO
    vendor_id = vendor_ref or ""  # never empty: only bills with a vendor are selected
    return _BillFact(
        bill_id=qbo_id,
        doc_number=doc_number,
        vendor_id=vendor_id,
        vendor_name=_vendor_name(vendor_id, raw, lists.vendors),
        txn_date=txn_date,
        due_date=due_date,
        total=total if total is not None else balance,
        balance=balance,
        updated_at=updated_at,
        expense_accounts=_expense_accounts(raw, lists),
        term=_term(raw, lists.terms),
    )


def _vendor_name(vendor_id: str, raw: dict[str, Any], vendors: Mapping[str, Vendor]) -> str:
    """The vendor's current name from the vendor list (a rename reaches it without the bill changing), else the name
    the bill carried, else its id."""
    vendor = vendors.get(vendor_id)
    if vendor is not None:
        return vendor.name
    return ref_name(raw, "VendorRef") or vendor_id


def _expense_accounts(raw: dict[str, Any], lists: _Lists) -> tuple[ExpenseAccount, ...]:
    """The accounts the bill's lines are booked to, in line order, each once: an account line's own account, an item
    line's item's expense account. Bills booked alike share one tuple (a business has few such combinations)."""
    found: dict[str, str | None] = {}  # account id -> the name the line gave it
    for line in raw.get("Line") or ():
        if not isinstance(line, dict):
            continue
        detail = line.get("AccountBasedExpenseLineDetail")
        account_id = ref_id(detail, "AccountRef")
        if account_id is None:
            item_id = ref_id(line.get("ItemBasedExpenseLineDetail"), "ItemRef")
            account_id = lists.item_accounts.get(item_id) if item_id is not None else None
        if account_id is not None and account_id not in found:
            found[account_id] = ref_name(detail, "AccountRef")
    key = tuple(found)
    shared = lists.booked_alike.get(key)
    if shared is None:
        shared = tuple(
            lists.accounts.get(account_id) or ExpenseAccount(account_id, name or account_id, None, None)
            for account_id, name in found.items()
        )
        lists.booked_alike[key] = shared
    return shared


def _term(raw: dict[str, Any], terms: Mapping[str, Term]) -> Term | None:
    term_id = ref_id(raw, "SalesTermRef")
    if term_id is None:
        return None
    return terms.get(term_id) or Term(term_id, ref_name(raw, "SalesTermRef") or term_id, None)


def _payment_rows(business_id: uuid.UUID) -> Select[str, date | None, str]:
    return select(
        MirroredBillPayment.qbo_id, MirroredBillPayment.txn_date, type_coerce(MirroredBillPayment.raw, Text)
    ).where(MirroredBillPayment.business_id == business_id, MirroredBillPayment.status.in_(_LIVE))


def _payment_lines(rows: Iterable[tuple[str, date | None, str]]) -> _PaymentLines:
    """Each live BillPayment's lines, by the bill (or vendor credit) they are linked to, dated by the payment."""
    lines = _PaymentLines()
    for payment_id, txn_date, raw_text in rows:
        # Amounts are money: parsed as Decimal, never through float.
        raw: dict[str, Any] = loads_exact(raw_text)
        day = txn_date or UNDATED
        linked = list(_linked_amounts(raw))
        with_credit = any(kind == "VendorCredit" for kind, _, _ in linked)
        for kind, txn_id, amount in linked:
            if kind == "Bill":
                lines.by_bill[txn_id].append(Settlement(txn_id, payment_id, day, amount, with_credit))
            elif kind == "VendorCredit":
                lines.by_credit[txn_id].append((day, amount))
    return lines


def _linked_amounts(payment: dict[str, Any]) -> Iterable[tuple[str, str, Decimal]]:
    """(TxnType, TxnId, amount) of each payment line: a line links one transaction (QBO's payment lines do)."""
    for line in payment.get("Line") or ():
        if not isinstance(line, dict):
            continue
        amount = _decimal(line.get("Amount"))
        for link in line.get("LinkedTxn") or ():
            if isinstance(link, dict) and link.get("TxnId") not in (None, "") and amount:
                yield str(link.get("TxnType")), str(link["TxnId"]), amount


def _decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, str):
        try:
            return Decimal(value)
        except ArithmeticError:
            return ZERO
    return ZERO


def _credit_rows(business_id: uuid.UUID) -> Select[str, str | None, date | None, Decimal | None]:
    return select(
        MirroredVendorCredit.qbo_id,
        MirroredVendorCredit.vendor_id,
        MirroredVendorCredit.txn_date,
        MirroredVendorCredit.total_amt,
    ).where(
        MirroredVendorCredit.business_id == business_id,
        MirroredVendorCredit.status.in_(_LIVE),
        MirroredVendorCredit.vendor_id.is_not(None),
    )


def _credits(
    rows: Iterable[tuple[str, str | None, date | None, Decimal | None]],
    applied: Mapping[str, list[tuple[date, Decimal]]],
) -> list[VendorCreditHistory]:
    return [
        VendorCreditHistory(credit_id, vendor_id, txn_date, total or ZERO, tuple(sorted(applied.get(credit_id, ()))))
        for credit_id, vendor_id, txn_date, total in rows
        if vendor_id is not None
    ]


def _payable(fact: _BillFact, lists: _Lists, paid: Sequence[Settlement], zone: ZoneInfo) -> PayableBill:
    settlements = sorted(paid, key=lambda item: (item.day, item.payment_id or ""))
    # QBO's balance fell by more than the mirror's payments explain (a payment not mirrored, an adjustment): the rest
    # is settled on the bill's last change, so that today's balance is QBO's and nothing is left open forever.
    unexplained = fact.total - sum((item.amount for item in settlements), ZERO) - fact.balance
    if unexplained > 0:
        changed = fact.updated_at.astimezone(zone).date() if fact.updated_at is not None else fact.txn_date
        day = max(changed or UNDATED, fact.txn_date or UNDATED)
        settlements.append(Settlement(fact.bill_id, None, day, unexplained))
        settlements.sort(key=lambda item: (item.day, item.payment_id or ""))
    return PayableBill(
        bill_id=fact.bill_id,
        doc_number=fact.doc_number,
        vendor_id=fact.vendor_id,
        vendor_name=fact.vendor_name,
        txn_date=fact.txn_date,
        due_date=fact.due_date,
        total=fact.total,
        current_balance=fact.balance,
        expense_accounts=fact.expense_accounts,
        term=fact.term,
        settlements=tuple(settlements),
    )


def _open_now(fact: _BillFact) -> OpenBill:
    return OpenBill(
        bill_id=fact.bill_id,
        doc_number=fact.doc_number,
        vendor_id=fact.vendor_id,
        vendor_name=fact.vendor_name,
        txn_date=fact.txn_date,
        due_date=fact.due_date,
        total=fact.total,
        balance=fact.balance,
        expense_accounts=fact.expense_accounts,
        term=fact.term,
    )
