"""Invoices not issued yet but as good as certain: a customer billed the same amount on a schedule (a monthly
retainer). Found in the receivables history as of a day, projected over the horizon, each expected to be collected
when that customer's habits make likely — the same behaviour that dates its open invoices.

Without them a 13-week forecast sees only the invoices open today, a month or so of revenue, against three months
of payroll and rent: its runway would be short by construction. Only fixed-amount series count (one customer, one
amount, three invoices at least, on a cadence): project work billed at random amounts is not forecast, so the
forecast stays on the cautious side. A series is projected from its latest invoice, open or paid: an open one is in
the forecast already as itself.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from oodaloo.domains.ap.recurring import MIN_OCCURRENCES, RECENT_OCCURRENCES, Schedule, describe_schedule, fit_schedule
from oodaloo.domains.ar.behaviour import Behaviours
from oodaloo.domains.ar.history import Invoice, OpenInvoice, Receivables
from oodaloo.runway.core.forecast import Inflow


@dataclass(frozen=True)
class InvoiceSeries:
    """A customer invoiced ``amount`` on ``schedule``, due ``terms_days`` after each invoice."""

    id: str
    customer_id: str
    customer_name: str
    amount: Decimal
    schedule: Schedule
    terms_days: int
    last_invoiced: date


def detect_invoicing(receivables: Receivables, as_of: date) -> list[InvoiceSeries]:
    """The fixed-amount invoice series alive as of ``as_of``, from invoices dated on or before it."""
    groups: dict[tuple[str, Decimal], list[Invoice]] = defaultdict(list)
    for invoice in receivables.created_by(as_of):
        if invoice.total > 0:
            groups[(invoice.customer_id, invoice.total)].append(invoice)
    found = []
    for (customer_id, amount), invoices in groups.items():
        by_day = {invoice.txn_date: invoice for invoice in invoices}
        days = sorted(by_day)[-RECENT_OCCURRENCES:]
        if len(days) < MIN_OCCURRENCES:
            continue
        fit = fit_schedule(days)
        if fit is None or fit.schedule.stopped(fit.on_schedule[-1], as_of):
            continue
        terms = sorted((by_day[day].due_date - day).days for day in fit.on_schedule)[len(fit.on_schedule) // 2]
        found.append(
            InvoiceSeries(
                id=f"invoicing-{customer_id}-{amount}",
                customer_id=customer_id,
                customer_name=receivables.customer_name(customer_id),
                amount=amount,
                schedule=fit.schedule,
                terms_days=max(terms, 0),
                last_invoiced=fit.on_schedule[-1],
            )
        )
    return sorted(found, key=lambda series: (-series.amount, series.id))


def expected_invoices(series: InvoiceSeries, behaviours: Behaviours, as_of: date, until: date) -> Iterator[Inflow]:
    """The series' next invoices (one due already and not issued yet counts as issued today), each collected when
    the customer's habits make likely, up to ``until``."""
    words = describe_schedule(series.schedule)
    invoice_day = series.schedule.after(series.last_invoiced)
    while invoice_day < until:
        issued = max(invoice_day, as_of)
        due = issued + timedelta(days=series.terms_days)
        projected = OpenInvoice(
            invoice_id=f"{series.id}:{invoice_day.isoformat()}",
            doc_number=None,
            customer_id=series.customer_id,
            customer_name=series.customer_name,
            txn_date=issued,
            due_date=due,
            total=series.amount,
            balance=series.amount,
            as_of=as_of,
        )
        collection = behaviours.expected_collection(projected, as_of)
        # Not paid before it is issued, whatever the customer's habit of paying early.
        early, expected, late = (max(day, issued) for day in (collection.early, collection.expected, collection.late))
        if expected < until:
            yield Inflow(
                kind="expected_invoice",
                source_id=projected.invoice_id,
                name=f"{series.customer_name}, next invoice",
                amount=series.amount,
                date=expected,
                early=early,
                late=late,
                reason=(
                    f"{series.customer_name} is invoiced {series.amount} {words} (last on "
                    f"{series.last_invoiced.isoformat()}); the next, expected {issued.isoformat()}, is due "
                    f"{due.isoformat()}. {collection.reason}"
                ),
            )
        invoice_day = series.schedule.after(invoice_day)
