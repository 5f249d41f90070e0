"""The demo companies' recurring costs come as a services firm's do: payroll on its calendar with its taxes, rent
billed by the landlord, software on the card, quarterly estimated taxes, insurance, monthly fees; each at its
cadence, its amount moving as real ones do (headcount, renewals, escalations), with a few one-offs."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from oodaloo.sandbox.demo import DemoCompany, Scenario, generate_demo
from tests.sandbox.demo_receivables import bodies

TZ = "America/Los_Angeles"
SCENARIOS: tuple[Scenario, ...] = ("healthy", "tight", "crisis")
RUNS = (
    (42, datetime(2026, 3, 18, 10, 15, tzinfo=ZoneInfo(TZ))),
    (7, datetime(2025, 12, 31, 0, 30, tzinfo=ZoneInfo(TZ))),
)
EMPLOYER_FICA = Decimal("0.0765")
ESTIMATED_TAX_DUE = ((1, 15), (4, 15), (6, 15), (9, 15))

Company = tuple[int, Scenario, date]


@pytest.fixture(scope="module")
def companies() -> dict[Company, DemoCompany]:
    return {
        (seed, scenario, now.date()): generate_demo(scenario, seed=seed, now=now, tz=TZ)
        for seed, now in RUNS
        for scenario in SCENARIOS
    }


class Books:
    """A company's accounts and vendors by name, and its expense lines as (date, vendor, account, amount, text)."""

    def __init__(self, company: DemoCompany) -> None:
        self.company = company
        self.accounts = {body["Id"]: body["Name"] for body in bodies(company, "Account")}
        self.vendors = {body["Id"]: body["DisplayName"] for body in bodies(company, "Vendor")}
        opening = next(body for body in bodies(company, "Deposit") if body.get("PrivateNote") == "Opening balance")
        self.start = date.fromisoformat(opening["TxnDate"])

    def lines(self, entity: str, *, paid_from: str | None = None) -> list[tuple[date, str, str, Decimal, str]]:
        rows = []
        for body in bodies(self.company, entity):
            if paid_from is not None and self.accounts[body["AccountRef"]["value"]] != paid_from:
                continue
            party = body.get("VendorRef") or body.get("EntityRef") or {}
            vendor = self.vendors.get(party.get("value", ""), "")
            for line in body["Line"]:
                account = self.accounts[line["AccountBasedExpenseLineDetail"]["AccountRef"]["value"]]
                rows.append((date.fromisoformat(body["TxnDate"]), vendor, account, line["Amount"], line["Description"]))
        return rows

    def payroll_runs(self) -> list[dict[str, Any]]:
        return sorted(
            (body for body in bodies(self.company, "JournalEntry") if body["DocNumber"].startswith("PR-")),
            key=lambda body: body["TxnDate"],
        )

    def posted(self, entry: dict[str, Any], account: str) -> Decimal:
        return sum(
            (
                line["Amount"]
                for line in entry["Line"]
                if self.accounts[line["JournalEntryLineDetail"]["AccountRef"]["value"]] == account
            ),
            Decimal(0),
        )


def business_day(day: date) -> bool:
    return day.weekday() < 5


