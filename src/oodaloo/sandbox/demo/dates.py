"""Calendar helpers for the demo generator: months, and business days (weekdays that are not US bank holidays)."""

from __future__ import annotations

import functools
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


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The ``n``-th ``weekday`` (Monday = 0) of a month; ``n = -1`` for the last one."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year, month, days_in_month(year, month))
    return last - timedelta(days=(last.weekday() - weekday) % 7)


@functools.cache
def bank_holidays(year: int) -> frozenset[date]:
    """The days the Federal Reserve's ACH and check clearing are closed in ``year``.

    A holiday falling on a Sunday is observed on the Monday; one falling on a Saturday is not moved (the Fed stays
    open on the Friday before), which is the Fed's published rule.
    """
    fixed = [date(year, 1, 1), date(year, 6, 19), date(year, 7, 4), date(year, 11, 11), date(year, 12, 25)]
    observed = {day + timedelta(days=1) if day.weekday() == 6 else day for day in fixed}
    observed |= {
        nth_weekday(year, 1, 0, 3),  # Martin Luther King Jr. Day
        nth_weekday(year, 2, 0, 3),  # Presidents Day
        nth_weekday(year, 5, 0, -1),  # Memorial Day
        nth_weekday(year, 9, 0, 1),  # Labor Day
        nth_weekday(year, 10, 0, 2),  # Columbus Day
        nth_weekday(year, 11, 3, 4),  # Thanksgiving
    }
    return frozenset(observed)


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in bank_holidays(day.year)


def next_business_day(day: date) -> date:
    """Money cannot move at weekends or on bank holidays (ACH, deposits): it moves on the next business day."""
    while not is_business_day(day):
        day += timedelta(days=1)
    return day


def previous_business_day(day: date) -> date:
    """Payments planned for a weekend or a bank holiday go out on the business day before (payroll, AP runs)."""
    while not is_business_day(day):
        day -= timedelta(days=1)
    return day


def business_day_not_after(day: date, today: date) -> date:
    """A business day near ``day`` that is not in the future."""
    moved = next_business_day(day)
    return moved if moved <= today else previous_business_day(min(day, today))
