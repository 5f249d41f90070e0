"""Recurring outflows found in synthetic histories: each cadence with business-day wobble, the median amount, the
next dates within 13 weeks, no double counting of an open bill, card charges counted in the card's payment, series
that stopped, and people's changes merged with what is found. Detection as of a day sees nothing after it."""

from __future__ import annotations

import itertools
import uuid
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from oodaloo.domains.ap.recurring import (
    BillPaid,
    Cadence,
    Category,
    Edit,
    PaidFrom,
    Schedule,
    SeriesKey,
    Spend,
    SpendingHistory,
    detect_recurring,
    recurring_items,
)

AS_OF = date(2026, 3, 18)  # a Wednesday
_numbers = itertools.count(1)


def spend(
    key: str,
    day: date,
    amount: str,
    *,
    category: Category = Category.OTHER,
    source: str = "purchase",
    paid_from: PaidFrom = "bank",
    account: str | None = "35",
    pays_card: str | None = None,
    terms: int = 0,
) -> Spend:
    series = SeriesKey(key, key.title(), source)  # type: ignore[arg-type]
    return Spend(series, str(next(_numbers)), day, Decimal(amount), category, paid_from, account, pays_card, terms)


def business_day(day: date) -> date:
    """Weekend dates moved to the Monday after, as banks do."""
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def monthly(day_of_month: int, months: int, until: date = AS_OF) -> list[date]:
    found = []
    year, month = until.year, until.month
    for _ in range(months):
        found.append(business_day(date(year, month, day_of_month)))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return sorted(day for day in found if day <= until)


def only(history: SpendingHistory, as_of: date = AS_OF) -> dict[str, object]:
    (item,) = recurring_items(detect_recurring(history, as_of), [], as_of)
    return {
        "cadence": item.cadence,
        "amount": item.amount,
        "upcoming": [occurrence.on for occurrence in item.upcoming],
    }


def test_monthly_rent_bills_forecast_the_next_three_and_not_the_open_one() -> None:
    amounts = ["4500.00", "4500.00", "4500.00", "4650.00", "4650.00", "4650.00"]
    bills = [
        spend("bill-7", day, amount, source="bill", category=Category.RENT)
        for day, amount in zip(monthly(1, 6), amounts, strict=True)
    ]
    (series,) = detect_recurring(SpendingHistory(bills), AS_OF)
    # Weekend bills moved to the Monday (2 February, 2 March) do not move the day it keeps to.
    assert (series.schedule.cadence, series.schedule.day) == (Cadence.MONTHLY, 1)
    assert series.amount == Decimal("4650.00")  # the median of the last three: the new rent
    assert series.last_seen == date(2026, 3, 2)  # March's bill, open or paid, is the current one
    (item,) = recurring_items([series], [], AS_OF)
    assert [occurrence.on for occurrence in item.upcoming] == [date(2026, 4, 1), date(2026, 5, 1), date(2026, 6, 1)]
    assert item.category is Category.RENT
    assert "monthly, around the 1st" in item.reason


def test_a_bill_series_is_paid_its_terms_after_each_bill() -> None:
    bills = [spend("bill-9", day, "300.00", source="bill", terms=15) for day in monthly(10, 5)]
    (item,) = recurring_items(detect_recurring(SpendingHistory(bills), AS_OF), [], AS_OF)
    assert [occurrence.scheduled for occurrence in item.upcoming][:2] == [date(2026, 4, 25), date(2026, 5, 25)]
    assert "Billed, then due 15 days later." in item.reason


def test_biweekly_payroll_journal_entries() -> None:
    fridays = [date(2026, 3, 13) - timedelta(days=14 * k) for k in range(8)]
    amounts = ["41000.00", "41200.00", "40800.00", "41100.00", "40900.00", "41050.00", "40950.00", "41000.00"]
    entries = [
        spend("journal-44+45", day, amount, source="journal_entry", category=Category.PAYROLL)
        for day, amount in zip(sorted(fridays), amounts, strict=True)
    ]
    found = only(SpendingHistory(entries))
    assert found["cadence"] is Cadence.BIWEEKLY
    assert found["amount"] == Decimal("41000.00")  # the median of the last three: 41050, 40950, 41000
    assert found["upcoming"] == [date(2026, 3, 27) + timedelta(days=14 * k) for k in range(6)]


