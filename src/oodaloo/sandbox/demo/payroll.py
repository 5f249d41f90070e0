"""The demo firm's people and payroll: headcount over the history (hires and departures), and each payroll run as
the provider posts it to QBO, on a biweekly or semimonthly calendar, with a December bonus run in good years.

A run is a journal entry: wages and employer taxes debited; net pay and the tax impound (withholdings and employer
taxes) credited to Checking, both debited by the provider on payday. Employer taxes are higher early in the year,
when unemployment taxes are due on every employee's first wages, and fall once the wage bases are reached.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from .book import Body, Book
from .dates import days_in_month, month_starts, previous_business_day
from .model import ZERO, Draft, money
from .scenarios import Profile
from .setup import Lists

AVERAGE_SALARY = Decimal(95000)
MIN_HEADCOUNT = 3
# Employer Social Security and Medicare, on all wages (the Social Security wage base is above these salaries).
EMPLOYER_FICA = Decimal("0.0765")
# FUTA (0.6 %) and California's SUI (3.4 %) and ETT (0.1 %), on each employee's first $7,000 of wages a year.
UNEMPLOYMENT_RATE = Decimal("0.041")
UNEMPLOYMENT_WAGE_BASE = Decimal(7000)
# The payroll budget covers wages and employer taxes; this is their ratio over a year.
TAX_LOAD = Decimal("1.08")
# Employees' income taxes and their share of FICA, withheld from gross pay and impounded with the employer's taxes.
WITHHOLDING = (0.22, 0.28)
# Annual raises take effect with January's first run.
RAISE = (0.02, 0.04)
# Overtime, reimbursements and unpaid leave move each run a little.
RUN_VARIATION = (0.99, 1.01)
PayCalendar = Literal["biweekly", "semimonthly"]
CALENDAR_WEIGHTS = (60, 40)
# The bonus run goes out on the business day on or before this day of December.
BONUS_DAY = 19


def yearly_factors(rng: random.Random, start: date, today: date, rise: tuple[float, float]) -> dict[int, Decimal]:
    """Per calendar year, a price (a salary, a premium) relative to the first year's, rising every January by a share
    drawn from ``rise``."""
    factors: dict[int, Decimal] = {}
    factor = Decimal(1)
    for year in range(start.year, today.year + 1):
        factors[year] = factor
        factor *= Decimal(str(1 + rng.uniform(*rise)))
    return factors


@dataclass(frozen=True)
class Staffing:
    """Headcount per month of the history; hires are the months it grows."""

    heads: dict[date, int]

    def on(self, day: date) -> int:
        return self.heads.get(day.replace(day=1), self.heads[min(self.heads)])

    @property
    def mean(self) -> Decimal:
        return Decimal(sum(self.heads.values())) / len(self.heads)

    def relative(self, day: date) -> Decimal:
        """Headcount on ``day`` over the history's average (what per-seat costs scale with)."""
        return Decimal(self.on(day)) / self.mean

    def hires(self) -> Iterator[tuple[date, int]]:
        months = sorted(self.heads)
        for before, month in itertools.pairwise(months):
            if self.heads[month] > self.heads[before]:
                yield month, self.heads[month] - self.heads[before]


def draw_staffing(
    rng: random.Random, profile: Profile, *, monthly_payroll: Decimal, start: date, today: date
) -> Staffing:
    """A headcount that walks by hires and departures from what the payroll budget pays for."""
    heads = max(MIN_HEADCOUNT, round(monthly_payroll * 12 / TAX_LOAD / AVERAGE_SALARY))
    path: dict[date, int] = {}
    for month in month_starts(start, today):
        if path:
            heads += (rng.random() < profile.hires) - (rng.random() < profile.departures)
            heads = max(MIN_HEADCOUNT, heads)
        path[month] = heads
    return Staffing(path)


@dataclass(frozen=True)
class Run:
    payday: date
    gross: Decimal
    heads: int
    bonus: bool = False


