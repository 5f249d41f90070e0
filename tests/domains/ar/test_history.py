"""The receivables history as of a day: what was open at the end of it and at what balance, what was settled when,
and what the invoices open on a day brought in afterwards (cash apart from credits)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from oodaloo.domains.ar.history import Invoice
from tests.domains.ar.histories import START, histories, invoice, receivables

EXAMPLES = settings(max_examples=60, deadline=None)


def test_an_invoice_is_open_from_its_date_until_the_day_it_is_paid_in_full() -> None:
    issued = date(2026, 2, 2)
    history = receivables(
        [
            invoice(
                "7", "acme", issued, total="900.00", paid=[(date(2026, 3, 1), "300.00"), (date(2026, 3, 20), "600.00")]
            )
        ]
    )

    assert history.open_as_of(issued - timedelta(days=1)) == []
    [on_issue] = history.open_as_of(issued)
    assert (on_issue.invoice_id, on_issue.balance, on_issue.total) == ("7", Decimal("900.00"), Decimal("900.00"))
    [partly_paid] = history.open_as_of(date(2026, 3, 1))
    assert partly_paid.balance == Decimal("600.00")
    assert partly_paid.days_overdue == (date(2026, 3, 1) - date(2026, 3, 4)).days  # due 30 days after issue
    [day_before] = history.open_as_of(date(2026, 3, 19))
    assert day_before.balance == Decimal("600.00")
    assert history.open_as_of(date(2026, 3, 20)) == []  # paid in full that day: not open at its end
    assert history.by_id["7"].settled_on == date(2026, 3, 20)


def test_settlements_between_two_days_include_both_and_nothing_outside() -> None:
    history = receivables(
        [
            invoice("1", "a", START, paid=[(date(2025, 3, 1), "400.00"), (date(2025, 3, 8), "600.00")]),
            invoice("2", "b", START, paid=[(date(2025, 2, 28), "1000.00")]),
            invoice("3", "b", START, paid=[(date(2025, 3, 9), "1000.00")]),
        ]
    )

    found = history.settlements_between(date(2025, 3, 1), date(2025, 3, 8))

    assert [(settlement.invoice_id, settlement.day) for settlement in found] == [
        ("1", date(2025, 3, 1)),
        ("1", date(2025, 3, 8)),
    ]


def test_collections_from_the_invoices_open_on_a_day_count_cash_not_credits_unless_asked() -> None:
    day = date(2025, 3, 1)
    history = receivables(
        [
            invoice("open", "a", START, paid=[(date(2025, 3, 5), "700.00")], credits=[(date(2025, 3, 4), "300.00")]),
            invoice("paid-before", "a", START, paid=[(day, "1000.00")]),
            invoice("issued-after", "a", date(2025, 3, 2), paid=[(date(2025, 3, 5), "1000.00")]),
        ]
    )
    open_ids = [open_invoice.invoice_id for open_invoice in history.open_as_of(day)]
    week = (day + timedelta(days=1), day + timedelta(days=7))

    assert open_ids == ["open"]
    assert history.collected_between(open_ids, *week) == Decimal("700.00")
    assert history.collected_between(open_ids, *week, include_credits=True) == Decimal("1000.00")


@EXAMPLES
@given(histories(), st.integers(min_value=-10, max_value=500))
def test_open_balances_as_of_any_day_are_what_was_invoiced_less_what_was_settled(
    invoices: list[Invoice], offset: int
) -> None:
    history = receivables(invoices)
    day = START + timedelta(days=offset)

    open_invoices = history.open_as_of(day)

    invoiced = sum((i.total for i in invoices if i.txn_date <= day), Decimal(0))
    settled = sum((s.amount for s in history.settlements_between(date.min, day)), Decimal(0))
    assert sum((open_invoice.balance for open_invoice in open_invoices), Decimal(0)) == invoiced - settled
    for open_invoice in open_invoices:
        assert Decimal(0) < open_invoice.balance <= open_invoice.total
        assert open_invoice.txn_date <= day
        assert open_invoice.as_of == day
