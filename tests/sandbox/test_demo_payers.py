"""The demo companies' customers pay like real ones: each its own way, drifting, with a long tail of late payments,
slower over the year-end holidays, in batches and in parts, sometimes disputing an invoice; and their history tells
a forecast more than due dates do, without giving the answer away.

Every figure is read back from the generated books (invoices, payments, credit memos), as a bookkeeper would, for
each scenario and several seeds.
"""

from __future__ import annotations

import statistics
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from oodaloo.sandbox.demo import DemoCompany, Scenario, generate_demo
from tests.sandbox.demo_receivables import (
    InvoiceHistory,
    bodies,
    delays_by_customer,
    mad,
    median_delays,
    quantile,
    receivables,
)

TZ = "America/Los_Angeles"
SCENARIOS: tuple[Scenario, ...] = ("healthy", "tight", "crisis")
# Made in March (last year-end's payments are all in), and at the end of a December (this year-end's are not).
MARCH = datetime(2026, 3, 18, 10, 15, tzinfo=ZoneInfo(TZ))
DECEMBER = datetime(2025, 12, 31, 0, 30, tzinfo=ZoneInfo(TZ))
RUNS = ((42, MARCH), (3, MARCH), (7, DECEMBER))
# A customer's median days late is trusted from this many invoices paid at once.
ENOUGH_INVOICES = 6
# US bank holidays (Federal Reserve) over the histories above: no money moves on them.
BANK_HOLIDAYS = {
    date(2024, 7, 4), date(2024, 9, 2), date(2024, 10, 14), date(2024, 11, 11), date(2024, 11, 28),
    date(2024, 12, 25), date(2025, 1, 1), date(2025, 1, 20), date(2025, 2, 17), date(2025, 5, 26),
    date(2025, 6, 19), date(2025, 7, 4), date(2025, 9, 1), date(2025, 10, 13), date(2025, 11, 11),
    date(2025, 11, 27), date(2025, 12, 25), date(2026, 1, 1), date(2026, 1, 19), date(2026, 2, 16),
}  # fmt: skip

Run = tuple[int, datetime, Scenario]


@pytest.fixture(scope="module")
def companies() -> dict[Run, DemoCompany]:
    return {
        (seed, now, scenario): generate_demo(scenario, seed=seed, now=now, tz=TZ)
        for seed, now in RUNS
        for scenario in SCENARIOS
    }


def each(companies: dict[Run, DemoCompany]) -> list[tuple[Run, dict[str, InvoiceHistory]]]:
    return [(run, receivables(company)) for run, company in companies.items()]


# -- customers differ, and their history is worth learning ------------------------------------------------------


def test_customers_each_pay_their_own_way(companies: dict[Run, DemoCompany]) -> None:
    """Medians of days late spread widely and finely across customers, far more than one customer's invoices do."""
    for run, invoices in each(companies):
        delays = delays_by_customer(invoices)
        medians = median_delays(delays, at_least=ENOUGH_INVOICES)
        assert len(medians) >= 30, run
        assert quantile(list(medians.values()), 0.9) - quantile(list(medians.values()), 0.1) >= 20, run
        assert len({round(median) for median in medians.values()}) >= 20, run  # not a handful of habits
        within = statistics.median(mad([days for _, days in delays[customer]]) for customer in medians)
        assert statistics.pstdev(medians.values()) >= 3 * within, run


def test_a_customer_s_history_predicts_better_than_due_dates_but_not_exactly(companies: dict[Run, DemoCompany]) -> None:
    """Predicting each payment from the customer's median delay so far beats taking the due date at face value, and
    still misses by days: the books are not a rule the forecast can read back."""
    for run, invoices in each(companies):
        ours: list[int] = []
        naive: list[int] = []
        for history in delays_by_customer(invoices).values():
            for index, (due, days) in enumerate(history):
                known = [late for earlier, late in history[:index] if earlier + timedelta(days=late) < due]
                if len(known) >= 4:
                    ours.append(abs(days - round(statistics.median(known))))
                    naive.append(abs(days))
        assert len(ours) >= 200, run
        assert statistics.mean(ours) <= 0.6 * statistics.mean(naive), run
        assert statistics.mean(ours) >= 3, run


