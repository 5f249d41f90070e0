"""A business's receivables history from its QBO mirror: every live invoice with the dated settlements that paid it
down (customer payments, credit memos applied), loaded once so that pure methods answer "as of a day".

As of a day D, only what is dated on or before D counts: an invoice is there once its TxnDate is reached, and its
balance is its total less the settlements dated on or before D. A settlement is dated by its Payment's TxnDate (a
credit memo is applied through a Payment, as QBO records it, and settles on that Payment's date).
"""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Text, cast, func, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.core.models import Business
from oodaloo.domains.qbo.mirror_models import (
    MirroredCreditMemo,
    MirroredCustomer,
    MirroredInvoice,
    MirroredPayment,
    MirrorStatus,
)
from oodaloo.infra.collector import collector_paused
from oodaloo.infra.exact_json import loads_exact

ZERO = Decimal("0.00")
INVOICE_LINK = "Invoice"
CREDIT_MEMO_LINK = "CreditMemo"
# A journal entry crediting the customer is applied to invoices the way a credit memo is (a Payment line links it).
JOURNAL_ENTRY_LINK = "JournalEntry"


@dataclass(frozen=True, slots=True)
class Settlement:
    """Part of an invoice paid down on ``day``: ``amount`` in all, of which ``credit`` by credit memos (no cash).

    ``payment_id`` is the QBO Payment that applied it; None for the part QBO shows settled with no payment in the
    mirror to date it (see :func:`_unexplained_settlement`)."""

    invoice_id: str
    customer_id: str
    day: date
    amount: Decimal
    credit: Decimal = ZERO
    payment_id: str | None = None

    @property
    def cash(self) -> Decimal:
        return self.amount - self.credit


@dataclass(frozen=True, slots=True)
class Invoice:
    """A live invoice and everything that settled it. ``due_date`` is QBO's DueDate, else its TxnDate
    (an invoice without terms is due on receipt)."""

    invoice_id: str
    doc_number: str | None
    customer_id: str
    customer_name: str
    txn_date: date
    due_date: date
    total: Decimal
    settlements: tuple[Settlement, ...] = ()
    # The day its balance reached zero (None while something is owed): settlements only ever pay an invoice down.
    settled_on: date | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        paid, settled_on = ZERO, None
        for settlement in sorted(self.settlements, key=lambda settlement: settlement.day):
            paid += settlement.amount
            if paid >= self.total:
                settled_on = settlement.day
                break
        if self.total <= 0:  # nothing was ever owed
            settled_on = self.txn_date
        object.__setattr__(self, "settled_on", settled_on)

    def balance_as_of(self, day: date) -> Decimal:
        if day < self.txn_date:
            return ZERO
        paid = sum((settlement.amount for settlement in self.settlements if settlement.day <= day), ZERO)
        return max(self.total - paid, ZERO)

    def is_open_on(self, day: date) -> bool:
        return self.txn_date <= day and (self.settled_on is None or self.settled_on > day)


@dataclass(frozen=True, slots=True)
class OpenInvoice:
    """An invoice with something owed at the end of ``as_of``, as it stood that day."""

    invoice_id: str
    doc_number: str | None
    customer_id: str
    customer_name: str
    txn_date: date
    due_date: date
    total: Decimal
    balance: Decimal
    as_of: date

    @property
    def days_overdue(self) -> int:
        """Days past its due date (negative: days until it is due)."""
        return (self.as_of - self.due_date).days

    @property
    def overdue(self) -> bool:
        return self.days_overdue > 0


@dataclass(frozen=True, slots=True)
class Customer:
    customer_id: str
    name: str
    active: bool


