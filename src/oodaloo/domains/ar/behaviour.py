"""How each customer pays, learned from the receivables history as of a day, and when each open invoice is therefore
expected to be collected (with an early and a late date, and the reason in words).

The model, and why:

* **Days late** are counted from the due date (an invoice is collected ``due + delay``). Each customer's delays form
  a distribution estimated with Kaplan-Meier: an invoice still open on the day is not ignored (that would keep only
  the quick payments of recent months and make every customer look prompt) but counts as "later than it is so far".
* **Recent history weighs more** (a half-life on each invoice's age), so habits that drift are followed.
* **Few observations borrow from everyone**: a customer's distribution is blended with the business's pooled one,
  its own share growing with how much history it has (shrinkage), so one lucky invoice does not define a customer.
* **Medians, not means**: an invoice is expected at the median of the blended distribution (early and late at its
  quartiles), which one disputed invoice cannot drag.
* **Conditional on the delay already elapsed**: an invoice 40 days overdue is dated from the payments that took at
  least that long, so it is never dated in the past and never dropped. Beyond anything ever observed, the remaining
  wait grows with how late it already is (the longer an invoice has waited, the longer it is likely to wait still).
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

from oodaloo.domains.ar.history import OpenInvoice, Receivables

# An invoice's weight halves every this many days of age (from its due date to the day learned as of): a customer's
# last six months speak louder than the year before, without forgetting it.
RECENCY_HALF_LIFE_DAYS = 180
# A customer's own history counts n / (n + this) of its blended behaviour, n being its (recency-weighted) invoices:
# with two invoices it counts half; the pooled behaviour of the business fills the rest.
SHRINKAGE_INVOICES = 2.0
# Probability kept for delays longer than any observed (a dispute, a client in trouble): without it a customer who
# always paid within ten days would be certain to pay within ten days again.
UNSEEN_TAIL_SHARE = 0.03
# Past the longest delay observed, the remaining wait is exponential with this mean, in days, at the least ...
TAIL_MIN_MEAN_DAYS = 21.0
# ... and with a mean of this share of the days already late when that is more (90 days late: 45 days more).
TAIL_MEAN_PER_DAY_LATE = 0.5
# How finely the unseen tail is spread into whole days (quantiles of the exponential).
TAIL_ATOMS = 8
EARLY_QUANTILE = 0.25
EXPECTED_QUANTILE = 0.5
LATE_QUANTILE = 0.75
QUANTILES = (EARLY_QUANTILE, EXPECTED_QUANTILE, LATE_QUANTILE)
# No date is forecast further than a year ahead: beyond that the invoice is as good as uncollectable.
MAX_DAYS_AHEAD = 365
# The recent trend compares a customer's last few paid invoices with its earlier ones ...
RECENT_INVOICES = 4
# ... and calls a change of at least this many days (in the median) a trend.
TREND_DAYS = 5
# A mass below this is no mass: sums of float probabilities are not exact.
EPSILON = 1e-9

Trend = Literal["later", "sooner", "steady"]


# --------------------------------------------------------------------------------------------- the distribution
@dataclass(frozen=True)
class DelayDistribution:
    """Probabilities of an invoice being collected ``delay`` days after its due date, as whole-day atoms.
    ``observed_until`` is the longest delay seen (paid, or still open): beyond it the distribution is extrapolated."""

    delays: tuple[int, ...]
    cumulative: tuple[float, ...]  # P(delay <= delays[i]); the last is 1
    observed_until: int

    @classmethod
    def from_masses(cls, masses: dict[int, float], observed_until: int) -> DelayDistribution:
        delays = tuple(sorted(day for day, mass in masses.items() if mass > 0))
        total = sum(masses[day] for day in delays)
        running, cumulative = 0.0, []
        for day in delays:
            running += masses[day] / total
            cumulative.append(running)
        if cumulative:
            cumulative[-1] = 1.0
        return cls(delays, tuple(cumulative), observed_until)

    @classmethod
    def estimate(cls, paid: dict[int, float], still_open: dict[int, float]) -> DelayDistribution:
        """Weighted Kaplan-Meier over ``paid`` (delay -> weight of invoices paid that many days late) and
        ``still_open`` (days late so far -> weight of invoices not yet paid), with the unseen tail added."""
        at_risk = sum(paid.values()) + sum(still_open.values())
        observed_until = max((*paid, *still_open), default=0)
        survival, masses = 1.0, {}
        for day in sorted({*paid, *still_open}):
            events = paid.get(day, 0.0)
            if events > 0 and at_risk > EPSILON:
                after = survival * max(0.0, 1.0 - events / at_risk)
                masses[day] = (survival - after) * (1 - UNSEEN_TAIL_SHARE)
                survival = after
            at_risk -= events + still_open.get(day, 0.0)
        unseen = survival * (1 - UNSEEN_TAIL_SHARE) + UNSEEN_TAIL_SHARE
        for day, mass in tail_atoms(observed_until, unseen).items():
            masses[day] = masses.get(day, 0.0) + mass
        return cls.from_masses(masses, observed_until)

    @classmethod
    def blend(cls, parts: Sequence[tuple[float, DelayDistribution]]) -> DelayDistribution:
        """The mixture of ``parts`` (weight, distribution); the weights need not sum to one."""
        masses: dict[int, float] = defaultdict(float)
        for weight, part in parts:
            previous = 0.0
            for day, running in zip(part.delays, part.cumulative, strict=True):
                masses[day] += weight * (running - previous)
                previous = running
        return cls.from_masses(masses, max((part.observed_until for _, part in parts), default=0))

    def mass_from(self, earliest: int) -> float:
        """P(delay >= earliest)."""
        index = bisect.bisect_left(self.delays, earliest)
        return 1.0 - (self.cumulative[index - 1] if index > 0 else 0.0)

    def beyond_observed(self, earliest: int) -> bool:
        """Whether a delay of at least ``earliest`` is longer than anything the distribution was estimated from."""
        return earliest > self.observed_until or self.mass_from(earliest) < EPSILON

    def probability_within(self, earliest: int, days: int) -> float:
        """P(delay <= earliest + days | delay >= earliest): paid within ``days`` of a day it was still unpaid."""
        if self.beyond_observed(earliest):
            return 1.0 - math.exp(-days / tail_mean_days(earliest))
        from_earliest = self.mass_from(earliest)
        return (from_earliest - self.mass_from(earliest + days + 1)) / from_earliest

    def quantiles_from(self, earliest: int, quantiles: Sequence[float]) -> list[int]:
        """The ``quantiles`` of the delay given that it is at least ``earliest`` (an invoice not paid before)."""
        if self.beyond_observed(earliest):
            return [beyond_observed(earliest, quantile) for quantile in quantiles]
        index = bisect.bisect_left(self.delays, earliest)
        below = self.cumulative[index - 1] if index > 0 else 0.0
        last = len(self.delays) - 1
        found = []
        for quantile in quantiles:
            target = below + quantile * (1.0 - below)
            found.append(self.delays[min(bisect.bisect_left(self.cumulative, target - EPSILON, lo=index), last)])
        return found


def tail_mean_days(days_late: int) -> float:
    return max(TAIL_MIN_MEAN_DAYS, TAIL_MEAN_PER_DAY_LATE * max(days_late, 0))


def beyond_observed(days_late: int, quantile: float) -> int:
    """The ``quantile`` of the delay of an invoice already ``days_late``, later than anything seen: exponential."""
    return days_late + math.ceil(tail_mean_days(days_late) * -math.log(1.0 - quantile))


def tail_atoms(after: int, mass: float) -> dict[int, float]:
    """``mass`` spread over delays beyond ``after``, at the midpoint quantiles of the exponential tail."""
    atoms: dict[int, float] = defaultdict(float)
    for k in range(TAIL_ATOMS):
        quantile = (k + 0.5) / TAIL_ATOMS
        day = after + max(1, math.ceil(tail_mean_days(after) * -math.log(1.0 - quantile)))
        atoms[day] += mass / TAIL_ATOMS
    return atoms


# ------------------------------------------------------------------------------------------------- behaviours
@dataclass(frozen=True)
class PaymentHabit:
    """What a set of paid invoices shows, in whole days late (negative: early). Plain figures of the invoices paid
    on or before the day, for people to read; the forecast uses the weighted distribution."""

    paid_count: int
    open_count: int
    median_days_late: int | None
    p25_days_late: int | None
    p75_days_late: int | None
    share_paid_late: float | None
    recent_count: int
    recent_late: int
    recent_median_days_late: int | None
    trend: Trend | None

    @classmethod
    def of(cls, paid_in_order: Sequence[int], open_count: int) -> PaymentHabit:
        """``paid_in_order``: days late of each paid invoice, in the order they were paid."""
        ordered = sorted(paid_in_order)
        recent = list(paid_in_order[-RECENT_INVOICES:])
        earlier = list(paid_in_order[:-RECENT_INVOICES])
        trend: Trend | None = None
        if recent and earlier:
            change = _nearest_rank(sorted(recent), 0.5) - _nearest_rank(sorted(earlier), 0.5)
            trend = "later" if change >= TREND_DAYS else "sooner" if change <= -TREND_DAYS else "steady"
        return cls(
            paid_count=len(ordered),
            open_count=open_count,
            median_days_late=_nearest_rank(ordered, 0.5) if ordered else None,
            p25_days_late=_nearest_rank(ordered, 0.25) if ordered else None,
            p75_days_late=_nearest_rank(ordered, 0.75) if ordered else None,
            share_paid_late=sum(1 for days in ordered if days > 0) / len(ordered) if ordered else None,
            recent_count=len(recent),
            recent_late=sum(1 for days in recent if days > 0),
            recent_median_days_late=_nearest_rank(sorted(recent), 0.5) if recent else None,
            trend=trend,
        )


@dataclass(frozen=True)
class CustomerBehaviour:
    """One customer's habit, its share in the blended distribution (the rest is the business's pooled one), and the
    blended distribution itself."""

    customer_id: str
    name: str
    habit: PaymentHabit
    own_weight: float
    distribution: DelayDistribution = field(repr=False)
    summary: str


@dataclass(frozen=True)
class ExpectedCollection:
    """When an open invoice is expected to be paid: ``early <= expected <= late``, none before the day asked."""

    expected: date
    early: date
    late: date
    reason: str


@dataclass
class _Observations:
    """Recency weights by days late: of invoices paid, and of those still open; and each paid one in turn."""

    paid: dict[int, float] = field(default_factory=lambda: defaultdict(float))
    still_open: dict[int, float] = field(default_factory=lambda: defaultdict(float))
    paid_in_order: list[tuple[date, str, int]] = field(default_factory=list)
    open_count: int = 0

    @property
    def weight(self) -> float:
        return sum(self.paid.values()) + sum(self.still_open.values())


class Behaviours:
    """Every customer's behaviour as of ``as_of``, and the pooled behaviour of the business's customers."""

    def __init__(
        self,
        as_of: date,
        pooled_habit: PaymentHabit,
        pooled: DelayDistribution,
        customers: dict[str, CustomerBehaviour],
        names: dict[str, str],
    ) -> None:
        self.as_of = as_of
        self.pooled_habit = pooled_habit
        self.pooled = pooled
        self.customers = customers
        self._names = names
        self._expected: dict[tuple[str, int, date], ExpectedCollection] = {}

    def of(self, customer_id: str) -> CustomerBehaviour:
        """The customer's behaviour; one with no invoices yet behaves as the business's customers do."""
        known = self.customers.get(customer_id)
        if known is not None:
            return known
        name = self._names.get(customer_id, f"Customer {customer_id}")
        habit = PaymentHabit.of((), 0)
        behaviour = CustomerBehaviour(
            customer_id, name, habit, 0.0, self.pooled, _summary(name, habit, 0.0, self.pooled_habit)
        )
        self.customers[customer_id] = behaviour
        return behaviour

    def expected_collection(self, invoice: OpenInvoice, as_of: date | None = None) -> ExpectedCollection:
        """When ``invoice`` (open at the end of ``as_of``, by default the day learned as of) is expected to be
        collected: from its customer's blended distribution, given that it has not been paid before ``as_of``."""
        day = as_of or self.as_of
        if day < self.as_of:
            raise ValueError(f"behaviour learned as of {self.as_of} cannot date an invoice as of {day}, before it")
        days_late = (day - invoice.due_date).days
        key = (invoice.customer_id, days_late, day)
        known = self._expected.get(key)
        if known is None:
            known = self._expected[key] = self._expect(self.of(invoice.customer_id), invoice.due_date, day)
        return known

    def _expect(self, behaviour: CustomerBehaviour, due: date, as_of: date) -> ExpectedCollection:
        days_late = (as_of - due).days
        distribution = behaviour.distribution
        # Paid on ``as_of`` at the earliest: the invoice is open at the end of it, but a payment may be on its way.
        offsets = distribution.quantiles_from(days_late, QUANTILES)
        # Never before ``as_of`` (the conditioning sees to it) nor beyond the horizon of a year.
        early, expected, late = (min(max(offset, days_late), days_late + MAX_DAYS_AHEAD) for offset in offsets)
        beyond = distribution.beyond_observed(days_late)
        reason = _reason(behaviour, self.pooled_habit, due, as_of, due + timedelta(days=expected), beyond=beyond)
        return ExpectedCollection(
            expected=due + timedelta(days=expected),
            early=due + timedelta(days=early),
            late=due + timedelta(days=late),
            reason=reason,
        )


