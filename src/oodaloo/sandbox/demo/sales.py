"""The demo's receivables: invoices, customer payments by habit, check deposits and unapplied payments."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from .book import Body, Book
from .dates import add_months, month_starts, next_business_day, on_day
from .model import Draft, between, money
from .scenarios import Profile
from .setup import CustomerPlan, Lists
from .writer import Writer

UNSENT_INVOICES = 3
UNAPPLIED_PAYMENTS = 2
FORGOTTEN_CHECKS = 2


class SalesLine(NamedTuple):
    item: Draft
    description: str
    qty: Decimal
    price: Decimal

    @property
    def amount(self) -> Decimal:
        return money(self.qty * self.price)

    def body(self) -> Body:
        return {
            "Amount": self.amount,
            "DetailType": "SalesItemLineDetail",
            "Description": self.description,
            "SalesItemLineDetail": {"ItemRef": self.item.ref(), "Qty": self.qty, "UnitPrice": self.price},
        }


@dataclass
class Invoice:
    draft: Draft
    customer: CustomerPlan
    txn_date: date
    due_date: date
    total: Decimal
    paid_in_full: bool
    email_status: list[str] = field(default_factory=lambda: ["EmailSent"])


@dataclass
class CheckPayment:
    """A payment waiting in Undeposited Funds for a bank deposit."""

    draft: Draft
    received: date
    amount: Decimal


@dataclass
class Sales:
    invoices: list[Invoice] = field(default_factory=list)
    checks: list[CheckPayment] = field(default_factory=list)

    def revenue_by_month(self) -> dict[date, Decimal]:
        totals: dict[date, Decimal] = {}
        for invoice in self.invoices:
            month = invoice.txn_date.replace(day=1)
            totals[month] = totals.get(month, Decimal(0)) + invoice.total
        return totals


class SalesWriter(Writer):
    def __init__(
        self, book: Book, lists: Lists, *, start: date, today: date, frequency: int, conversion: datetime
    ) -> None:
        super().__init__(book, lists, start=start, today=today, frequency=frequency)
        self.sales = Sales()
        self.invoice_numbers = itertools.count(1001)
        # Invoices still open when the books moved to QBO are entered on conversion day, with their own dates.
        self.conversion = conversion

    def write(self, profile: Profile) -> Sales:
        self.pipeline_shrinks_on = shape_clientele(
            self.lists.customers, profile, self.rng, start=self.start, today=self.today
        )
        self.pipeline_left = 1 - profile.revenue_lost
        for customer in self.lists.customers:
            for txn_date, lines in self._billing(customer):
                self._invoice(customer, txn_date, lines)
        self._mark_unsent()
        self._deposit_checks()
        self._unapplied_payments()
        return self.sales

    # -- invoices -------------------------------------------------------------------------------

    def _billing(self, customer: CustomerPlan) -> Iterator[tuple[date, list[SalesLine]]]:
        """Invoice dates and lines: retainers on the customer's billing day, projects at random."""
        last = min(self.today, customer.active_until or self.today)
        for month in month_starts(customer.active_from, last):
            dates: list[tuple[date, list[SalesLine]]] = []
            if customer.retainer is not None:
                dates.extend(self._retainer_invoices(customer, month))
            for _ in range(self._poisson(self._project_rate(customer, month))):
                day = on_day(month, between(self.rng, 1, 28))
                dates.append((day, self._project_lines(customer)))
            for txn_date, lines in sorted(dates, key=lambda pair: pair[0]):
                if customer.active_from <= txn_date <= last:
                    yield next_business_day(txn_date) if txn_date.weekday() >= 5 else txn_date, lines

    def _project_rate(self, customer: CustomerPlan, month: date) -> float:
        """New project work dries up along with the lost retainers."""
        rate = customer.projects_per_month * self.frequency
        shrinks_on = self.pipeline_shrinks_on
        return rate * self.pipeline_left if shrinks_on is not None and month >= shrinks_on else rate

    def _retainer_invoices(self, customer: CustomerPlan, month: date) -> Iterator[tuple[date, list[SalesLine]]]:
        assert customer.retainer is not None
        per_invoice = money(customer.retainer / self.frequency)
        spacing = 28 // self.frequency
        for part in range(self.frequency):
            day = on_day(month, (customer.billing_day - 1 + part * spacing) % 28 + 1)
            label = f"Advisory retainer, {month:%B %Y}"
            yield day, [self._line("Monthly Retainer", label, Decimal(1), per_invoice)]

    def _project_lines(self, customer: CustomerPlan) -> list[SalesLine]:
        lines = [self._line("Consulting", "Consulting hours", self._hours(8, 60), customer.hourly_rate)]
        if self.rng.random() < 0.35:
            lines.append(self._line("Strategy Workshop", "Leadership workshop", self._hours(4, 16), money(225)))
        if self.rng.random() < 0.3:
            lines.append(self._line("Implementation", "Implementation support", self._hours(6, 40), money(150)))
        return lines

    def _hours(self, low: int, high: int) -> Decimal:
        return Decimal(between(self.rng, low * 2, high * 2)) / 2

    def _line(self, item_name: str, description: str, qty: Decimal, price: Decimal) -> SalesLine:
        return SalesLine(self.lists.items[item_name], description, qty, price)

    def _invoice(self, customer: CustomerPlan, txn_date: date, lines: list[SalesLine]) -> None:
        total = sum((line.amount for line in lines), Decimal(0))
        due = txn_date + timedelta(days=customer.term_days)
        numbers = self.invoice_numbers
        status = ["EmailSent"]

        def build() -> Body:
            return {
                "CustomerRef": customer.draft.ref(),
                "TxnDate": txn_date.isoformat(),
                "DueDate": due.isoformat(),
                "SalesTermRef": customer.term.ref(),
                "DocNumber": str(next(numbers)),
                "BillEmail": {"Address": customer.email},
                "EmailStatus": status[0],
                "CustomerMemo": {"value": "Thank you for your business."},
                "Line": [line.body() for line in lines],
            }

        if txn_date < self.start:
            self.conversion += timedelta(seconds=20)
            draft = self.book.add("Invoice", txn_date, build, after=(customer.draft,), entered=self.conversion)
        else:
            draft = self.book.add("Invoice", txn_date, build)
        invoice = Invoice(draft, customer, txn_date, due, total, paid_in_full=False, email_status=status)
        self.sales.invoices.append(invoice)
        self._collect(invoice)

    def _mark_unsent(self) -> None:
        """The newest few open invoices have not been emailed yet."""
        recent = sorted(self.sales.invoices, key=lambda invoice: (invoice.txn_date, invoice.draft.seq), reverse=True)
        for invoice in [invoice for invoice in recent if not invoice.paid_in_full][:UNSENT_INVOICES]:
            invoice.email_status[0] = "NeedToSend"

    # -- collections ----------------------------------------------------------------------------

    def _collect(self, invoice: Invoice) -> None:
        """Payments per the customer's habit; anything due to arrive after today stays open."""
        habit = invoice.customer.habit
        delay = round(self.rng.gauss(habit.mean_days, habit.spread_days))
        earliest = max(invoice.txn_date + timedelta(days=1), self.start + timedelta(days=between(self.rng, 0, 6)))
        paid_on = next_business_day(max(invoice.due_date + timedelta(days=delay), earliest))
        if habit.label == "erratic" and self.rng.random() < 0.3:
            first = money(invoice.total / 2)
            if paid_on <= self.today:
                self._payment(invoice, paid_on, first, (invoice.draft,))
            rest_on = next_business_day(paid_on + timedelta(days=between(self.rng, 10, 30)))
            if rest_on <= self.today:
                self._payment(invoice, rest_on, invoice.total - first, (invoice.draft,))
                invoice.paid_in_full = True
            return
        if paid_on <= self.today:
            self._payment(invoice, paid_on, invoice.total, (invoice.draft,))
            invoice.paid_in_full = True

    def _payment(self, invoice: Invoice, paid_on: date, amount: Decimal, after: tuple[Draft, ...]) -> None:
        customer = invoice.customer
        by_check = customer.pays_by_check
        account = self.lists.accounts["Undeposited Funds" if by_check else "Checking"]
        reference = f"{between(self.rng, 1000, 9999)}" if by_check else "ACH"
        check = self.lists.payment_methods["Check"]

        def build() -> Body:
            body: Body = {
                "CustomerRef": customer.draft.ref(),
                "TotalAmt": amount,
                "TxnDate": paid_on.isoformat(),
                "DepositToAccountRef": account.ref(),
                "PaymentRefNum": reference,
                "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": invoice.draft.id, "TxnType": "Invoice"}]}],
            }
            if by_check:
                body["PaymentMethodRef"] = check.ref()
            return body

        draft = self.book.add("Payment", paid_on, build, after=after, bank_delta=Decimal(0) if by_check else amount)
        if by_check:
            self.sales.checks.append(CheckPayment(draft, paid_on, amount))

    def _deposit_checks(self) -> None:
        """Checks are banked a few business days after they arrive; a couple are forgotten."""
        old = [c for c in self.sales.checks if 30 <= (self.today - c.received).days <= 120]
        forgotten = {id(check) for check in old[-FORGOTTEN_CHECKS:]}
        batches: dict[date, list[CheckPayment]] = {}
        for check in self.sales.checks:
            deposit_on = next_business_day(check.received + timedelta(days=between(self.rng, 1, 4)))
            if id(check) not in forgotten and deposit_on <= self.today:
                batches.setdefault(deposit_on, []).append(check)
        for deposit_on in sorted(batches):
            self._deposit(deposit_on, batches[deposit_on])

    def _deposit(self, deposit_on: date, checks: list[CheckPayment]) -> None:
        checking = self.lists.accounts["Checking"]

        def build() -> Body:
            return {
                "DepositToAccountRef": checking.ref(),
                "TxnDate": deposit_on.isoformat(),
                "PrivateNote": f"Check deposit ({len(checks)} checks)",
                "Line": [
                    {
                        "Amount": check.amount,
                        "LinkedTxn": [{"TxnId": check.draft.id, "TxnType": "Payment", "TxnLineId": "0"}],
                    }
                    for check in checks
                ],
            }

        total = sum((check.amount for check in checks), Decimal(0))
        after = tuple(check.draft for check in checks)
        self.book.add("Deposit", deposit_on, build, after=after, bank_delta=total)

    def _unapplied_payments(self) -> None:
        """A client or two paid without saying which invoice: money in the bank, invoices still open."""
        payers = [c for c in self.lists.customers if c.retainer is not None and c.active_until is None]
        for customer in payers[:UNAPPLIED_PAYMENTS]:
            paid_on = next_business_day(self.today - timedelta(days=between(self.rng, 20, 50)))
            self._unapplied_payment(customer, min(paid_on, self.today), customer.retainer or money(2500))

    def _unapplied_payment(self, customer: CustomerPlan, paid_on: date, amount: Decimal) -> None:
        checking = self.lists.accounts["Checking"]

        def build() -> Body:
            return {
                "CustomerRef": customer.draft.ref(),
                "TotalAmt": amount,
                "TxnDate": paid_on.isoformat(),
                "DepositToAccountRef": checking.ref(),
                "PaymentRefNum": "ACH",
                "PrivateNote": "Received by ACH; remittance advice missing",
            }

        self.book.add("Payment", paid_on, build, bank_delta=amount)

    def _poisson(self, mean: float) -> int:
        """Knuth's method; means here are small (a few per month)."""
        threshold, count, product = math.exp(-mean), 0, self.rng.random()
        while product > threshold:
            count += 1
            product *= self.rng.random()
        return count


def shape_clientele(
    customers: list[CustomerPlan], profile: Profile, rng: random.Random, *, start: date, today: date
) -> date | None:
    """Growth (clients joining during the history) and the loss of big clients that drives a cash squeeze.

    Returns when the first client was lost (None if none was).
    """
    months = max(1, (today.year - start.year) * 12 + today.month - start.month)
    for customer in customers[10:]:
        if rng.random() < profile.late_joiners:
            customer.active_from = add_months(start, between(rng, 2, max(2, months - 2)))
    retainers = sorted(
        (c for c in customers[10:] if c.retainer is not None), key=lambda c: c.retainer or 0, reverse=True
    )
    total = sum((c.retainer or Decimal(0) for c in retainers), Decimal(0))
    lost = Decimal(0)
    first_loss: date | None = None
    for customer in retainers:
        if lost >= total * Decimal(str(profile.revenue_lost)):
            break
        customer.active_until = today - timedelta(days=between(rng, 135, 165))
        first_loss = min(first_loss or customer.active_until, customer.active_until)
        lost += customer.retainer or Decimal(0)
    return first_loss