class Receivables:
    """One business's invoices and settlements, held in memory; every method is pure and answers as of a day."""

    def __init__(self, invoices: Iterable[Invoice], customers: Iterable[Customer] = ()) -> None:
        self.invoices: tuple[Invoice, ...] = tuple(
            sorted(invoices, key=lambda invoice: (invoice.txn_date, invoice.invoice_id))
        )
        self._txn_dates = [invoice.txn_date for invoice in self.invoices]
        self.by_id = {invoice.invoice_id: invoice for invoice in self.invoices}
        self.customers = {customer.customer_id: customer for customer in customers}
        for invoice in self.invoices:  # a customer the mirror lacks is still known by the name its invoices give
            self.customers.setdefault(
                invoice.customer_id, Customer(invoice.customer_id, invoice.customer_name, active=True)
            )
        settlements = [settlement for invoice in self.invoices for settlement in invoice.settlements]
        self.settlements: tuple[Settlement, ...] = tuple(sorted(settlements, key=lambda s: (s.day, s.invoice_id)))
        self._settlement_days = [settlement.day for settlement in self.settlements]

    def __len__(self) -> int:
        return len(self.invoices)

    def created_by(self, day: date) -> Sequence[Invoice]:
        """The invoices dated on or before ``day``, oldest first."""
        return self.invoices[: bisect.bisect_right(self._txn_dates, day)]

    def open_as_of(self, day: date) -> list[OpenInvoice]:
        """The invoices with a balance at the end of ``day``, oldest first; one dated after ``day`` is not there."""
        return [
            OpenInvoice(
                invoice_id=invoice.invoice_id,
                doc_number=invoice.doc_number,
                customer_id=invoice.customer_id,
                customer_name=invoice.customer_name,
                txn_date=invoice.txn_date,
                due_date=invoice.due_date,
                total=invoice.total,
                balance=invoice.balance_as_of(day),
                as_of=day,
            )
            for invoice in self.created_by(day)
            if invoice.is_open_on(day)
        ]

    def settlements_between(self, start: date, end: date) -> list[Settlement]:
        """The settlements dated from ``start`` to ``end``, both included, oldest first."""
        low = bisect.bisect_left(self._settlement_days, start)
        high = bisect.bisect_right(self._settlement_days, end)
        return list(self.settlements[low:high])

    def collected_between(
        self, invoice_ids: Iterable[str], start: date, end: date, *, include_credits: bool = False
    ) -> Decimal:
        """What ``invoice_ids`` brought in from ``start`` to ``end`` (both included): cash only unless
        ``include_credits`` (a credit memo settles an invoice without money arriving). With the ids of
        ``open_as_of(D)``, this is what a forecast made on D had to predict."""
        wanted = set(invoice_ids)
        return sum(
            (
                settlement.amount if include_credits else settlement.cash
                for settlement in self.settlements_between(start, end)
                if settlement.invoice_id in wanted
            ),
            ZERO,
        )

    def customer_name(self, customer_id: str) -> str:
        customer = self.customers.get(customer_id)
        return customer.name if customer is not None else f"Customer {customer_id}"


# ------------------------------------------------------------------------------------------------------ loading
async def load_receivables(session: AsyncSession, business_id: uuid.UUID) -> Receivables:
    """Every live (not voided, not deleted) invoice of the business's mirror with its settlements: five set-based
    queries of only the columns needed (of each payment, only its lines), whatever the size of the books."""
    timezone = await session.scalar(select(Business.timezone).where(Business.id == business_id))
    customer_rows = (
        await session.execute(
            select(MirroredCustomer.qbo_id, MirroredCustomer.name, MirroredCustomer.status).where(
                MirroredCustomer.business_id == business_id, MirroredCustomer.status != MirrorStatus.DELETED
            )
        )
    ).all()
    live_credit_memos = set(
        await session.scalars(
            select(MirroredCreditMemo.qbo_id).where(
                MirroredCreditMemo.business_id == business_id, MirroredCreditMemo.status == MirrorStatus.ACTIVE
            )
        )
    )
    invoice_rows = (
        await session.execute(
            select(
                MirroredInvoice.qbo_id,
                MirroredInvoice.doc_number,
                MirroredInvoice.customer_id,
                MirroredInvoice.txn_date,
                MirroredInvoice.due_date,
                MirroredInvoice.total_amt,
                MirroredInvoice.balance,
                MirroredInvoice.qbo_updated_at,
            ).where(MirroredInvoice.business_id == business_id, MirroredInvoice.status == MirrorStatus.ACTIVE)
        )
    ).all()
    dialect = session.get_bind().dialect.name
    payment_rows = (
        await session.execute(
            select(MirroredPayment.qbo_id, MirroredPayment.txn_date, _payment_lines(dialect)).where(
                MirroredPayment.business_id == business_id,
                MirroredPayment.status == MirrorStatus.ACTIVE,
                MirroredPayment.txn_date.is_not(None),
            )
        )
    ).all()
    # Everything is fetched: what follows is pure computation, with no await for another task to run during.
    # Building the history allocates a few objects per invoice and frees none: on large books the cyclic garbage
    # collector's passes over them would cost more than the building itself.
    with collector_paused():
        customers = {
            qbo_id: Customer(qbo_id, name or f"Customer {qbo_id}", status is MirrorStatus.ACTIVE)
            for qbo_id, name, status in customer_rows
        }
        applied: dict[str, list[tuple[str, date, Decimal, Decimal]]] = {}
        for payment_id, paid_on, lines in payment_rows:
            for invoice_id, amount, credit in _applications(_lines_of(lines), live_credit_memos):
                applied.setdefault(invoice_id, []).append((payment_id, paid_on, amount, credit))
        zone = ZoneInfo(timezone or "UTC")
        invoices = []
        for qbo_id, doc_number, customer_id, txn_date, due_date, total, balance, updated_at in invoice_rows:
            if customer_id is None or txn_date is None or total is None or total <= 0:
                continue  # nothing was ever owed on it: nothing to forecast or learn from
            name = customers[customer_id].name if customer_id in customers else f"Customer {customer_id}"
            invoices.append(
                _invoice(
                    invoice_id=qbo_id,
                    doc_number=doc_number,
                    customer_id=customer_id,
                    customer_name=name,
                    txn_date=txn_date,
                    due_date=due_date or txn_date,
                    total=total,
                    qbo_balance=balance,
                    updated_on=_local_day(updated_at, zone),
                    applied=applied.get(qbo_id, ()),
                )
            )
        return Receivables(invoices, customers.values())


