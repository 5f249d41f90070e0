"""Sets the opening cash so that the demo's ending cash gives the scenario's runway."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from .model import ZERO, Draft, money
from .scenarios import Profile

# Runway is measured against the average weekly net outflow of the last 13 weeks (91 days ending today).
TRAILING_WEEKS = 13
# Checking should never be overdrawn; keep this share of a month's costs in it at the lowest point.
CHECKING_FLOOR_SHARE = Decimal("0.02")


@dataclass(frozen=True)
class Opening:
    checking: Decimal
    savings: Decimal


def weekly_net_outflow(drafts: list[Draft], today: date) -> Decimal:
    since = today - timedelta(days=TRAILING_WEEKS * 7)
    window = sum((d.bank_delta for d in drafts if d.txn_date is not None and d.txn_date > since), ZERO)
    return -window / TRAILING_WEEKS


def opening_cash(
    drafts: list[Draft], *, profile: Profile, today: date, monthly_costs: Decimal, rng: random.Random
) -> Opening:
    """Opening balances such that cash today = runway target x weekly burn (or a few months of costs).

    ``drafts`` are every transaction except the opening deposits, whose amounts this decides. The
    opening is then raised, within the scenario's runway ceiling, if Checking would ever dip below a floor.
    """
    burn = weekly_net_outflow(drafts, today)
    ending = _ending_cash(profile, burn, monthly_costs, rng)
    share = rng.uniform(0.05, 0.15) if profile.runway_weeks else rng.uniform(0.2, 0.4)
    savings = money(ending * Decimal(str(share)))
    flows = sum((d.bank_delta for d in drafts if d.txn_date is not None), ZERO)
    opening = Opening(checking=money(ending - flows) - savings, savings=savings)
    shortfall = monthly_costs * CHECKING_FLOOR_SHARE - lowest_checking_balance(drafts, opening)
    if shortfall > 0:
        room = None if profile.runway_ceiling is None else burn * Decimal(str(profile.runway_ceiling)) - ending
        raise_by = shortfall if room is None else max(ZERO, min(shortfall, room))
        opening = Opening(checking=opening.checking + money(raise_by), savings=savings)
    return opening


def _ending_cash(profile: Profile, burn: Decimal, monthly_costs: Decimal, rng: random.Random) -> Decimal:
    if profile.runway_weeks is None:
        cushion = monthly_costs * Decimal(str(rng.uniform(2.5, 4.0)))
        return cushion if burn <= 0 else max(cushion, burn * Decimal(str(rng.uniform(40, 60))))
    if burn <= 0:
        raise RuntimeError(f"the {profile.name} demo must be burning cash, yet its weekly burn is {burn:.2f}")
    return burn * Decimal(str(rng.uniform(*profile.runway_weeks)))


def lowest_checking_balance(drafts: list[Draft], opening: Opening) -> Decimal:
    """The lowest Checking balance over the history (Savings only ever holds its opening deposit)."""
    moves = sorted((d.at, d.seq, d.bank_delta) for d in drafts if d.txn_date is not None and d.bank_delta)
    balance = lowest = opening.checking
    for _at, _seq, delta in moves:
        balance += delta
        if balance < lowest:
            lowest = balance
    return lowest