def test_twice_a_month_keeps_to_two_days_of_the_month() -> None:
    days = sorted(monthly(1, 4) + monthly(15, 4))
    found = only(SpendingHistory([spend("purchase-3-bank-35", day, "900.00") for day in days]))
    assert found["cadence"] is Cadence.SEMIMONTHLY
    assert found["upcoming"][:3] == [date(2026, 4, 1), date(2026, 4, 15), date(2026, 5, 1)]


def test_weekly_and_quarterly() -> None:
    weekly = [date(2026, 3, 16) - timedelta(days=7 * k) for k in range(5)]
    found = only(SpendingHistory([spend("purchase-5-card-41", day, "60.00") for day in weekly]))
    assert found["cadence"] is Cadence.WEEKLY
    assert len(found["upcoming"]) == 13  # type: ignore[arg-type]

    quarters = [date(2025, 4, 10), date(2025, 7, 10), date(2025, 10, 10), date(2026, 1, 12)]
    found = only(SpendingHistory([spend("bill-11", day, "3600.00", source="bill") for day in quarters]))
    assert found["cadence"] is Cadence.QUARTERLY
    assert found["upcoming"] == [date(2026, 4, 10)]


def test_estimated_taxes_follow_the_tax_calendar_not_a_fixed_interval() -> None:
    dates = [date(2025, 4, 15), date(2025, 6, 16), date(2025, 9, 15), date(2026, 1, 15)]
    found = only(
        SpendingHistory([spend("purchase-2-bank-35", day, "8000.00", category=Category.TAXES) for day in dates])
    )
    assert found["cadence"] is Cadence.TAX_QUARTERS
    assert found["upcoming"] == [date(2026, 4, 15), date(2026, 6, 15)]


def test_irregular_spending_is_not_a_series() -> None:
    days = [AS_OF - timedelta(days=offset) for offset in (2, 5, 19, 23, 40, 41, 67, 90, 95)]
    assert detect_recurring(SpendingHistory([spend("purchase-8-card-41", day, "45.00") for day in days]), AS_OF) == []
    two = [spend("bill-12", day, "100.00", source="bill") for day in monthly(3, 2)]
    assert detect_recurring(SpendingHistory(two), AS_OF) == []  # two could be a coincidence


def test_a_series_that_stopped_is_dropped_and_one_late_occurrence_is_counted_today() -> None:
    stopped = [spend("bill-13", day, "250.00", source="bill") for day in monthly(5, 6, until=date(2025, 12, 31))]
    assert detect_recurring(SpendingHistory(stopped), AS_OF) == []
    late = [spend("bill-14", day, "250.00", source="bill") for day in monthly(5, 6, until=date(2026, 2, 28))]
    (item,) = recurring_items(detect_recurring(SpendingHistory(late), AS_OF), [], AS_OF)
    first = item.upcoming[0]
    assert (first.scheduled, first.on) == (date(2026, 3, 5), AS_OF)  # expected on the 5th, not seen: counted today


def test_card_charges_are_counted_in_the_card_payment() -> None:
    charges = [spend("purchase-9-card-41", day, "120.00", paid_from="card", account="41") for day in monthly(2, 5)]
    payments = [
        spend("card-41", day, "2500.00", source="card_payment", category=Category.CARD_PAYMENT, pays_card="41")
        for day in monthly(15, 5)
    ]
    history = SpendingHistory([*charges, *payments], cards={"41": "Amex Business Card"})
    items = {
        item.id: item
        for item in recurring_items(detect_recurring(history, AS_OF), [], AS_OF, card_names=history.card_names)
    }
    assert items["purchase-9-card-41"].counted_in == "card-41"
    assert not items["purchase-9-card-41"].in_forecast
    assert "Charged to Amex Business Card" in items["purchase-9-card-41"].reason
    assert items["card-41"].in_forecast
    # Without a detected card payment the charges are forecast themselves.
    alone = recurring_items(detect_recurring(SpendingHistory(charges), AS_OF), [], AS_OF)
    assert [item.in_forecast for item in alone] == [True]