class PayrollWriter:
    """Writes the payroll runs of a history; wages follow the headcount but add up to the payroll budget."""

    def __init__(
        self, book: Book, lists: Lists, rng: random.Random, *, start: date, today: date, staffing: Staffing
    ) -> None:
        self.book = book
        self.lists = lists
        self.rng = rng
        self.start = start
        self.today = today
        self.staffing = staffing
        self.calendar: PayCalendar = rng.choices(("biweekly", "semimonthly"), CALENDAR_WEIGHTS)[0]
        self.withholding = Decimal(str(rng.uniform(*WITHHOLDING)))

    def write(self, profile: Profile, monthly_payroll: Decimal) -> None:
        paydays = list(self._paydays())
        raises = yearly_factors(self.rng, self.start, self.today, RAISE)
        weights = [self.staffing.on(day) * raises[day.year] for day in paydays]
        runs_per_year = 26 if self.calendar == "biweekly" else 24
        budget_per_run = monthly_payroll * 12 / runs_per_year / TAX_LOAD
        scale = budget_per_run * len(paydays) / sum(weights, ZERO)
        runs = [
            Run(day, money(scale * weight * Decimal(str(self.rng.uniform(*RUN_VARIATION)))), self.staffing.on(day))
            for day, weight in zip(paydays, weights, strict=True)
        ]
        runs.extend(self._bonus_runs(profile, budget_per_run))
        # Wages per head so far in each calendar year; the first year began before the books did.
        year_start = date(self.start.year, 1, 1)
        earlier_runs = Decimal((self.start - year_start).days) / 365 * runs_per_year
        wages_to_date = {self.start.year: runs[0].gross / runs[0].heads * earlier_runs if runs else ZERO}
        for run in sorted(runs, key=lambda run: run.payday):
            per_head = run.gross / run.heads
            so_far = wages_to_date.get(run.payday.year, ZERO)
            taxable = max(ZERO, min(per_head, UNEMPLOYMENT_WAGE_BASE - so_far))
            wages_to_date[run.payday.year] = so_far + per_head
            taxes = money(run.gross * EMPLOYER_FICA + taxable * run.heads * UNEMPLOYMENT_RATE)
            self._entry(run, taxes)

    def _paydays(self) -> Iterator[date]:
        """Biweekly Fridays, or the 15th and the month's last day; a payday on a weekend or bank holiday is paid
        the business day before."""
        if self.calendar == "biweekly":
            friday = self.start + timedelta(days=(4 - self.start.weekday()) % 7 + self.rng.choice((0, 7)))
            while friday <= self.today:
                payday = previous_business_day(friday)
                if payday >= self.start:
                    yield payday
                friday += timedelta(days=14)
            return
        for month in month_starts(self.start, self.today):
            for day in (15, days_in_month(month.year, month.month)):
                payday = previous_business_day(month.replace(day=day))
                if self.start <= payday <= self.today:
                    yield payday

    def _bonus_runs(self, profile: Profile, budget_per_run: Decimal) -> Iterator[Run]:
        if profile.bonus[1] <= 0:
            return
        for month in month_starts(self.start, self.today):
            payday = previous_business_day(month.replace(day=BONUS_DAY))
            if month.month == 12 and self.start <= payday <= self.today:
                share = Decimal(str(self.rng.uniform(*profile.bonus)))
                yield Run(payday, money(budget_per_run * share), self.staffing.on(payday), bonus=True)

    def _entry(self, run: Run, taxes: Decimal) -> Draft:
        accounts = self.lists.accounts
        provider = self.lists.vendor("payroll").name
        withheld = money(run.gross * self.withholding)
        net_pay = run.gross - withheld
        period = "Year-end bonus" if run.bonus else f"Payroll for period ending {run.payday:%m/%d/%Y}"

        def line(posting: str, account: str, amount: Decimal, description: str) -> Body:
            detail = {"PostingType": posting, "AccountRef": accounts[account].ref()}
            return {
                "Amount": amount,
                "DetailType": "JournalEntryLineDetail",
                "Description": description,
                "JournalEntryLineDetail": detail,
            }

        def build() -> Body:
            return {
                "TxnDate": run.payday.isoformat(),
                "DocNumber": f"PR-{run.payday:%Y%m%d}" + ("-B" if run.bonus else ""),
                "PrivateNote": f"{'Bonus' if run.bonus else 'Payroll'} run (direct deposit), posted by {provider}",
                "Line": [
                    line("Debit", "Payroll Expenses", run.gross, period),
                    line("Debit", "Payroll Taxes", taxes, "Employer payroll taxes"),
                    line("Credit", "Checking", net_pay, "Net pay (direct deposit)"),
                    line("Credit", "Checking", withheld + taxes, "Tax impound: withholdings and employer taxes"),
                ],
            }

        return self.book.add("JournalEntry", run.payday, build, bank_delta=-(run.gross + taxes))
