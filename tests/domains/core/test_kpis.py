"""The KPI formulas on synthetic books: DSO and DPO (open balance ÷ invoiced or billed in the trailing 90 days x 90),
aging buckets by days past due, cash and burn as of a day, and the runway trend of daily snapshots. Only what is dated
on or before the day counts."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from oodaloo.domains.ap.history import PayableBill, Payables, Term
from oodaloo.domains.ap.history import Settlement as BillSettlement
from oodaloo.domains.ar.history import Invoice, Receivables, Settlement
from oodaloo.domains.core.cash import AccountKind, CashAccount, CashLedger, CashMovement
from oodaloo.domains.core.kpis import DaysOutstanding, figures_as_of, runway_trend
from oodaloo.domains.core.snapshots import DailySnapshot

DAY = date(2026, 3, 18)
BANK = "35"


def invoice(invoice_id: str, txn: date, due: date, total: str, paid: tuple[tuple[date, str], ...] = ()) -> Invoice:
    settlements = tuple(Settlement(invoice_id, "c1", on, Decimal(amount)) for on, amount in paid)
    return Invoice(invoice_id, None, "c1", "Acme", txn, due, Decimal(total), settlements)


def bill(
    bill_id: str, txn: date, due: date | None, total: str, *, term_days: int | None = None, paid: str = "0"
) -> PayableBill:
    settlements = (
        (BillSettlement(bill_id, "p" + bill_id, txn + timedelta(days=60), Decimal(paid)),) if Decimal(paid) else ()
    )
    term = Term("t1", "Net", term_days) if term_days is not None else None
    return PayableBill(
        bill_id,
        None,
        "v1",
        "Supplies Co",
        txn,
        due,
        Decimal(total),
        Decimal(total) - Decimal(paid),
        (),
        term,
        settlements,
    )


RECEIVABLES = Receivables(
    [
        # 600 left, 37 days past due: 31-60.
        invoice("A", date(2026, 1, 10), date(2026, 2, 9), "1000.00", ((date(2026, 2, 1), "400.00"),)),
        invoice("B", date(2026, 3, 1), date(2026, 3, 31), "2000.00"),  # not yet due: current
        invoice("C", date(2025, 10, 1), date(2025, 10, 31), "500.00"),  # 138 days past due, before the window
        invoice("D", date(2026, 3, 10), date(2026, 3, 10), "300.00", ((date(2026, 3, 15), "300.00"),)),  # paid
        invoice("E", date(2026, 3, 19), date(2026, 4, 18), "7000.00"),  # dated after the day: not there yet
        # Paid, dated exactly 90 days before the day: just outside the window (after D - 90, through D).
        invoice("F", DAY - timedelta(days=90), DAY - timedelta(days=90), "10000.00", ((date(2026, 1, 1), "10000.00"),)),
    ]
)
PAYABLES = Payables(
    [
        bill("X", date(2026, 2, 1), date(2026, 3, 3), "900.00"),  # 15 days past due: 1-30
        bill("Y", date(2026, 3, 15), None, "1200.00", term_days=30),  # due 14 April by its term: current
        bill("Z", date(2025, 11, 1), date(2025, 12, 1), "400.00", paid="100.00"),  # 300 left, 107 days past due
    ],
    vendors={},
)
LEDGER = CashLedger(
    [CashAccount(BANK, "Checking", AccountKind.BANK, Decimal("10000.00"), True, "USD")],
    [
        CashMovement(date(2026, 2, 1), BANK, Decimal("-9000.00"), "BillPayment", "1"),
        CashMovement(date(2026, 3, 1), BANK, Decimal("1800.00"), "Payment", "2"),
        CashMovement(DAY + timedelta(days=1), BANK, Decimal("-500.00"), "Purchase", "3"),  # after the day
    ],
)


def test_dso_is_open_receivables_over_the_trailing_90_days_invoicing_times_90() -> None:
    figures = figures_as_of(RECEIVABLES, PAYABLES, LEDGER, DAY)
    assert figures.dso.outstanding == Decimal("3100.00")  # 600 + 2000 + 500
    assert figures.dso.period_total == Decimal("3300.00")  # A, B and D; C, E and F are outside the window
    assert figures.dso.days == Decimal("84.5")  # 3100 / 3300 x 90 = 84.545...


def test_dpo_is_open_payables_over_the_trailing_90_days_billing_times_90() -> None:
    figures = figures_as_of(RECEIVABLES, PAYABLES, LEDGER, DAY)
    assert figures.dpo.outstanding == Decimal("2400.00")  # 900 + 1200 + 300
    assert figures.dpo.period_total == Decimal("2100.00")  # X and Y; Z is older
    assert figures.dpo.days == Decimal("102.9")  # 2400 / 2100 x 90 = 102.857...


def test_aging_buckets_by_days_past_due_on_the_day() -> None:
    figures = figures_as_of(RECEIVABLES, PAYABLES, LEDGER, DAY)
    receivables = {bucket.bucket: (bucket.count, bucket.balance) for bucket in figures.receivables.buckets}
    assert receivables == {
        "current": (1, Decimal("2000.00")),
        "1-30": (0, Decimal("0.00")),
        "31-60": (1, Decimal("600.00")),
        "61-90": (0, Decimal("0.00")),
        "90+": (1, Decimal("500.00")),
    }
    payables = {bucket.bucket: (bucket.count, bucket.balance) for bucket in figures.payables.buckets}
    assert payables == {
        "current": (1, Decimal("1200.00")),
        "1-30": (1, Decimal("900.00")),
        "31-60": (0, Decimal("0.00")),
        "61-90": (0, Decimal("0.00")),
        "90+": (1, Decimal("300.00")),
    }


def test_a_past_day_counts_only_what_was_dated_by_then() -> None:
    earlier = date(2026, 2, 5)
    figures = figures_as_of(RECEIVABLES, PAYABLES, LEDGER, earlier)
    # A was 1000 - 400 = 600 and not yet due; C was 97 days late; B and D did not exist.
    assert figures.receivables.total == Decimal("1100.00")
    assert figures.receivables.balance("current") == Decimal("600.00")
    assert figures.receivables.balance("90+") == Decimal("500.00")
    assert figures.dso.period_total == Decimal("11000.00")  # A and F (F, dated 19 Dec, was within 90 days then)


def test_cash_and_burn_come_from_the_bank_ledger_as_of_the_day() -> None:
    figures = figures_as_of(RECEIVABLES, PAYABLES, LEDGER, DAY)
    assert figures.cash == Decimal("10500.00")  # today's 10,000 before the 500 spent the next day
    assert figures.burn == Decimal("560.00")  # (9000 - 1800) over 90 days, per week


def test_no_sales_in_the_window_leaves_dso_unknown_rather_than_infinite() -> None:
    assert DaysOutstanding(Decimal("500.00"), Decimal("0.00"), 90).days is None
    assert DaysOutstanding(Decimal("0.00"), Decimal("100.00"), 90).days == Decimal("0.0")


@settings(max_examples=40, deadline=None)
@given(
    invoices=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=400),  # days before DAY it is dated
            st.integers(min_value=0, max_value=90),  # its terms
            st.integers(min_value=1, max_value=500_000),  # total in cents
            st.integers(min_value=0, max_value=100),  # percent paid
        ),
        max_size=25,
    )
)
def test_aging_partitions_the_open_receivables(invoices: list[tuple[int, int, int, int]]) -> None:
    built = []
    for index, (age, terms, cents, percent) in enumerate(invoices):
        txn = DAY - timedelta(days=age)
        total = Decimal(cents) / 100
        paid = (total * percent / 100).quantize(Decimal("0.01"))
        payments = ((txn, str(paid)),) if paid else ()
        built.append(invoice(str(index), txn, txn + timedelta(days=terms), str(total), payments))
    receivables = Receivables(built)
    figures = figures_as_of(receivables, Payables([], vendors={}), LEDGER, DAY)
    open_invoices = receivables.open_as_of(DAY)
    assert figures.receivables.total == sum((found.balance for found in open_invoices), Decimal(0))
    assert sum(bucket.count for bucket in figures.receivables.buckets) == len(open_invoices)
    window = sum((item.total for item in built if item.txn_date > DAY - timedelta(days=90)), Decimal(0))
    assert figures.dso.period_total == window
    if window > 0:
        assert figures.dso.days == (figures.receivables.total / window * 90).quantize(Decimal("0.1"))


def snapshot(day: date, runway_days: int | None) -> DailySnapshot:
    return DailySnapshot(
        day=day, runway_days=runway_days, horizon_days=91, cash=Decimal("1000.00"), burn=Decimal("100.00")
    )


def test_the_runway_trend_says_how_far_and_which_way_the_runway_moved() -> None:
    falling = runway_trend([snapshot(DAY - timedelta(days=2), 60), snapshot(DAY, 45)], 90)
    assert [(point.day, point.runway_days) for point in falling.points] == [(DAY - timedelta(days=2), 60), (DAY, 45)]
    assert (falling.change_days, falling.direction) == (-15, "down")

    from_beyond = runway_trend([snapshot(DAY - timedelta(days=1), None), snapshot(DAY, 80)], 90)
    assert (from_beyond.change_days, from_beyond.direction) == (None, "down")  # beyond the horizon is longer
    assert from_beyond.points[0].beyond_horizon

    steady = runway_trend([snapshot(DAY - timedelta(days=1), None), snapshot(DAY, None)], 90)
    assert (steady.change_days, steady.direction) == (None, "flat")
    assert runway_trend([], 30).direction is None
