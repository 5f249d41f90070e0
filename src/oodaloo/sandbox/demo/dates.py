"""Calendar helpers for the demo generator: months, business days and timestamps."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (or earlier), clamped to the month's last day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, days_in_month(year, month + 1)))


def days_in_month(year: int, month: int) -> int:
    following = date(year + month // 12, month % 12 + 1, 1)
    return (following - timedelta(days=1)).day


def month_starts(first: date, last: date) -> Iterator[date]:
    """The first day of every month from ``first``'s month to ``last``'s month."""
    current = first.replace(day=1)
    while current <= last:
        yield current
        current = add_months(current, 1)


def on_day(month_start: date, day: int) -> date:
    """``day`` of the month, clamped to its length (a "31st" bill lands on the 30th in April)."""
    return month_start.replace(day=min(day, days_in_month(month_start.year, month_start.month)))


def next_business_day(day: date) -> date:
    """Money that cannot move at weekends (ACH, deposits) moves on the following Monday."""
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def previous_business_day(day: date) -> date:
    """Payments planned for a weekend go out on the Friday before."""
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def business_day_not_after(day: date, today: date) -> date:
    """A business day near ``day`` that is not in the future."""
    moved = next_business_day(day)
    return moved if moved <= today else previous_business_day(min(day, today))
