"""The demo's receivables: invoices; customer payments as each customer's own habits have them (payers.py), batched
by pay run, in parts, disputed; check deposits and unapplied payments."""

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
from .model import ZERO, Draft, between, money
from .payers import Payer, draw_payer, part_of, whole_dollars
from .scenarios import Profile
from .settlements import Settlements
from .setup import CustomerPlan, Lists
from .writer import Writer

UNSENT_INVOICES = 3
UNAPPLIED_PAYMENTS = 2
FORGOTTEN_CHECKS = 2
# A check takes a few days in the mail before the firm records it.
MAIL_DAYS = (2, 6)
# The rest of a part-paid invoice follows some weeks after the first part.
REST_AFTER_DAYS = (14, 45)
# How a dispute ends (cumulative chances): paid in full much later; part credited and the rest paid; written off.
PAID_LATE, CREDITED = 0.4, 0.8
DISPUTE_PAID_LATE_DAYS = (30, 90)
DISPUTE_SETTLED_DAYS = (20, 70)
DISPUTED_SHARE = (0.1, 0.4)
PAID_AFTER_SETTLEMENT_DAYS = (0, 14)
# A written-off invoice is sometimes part paid first; the rest is written off months past due.
WRITE_OFF_PART_PAID = 0.5
WRITE_OFF_PART_AFTER_DAYS = (20, 60)
WRITE_OFF_AFTER_DUE_DAYS = (120, 210)
WRITE_OFF_AFTER_PAYMENT_DAYS = (30, 60)


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
    # What is still open today, after every payment and credit written.
    balance: Decimal
    email_status: list[str] = field(default_factory=lambda: ["EmailSent"])
    # Given at build time, in chronological order with the other sales forms.
    number: str = ""

    @property
    def paid_in_full(self) -> bool:
        return self.balance <= 0


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
        self.settlements = Settlements(book, lists, self.invoice_numbers)
        # Invoices still open when the books moved to QBO are entered on conversion day, with their own dates.
        self.conversion = conversion

    def write(self, profile: Profile) -> Sales:
        self.pipeline_shrinks_on = shape_clientele(
            self.lists.customers, profile, self.rng, start=self.start, today=self.today
        )
        self.pipeline_left = 1 - profile.revenue_lost
        for customer in self.lists.customers:
            payer = draw_payer(self.rng, customer, profile, start=self.start, today=self.today)
            invoices = [self._invoice(customer, txn_date, lines) for txn_date, lines in self._billing(customer)]
            self._collect(payer, invoices)
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

    def _invoice(self, customer: CustomerPlan, txn_date: date, lines: list[SalesLine]) -> Invoice:
        total = sum((line.amount for line in lines), Decimal(0))
        due = txn_date + timedelta(days=customer.term_days)
        numbers = self.invoice_numbers
        status = ["EmailSent"]

        def build() -> Body:
            invoice.number = str(next(numbers))
            return {
                "CustomerRef": customer.draft.ref(),
                "TxnDate": txn_date.isoformat(),
                "DueDate": due.isoformat(),
                "SalesTermRef": customer.term.ref(),
                "DocNumber": invoice.number,
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
        invoice = Invoice(draft, customer, txn_date, due, total, balance=total, email_status=status)
        self.sales.invoices.append(invoice)
        return invoice

    def _mark_unsent(self) -> None:
        """The newest few open invoices have not been emailed yet."""
        recent = sorted(self.sales.invoices, key=lambda invoice: (invoice.txn_date, invoice.draft.seq), reverse=True)
        for invoice in [invoice for invoice in recent if not invoice.paid_in_full][:UNSENT_INVOICES]:
            invoice.email_status[0] = "NeedToSend"

    # -- collections ----------------------------------------------------------------------------

    def _collect(self, payer: Payer, invoices: list[Invoice]) -> None:
        """Each invoice paid as its customer pays; anything due to happen after today does not happen yet.

        Disputed and part-paid invoices are settled on their own; the rest go out on the customer's pay runs, one
        payment per run for a customer who batches.
        """
        runs: dict[date, list[Invoice]] = {}
        for invoice in invoices:
            # Invoices carried over from the old books are paid once the QBO books have started.
            earliest = max(invoice.txn_date + timedelta(days=1), self.start + timedelta(days=between(self.rng, 0, 6)))
            intended = max(payer.intended(self.rng, invoice.due_date, invoice.total), earliest)
            if self.rng.random() < payer.dispute_chance:
                self._disputed(payer, invoice, intended)
            elif self.rng.random() < payer.partial_chance:
                self._in_parts(payer, invoice, intended)
            elif payer.batches:
                runs.setdefault(payer.pay_run(intended), []).append(invoice)
            else:
                self._pay(payer.pay_run(intended), [(invoice, invoice.total)])
        for run, batch in _catch_up(runs, payer.catch_up_days):
            self._pay(run, [(invoice, invoice.total) for invoice in batch])

    def _in_parts(self, payer: Payer, invoice: Invoice, intended: date) -> None:
        first = part_of(self.rng, invoice.total)
        paid_on = payer.pay_run(intended)
        self._pay(paid_on, [(invoice, first)])
        rest_on = payer.pay_run(paid_on + timedelta(days=between(self.rng, *REST_AFTER_DAYS)))
        self._pay(rest_on, [(invoice, invoice.total - first)])

    def _disputed(self, payer: Payer, invoice: Invoice, intended: date) -> None:
        """A disputed invoice is paid in full much later, settled with a credit for the disputed part, or written
        off months past due (sometimes after a part payment)."""
        outcome = self.rng.random()
        if outcome < PAID_LATE:
            paid_on = payer.pay_run(intended + timedelta(days=between(self.rng, *DISPUTE_PAID_LATE_DAYS)))
            self._pay(paid_on, [(invoice, invoice.total)])
        elif outcome < CREDITED:
            settled_on = next_business_day(intended + timedelta(days=between(self.rng, *DISPUTE_SETTLED_DAYS)))
            credit = whole_dollars(invoice.total * Decimal(str(self.rng.uniform(*DISPUTED_SHARE))))
            paid_on = payer.pay_run(settled_on + timedelta(days=between(self.rng, *PAID_AFTER_SETTLEMENT_DAYS)))
            if settled_on <= self.today and ZERO < credit < invoice.total:
                self.settlements.credit_disputed_part(invoice, settled_on, credit)
                self._pay(paid_on, [(invoice, invoice.total - credit)])
        else:
            write_off_on = next_business_day(
                invoice.due_date + timedelta(days=between(self.rng, *WRITE_OFF_AFTER_DUE_DAYS))
            )
            if self.rng.random() < WRITE_OFF_PART_PAID:
                paid_on = payer.pay_run(intended + timedelta(days=between(self.rng, *WRITE_OFF_PART_AFTER_DAYS)))
                self._pay(paid_on, [(invoice, part_of(self.rng, invoice.total))])
                after_payment = paid_on + timedelta(days=between(self.rng, *WRITE_OFF_AFTER_PAYMENT_DAYS))
                write_off_on = max(write_off_on, next_business_day(after_payment))
            if write_off_on <= self.today:
                self.settlements.write_off(invoice, write_off_on, invoice.balance)

    def _pay(self, run: date, parts: list[tuple[Invoice, Decimal]]) -> None:
        """One payment for ``parts`` sent on the customer's pay run ``run``, if it has reached the firm by today: an
        ACH lands that day, a check some days later in the mail."""
        customer = parts[0][0].customer
        received = (
            next_business_day(run + timedelta(days=between(self.rng, *MAIL_DAYS))) if customer.pays_by_check else run
        )
        if received > self.today:
            return
        for invoice, amount in parts:
            invoice.balance -= amount
        self._payment(customer, received, parts)

    def _payment(self, customer: CustomerPlan, paid_on: date, parts: list[tuple[Invoice, Decimal]]) -> None:
        by_check = customer.pays_by_check
        account = self.lists.accounts["Undeposited Funds" if by_check else "Checking"]
        reference = f"{between(self.rng, 1000, 9999)}" if by_check else "ACH"
        check = self.lists.payment_methods["Check"]
        amount = sum((part for _, part in parts), ZERO)

        def build() -> Body:
            body: Body = {
                "CustomerRef": customer.draft.ref(),
                "TotalAmt": amount,
                "TxnDate": paid_on.isoformat(),
                "DepositToAccountRef": account.ref(),
                "PaymentRefNum": reference,
                "Line": [
                    {"Amount": part, "LinkedTxn": [{"TxnId": invoice.draft.id, "TxnType": "Invoice"}]}
                    for invoice, part in parts
                ],
            }
            if by_check:
                body["PaymentMethodRef"] = check.ref()
            return body

        after = tuple(invoice.draft for invoice, _ in parts)
        draft = self.book.add("Payment", paid_on, build, after=after, bank_delta=ZERO if by_check else amount)
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


def _catch_up(runs: dict[date, list[Invoice]], days: int) -> list[tuple[date, list[Invoice]]]:
    """Pay runs as batches; a customer that catches up also pays, on a run, the invoices of its runs in the next
    ``days`` days that it already has."""
    batches: list[tuple[date, list[Invoice]]] = []
    for run in sorted(runs):
        if batches and (run - batches[-1][0]).days <= days:
            current, batch = batches[-1]
            if all(invoice.txn_date < current for invoice in runs[run]):
                batch.extend(runs[run])
                continue
        batches.append((run, list(runs[run])))
    return batches


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
