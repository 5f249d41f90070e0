"""How a demo customer pays: its own lateness, day-to-day noise with a long right tail, drift over the history, the
year-end slowdown, its accounts-payable run (business days only), and how often it pays in part or disputes.

Each customer draws its own figures around its habit, so no two pay alike and none follows a rule a forecast could
read back. What persists (a customer's lateness, its pay run) is what a forecast can learn from the history; what
does not (noise, slips, drift, disputes) is what keeps it honest.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from .dates import add_months, next_business_day, on_day, previous_business_day
from .model import between, money
from .scenarios import Profile
from .setup import CustomerPlan, Habit


@dataclass(frozen=True)
class HabitRanges:
    """What a habit means: ranges each customer of that habit draws its own figures from."""

    lateness: tuple[float, float]  # the customer's typical days after the due date
    spread: tuple[float, float]  # the scale of its day-to-day noise, in days
    slip: float  # chance that one invoice slips badly (lost, stuck in approval, reissued)


HABIT_RANGES: dict[Habit, HabitRanges] = {
    "early": HabitRanges((-8, -2), (1.0, 2.5), 0.02),
    "on_time": HabitRanges((-1, 3), (1.5, 3.5), 0.04),
    "slow": HabitRanges((5, 15), (3.0, 6.0), 0.06),
    "late": HabitRanges((18, 45), (4.0, 8.0), 0.08),
    "erratic": HabitRanges((6, 22), (12.0, 20.0), 0.15),
}
# Noise is spread x (e^N(0, sigma) - 1): median zero, never more than one spread early, a long tail late (payment
# delays are right-skewed: an invoice can be weeks late, but not weeks early).
NOISE_SIGMA = 0.6
# A slipped invoice waits this much longer on average (exponential).
SLIP_MEAN_DAYS = 21.0
# Payables departments slow down over the holidays: payments meant for these days wait a few days more.
YEAR_END = ((12, 18), (1, 6))
YEAR_END_EXTRA_DAYS = (4.0, 12.0)
AUGUST_EXTRA_DAYS = (0.0, 4.0)
# Invoices above a customer's approval limit wait for a second signature.
APPROVAL_LIMITS: tuple[Decimal | None, ...] = (Decimal(7500), Decimal(15000), None, None)
APPROVAL_EXTRA_DAYS = (2.0, 8.0)

# When a customer pays: any business day, its weekly run, its runs on the 15th and the month's end, or monthly.
PayRun = Literal["any_day", "weekly", "twice_monthly", "monthly"]
PAY_RUNS: tuple[PayRun, ...] = ("any_day", "weekly", "twice_monthly", "monthly")
PAY_RUN_WEIGHTS = (45, 30, 15, 10)
RUN_WEEKDAYS = (1, 2, 3, 3, 4, 4)  # Tuesday to Friday, mostly Thursday or Friday
MONTHLY_RUN_DAYS = (10, 15, 20, 25, 31)
# Customers with a pay run usually pay every invoice it covers in one payment (a batch).
BATCH_SHARE = 0.75
# Of the batch payers that run late, this share catches up: it pays, with an overdue invoice, what would come due
# in the next few days too.
CATCH_UP_SHARE = 0.5
CATCH_UP_DAYS = (7, 21)

# Part payments: an erratic payer often pays in parts; a few others sometimes do; the rest hardly ever.
ERRATIC_PARTIAL = (0.15, 0.35)
PART_PAYERS = 0.1
PART_PAYER_PARTIAL = (0.1, 0.25)
RARE_PARTIAL = 0.01
# The share of an invoice a first part payment covers.
PART_SHARES = (0.25, 0.4, 0.5, 0.6)
# Disputes: a customer's rate is the scenario's average scaled by e^N(0, sigma), capped; a client heading for the
# exit disputes more.
DISPUTE_SIGMA = 0.9
DISPUTE_CAP = 0.3
TROUBLE_DISPUTES = 2.0

# A client lost in a squeeze often stretches its payments over its last months first.
TROUBLE_SHARE = 0.6
TROUBLE_LEAD_DAYS = (90, 160)
TROUBLE_EXTRA_DAYS = (12.0, 35.0)
SLOWING_DAYS = (8.0, 30.0)
SPEEDING_DAYS = (6.0, 18.0)
DRIFT_RAMP_DAYS = (40, 120)
# Drift starts no sooner than this after the books start, and long enough before today to show.
DRIFT_MARGINS = (60, 45)


@dataclass(frozen=True)
class Drift:
    """A change in lateness: none before ``starts``, growing linearly to ``days`` over ``ramp_days``."""

    starts: date
    days: float
    ramp_days: int

    def at(self, day: date) -> float:
        elapsed = (day - self.starts).days
        if elapsed <= 0:
            return 0.0
        return self.days * min(1.0, elapsed / self.ramp_days)


@dataclass(frozen=True)
class Payer:
    """One customer's own way of paying."""

    habit: Habit
    lateness: float  # typical days after the due date it means to pay
    spread: float  # scale of its noise around that
    slip: float  # chance an invoice slips badly
    drift: Drift | None
    run: PayRun
    run_weekday: int  # of a weekly run (Monday = 0)
    run_day: int  # of a monthly run (31: the month's last day)
    batches: bool  # pays every invoice a run covers in one payment
    catch_up_days: int  # a batch also takes invoices whose runs fall this many days later (0: none)
    partial_chance: float  # chance it pays an invoice in two parts
    dispute_chance: float  # chance it disputes an invoice
    approval_limit: Decimal | None  # invoices above it wait for a second signature

    def intended(self, rng: random.Random, due: date, total: Decimal) -> date:
        """The day this customer means to pay an invoice due on ``due`` (before its pay run and any floor)."""
        days = self.lateness + self.spread * (math.exp(rng.gauss(0, NOISE_SIGMA)) - 1)
        if self.drift is not None:
            days += self.drift.at(due)
        if rng.random() < self.slip:
            days += rng.expovariate(1 / SLIP_MEAN_DAYS)
        if self.approval_limit is not None and total > self.approval_limit:
            days += rng.uniform(*APPROVAL_EXTRA_DAYS)
        day = due + timedelta(days=round(days))
        if _in_year_end(day):
            day += timedelta(days=round(rng.uniform(*YEAR_END_EXTRA_DAYS)))
        elif day.month == 8:
            day += timedelta(days=round(rng.uniform(*AUGUST_EXTRA_DAYS)))
        return day

    def pay_run(self, day: date) -> date:
        """The customer's first pay run on or after ``day``: always a business day."""
        if self.run == "any_day":
            return next_business_day(day)
        if self.run == "weekly":
            return next_business_day(day + timedelta(days=(self.run_weekday - day.weekday()) % 7))
        month = day.replace(day=1)
        run_days = (15, 31) if self.run == "twice_monthly" else (self.run_day,)
        while True:
            for run_day in run_days:
                # A run falling on a weekend or holiday goes out the business day before.
                run = previous_business_day(on_day(month, run_day))
                if run >= day:
                    return run
            month = add_months(month, 1)


