"""Customers' payment behaviour learned as of a day, and the expected collection of each open invoice: medians per
customer, borrowing from everyone when a customer has little history, following recent habits, counting invoices
still open, dated from the delay already elapsed; never before the day, never dropped, and blind to anything later."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oodaloo.domains.ar.behaviour import MAX_DAYS_AHEAD, learn_behaviour
from oodaloo.domains.ar.history import Invoice, OpenInvoice, Receivables
from tests.domains.ar.histories import START, histories, invoice, paid_late, receivables

EXAMPLES = settings(max_examples=60, deadline=None)
AS_OF = date(2025, 12, 1)


def new_invoice(customer_id: str, due: date, as_of: date = AS_OF, balance: str = "1000.00") -> OpenInvoice:
    return OpenInvoice(
        invoice_id="new",
        doc_number=None,
        customer_id=customer_id,
        customer_name=f"Client {customer_id}",
        txn_date=min(due, as_of),
        due_date=due,
        total=Decimal(balance),
        balance=Decimal(balance),
        as_of=as_of,
    )


def on_time_business(customers: int = 6, invoices: int = 10) -> list[Invoice]:
    return [made for index in range(customers) for made in paid_late(f"prompt{index}", [0] * invoices)]


def days_after_due(history: Receivables, customer_id: str, due: date, as_of: date = AS_OF) -> tuple[int, int, int]:
    expected = learn_behaviour(history, as_of).expected_collection(new_invoice(customer_id, due, as_of), as_of)
    return (expected.early - due).days, (expected.expected - due).days, (expected.late - due).days


def test_a_customer_is_expected_at_its_median_delay_not_dragged_by_one_disputed_invoice() -> None:
    delays = [15, 18, 20, 17, 18, 90, 19, 18, 16, 21, 18, 17]
    history = receivables(paid_late("acme", delays) + on_time_business())
    due = AS_OF + timedelta(days=20)

    early, expected, late = days_after_due(history, "acme", due)

    assert 16 <= expected <= 19  # the median (18), where the mean (23) would sit later than most payments
    assert early <= expected <= late
    reason = learn_behaviour(history, AS_OF).expected_collection(new_invoice("acme", due), AS_OF).reason
    assert "Client acme pays a median 18 days late" in reason
    assert "of its last 4 invoices were late" in reason


def test_customers_are_told_apart() -> None:
    history = receivables(paid_late("early", [-5] * 10) + paid_late("slow", [30] * 10) + on_time_business())
    due = AS_OF + timedelta(days=40)

    assert days_after_due(history, "early", due)[1] == -5
    assert days_after_due(history, "slow", due)[1] == 30


def test_a_customer_with_one_paid_invoice_borrows_from_everyone_and_one_with_many_stands_on_its_own() -> None:
    history = receivables(
        paid_late("newcomer", [60]) + paid_late("regular", [60] * 20) + on_time_business(customers=10)
    )
    due = AS_OF + timedelta(days=80)
    behaviours = learn_behaviour(history, AS_OF)

    newcomer = days_after_due(history, "newcomer", due)[1]
    regular = days_after_due(history, "regular", due)[1]
    unknown = days_after_due(history, "never-invoiced", due)[1]

    assert unknown == 0  # the business's customers pay on time
    assert 0 <= newcomer < 60  # one invoice is not a habit
    assert regular == 60
    assert behaviours.of("newcomer").own_weight < 0.5 < behaviours.of("regular").own_weight
    assert "only 1 paid invoice" in behaviours.of("newcomer").summary
    assert behaviours.of("never-invoiced").summary.startswith("No paid invoices from")


def test_invoices_still_unpaid_count_as_later_than_they_are_so_far() -> None:
    # Four invoices were paid two days late; eight more have waited 45 days and counting. Paid invoices alone would
    # say "two days late"; the customer now pays much later than that.
    paid = paid_late("stalling", [2] * 4, first=date(2025, 1, 6))
    waiting = [invoice(f"w{index}", "stalling", AS_OF - timedelta(days=75 + index)) for index in range(8)]
    history = receivables(paid + waiting + on_time_business())
    due = AS_OF + timedelta(days=10)

    assert days_after_due(history, "stalling", due)[1] > 45


def test_recent_invoices_weigh_more_than_old_ones() -> None:
    old = paid_late("drifting", [0] * 10, first=date(2024, 1, 8))
    recent = paid_late("drifting", [20] * 8, first=date(2025, 4, 7))
    history = receivables(
        [
            *old,
            *(
                invoice(f"r{i.invoice_id}", "drifting", i.txn_date, paid=[(i.settlements[0].day, "1000.00")])
                for i in recent
            ),
        ]
    )
    behaviours = learn_behaviour(history, AS_OF)

    # Ten on time against eight 20 days late: a plain median says "on time"; the recent habit is 20 days late.
    assert behaviours.of("drifting").habit.median_days_late == 0
    assert days_after_due(history, "drifting", AS_OF + timedelta(days=30))[1] == 20
    assert behaviours.of("drifting").habit.trend == "later"
    assert "later than before (lately 20 days late)" in behaviours.of("drifting").summary


def test_an_overdue_invoice_is_dated_from_the_payments_that_took_at_least_as_long() -> None:
    history = receivables(paid_late("spread", list(range(0, 41, 2))) + on_time_business())
    due = AS_OF - timedelta(days=25)

    early, expected, late = days_after_due(history, "spread", due)

    # Of the payments 25 days late or more (26 ... 40), the middle one: never the unconditional median (20) in the past.
    assert 25 <= early <= expected <= late
    assert 30 <= expected <= 36


@pytest.mark.parametrize("days_overdue", [120, 400, 2000])
def test_an_invoice_later_than_anything_seen_is_dated_ahead_and_never_dropped(days_overdue: int) -> None:
    history = receivables(paid_late("acme", [5] * 10) + on_time_business())
    due = AS_OF - timedelta(days=days_overdue)

    expected = learn_behaviour(history, AS_OF).expected_collection(new_invoice("acme", due), AS_OF)

    assert AS_OF < expected.early <= expected.expected <= expected.late <= AS_OF + timedelta(days=MAX_DAYS_AHEAD)
    # The longer it has waited, the longer it is likely to wait still.
    assert (expected.expected - AS_OF).days >= min(days_overdue // 4, MAX_DAYS_AHEAD)
    assert f"Overdue {days_overdue} days" in expected.reason
    assert "may not be paid at all" in expected.reason


def test_with_no_payment_history_an_invoice_is_expected_on_its_due_date() -> None:
    history = receivables([invoice("1", "first", AS_OF - timedelta(days=5))])
    due = AS_OF + timedelta(days=25)

    expected = learn_behaviour(history, AS_OF).expected_collection(new_invoice("first", due), AS_OF)

    assert expected.expected == due
    assert "No payment history yet" in expected.reason


def test_behaviour_learned_as_of_a_day_cannot_date_an_invoice_before_it() -> None:
    behaviours = learn_behaviour(receivables(paid_late("acme", [3] * 5)), AS_OF)

    with pytest.raises(ValueError, match="before it"):
        behaviours.expected_collection(
            new_invoice("acme", AS_OF, as_of=AS_OF - timedelta(days=1)), AS_OF - timedelta(days=1)
        )


# ----------------------------------------------------------------------------------------------- properties
def as_known_on(invoices: list[Invoice], day: date) -> list[Invoice]:
    """The history as it stood at the end of ``day``: later invoices and later settlements never happened."""
    return [
        invoice.__class__(
            invoice_id=invoice.invoice_id,
            doc_number=invoice.doc_number,
            customer_id=invoice.customer_id,
            customer_name=invoice.customer_name,
            txn_date=invoice.txn_date,
            due_date=invoice.due_date,
            total=invoice.total,
            settlements=tuple(settlement for settlement in invoice.settlements if settlement.day <= day),
        )
        for invoice in invoices
        if invoice.txn_date <= day
    ]


@EXAMPLES
@given(histories(), st.integers(min_value=0, max_value=480))
def test_every_open_invoice_is_expected_on_or_after_the_day_between_its_early_and_late_dates(
    invoices: list[Invoice], offset: int
) -> None:
    day = START + timedelta(days=offset)
    history = receivables(invoices)
    behaviours = learn_behaviour(history, day)

    for open_invoice in history.open_as_of(day):
        expected = behaviours.expected_collection(open_invoice, day)
        assert day <= expected.early <= expected.expected <= expected.late <= day + timedelta(days=MAX_DAYS_AHEAD)
        assert open_invoice.customer_name in expected.reason or "any customer" in expected.reason


@EXAMPLES
@given(histories(), st.integers(min_value=0, max_value=400))
def test_nothing_dated_after_the_day_changes_what_is_learned_or_expected_as_of_it(
    invoices: list[Invoice], offset: int
) -> None:
    day = START + timedelta(days=offset)
    everything = receivables(invoices)
    known_then = receivables(as_known_on(invoices, day), customer_ids=[made.customer_id for made in invoices])

    learned, learned_then = learn_behaviour(everything, day), learn_behaviour(known_then, day)

    open_now, open_then = everything.open_as_of(day), known_then.open_as_of(day)
    assert open_now == open_then
    for open_invoice in open_now:
        assert learned.expected_collection(open_invoice, day) == learned_then.expected_collection(open_invoice, day)
    for customer_id in {made.customer_id for made in invoices}:
        assert learned.of(customer_id).habit == learned_then.of(customer_id).habit
        assert learned.of(customer_id).summary == learned_then.of(customer_id).summary
