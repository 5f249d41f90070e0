"""Invoices not issued yet: a customer's monthly retainer found in the receivables history and forecast at the date
its customer's habits make likely; project work at random amounts is not; the open latest invoice is not projected
again; a replay as of a past day sees nothing after it."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal

from oodaloo.domains.ap.recurring import Cadence
from oodaloo.domains.ar.behaviour import learn_behaviour
from oodaloo.domains.ar.history import Invoice, Receivables, Settlement
from oodaloo.runway.core.recurring_inflows import detect_invoicing, expected_invoices

AS_OF = date(2026, 3, 18)
UNTIL = AS_OF + timedelta(days=91)
_ids = itertools.count(1)


def invoice(customer: str, day: date, amount: str, *, terms: int = 30, paid_late: int | None = 10) -> Invoice:
    number = str(next(_ids))
    due = day + timedelta(days=terms)
    settlements = ()
    if paid_late is not None and due + timedelta(days=paid_late) <= AS_OF:
        settlements = (Settlement(number, customer, due + timedelta(days=paid_late), Decimal(amount)),)
    return Invoice(number, None, customer, f"Customer {customer}", day, due, Decimal(amount), settlements)


def months(day_of_month: int, count: int, last: date) -> list[date]:
    found, year, month = [], last.year, last.month
    for _ in range(count):
        found.append(date(year, month, day_of_month))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return sorted(found)


def retainer_history() -> Receivables:
    retainer = [invoice("7", day, "12000.00") for day in months(1, 8, AS_OF)]  # March's is open (due 31 March)
    projects = [
        invoice("7", AS_OF - timedelta(days=offset), amount)
        for offset, amount in ((12, "3150.00"), (47, "8725.50"), (101, "1980.00"), (150, "5400.00"))
    ]
    return Receivables([*retainer, *projects])


def test_a_monthly_retainer_is_forecast_when_its_customer_pays() -> None:
    receivables = retainer_history()
    (series,) = detect_invoicing(receivables, AS_OF)
    assert (series.amount, series.schedule.cadence, series.terms_days) == (Decimal("12000.00"), Cadence.MONTHLY, 30)
    assert series.last_invoiced == date(2026, 3, 1)  # open, so in the forecast as itself already

    behaviours = learn_behaviour(receivables, AS_OF)
    inflows = list(expected_invoices(series, behaviours, AS_OF, UNTIL))
    # Invoiced on 1 April, May and June, due 30 days later, paid about 10 days after that: June's lands beyond.
    assert [inflow.source_id.rsplit(":", 1)[1] for inflow in inflows] == ["2026-04-01", "2026-05-01"]
    for inflow in inflows:
        issued = date.fromisoformat(inflow.source_id.rsplit(":", 1)[1])
        assert abs((inflow.date - (issued + timedelta(days=40))).days) <= 3
        assert issued <= inflow.early <= inflow.date <= inflow.late
        assert inflow.amount == Decimal("12000.00")
        assert "is invoiced 12000.00 monthly" in inflow.reason


def test_project_work_at_random_amounts_is_not_forecast() -> None:
    projects = [invoice("9", AS_OF - timedelta(days=30 * k), f"{1000 + 137 * k}.00") for k in range(8)]
    assert detect_invoicing(Receivables(projects), AS_OF) == []


def test_a_lost_retainer_is_not_forecast() -> None:
    lost = [invoice("5", day, "8000.00") for day in months(15, 6, date(2025, 12, 15))]
    assert detect_invoicing(Receivables(lost), AS_OF) == []


def test_a_replay_as_of_a_past_day_sees_nothing_after_it() -> None:
    receivables = retainer_history()
    past = date(2025, 11, 20)
    truncated = Receivables([item for item in receivables.invoices if item.txn_date <= past])
    assert detect_invoicing(receivables, past) == detect_invoicing(truncated, past)
    (series,) = detect_invoicing(receivables, past)
    assert series.last_invoiced == date(2025, 11, 1)