def learn_behaviour(receivables: Receivables, as_of: date) -> Behaviours:
    """Each customer's behaviour from the invoices dated on or before ``as_of``: those paid by then (how late), and
    those still open (late so far). Nothing dated after ``as_of`` is read."""
    by_customer: dict[str, _Observations] = defaultdict(_Observations)
    pooled = _Observations()
    weights: dict[int, float] = {}
    for invoice in receivables.created_by(as_of):
        age = max((as_of - invoice.due_date).days, 0)
        weight = weights.get(age)
        if weight is None:
            weight = weights[age] = 0.5 ** (age / RECENCY_HALF_LIFE_DAYS)
        observations = by_customer[invoice.customer_id]
        settled_on = invoice.settled_on
        if settled_on is not None and settled_on <= as_of:
            days = (settled_on - invoice.due_date).days
            for seen in (observations, pooled):
                seen.paid[days] += weight
                seen.paid_in_order.append((settled_on, invoice.invoice_id, days))
        else:
            days = (as_of - invoice.due_date).days
            for seen in (observations, pooled):
                seen.still_open[days] += weight
                seen.open_count += 1
    pooled_habit = _habit(pooled)
    pooled_distribution = (
        DelayDistribution.estimate(pooled.paid, pooled.still_open)
        if pooled.paid
        # Nobody has paid yet: nothing says invoices are paid other than on their due date.
        else DelayDistribution.estimate({0: 1.0}, {})
    )
    names = {customer_id: receivables.customer_name(customer_id) for customer_id in receivables.customers}
    customers = {}
    for customer_id, observations in by_customer.items():
        own = observations.weight
        own_weight = own / (own + SHRINKAGE_INVOICES) if observations.paid else 0.0
        distribution = (
            DelayDistribution.blend(
                [
                    (own_weight, DelayDistribution.estimate(observations.paid, observations.still_open)),
                    (1.0 - own_weight, pooled_distribution),
                ]
            )
            if own_weight > 0
            else pooled_distribution
        )
        name = names.get(customer_id, f"Customer {customer_id}")
        habit = _habit(observations)
        summary = _summary(name, habit, own_weight, pooled_habit)
        customers[customer_id] = CustomerBehaviour(customer_id, name, habit, own_weight, distribution, summary)
    return Behaviours(as_of, pooled_habit, pooled_distribution, customers, names)


