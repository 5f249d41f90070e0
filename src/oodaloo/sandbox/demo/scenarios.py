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


PROFILES = {
    "healthy": Profile("healthy", 0.0, 0.15, 1.12, (22, 42, 24, 10, 2), None, None, 0, 0.0),
    "tight": Profile("tight", 0.40, 0.05, 1.0, (18, 36, 26, 17, 3), (5.5, 8.0), 9.5, 40, 0.15),
    "crisis": Profile("crisis", 0.6, 0.0, 0.97, (12, 28, 27, 28, 5), (1.4, 2.3), 2.8, 60, 0.45),
}
