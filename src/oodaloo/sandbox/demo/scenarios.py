"""What distinguishes the healthy, tight and crisis demo companies."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    # Share of retainer revenue lost to churned clients some five months before today.
    revenue_lost: float
    # Share of clients who join during the history (growth).
    late_joiners: float
    # Baseline monthly revenue divided by monthly costs.
    margin: float
    # Weights of the habits early, on_time, slow, late, erratic for customers beyond the fixed first few.
    habit_weights: tuple[int, int, int, int, int]
    # Runway the ending cash is calibrated to; None: cash-positive, with a few months of costs in the bank.
    runway_weeks: tuple[float, float] | None
    # The most runway the ending cash may give when raised to keep Checking from ever going overdrawn.
    runway_ceiling: float | None
    # Bills due in this many days before today are paid late ("stretched"), and this share of them not yet.
    stretch_days: int
    stretch_unpaid: float
    # Shares of customers whose lateness drifts during the history: slower (a client in trouble), faster (a client
    # that fixed its payables). Clients lost in a squeeze also stretch in their last months (see payers.py).
    slowing: float = 0.15
    speeding: float = 0.1
    # Share of an average customer's invoices that end in a dispute (customers differ around it).
    disputes: float = 0.03
    # Hires and departures per month, as chances (headcount drives payroll, per-seat software and premiums).
    hires: float = 0.2
    departures: float = 0.15
    # A December bonus run, as a share of a regular payroll run (0: none).
    bonus: tuple[float, float] = (0.0, 0.0)


PROFILES = {
    "healthy": Profile(
        "healthy", 0.0, 0.15, 1.12, (22, 42, 24, 10, 2), None, None, 0, 0.0,
        slowing=0.1, speeding=0.2, disputes=0.02, hires=0.3, departures=0.12, bonus=(0.4, 0.8),
    ),
    "tight": Profile(
        "tight", 0.40, 0.05, 1.0, (18, 36, 26, 17, 3), (5.5, 8.0), 9.5, 40, 0.15,
        slowing=0.18, speeding=0.15, disputes=0.03, hires=0.2, departures=0.18, bonus=(0.1, 0.3),
    ),
    "crisis": Profile(
        "crisis", 0.6, 0.0, 0.97, (12, 28, 27, 28, 5), (1.4, 2.3), 2.8, 60, 0.45,
        slowing=0.28, speeding=0.1, disputes=0.04, hires=0.12, departures=0.2,
    ),
}  # fmt: skip
