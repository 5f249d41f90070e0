"""Whom to chase: overdue invoices ranked by amount x lateness x unreliability, each with its reason; and the aging
of open receivables in the usual buckets, as of a day."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from oodaloo.domains.ar.behaviour import Behaviours, CustomerBehaviour, pays_phrase
from oodaloo.domains.ar.history import ZERO, OpenInvoice

AgingBucket = Literal["current", "1-30", "31-60", "61-90", "90+"]
AGING_BUCKETS: tuple[AgingBucket, ...] = ("current", "1-30", "31-60", "61-90", "90+")
# A month overdue counts one unit of lateness: an invoice two months late weighs twice one a month late.
LATENESS_UNIT_DAYS = 30
# How far ahead "paid soon anyway" looks: two weeks, the span of a weekly ritual and the next one.
SOON_DAYS = 14
# Even an invoice its customer will almost surely pay soon keeps a tenth of its weight: the model can be wrong.
MIN_UNRELIABILITY = 0.1


def aging_bucket(days_overdue: int) -> AgingBucket:
    """Days past due -> bucket; not yet due (or due today) is ``current``."""
    if days_overdue <= 0:
        return "current"
    if days_overdue <= 30:
        return "1-30"
    if days_overdue <= 60:
        return "31-60"
    if days_overdue <= 90:
        return "61-90"
    return "90+"


@dataclass(frozen=True)
class AgingTotal:
    bucket: AgingBucket
    count: int
    balance: Decimal


def aging(open_invoices: Iterable[OpenInvoice]) -> list[AgingTotal]:
    """Open balances by bucket, every bucket listed (in order, empty ones at zero)."""
    counts = dict.fromkeys(AGING_BUCKETS, 0)
    balances = dict.fromkeys(AGING_BUCKETS, ZERO)
    for invoice in open_invoices:
        bucket = aging_bucket(invoice.days_overdue)
        counts[bucket] += 1
        balances[bucket] += invoice.balance
    return [AgingTotal(bucket, counts[bucket], balances[bucket]) for bucket in AGING_BUCKETS]


@dataclass(frozen=True)
class ChaseItem:
    """An overdue invoice worth chasing: ``score`` = balance x ``lateness`` x ``unreliability``.

    ``lateness`` is months overdue; ``unreliability`` is the chance, given how its customer pays and how late it
    already is, that it will *not* be paid in the next two weeks at the customer's usual pace."""

    invoice: OpenInvoice
    score: Decimal
    lateness: float
    unreliability: float
    reason: str


@dataclass(frozen=True)
class OpenReceivables:
    """What ranking for collection needs as of a day: the invoices open then and the customers' habits learned from
    the history up to it. The runway computes both for its forecast and keeps them (``RunwayBasis``), so a page that
    shows both reads the books once."""

    open_invoices: tuple[OpenInvoice, ...]
    behaviours: Behaviours

    def ranked(self) -> list[ChaseItem]:
        return rank_for_collection(self.open_invoices, self.behaviours)


def rank_for_collection(open_invoices: Iterable[OpenInvoice], behaviours: Behaviours) -> list[ChaseItem]:
    """The overdue invoices, most worth chasing first (ties: the older due date, then the invoice id)."""
    items = []
    for invoice in open_invoices:
        if not invoice.overdue or invoice.balance <= 0:
            continue
        behaviour = behaviours.of(invoice.customer_id)
        days_late = invoice.days_overdue
        paid_soon = behaviour.distribution.probability_within(days_late, SOON_DAYS)
        unreliability = max(MIN_UNRELIABILITY, 1.0 - paid_soon)
        lateness = days_late / LATENESS_UNIT_DAYS
        score = (invoice.balance * Decimal(str(round(lateness * unreliability, 6)))).quantize(Decimal("0.01"))
        items.append(ChaseItem(invoice, score, lateness, unreliability, _reason(invoice, behaviour, paid_soon)))
    return sorted(items, key=lambda item: (-item.score, item.invoice.due_date, item.invoice.invoice_id))


def _reason(invoice: OpenInvoice, behaviour: CustomerBehaviour, paid_soon: float) -> str:
    days_late = invoice.days_overdue
    habit = behaviour.habit
    usual = habit.p75_days_late if behaviour.own_weight >= 0.5 else None
    if habit.median_days_late is None:
        history = f"no invoice from {behaviour.name} has been paid yet"
    else:
        history = f"{behaviour.name} {pays_phrase(habit.median_days_late)}"
        if habit.recent_count:
            history += f" ({habit.recent_late} of its last {habit.recent_count} invoices late)"
    if usual is not None and days_late > usual:
        pace = "later than it usually pays"
    elif usual is not None:
        pace = "within its usual delay"
    else:
        pace = "too little history to call it usual"
    chance = math.floor(paid_soon * 100 + 0.5)
    return (
        f"Overdue {days_late} days, {pace}; {history}. "
        f"About {chance}% likely to be paid in the next {SOON_DAYS} days at its usual pace."
    )