def test_bills_paid_by_card_are_charged_to_the_card() -> None:
    bills = [spend("bill-15", day, "99.00", source="bill") for day in monthly(3, 4)]
    paid = [
        BillPaid(
            bill.source_id, bill.day + timedelta(days=2), "bank" if index < 2 else "card", "35" if index < 2 else "41"
        )
        for index, bill in enumerate(bills)
    ]
    (series,) = detect_recurring(SpendingHistory(bills, paid), AS_OF)
    assert (series.paid_from, series.paid_from_account) == ("card", "41")
    # As of the third bill, its vendor had only been paid from the bank.
    (earlier,) = detect_recurring(SpendingHistory(bills, paid), bills[2].day)
    assert (earlier.paid_from, earlier.paid_from_account) == ("bank", "35")


def test_peoples_changes_are_merged_with_what_is_found() -> None:
    bills = [spend("bill-7", day, "4500.00", source="bill", category=Category.RENT) for day in monthly(1, 6)]
    detected = detect_recurring(SpendingHistory(bills), AS_OF)

    def edit(**values: object) -> Edit:
        base: dict[str, object] = dict(
            id=uuid.uuid4(),
            detected_key="bill-7",
            name=None,
            category=None,
            cadence=None,
            amount=None,
            next_date=None,
            disabled=False,
        )
        return Edit(**{**base, **values})  # type: ignore[arg-type]

    (raised,) = recurring_items(detected, [edit(amount=Decimal("4800.00"))], AS_OF)
    assert raised.amount == Decimal("4800.00")
    assert raised.edited
    assert "amount set to 4800.00" in raised.reason
    (off,) = recurring_items(detected, [edit(disabled=True)], AS_OF)
    assert not off.in_forecast
    (moved,) = recurring_items(detected, [edit(next_date=date(2026, 4, 6), cadence=Cadence.BIWEEKLY)], AS_OF)
    assert [occurrence.on for occurrence in moved.upcoming][:3] == [
        date(2026, 4, 6),
        date(2026, 4, 20),
        date(2026, 5, 4),
    ]
    own = edit(
        detected_key=None,
        name="Loan repayment",
        category=Category.OTHER,
        cadence=Cadence.MONTHLY,
        amount=Decimal("1200.00"),
        next_date=date(2026, 3, 31),
    )
    found = {item.origin: item for item in recurring_items(detected, [own], AS_OF)}
    assert [occurrence.on for occurrence in found["user"].upcoming] == [
        date(2026, 3, 31),
        date(2026, 4, 30),
        date(2026, 5, 31),
    ]
    assert found["user"].id == str(own.id)


def test_a_schedule_finds_the_next_date_after_an_early_or_late_payment() -> None:
    rent = Schedule(Cadence.MONTHLY, date(2026, 1, 1), 1)
    assert rent.after(date(2026, 2, 27)) == date(2026, 4, 1)  # March's rent, paid early
    assert rent.after(date(2026, 3, 4)) == date(2026, 4, 1)  # March's rent, paid late
    end_of_month = Schedule(Cadence.MONTHLY, date(2026, 1, 31), 31)
    assert end_of_month.after(date(2026, 1, 31)) == date(2026, 2, 28)
    assert end_of_month.after(date(2026, 3, 2)) == date(2026, 3, 31)  # February's, moved past a weekend


# ---------------------------------------------------------------------------------------- as of a day
@st.composite
def histories(draw: st.DrawFn) -> SpendingHistory:
    spends = []
    for number, cadence_days in enumerate(draw(st.lists(st.sampled_from([7, 14, 30, 91]), max_size=4))):
        start = AS_OF - timedelta(days=draw(st.integers(20, 400)))
        count = draw(st.integers(1, 10))
        for index in range(count):
            day = start + timedelta(days=index * cadence_days + draw(st.integers(-2, 2)))
            spends.append(spend(f"purchase-{number}", day, str(draw(st.integers(1, 5000)))))
    return SpendingHistory(spends)


@settings(max_examples=60, deadline=None)
@given(histories(), st.integers(0, 300))
def test_detection_as_of_a_day_sees_nothing_after_it(history: SpendingHistory, days_back: int) -> None:
    as_of = AS_OF - timedelta(days=days_back)
    truncated = SpendingHistory(list(history.spends_as_of(as_of)))
    assert detect_recurring(history, as_of) == detect_recurring(truncated, as_of)
    for item in recurring_items(detect_recurring(history, as_of), [], as_of):
        assert all(as_of <= occurrence.on < as_of + timedelta(days=91) for occurrence in item.upcoming)
        assert all(occurrence.early <= occurrence.on <= occurrence.late for occurrence in item.upcoming)