def _payment_lines(dialect: str) -> ColumnElement[Any]:
    """A payment's ``Line`` array as JSON text, cut out of its QBO object by the database: reading whole objects
    (metadata, references, memos) took most of the load's time. Both databases keep each number's own digits."""
    if dialect == "sqlite":
        return func.json_extract(MirroredPayment.raw, "$.Line", type_=Text)
    if dialect == "postgresql":
        lines: ColumnElement[Any] = cast(MirroredPayment.raw, JSONB)["Line"].astext
        return lines
    return MirroredPayment.__table__.c.raw  # elsewhere the whole object, read as the mirror stores it


def _lines_of(lines: str | dict[str, Any] | None) -> list[Any]:
    """Decimals, never floats: amounts are money."""
    if lines is None:
        return []
    if isinstance(lines, dict):  # the whole object
        found = lines.get("Line")
        return found if isinstance(found, list) else []
    parsed = loads_exact(lines)
    return parsed if isinstance(parsed, list) else []


def _applications(lines: list[Any], live_credit_memos: set[str]) -> Iterator[tuple[str, Decimal, Decimal]]:
    """(invoice id, amount settled, of which by credit) for each Invoice line of a Payment. Credits applied in the same
    Payment (credit memos, journal entries) cover its invoices in line order (QBO does not say which invoice a credit
    went to)."""
    invoice_lines: list[tuple[str, Decimal]] = []
    credits = ZERO
    for line in lines:
        if not isinstance(line, dict):
            continue
        amount = _amount(line.get("Amount"))
        if amount is None or amount <= 0:
            continue
        for link in line.get("LinkedTxn") or []:
            if not isinstance(link, dict) or link.get("TxnId") in (None, ""):
                continue
            linked_type, linked_id = link.get("TxnType"), str(link["TxnId"])
            if linked_type == INVOICE_LINK:
                invoice_lines.append((linked_id, amount))
            elif (
                linked_type == CREDIT_MEMO_LINK and linked_id in live_credit_memos
            ) or linked_type == JOURNAL_ENTRY_LINK:
                credits += amount
    for invoice_id, amount in invoice_lines:
        credit = min(amount, credits)
        credits -= credit
        yield invoice_id, amount, credit


def _invoice(
    *,
    invoice_id: str,
    doc_number: str | None,
    customer_id: str,
    customer_name: str,
    txn_date: date,
    due_date: date,
    total: Decimal,
    qbo_balance: Decimal | None,
    updated_on: date | None,
    applied: Iterable[tuple[str, date, Decimal, Decimal]],
) -> Invoice:
    settlements: list[Settlement] = []
    remaining = total
    # Oldest first; a payment dated before the invoice (money received, applied later) settles it on its own date.
    for payment_id, paid_on, amount, credit in sorted(applied, key=lambda item: (item[1], item[0])):
        if remaining <= 0:
            break
        part = min(amount, remaining)  # never more than is owed (a mirror caught between two syncs)
        settlements.append(
            Settlement(invoice_id, customer_id, max(paid_on, txn_date), part, min(credit, part), payment_id)
        )
        remaining -= part
    unexplained = _unexplained_settlement(
        invoice_id,
        customer_id,
        remaining,
        qbo_balance,
        after=settlements[-1].day if settlements else txn_date,
        updated_on=updated_on,
    )
    if unexplained is not None:
        settlements.append(unexplained)
    return Invoice(
        invoice_id=invoice_id,
        doc_number=doc_number,
        customer_id=customer_id,
        customer_name=customer_name,
        txn_date=txn_date,
        due_date=due_date,
        total=total,
        settlements=tuple(settlements),
    )


def _unexplained_settlement(
    invoice_id: str,
    customer_id: str,
    remaining: Decimal,
    qbo_balance: Decimal | None,
    *,
    after: date,
    updated_on: date | None,
) -> Settlement | None:
    """QBO's Balance is the truth about what is owed today. When it is lower than what the mirrored payments leave,
    something the mirror cannot see settled the rest; it is dated when QBO last changed the invoice (never before
    the last known settlement), so the invoice is not forecast as if still owed."""
    if qbo_balance is None or qbo_balance >= remaining:
        return None
    day = max(after, updated_on) if updated_on is not None else after
    return Settlement(invoice_id, customer_id, day, remaining - max(qbo_balance, ZERO))


def _amount(value: Any) -> Decimal | None:
    if value in (None, "") or isinstance(value, bool):
        return None
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def _local_day(moment: datetime | None, zone: ZoneInfo) -> date | None:
    return None if moment is None else moment.astimezone(zone).date()