def draw_payer(rng: random.Random, customer: CustomerPlan, profile: Profile, *, start: date, today: date) -> Payer:
    """The customer's own figures around its habit, and its drift given the scenario and whether it is lost."""
    habit = customer.habit
    ranges = HABIT_RANGES[habit]
    run = rng.choices(PAY_RUNS, PAY_RUN_WEIGHTS)[0]
    batches = run != "any_day" and rng.random() < BATCH_SHARE
    catches_up = batches and habit in ("slow", "late", "erratic") and rng.random() < CATCH_UP_SHARE
    drift, in_trouble = _drift(rng, customer, profile, start=start, today=today)
    dispute_chance = (
        profile.disputes
        * math.exp(rng.gauss(-(DISPUTE_SIGMA**2) / 2, DISPUTE_SIGMA))
        * (TROUBLE_DISPUTES if in_trouble else 1)
    )
    return Payer(
        habit=habit,
        lateness=rng.uniform(*ranges.lateness),
        spread=rng.uniform(*ranges.spread),
        slip=ranges.slip,
        drift=drift,
        run=run,
        run_weekday=rng.choice(RUN_WEEKDAYS),
        run_day=rng.choice(MONTHLY_RUN_DAYS),
        batches=batches,
        catch_up_days=between(rng, *CATCH_UP_DAYS) if catches_up else 0,
        partial_chance=_partial_chance(rng, habit),
        dispute_chance=min(DISPUTE_CAP, dispute_chance),
        approval_limit=rng.choice(APPROVAL_LIMITS),
    )


def _drift(
    rng: random.Random, customer: CustomerPlan, profile: Profile, *, start: date, today: date
) -> tuple[Drift | None, bool]:
    """The customer's drift, and whether it is a client in trouble (lost, stretching before it goes)."""
    if customer.active_until is not None and rng.random() < TROUBLE_SHARE:
        starts = customer.active_until - timedelta(days=between(rng, *TROUBLE_LEAD_DAYS))
        return Drift(starts, rng.uniform(*TROUBLE_EXTRA_DAYS), between(rng, *DRIFT_RAMP_DAYS)), True
    first = max(start, customer.active_from) + timedelta(days=DRIFT_MARGINS[0])
    last = today - timedelta(days=DRIFT_MARGINS[1])
    if first >= last:
        return None, False
    draw = rng.random()
    starts = first + timedelta(days=between(rng, 0, (last - first).days))
    ramp = between(rng, *DRIFT_RAMP_DAYS)
    if draw < profile.slowing:
        return Drift(starts, rng.uniform(*SLOWING_DAYS), ramp), False
    if draw < profile.slowing + profile.speeding and customer.habit in ("slow", "late", "erratic"):
        return Drift(starts, -rng.uniform(*SPEEDING_DAYS), ramp), False
    return None, False


def _partial_chance(rng: random.Random, habit: Habit) -> float:
    if habit == "erratic":
        return rng.uniform(*ERRATIC_PARTIAL)
    if rng.random() < PART_PAYERS:
        return rng.uniform(*PART_PAYER_PARTIAL)
    return RARE_PARTIAL


def part_of(rng: random.Random, total: Decimal) -> Decimal:
    """A first part payment: a round share of the invoice, in whole dollars, leaving something to pay."""
    part = whole_dollars(total * Decimal(str(rng.choice(PART_SHARES))))
    return part if Decimal(0) < part < total else money(total / 2)


def whole_dollars(amount: Decimal) -> Decimal:
    """People agree on round amounts: whole dollars, still written in cents."""
    return money(amount.to_integral_value())


def _in_year_end(day: date) -> bool:
    (from_month, from_day), (to_month, to_day) = YEAR_END
    return (day.month, day.day) >= (from_month, from_day) or (day.month, day.day) <= (to_month, to_day)