def month_end(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def months_between(first: date, last: date) -> list[date]:
    months = []
    month = first.replace(day=1)
    while month <= last:
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return months


# -- payroll ----------------------------------------------------------------------------------------------------------


def test_payroll_runs_on_a_biweekly_or_semimonthly_calendar(companies: dict[Company, DemoCompany]) -> None:
    """Biweekly Fridays, or the 15th and the month's last day; moved to the business day before when they fall on a
    weekend or a bank holiday. Both calendars occur among the demo firms."""
    calendars = set()
    for key, company in companies.items():
        books = Books(company)
        days = [
            date.fromisoformat(run["TxnDate"]) for run in books.payroll_runs() if not run["DocNumber"].endswith("-B")
        ]
        assert all(business_day(day) for day in days), key
        fridays = [day + timedelta(days=(4 - day.weekday()) % 7) for day in days]
        if {later - earlier for earlier, later in itertools.pairwise(fridays)} == {timedelta(days=14)}:
            calendars.add("biweekly")
            assert all((friday - day).days <= 3 for day, friday in zip(days, fridays, strict=True)), key
            continue
        calendars.add("semimonthly")
        halves = [(day.year, day.month, day.day > 15) for day in days]
        assert len(halves) == len(set(halves)), key  # one run per half month
        for day in days:
            nominal = day.replace(day=15) if day.day <= 15 else month_end(day)
            assert 0 <= (nominal - day).days <= 4, (key, day)
        assert len(days) >= 2 * len(months_between(books.start, days[-1])) - 2, key
    assert calendars == {"biweekly", "semimonthly"}


def test_each_run_pays_net_pay_and_the_tax_impound_from_checking(companies: dict[Company, DemoCompany]) -> None:
    for key, company in companies.items():
        books = Books(company)
        for run in books.payroll_runs():
            gross, taxes = books.posted(run, "Payroll Expenses"), books.posted(run, "Payroll Taxes")
            checking = [
                line
                for line in run["Line"]
                if books.accounts[line["JournalEntryLineDetail"]["AccountRef"]["value"]] == "Checking"
            ]
            assert [line["JournalEntryLineDetail"]["PostingType"] for line in checking] == ["Credit", "Credit"], key
            net_pay, impound = (line["Amount"] for line in checking)
            assert net_pay + impound == gross + taxes
            assert Decimal("0.65") * gross <= net_pay <= Decimal("0.8") * gross  # withholdings go to the impound
            assert impound > taxes


def test_employer_taxes_are_highest_at_the_start_of_the_year(companies: dict[Company, DemoCompany]) -> None:
    """Unemployment taxes fall on each employee's first wages of the year: January's runs carry a higher employer
    tax rate than the runs from March on, which pay Social Security and Medicare only."""
    for key, company in companies.items():
        books = Books(company)
        regular = [run for run in books.payroll_runs() if not run["DocNumber"].endswith("-B")]
        rates = {
            date.fromisoformat(run["TxnDate"]): books.posted(run, "Payroll Taxes")
            / books.posted(run, "Payroll Expenses")
            for run in regular
        }
        first_of_year = [rate for day, rate in rates.items() if day.month == 1 and day.day <= 16]
        from_march = [rate for day, rate in rates.items() if day.month >= 3]
        assert first_of_year, key
        assert from_march, key
        assert all(rate >= EMPLOYER_FICA + Decimal("0.02") for rate in first_of_year), key
        assert all(abs(rate - EMPLOYER_FICA) < Decimal("0.002") for rate in from_march), key


def test_wages_move_with_headcount_without_jumping(companies: dict[Company, DemoCompany]) -> None:
    for key, company in companies.items():
        books = Books(company)
        gross = [
            books.posted(run, "Payroll Expenses") for run in books.payroll_runs() if not run["DocNumber"].endswith("-B")
        ]
        changes = [abs(later / earlier - 1) for earlier, later in itertools.pairwise(gross)]
        assert max(changes) <= Decimal("0.15"), key  # a hire or a departure, a raise: never a jump
        assert sum(1 for change in changes if change >= Decimal("0.01")) >= 3, key  # not a constant


def test_good_years_end_with_a_bonus_run(companies: dict[Company, DemoCompany]) -> None:
    for (seed, scenario, _), company in companies.items():
        bonuses = [run for run in Books(company).payroll_runs() if run["DocNumber"].endswith("-B")]
        if scenario == "crisis":
            assert not bonuses
        else:
            assert bonuses, (seed, scenario)
            assert all(date.fromisoformat(run["TxnDate"]).month == 12 for run in bonuses)


# -- rent, software, taxes, insurance, fees -------------------------------------------------------------------------


def test_rent_is_billed_monthly_by_the_landlord_and_steps_up_once_a_year(companies: dict[Company, DemoCompany]) -> None:
    for key, company in companies.items():
        books = Books(company)
        rent = sorted(
            (day, amount)
            for day, vendor, account, amount, text in books.lines("Bill")
            if account == "Rent" and text.startswith("Rent ")
        )
        assert [day for day, _ in rent] == months_between(books.start, key[2]), key
        steps = [(day, later / earlier) for (_, earlier), (day, later) in itertools.pairwise(rent) if later != earlier]
        assert len(steps) <= 2, key
        assert all(Decimal("1.029") <= ratio <= Decimal("1.031") for _, ratio in steps), key
        assert all((later - earlier).days >= 360 for (earlier, _), (later, _) in itertools.pairwise(steps)), key
        vendors = {vendor for _, vendor, account, _, _ in books.lines("Bill") if account == "Rent"}
        assert len(vendors) == 1, key
        # Once a year (April), last year's operating-expense reconciliation: a one-off well below a month's rent.
        reconciliations = [
            (day, amount) for day, _, account, amount, text in books.lines("Bill") if "reconciliation" in text
        ]
        assert all(day.month == 4 and amount < rent[0][1] for day, amount in reconciliations), key


def test_software_is_paid_monthly_on_the_card(companies: dict[Company, DemoCompany]) -> None:
    """Each plan charges the card on its own day every month (one yearly plan once a year); per-seat plans follow
    the headcount; billed software comes as a monthly bill that varies a little with usage."""
    for key, company in companies.items():
        books = Books(company)
        charges: dict[str, list[tuple[date, Decimal, str]]] = defaultdict(list)
        for day, vendor, account, amount, text in books.lines("Purchase", paid_from="Amex Business Card"):
            if account == "Software Subscriptions":
                charges[vendor].append((day, amount, text))
        assert len(charges) >= 5, key
        months = len(months_between(books.start, key[2]))
        for vendor, history in charges.items():
            if any("annual plan" in text for _, _, text in history):
                assert len(history) <= 2, (key, vendor)
                assert all("annual" in text for _, _, text in history), (key, vendor)
                continue
            assert len({day.day for day, _, _ in history}) == 1, (key, vendor)
            assert len(history) >= months - 1, (key, vendor)
            per_seat = [(amount, text) for _, amount, text in history if "seats" in text]
            for amount, text in per_seat:
                seats = int(text.split(", ")[1].split()[0])
                first_amount, first_text = per_seat[0]
                assert amount == pytest.approx(first_amount * seats / int(first_text.split(", ")[1].split()[0]), abs=1)
        billed: dict[str, list[Decimal]] = defaultdict(list)
        for _, vendor, account, amount, _ in books.lines("Bill"):
            if account == "Software Subscriptions":
                billed[vendor].append(amount)
        for vendor, amounts in billed.items():
            assert len(set(amounts)) > 1, (key, vendor)
            assert max(amounts) <= Decimal("1.11") * min(amounts), (key, vendor)


def test_estimated_taxes_are_paid_on_each_quarterly_due_date(companies: dict[Company, DemoCompany]) -> None:
    for key, company in companies.items():
        books = Books(company)
        paid: dict[str, set[date]] = defaultdict(set)
        for day, vendor, account, _, _ in books.lines("Purchase", paid_from="Checking"):
            if account == "Taxes & Licenses":
                paid[vendor].add(day)
        due: set[date] = set()
        for year in range(books.start.year, key[2].year + 1):
            for month, day_of_month in ESTIMATED_TAX_DUE:
                on = date(year, month, day_of_month)
                while not business_day(on):
                    on += timedelta(days=1)
                if books.start <= on <= key[2]:
                    due.add(on)
        assert set(paid) == {"IRS", "California Franchise Tax Board"}, key
        assert all(days == due for days in paid.values()), key


def test_insurance_premiums_recur_and_renew(companies: dict[Company, DemoCompany]) -> None:
    """Group health monthly, per head (the seats of the per-seat software), renewing dearer each January; liability
    quarterly."""
    for key, company in companies.items():
        books = Books(company)
        bills = books.lines("Bill")
        health = sorted((day, amount) for day, _, _, amount, text in bills if text == "Group health premium")
        liability = [day for day, _, _, _, text in bills if text == "Liability insurance"]
        billed_by_today = [month for month in months_between(books.start, key[2]) if month.replace(day=5) <= key[2]]
        assert [day.replace(day=1) for day, _ in health] == billed_by_today, key
        assert all(day.month in (1, 4, 7, 10) for day in liability), key
        assert len(liability) >= 4, key
        seats = {
            day.replace(day=1): int(text.split(", ")[1].split()[0])
            for day, vendor, _, _, text in books.lines("Purchase")
            if vendor == "Slack"
        }
        per_head = [(day, amount / seats[day.replace(day=1)]) for day, amount in health if day.replace(day=1) in seats]
        for (_, earlier), (day, later) in itertools.pairwise(per_head):
            if day.month == 1:
                assert later / earlier >= Decimal("1.04"), (key, day)  # the plan renews
            else:
                assert abs(later / earlier - 1) < Decimal("0.001"), (key, day)


def test_monthly_fees_for_the_bank_and_the_payroll_provider(companies: dict[Company, DemoCompany]) -> None:
    for key, company in companies.items():
        books = Books(company)
        debits = books.lines("Purchase", paid_from="Checking")
        bank = [(day, amount) for day, _, account, amount, _ in debits if account == "Bank Charges"]
        payroll = [(day, amount) for day, vendor, _, amount, text in debits if text.startswith("Payroll service fee")]
        months = months_between(books.start, key[2])
        assert [day.replace(day=1) for day, _ in bank] in (months, months[:-1]), key
        assert len({amount for _, amount in bank}) == 1, key
        assert all(business_day(day) and day.day >= 24 for day, _ in bank), key
        assert [day.replace(day=1) for day, _ in payroll] == months[1:], key
        assert all(business_day(day) and day.day <= 4 for day, _ in payroll), key


def test_one_offs_come_now_and_then(companies: dict[Company, DemoCompany]) -> None:
    """Laptops for new hires, the annual tax return, a rent reconciliation: occasional, not monthly."""
    for key, company in companies.items():
        books = Books(company)
        laptops = [day for day, _, _, _, text in books.lines("Purchase") if text == "Laptop for a new hire"]
        tax_returns = [day for day, _, _, _, text in books.lines("Bill") if text.startswith("Tax return preparation")]
        assert all(day.month == 3 for day in tax_returns), key
        assert len(laptops) <= len(months_between(books.start, key[2])), key
    all_laptops = sum(
        1
        for company in companies.values()
        for row in Books(company).lines("Purchase")
        if row[4] == "Laptop for a new hire"
    )
    assert all_laptops >= 3