def test_some_customers_drift_slower_or_faster(companies: dict[Run, DemoCompany]) -> None:
    """A customer's later invoices are paid materially later (a client in trouble) or sooner than its earlier ones,
    by more than its own noise; squeezed companies have several clients slowing down."""
    faster = 0
    for seed, now in RUNS:
        slower = {scenario: 0 for scenario in SCENARIOS}
        for scenario in SCENARIOS:
            slower[scenario], faster_here = _drifting(receivables(companies[(seed, now, scenario)]))
            faster += faster_here
        assert slower["tight"] >= 3, seed
        assert slower["crisis"] >= 3, seed
        assert slower["tight"] + slower["crisis"] >= 10, seed
    assert faster >= 2


def _drifting(invoices: dict[str, InvoiceHistory]) -> tuple[int, int]:
    """Customers whose last third of invoices is paid 10+ days later (sooner) than their first half, by at least 2.5
    times the spread within either part."""
    slower = faster = 0
    for history in delays_by_customer(invoices).values():
        if len(history) < 8:
            continue
        days = [late for _, late in history]
        earlier, later = days[: len(days) // 2], days[-max(3, len(days) // 3) :]
        shift = statistics.median(later) - statistics.median(earlier)
        if abs(shift) >= 10 and abs(shift) >= 2.5 * max(mad(earlier), mad(later), 1):
            slower += shift > 0
            faster += shift < 0
    return slower, faster


def test_late_payments_have_a_long_tail(companies: dict[Run, DemoCompany]) -> None:
    """Around each customer's median, a payment can be two months late but hardly ever weeks early."""
    for seed, now in RUNS:
        residuals: list[float] = []
        for scenario in SCENARIOS:
            delays = delays_by_customer(receivables(companies[(seed, now, scenario)]))
            medians = median_delays(delays, at_least=ENOUGH_INVOICES)
            residuals += [late - medians[customer] for customer in medians for _, late in delays[customer]]
        assert quantile(residuals, 0.99) >= 45, seed
        assert quantile(residuals, 0.99) >= 2 * abs(quantile(residuals, 0.01)), seed
        assert statistics.mean(residuals) > statistics.median(residuals), seed


def test_payments_slow_down_over_the_year_end_holidays(companies: dict[Run, DemoCompany]) -> None:
    """Invoices a customer would normally pay between mid-December and early January are paid days later."""
    for seed, now in RUNS:
        if now != MARCH:
            continue  # at the end of December, this year-end's late payments have not happened yet
        holidays: list[float] = []
        rest: list[float] = []
        for scenario in SCENARIOS:
            delays = delays_by_customer(receivables(companies[(seed, now, scenario)]))
            for customer, median in median_delays(delays, at_least=ENOUGH_INVOICES).items():
                for due, late in delays[customer]:
                    usual = due + timedelta(days=round(median))
                    in_holidays = (usual.month, usual.day) >= (12, 18) or (usual.month, usual.day) <= (1, 6)
                    (holidays if in_holidays else rest).append(late - median)
        assert len(holidays) >= 50, seed
        assert statistics.median(holidays) - statistics.median(rest) >= 3, seed


# -- how the money arrives ------------------------------------------------------------------------------------------


def test_customer_money_lands_on_business_days(companies: dict[Run, DemoCompany]) -> None:
    for run, company in companies.items():
        for entity in ("Payment", "Deposit"):
            days = [date.fromisoformat(body["TxnDate"]) for body in bodies(company, entity)][2:]  # after the opening
            assert all(day.weekday() < 5 and day not in BANK_HOLIDAYS for day in days), (run, entity)


def test_batch_payers_pay_several_invoices_in_one_payment(companies: dict[Run, DemoCompany]) -> None:
    for run, company in companies.items():
        invoices = {body["Id"]: body for body in bodies(company, "Invoice")}
        batches = [
            payment
            for payment in bodies(company, "Payment")
            if sum(1 for line in payment.get("Line", []) if line["LinkedTxn"][0]["TxnType"] == "Invoice") >= 2
        ]
        assert len(batches) >= 5, run
        for payment in batches:
            linked = [invoices[line["LinkedTxn"][0]["TxnId"]] for line in payment["Line"]]
            assert len({invoice["Id"] for invoice in linked}) == len(linked)
            assert all(invoice["CustomerRef"] == payment["CustomerRef"] for invoice in linked)
            assert all(invoice["TxnDate"] < payment["TxnDate"] for invoice in linked)
            assert payment["TotalAmt"] == sum(line["Amount"] for line in payment["Line"])


def test_settlements_never_exceed_an_invoice_and_some_come_in_parts(companies: dict[Run, DemoCompany]) -> None:
    for run, invoices in each(companies):
        assert all(invoice.settled <= invoice.total for invoice in invoices.values()), run
        in_parts = [invoice for invoice in invoices.values() if len(invoice.cash) >= 2]
        assert len(in_parts) >= 5, run
        # A first part is a round amount agreed with the client, paid before the rest.
        first_parts = [min(invoice.cash, key=lambda s: (s.day, s.payment_id)).amount for invoice in in_parts]
        assert sum(1 for amount in first_parts if amount == amount.to_integral_value()) >= len(in_parts) // 2, run


# -- disputes -------------------------------------------------------------------------------------------------------


def test_a_few_invoices_are_disputed_and_settled_with_a_credit_or_written_off(
    companies: dict[Run, DemoCompany],
) -> None:
    for seed, now in RUNS:
        written_off = 0
        for scenario in SCENARIOS:
            company = companies[(seed, now, scenario)]
            invoices = receivables(company)
            items = {body["Id"]: body["Name"] for body in bodies(company, "Item")}
            disputed, bad_debts = [], []
            for invoice in invoices.values():
                for credit in invoice.credits:
                    assert credit.credit_memo is not None
                    item = items[credit.credit_memo["Line"][0]["SalesItemLineDetail"]["ItemRef"]["value"]]
                    if item == "Bad Debt":
                        bad_debts.append((invoice, credit))
                    elif "disputed" in credit.credit_memo["Line"][0]["Description"]:
                        disputed.append((invoice, credit))
            # Settled: the disputed part (10-40 %) credited, the rest paid in cash after the agreement or still owed.
            assert disputed, (seed, scenario)
            for invoice, credit in disputed:
                assert Decimal("0.09") <= credit.amount / invoice.total <= Decimal("0.41")
                assert (credit.day - invoice.txn_date).days >= 20
                assert all(cash.day >= credit.day for cash in invoice.cash)
            # Written off months past due, for whatever was still owed.
            for invoice, credit in bad_debts:
                assert (credit.day - invoice.due).days >= 120
                assert invoice.settled == invoice.total
            written_off += len(bad_debts)
            # A small share of invoices, not a habit.
            assert len(disputed) + len(bad_debts) <= 0.06 * len(invoices), (seed, scenario)
        assert written_off >= 1, seed


def test_bad_debts_are_set_up_the_way_intuit_recommends(companies: dict[Run, DemoCompany]) -> None:
    """An expense account and a non-inventory item posting to it, created before the first write-off."""
    company = next(
        company for company in companies.values() if any(b["Name"] == "Bad Debt" for b in bodies(company, "Item"))
    )
    accounts = {body["Name"]: body for body in bodies(company, "Account")}
    item = next(body for body in bodies(company, "Item") if body["Name"] == "Bad Debt")
    assert accounts["Bad Debts"]["AccountType"] == "Expense"
    assert item["Type"] == "NonInventory"
    assert item["IncomeAccountRef"] == {"value": accounts["Bad Debts"]["Id"]}
    order = [(op.entity, op.body["Id"]) for op in company.ops]
    first_write_off = next(
        index
        for index, op in enumerate(company.ops)
        if op.entity == "CreditMemo" and op.body["Line"][0]["SalesItemLineDetail"]["ItemRef"]["value"] == item["Id"]
    )
    assert order.index(("Account", accounts["Bad Debts"]["Id"])) < order.index(("Item", item["Id"])) < first_write_off


def test_disputed_invoices_paid_in_full_come_very_late(companies: dict[Run, DemoCompany]) -> None:
    """Some invoices of customers who usually pay within a fortnight are paid over a month past their usual day."""
    for seed, now in RUNS:
        very_late = 0
        for scenario in SCENARIOS:
            delays = delays_by_customer(receivables(companies[(seed, now, scenario)]))
            for customer, median in median_delays(delays, at_least=ENOUGH_INVOICES).items():
                if median <= 14:
                    very_late += sum(1 for _, late in delays[customer] if late - median >= 30)
        assert very_late >= 6, seed