def _habit(observations: _Observations) -> PaymentHabit:
    in_order = [days for _, _, days in sorted(observations.paid_in_order)]
    return PaymentHabit.of(in_order, observations.open_count)


def _nearest_rank(ordered: Sequence[int], quantile: float) -> int:
    """The nearest-rank quantile of a sorted, non-empty sequence (the lower median for an even count)."""
    return ordered[max(0, math.ceil(quantile * len(ordered)) - 1)]


# --------------------------------------------------------------------------------------------------- in words
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def day_text(day: date) -> str:
    """``4 Mar 2026``: unambiguous in every locale (and not ``strftime``, which follows the process's locale)."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def days_phrase(days: int) -> str:
    if days == 0:
        return "on time"
    unit = "day" if abs(days) == 1 else "days"
    return f"{abs(days)} {unit} {'late' if days > 0 else 'early'}"


def pays_phrase(median_days_late: int, *, plural: bool = False) -> str:
    """The habit in words: ``pays a median 18 days late``, ``usually pays on time`` (``pay`` for ``plural``)."""
    verb = "pay" if plural else "pays"
    return f"{verb} a median {days_phrase(median_days_late)}" if median_days_late else f"usually {verb} on time"


def _recent_phrase(habit: PaymentHabit) -> str:
    if habit.recent_count == 1:
        return f"its last invoice was {'late' if habit.recent_late else 'not late'}"
    return f"{habit.recent_late} of its last {habit.recent_count} invoices were late"


def _habit_phrase(name: str, habit: PaymentHabit) -> str:
    assert habit.median_days_late is not None
    sentence = f"{name} {pays_phrase(habit.median_days_late)}"
    if habit.recent_count:
        sentence += f"; {_recent_phrase(habit)}"
    if habit.trend in ("later", "sooner") and habit.recent_median_days_late is not None:
        sentence += f", {habit.trend} than before (lately {days_phrase(habit.recent_median_days_late)})"
    return sentence


def _pooled_phrase(habit: PaymentHabit) -> str:
    if habit.median_days_late is None:
        return "no customer has paid an invoice yet"
    return f"the business's customers {pays_phrase(habit.median_days_late, plural=True)}"


def _summary(name: str, habit: PaymentHabit, own_weight: float, pooled: PaymentHabit) -> str:
    if habit.paid_count == 0:
        return f"No paid invoices from {name} yet; {_pooled_phrase(pooled)}."
    sentence = _habit_phrase(name, habit)
    if own_weight < 0.5:
        # Few invoices, or only old ones (recent ones count most): the business's customers overall count as much.
        invoices = "invoice" if habit.paid_count == 1 else "invoices"
        sentence += (
            f"; with only {habit.paid_count} paid {invoices} to go on, it is also dated as {_pooled_phrase(pooled)}"
        )
    return sentence + "."


def _reason(
    behaviour: CustomerBehaviour, pooled: PaymentHabit, due: date, as_of: date, expected: date, *, beyond: bool
) -> str:
    days_late = (as_of - due).days
    when = f"expected around {day_text(expected)}"
    if beyond:
        return (
            f"Overdue {days_late} days, longer than {behaviour.name} or any customer here has taken to pay: "
            f"{when} at the soonest likely, and it may not be paid at all."
        )
    basis = behaviour.summary.rstrip(".")
    if pooled.median_days_late is None and behaviour.habit.paid_count == 0:
        basis = f"No payment history yet, so {behaviour.name} is taken to pay on the due date"
    if days_late > 0:
        return f"Overdue {days_late} days. {basis}: {when}."
    return f"Due {due:%-d %b %Y}. {basis}: {when}."
