"""Synthetic receivables for the AR tests: invoices with dated payments, built in a line or drawn by hypothesis."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import strategies as st

from oodaloo.domains.ar.history import Customer, Invoice, Receivables, Settlement

START = date(2025, 1, 6)


def invoice(
    invoice_id: str,
    customer_id: str,
    txn_date: date,
    *,
    total: str = "1000.00",
    terms: int = 30,
    paid: Sequence[tuple[date, str]] = (),
    credits: Sequence[tuple[date, str]] = (),
) -> Invoice:
    """An invoice due ``terms`` days after ``txn_date``, paid in cash on each (day, amount) of ``paid`` and by
    credit memo on each of ``credits``."""
    settlements = [
        Settlement(invoice_id, customer_id, day, Decimal(amount), payment_id=f"p-{invoice_id}-{index}")
        for index, (day, amount) in enumerate(paid)
    ] + [
        Settlement(invoice_id, customer_id, day, Decimal(amount), Decimal(amount), payment_id=f"c-{invoice_id}-{i}")
        for i, (day, amount) in enumerate(credits)
    ]
    return Invoice(
        invoice_id=invoice_id,
        doc_number=f"D{invoice_id}",
        customer_id=customer_id,
        customer_name=f"Client {customer_id}",
        txn_date=txn_date,
        due_date=txn_date + timedelta(days=terms),
        total=Decimal(total),
        settlements=tuple(settlements),
    )


def receivables(invoices: Sequence[Invoice], customer_ids: Iterable[str] = ()) -> Receivables:
    """The history of ``invoices``, its customers those invoiced and ``customer_ids`` (known, never invoiced)."""
    customers = {invoice.customer_id for invoice in invoices} | set(customer_ids)
    return Receivables(invoices, [Customer(customer_id, f"Client {customer_id}", True) for customer_id in customers])


def paid_late(
    customer_id: str, days_late: Sequence[int], *, first: date = START, every: int = 14, terms: int = 30
) -> list[Invoice]:
    """One invoice every ``every`` days for the customer, each paid in full ``days_late[i]`` days after its due date."""
    made = []
    for index, late in enumerate(days_late):
        txn_date = first + timedelta(days=index * every)
        due = txn_date + timedelta(days=terms)
        made.append(
            invoice(
                f"{customer_id}-{index}",
                customer_id,
                txn_date,
                terms=terms,
                paid=[(max(txn_date, due + timedelta(days=late)), "1000.00")],
            )
        )
    return made


@st.composite
def histories(draw: st.DrawFn, *, max_invoices: int = 40) -> list[Invoice]:
    """Random receivables over about a year: a few customers, each invoice paid (in one or two parts, possibly by a
    credit) some days around its due date, or not yet."""
    count = draw(st.integers(min_value=0, max_value=max_invoices))
    made = []
    for index in range(count):
        customer_id = str(draw(st.integers(min_value=1, max_value=5)))
        txn_date = START + timedelta(days=draw(st.integers(min_value=0, max_value=360)))
        terms = draw(st.sampled_from((0, 15, 30, 45)))
        cents = draw(st.integers(min_value=1, max_value=1_000_000))
        total = Decimal(cents) / 100
        paid: list[tuple[date, str]] = []
        credits: list[tuple[date, str]] = []
        outcome = draw(st.sampled_from(("unpaid", "paid", "parts", "credit")))
        due = txn_date + timedelta(days=terms)
        first_day = max(txn_date, due + timedelta(days=draw(st.integers(min_value=-20, max_value=120))))
        if outcome == "paid":
            paid.append((first_day, str(total)))
        elif outcome in ("parts", "credit"):
            part = (total / 2).quantize(Decimal("0.01"))
            second_day = first_day + timedelta(days=draw(st.integers(min_value=0, max_value=60)))
            (credits if outcome == "credit" else paid).append((first_day, str(part)))
            paid.append((second_day, str(total - part)))
        made.append(
            invoice(str(index), customer_id, txn_date, total=str(total), terms=terms, paid=paid, credits=credits)
        )
    return made
