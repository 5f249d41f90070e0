"""How the console says numbers, dates and times to a person: money in the business's currency, dates in its time
zone, "3 minutes ago", "5 weeks and 2 days". One place, shared by every page as Jinja filters (``register_filters``)
so no template formats or computes money itself."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment

# Symbols people recognise without a code; any other currency is written with its ISO code ("CHF 1,200.00").
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "CAD": "CA$", "AUD": "A$", "NZD": "NZ$"}
# ISO 4217 currencies with no minor unit in everyday use: "¥1,200", never "¥1,200.00".
_NO_CENTS = frozenset({"JPY", "KRW", "VND", "CLP", "ISK", "PYG", "UGX", "XAF", "XOF", "XPF", "RWF", "KMF", "VUV"})
# A true minus sign reads better than a hyphen and screen readers say "minus"; the word joiner after it keeps a line
# from breaking between the sign and the amount (the sign at the end of one line, "$56.00" on the next).
_MINUS = "\u2212\u2060"


def _prefix(currency: str) -> str:
    symbol = _SYMBOLS.get(currency)
    return symbol if symbol is not None else f"{currency}\u00a0"


def money(amount: Decimal, currency: str = "USD") -> str:
    """``$12,345.67``; a negative amount is ``-$1,200.00`` (with a true minus sign). Rounded half-up to the
    currency's cents."""
    places = Decimal(1) if currency in _NO_CENTS else Decimal("0.01")
    rounded = amount.quantize(places, rounding=ROUND_HALF_UP)
    digits = f"{abs(rounded):,.0f}" if currency in _NO_CENTS else f"{abs(rounded):,.2f}"
    sign = _MINUS if rounded < 0 else ""
    return f"{sign}{_prefix(currency)}{digits}"


def signed_money(amount: Decimal, currency: str = "USD") -> str:
    """A change: ``+$1,200.00``, ``-$300.00`` or ``$0.00``."""
    text = money(amount, currency)
    return f"+{text}" if amount.quantize(Decimal("0.01")) > 0 else text


def short_money(amount: Decimal, currency: str = "USD") -> str:
    """A chart label, three significant figures at most: ``$84.2k``, ``-$1.25M``, ``$950``."""
    magnitude = abs(amount)
    sign = _MINUS if amount < 0 else ""
    for threshold, suffix in ((Decimal(1_000_000), "M"), (Decimal(1_000), "k")):
        if magnitude >= threshold:
            scaled = magnitude / threshold
            places = Decimal("0.1") if scaled >= 10 else Decimal("0.01")
            number = f"{scaled.quantize(places, rounding=ROUND_HALF_UP):f}".rstrip("0").rstrip(".")
            return f"{sign}{_prefix(currency)}{number}{suffix}"
    return f"{sign}{_prefix(currency)}{magnitude.quantize(Decimal(1), rounding=ROUND_HALF_UP)}"


def _count(number: int, unit: str) -> str:
    """``1 bill``, ``3 bills``, ``2 businesses`` (English's regular plurals: the units we count are all regular)."""
    if number == 1:
        return f"{number} {unit}"
    ending = "es" if unit.endswith(("s", "sh", "ch", "x", "z")) else "s"
    return f"{number} {unit}{ending}"


def ago(when: datetime, now: datetime) -> str:
    """``just now``, ``3 minutes ago``, ``1 hour ago``, ``2 days ago``; a time in the future reads ``just now`` (clocks
    of two machines disagree by a little, and "in 2 seconds" would only confuse)."""
    elapsed = now - when
    if elapsed < timedelta(minutes=1):
        return "just now"
    if elapsed < timedelta(hours=1):
        return f"{_count(elapsed // timedelta(minutes=1), 'minute')} ago"
    if elapsed < timedelta(days=1):
        return f"{_count(elapsed // timedelta(hours=1), 'hour')} ago"
    return f"{_count(elapsed.days, 'day')} ago"


def duration(span: timedelta) -> str:
    """A lag or a wait: ``45 seconds``, ``12 minutes``, ``3 hours``, ``2 days``."""
    seconds = max(int(span.total_seconds()), 0)
    if seconds < 60:
        return _count(seconds, "second")
    if seconds < 3600:
        return _count(seconds // 60, "minute")
    if seconds < 86400:
        return _count(seconds // 3600, "hour")
    return _count(seconds // 86400, "day")


def weeks_and_days(days: int) -> str:
    """A runway: ``5 weeks and 2 days``, ``3 weeks``, ``4 days``, ``0 days``."""
    weeks, rest = divmod(max(days, 0), 7)
    if weeks == 0:
        return _count(rest, "day")
    if rest == 0:
        return _count(weeks, "week")
    return f"{_count(weeks, 'week')} and {_count(rest, 'day')}"


def day(value: date) -> str:
    """A calendar date as people write it: ``Fri 6 Jun 2025``."""
    return f"{value:%a} {value.day} {value:%b %Y}"


def short_day(value: date) -> str:
    """A date in a compact place (chart axis, table cell): ``6 Jun``."""
    return f"{value.day} {value:%b}"


def local_time(when: datetime, timezone: str) -> str:
    """An instant in the business's own time zone: ``Fri 6 Jun 2025, 14:05 EDT``."""
    local = when.astimezone(ZoneInfo(timezone))
    return f"{day(local.date())}, {local:%H:%M %Z}"


def percent(value: Decimal | float | int, places: int = 0) -> str:
    """``32%``; ratios are given as fractions (0.32)."""
    quantum = Decimal(1).scaleb(-places)
    number = (Decimal(str(value)) * 100).quantize(quantum, rounding=ROUND_HALF_UP)
    return f"{number}%"


def plural(number: int, unit: str) -> str:
    """``1 bill``, ``3 bills``."""
    return _count(number, unit)


FILTERS: dict[str, Any] = {
    "money": money,
    "signed_money": signed_money,
    "short_money": short_money,
    "ago": ago,
    "duration": duration,
    "weeks_and_days": weeks_and_days,
    "day": day,
    "short_day": short_day,
    "local_time": local_time,
    "percent": percent,
    "plural": plural,
}


def register_filters(env: Environment) -> None:
    """Make every phrase a filter: ``{{ amount | money(business.currency) }}``, ``{{ synced_at | ago(now) }}``."""
    env.filters.update(FILTERS)
