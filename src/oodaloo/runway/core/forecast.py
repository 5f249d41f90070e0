"""The 13-week cash forecast, the runway, and the runway impact of what-if changes: pure arithmetic on dated items
(no I/O, no clock, no float), so the same inputs give the same figures whether for today or replayed as of a past day.

The calendar. Week ``n`` (1 to 13) is the seven days from ``today + 7(n-1)``. An item dated before today (a bill past
its date) is counted on today, in week 1: never dropped. An item dated after the 13 weeks is outside them and only
totalled (``Forecast.later``).

The figures. Cash is the bank total: it opens at ``starting_cash`` and moves by each day's items. Free cash is cash
less the reserves held that day (a reserve with ``until`` is held on every day before it and released on it: the day
the payment it earmarks is made). The runway is the number of days, counted from today, whose ending free cash stays
at or above the reserve floor: 0 when free cash is below it already; None when it never falls below within the
horizon ("beyond the 13-week horizon": the forecast cannot see that far). The band: each item may land anywhere from
``early`` to ``late``; the low end takes inflows at their latest and outflows at their earliest, the high end the
opposite, so ``low_ending <= ending <= high_ending`` every week.

Speed: the items are sorted once and placed by day index into flat per-day lists; an impact changes only the days its
items touch (``impact`` over 50,000 items costs one pass over them; with a ``baseline`` forecast, none).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from itertools import chain
from operator import attrgetter
from typing import Protocol, TypeVar

WEEKS = 13
DAYS_PER_WEEK = 7
HORIZON_DAYS = WEEKS * DAYS_PER_WEEK
ZERO = Decimal("0.00")
_TENTH = Decimal("0.1")

_ON_DATE = attrgetter("date")
_ON_EARLY = attrgetter("early")
_ON_LATE = attrgetter("late")


# --------------------------------------------------------------------------------------------------- the inputs
@dataclass(frozen=True, slots=True)
class CashItem:
    """One expected movement of cash. ``date`` is where the forecast counts it; ``early`` and ``late`` bound where it
    may land (the band); ``reason`` tells a person why it is dated there. ``kind`` and ``source_id`` together name it
    (what a what-if change refers to): "invoice"/"bill" with the QBO id, "recurring" with the occurrence's id, ..."""

    kind: str
    source_id: str
    name: str
    amount: Decimal
    date: dt.date
    early: dt.date
    late: dt.date
    reason: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal) or not self.amount.is_finite():
            raise TypeError(f"{self.kind} {self.source_id}: the amount must be a finite Decimal, not {self.amount!r}")
        if self.amount < 0:
            raise ValueError(f"{self.kind} {self.source_id}: the amount {self.amount} is negative")
        if not self.early <= self.date <= self.late:
            raise ValueError(f"{self.kind} {self.source_id}: early <= date <= late does not hold")

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.source_id)


class Inflow(CashItem):
    """Cash coming in (an invoice collected)."""

    __slots__ = ()


class Outflow(CashItem):
    """Cash going out (a bill paid, payroll, rent)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Reserve:
    """Money set aside (payroll, taxes, a custom amount): not free, though still in the bank. Held on every day
    before ``until`` (always when None). ``source_id`` links it to the item it earmarks (a scheduled payment): a
    what-if change to that item moves the earmark with it."""

    kind: str
    name: str
    amount: Decimal
    until: date | None = None
    source_id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal) or not self.amount.is_finite() or self.amount < 0:
            raise ValueError(f"reserve {self.name!r}: the amount must be a Decimal of zero or more")

    def held_on(self, day: date) -> bool:
        return self.until is None or day < self.until


@dataclass(frozen=True)
class ForecastInputs:
    """Everything a forecast needs, as of ``today`` (the business's date in its ``timezone``)."""

    today: date
    timezone: str
    starting_cash: Decimal
    inflows: Sequence[Inflow] = ()
    outflows: Sequence[Outflow] = ()
    reserves: Sequence[Reserve] = ()
    reserve_floor: Decimal = ZERO


# -------------------------------------------------------------------------------------------------- the results
@dataclass(frozen=True, slots=True)
class Runway:
    """How long free cash stays at or above the floor. ``days`` None: all through the horizon."""

    days: int | None
    runs_out_on: date | None

    @property
    def beyond_horizon(self) -> bool:
        return self.days is None

    @property
    def weeks(self) -> Decimal | None:
        """Days in weeks, to a tenth, rounded down (5.8 weeks is 40 or 41 days, never 42)."""
        return None if self.days is None else (Decimal(self.days) / DAYS_PER_WEEK).quantize(_TENTH, ROUND_DOWN)

    @property
    def week(self) -> int | None:
        """The week (1 to 13) in which free cash falls below the floor."""
        return None if self.days is None else self.days // DAYS_PER_WEEK + 1

    def describe(self) -> str:
        if self.days is None or self.runs_out_on is None:
            return f"Beyond the {WEEKS}-week horizon: free cash stays at or above the floor all {HORIZON_DAYS} days."
        if self.days == 0:
            return "None: free cash is below the reserve floor today."
        return (
            f"{self.days} days ({self.weeks} weeks): free cash falls below the reserve floor on "
            f"{self.runs_out_on.isoformat()}, in week {self.week}."
        )


@dataclass(frozen=True, slots=True)
class WeekItem:
    """One item of a week, explained: ``on`` is where it is counted, ``date`` where its source dates it."""

    direction: str  # "inflow" or "outflow"
    kind: str
    source_id: str
    name: str
    amount: Decimal
    on: dt.date
    date: dt.date
    early: dt.date
    late: dt.date
    reason: str


@dataclass(frozen=True, slots=True)
class Week:
    """One week: ``ending = opening + inflows - outflows``, each total the sum of its listed items."""

    number: int
    start: date
    end: date  # its last day
    opening: Decimal
    inflows: Decimal
    outflows: Decimal
    ending: Decimal
    low_ending: Decimal
    high_ending: Decimal
    reserved: Decimal  # reserves held at the week's end
    inflow_items: tuple[Inflow, ...]
    outflow_items: tuple[Outflow, ...]

    @property
    def free_ending(self) -> Decimal:
        return self.ending - self.reserved

    def items(self) -> list[WeekItem]:
        """Inflows and outflows in date order, each with why it is counted here."""
        explained = [self._explain(item, "inflow") for item in self.inflow_items]
        explained += [self._explain(item, "outflow") for item in self.outflow_items]
        explained.sort(key=attrgetter("on"))
        return explained

    def _explain(self, item: CashItem, direction: str) -> WeekItem:
        on, reason = item.date, item.reason
        if item.date < self.start:  # only in week 1: counted today rather than dropped
            on = self.start
            reason = f"{reason} Its date, {item.date.isoformat()}, has passed: counted today, {on.isoformat()}."
        return WeekItem(
            direction, item.kind, item.source_id, item.name, item.amount, on, item.date, item.early, item.late, reason
        )


@dataclass(frozen=True, slots=True)
class Later:
    """What is dated after the horizon: outside every week, totalled so nothing goes unaccounted."""

    inflows: Decimal
    outflows: Decimal
    inflow_count: int
    outflow_count: int


@dataclass(frozen=True, slots=True)
class _Path:
    """Day by day over the horizon (index 0 = today): the net movement as forecast and at the band's low and high
    ends, and the reserves held at each day's end."""

    net: list[Decimal]
    low: list[Decimal]
    high: list[Decimal]
    reserved: list[Decimal]


@dataclass(frozen=True, slots=True)
class _Walk:
    """Where a day-by-day path leads: the runway, the lowest ending free cash and its day, the cash at the end."""

    runway: Runway
    lowest_free_cash: Decimal
    lowest_free_cash_on: date
    ending_cash: Decimal
    free_cash_today: Decimal


@dataclass(frozen=True)
class Forecast:
    """The 13 weeks from ``today``, the runway (as forecast, and at the band's low end), and the lowest free cash."""

    today: date
    starting_cash: Decimal
    reserves_today: Decimal
    reserve_floor: Decimal
    weeks: tuple[Week, ...]
    runway: Runway
    runway_low: Runway  # at the band's low end: inflows late, outflows early
    lowest_free_cash: Decimal
    lowest_free_cash_on: date
    later: Later
    _path: _Path = field(repr=False, compare=False)

    @property
    def free_cash_today(self) -> Decimal:
        return self.starting_cash - self.reserves_today

    @property
    def ending_cash(self) -> Decimal:
        return self.weeks[-1].ending

    def week(self, number: int) -> Week:
        """Week ``number``, 1 to 13; LookupError otherwise."""
        if not 1 <= number <= WEEKS:
            raise LookupError(f"week {number} is out of range: weeks are numbered 1 to {WEEKS}")
        return self.weeks[number - 1]


# ------------------------------------------------------------------------------------------------- the forecast
def forecast(inputs: ForecastInputs) -> Forecast:
    origin = inputs.today.toordinal()
    path = _path(inputs, with_band=True)
    expected = _walk(path.net, path.reserved, inputs)
    low = _walk(path.low, path.reserved, inputs)
    inflows_by_week, later_inflows = _by_week(inputs.inflows, origin)
    outflows_by_week, later_outflows = _by_week(inputs.outflows, origin)

    weeks: list[Week] = []
    opening = inputs.starting_cash
    low_ending = high_ending = inputs.starting_cash
    for index in range(WEEKS):
        first, last = index * DAYS_PER_WEEK, (index + 1) * DAYS_PER_WEEK
        week_inflows, week_outflows = inflows_by_week[index], outflows_by_week[index]
        inflow_total = sum((item.amount for item in week_inflows), ZERO)
        outflow_total = sum((item.amount for item in week_outflows), ZERO)
        ending = opening + inflow_total - outflow_total
        low_ending += sum(path.low[first:last], ZERO)
        high_ending += sum(path.high[first:last], ZERO)
        start = inputs.today + timedelta(days=first)
        weeks.append(
            Week(
                number=index + 1,
                start=start,
                end=start + timedelta(days=DAYS_PER_WEEK - 1),
                opening=opening,
                inflows=inflow_total,
                outflows=outflow_total,
                ending=ending,
                low_ending=low_ending,
                high_ending=high_ending,
                reserved=path.reserved[last - 1],
                inflow_items=tuple(week_inflows),
                outflow_items=tuple(week_outflows),
            )
        )
        opening = ending

    return Forecast(
        today=inputs.today,
        starting_cash=inputs.starting_cash,
        reserves_today=path.reserved[0],
        reserve_floor=inputs.reserve_floor,
        weeks=tuple(weeks),
        runway=expected.runway,
        runway_low=low.runway,
        lowest_free_cash=expected.lowest_free_cash,
        lowest_free_cash_on=expected.lowest_free_cash_on,
        later=Later(
            inflows=sum((item.amount for item in later_inflows), ZERO),
            outflows=sum((item.amount for item in later_outflows), ZERO),
            inflow_count=len(later_inflows),
            outflow_count=len(later_outflows),
        ),
        _path=path,
    )


ItemT = TypeVar("ItemT", bound=CashItem)


def _by_week(items: Iterable[ItemT], origin: int) -> tuple[list[list[ItemT]], Sequence[ItemT]]:
    """Items in date order, bucketed by week (past dates in week 1); and those after the horizon."""
    weeks: list[list[ItemT]] = [[] for _ in range(WEEKS)]
    ordered = sorted(items, key=_ON_DATE)
    for position, item in enumerate(ordered):
        index = item.date.toordinal() - origin
        if index >= HORIZON_DAYS:
            return weeks, ordered[position:]  # sorted: everything from here on is later too
        weeks[index // DAYS_PER_WEEK if index > 0 else 0].append(item)
    return weeks, ()


def _path(inputs: ForecastInputs, *, with_band: bool) -> _Path:
    origin = inputs.today.toordinal()
    net = _zeros()
    _place(net, inputs.inflows, origin, _ON_DATE, +1)
    _place(net, inputs.outflows, origin, _ON_DATE, -1)
    low, high = _zeros(), _zeros()
    if with_band:
        _place(low, inputs.inflows, origin, _ON_LATE, +1)
        _place(low, inputs.outflows, origin, _ON_EARLY, -1)
        _place(high, inputs.inflows, origin, _ON_EARLY, +1)
        _place(high, inputs.outflows, origin, _ON_LATE, -1)
    reserved = _zeros()
    _hold(reserved, inputs.reserves, origin, +1)
    return _Path(net, low, high, reserved)


def _zeros() -> list[Decimal]:
    return [ZERO] * HORIZON_DAYS


def _place(days: list[Decimal], items: Iterable[CashItem], origin: int, when: attrgetter[date], sign: int) -> None:
    """Adds (sign +1) or takes away (-1) each item's amount on its day: a past day is today, a day beyond the
    horizon is left out. The hot loop of a forecast: two branches rather than a multiplication per item."""
    horizon = HORIZON_DAYS
    if sign > 0:
        for item in items:
            index = when(item).toordinal() - origin
            if index < horizon:
                days[index if index > 0 else 0] += item.amount
    else:
        for item in items:
            index = when(item).toordinal() - origin
            if index < horizon:
                days[index if index > 0 else 0] -= item.amount


def _hold(days: list[Decimal], reserves: Iterable[Reserve], origin: int, sign: int) -> None:
    for reserve in reserves:
        stop = HORIZON_DAYS if reserve.until is None else min(max(reserve.until.toordinal() - origin, 0), HORIZON_DAYS)
        amount = reserve.amount if sign > 0 else -reserve.amount
        for index in range(stop):
            days[index] += amount


def _walk(net: Sequence[Decimal], reserved: Sequence[Decimal], inputs: ForecastInputs) -> _Walk:
    today, floor = inputs.today, inputs.reserve_floor
    cash = inputs.starting_cash
    free_today = cash - reserved[0]
    runway: Runway | None = Runway(0, today) if free_today < floor else None
    lowest, lowest_index = free_today, 0  # where free cash stands now counts too
    for index in range(HORIZON_DAYS):
        cash += net[index]
        free = cash - reserved[index]
        if runway is None and free < floor:
            runway = Runway(index, today + timedelta(days=index))
        if free < lowest:
            lowest, lowest_index = free, index
    return _Walk(
        runway=Runway(None, None) if runway is None else runway,
        lowest_free_cash=lowest,
        lowest_free_cash_on=today + timedelta(days=lowest_index),
        ending_cash=cash,
        free_cash_today=free_today,
    )


# --------------------------------------------------------------------------------------------- what-if changes
@dataclass(frozen=True, slots=True)
class Pay:
    """Pay an outflow on ``on`` (today when None): all of it, or ``amount`` of it (the rest stays where it was)."""

    source_id: str
    amount: Decimal | None = None
    on: date | None = None
    kind: str = "bill"


@dataclass(frozen=True, slots=True)
class Collect:
    """Collect an inflow on ``on`` (today when None): all of it, or ``amount`` of it (the rest stays where it was)."""

    source_id: str
    amount: Decimal | None = None
    on: date | None = None
    kind: str = "invoice"


@dataclass(frozen=True, slots=True)
class Delay:
    """Move an item to ``to``; its band moves with it."""

    source_id: str
    to: date
    kind: str = "bill"


@dataclass(frozen=True, slots=True)
class AddPayment:
    """A new payment of ``amount`` on ``on``; with ``earmark`` its amount is reserved until then (a scheduled
    payment: the money is not free from the moment it is scheduled)."""

    source_id: str
    name: str
    amount: Decimal
    on: date
    earmark: bool = True
    kind: str = "scheduled_payment"


@dataclass(frozen=True, slots=True)
class Remove:
    """Take an item (and its earmark) out: a scheduled payment cancelled, a recurring occurrence skipped."""

    source_id: str
    kind: str


Change = Pay | Collect | Delay | AddPayment | Remove


class InvalidChange(ValueError):
    """A change that cannot apply: ``index`` in the list of changes, ``field`` the field at fault."""

    def __init__(self, index: int, field: str, message: str) -> None:
        super().__init__(message)
        self.index = index
        self.field = field
        self.message = message


class RunwayFigures(Protocol):
    """What an impact compares of a forecast (a whole ``Forecast``, or the walk of an edited one)."""

    @property
    def runway(self) -> Runway: ...
    @property
    def free_cash_today(self) -> Decimal: ...
    @property
    def lowest_free_cash(self) -> Decimal: ...
    @property
    def ending_cash(self) -> Decimal: ...


@dataclass(frozen=True)
class Impact:
    """A forecast's runway before and after some changes; each figure equals the one two full forecasts give."""

    before: Runway
    after: Runway
    free_cash_today_before: Decimal
    free_cash_today_after: Decimal
    lowest_free_cash_before: Decimal
    lowest_free_cash_after: Decimal
    ending_cash_before: Decimal
    ending_cash_after: Decimal

    @classmethod
    def between(cls, before: RunwayFigures, after: RunwayFigures) -> Impact:
        return cls(
            before=before.runway,
            after=after.runway,
            free_cash_today_before=before.free_cash_today,
            free_cash_today_after=after.free_cash_today,
            lowest_free_cash_before=before.lowest_free_cash,
            lowest_free_cash_after=after.lowest_free_cash,
            ending_cash_before=before.ending_cash,
            ending_cash_after=after.ending_cash,
        )

    @property
    def change_days(self) -> int | None:
        """After minus before, in days; None when either is beyond the horizon (the change cannot be counted)."""
        if self.before.days is None or self.after.days is None:
            return None
        return self.after.days - self.before.days

    def describe(self) -> str:
        before, after = self.before.days, self.after.days
        lowest = f"lowest free cash {self.lowest_free_cash_before} -> {self.lowest_free_cash_after}"
        if before is None and after is None:
            return f"Runway stays beyond the {WEEKS}-week horizon; {lowest}."
        if before is None:
            return f"Runway falls from beyond the {WEEKS}-week horizon to {after} days; {lowest}."
        if after is None:
            return f"Runway rises from {before} days to beyond the {WEEKS}-week horizon; {lowest}."
        return f"Runway {before} -> {after} days ({after - before:+d} days); {lowest}."


@dataclass
class _Edit:
    """What some changes do to a forecast's inputs: items and reserves taken out (the very objects) and put in."""

    removed_inflows: list[Inflow] = field(default_factory=list)
    removed_outflows: list[Outflow] = field(default_factory=list)
    added_inflows: list[Inflow] = field(default_factory=list)
    added_outflows: list[Outflow] = field(default_factory=list)
    removed_reserves: list[Reserve] = field(default_factory=list)
    added_reserves: list[Reserve] = field(default_factory=list)


def apply_changes(inputs: ForecastInputs, changes: Sequence[Change]) -> ForecastInputs:
    """The inputs as they would be after ``changes`` (applied in order). InvalidChange when one cannot apply."""
    edit = _edit(inputs, changes)
    gone = {id(item) for item in (*edit.removed_inflows, *edit.removed_outflows, *edit.removed_reserves)}
    return replace(
        inputs,
        inflows=[item for item in inputs.inflows if id(item) not in gone] + edit.added_inflows,
        outflows=[item for item in inputs.outflows if id(item) not in gone] + edit.added_outflows,
        reserves=[reserve for reserve in inputs.reserves if id(reserve) not in gone] + edit.added_reserves,
    )


def impact(inputs: ForecastInputs, changes: Sequence[Change], *, baseline: Forecast | None = None) -> Impact:
    """The runway before and after ``changes``, without forecasting twice: the day-by-day path of ``inputs`` (taken
    from ``baseline``, their forecast, when given) with only the changed items' days moved."""
    if baseline is not None and baseline.today != inputs.today:
        raise ValueError("the baseline forecast is of another day than the inputs")
    edit = _edit(inputs, changes)
    path = baseline._path if baseline is not None else _path(inputs, with_band=False)
    origin = inputs.today.toordinal()
    net, reserved = list(path.net), list(path.reserved)
    _place(net, edit.removed_inflows, origin, _ON_DATE, -1)
    _place(net, edit.removed_outflows, origin, _ON_DATE, +1)
    _place(net, edit.added_inflows, origin, _ON_DATE, +1)
    _place(net, edit.added_outflows, origin, _ON_DATE, -1)
    _hold(reserved, edit.removed_reserves, origin, -1)
    _hold(reserved, edit.added_reserves, origin, +1)
    before = _walk(path.net, path.reserved, inputs)
    after = _walk(net, reserved, inputs)
    return Impact.between(before, after)


def _edit(inputs: ForecastInputs, changes: Sequence[Change]) -> _Edit:
    """Applies ``changes`` in order to the items they name (found in one pass over the inputs), so a later change sees
    an earlier one's result (add a payment, then delay it). A paid or collected part is no longer an item a change
    can name; an earmark (a reserve linked to an item) follows its item: its amount until its date."""
    today = inputs.today
    wanted = {(change.kind, change.source_id) for change in changes}
    found: dict[tuple[str, str], list[CashItem]] = {}
    if wanted:
        for item in chain(inputs.inflows, inputs.outflows):
            if item.key in wanted:
                found.setdefault(item.key, []).append(item)
    linked = [reserve for reserve in inputs.reserves if (reserve.kind, reserve.source_id) in wanted]

    edit = _Edit()
    current: dict[tuple[str, str], CashItem | None] = {}  # each named item as the changes so far left it
    earmarked = {(reserve.kind, str(reserve.source_id)) for reserve in linked}
    settled: list[CashItem] = []
    for index, change in enumerate(changes):
        key = (change.kind, change.source_id)
        if isinstance(change, AddPayment):
            if key in found or current.get(key) is not None:
                raise InvalidChange(index, "source_id", f"{change.kind} {change.source_id} is already in the forecast")
            _check_amount(index, change.amount, None)
            _check_day(index, "on", change.on, today)
            reason = f"A payment added on {change.on.isoformat()} (what-if)."
            current[key] = Outflow(
                change.kind, change.source_id, change.name, change.amount, change.on, change.on, change.on, reason
            )
            if change.earmark:
                earmarked.add(key)
            continue
        named = current[key] if key in current else _only(index, key, found.get(key, []))
        if named is None:
            raise InvalidChange(index, "source_id", f"{change.kind} {change.source_id} was already taken out.")
        current[key] = _changed(index, change, named, today, settled)

    for key in current:
        for original in found.get(key, []):
            _sort_into(original, edit.removed_inflows, edit.removed_outflows)
    for changed in chain(current.values(), settled):
        if changed is not None:
            _sort_into(changed, edit.added_inflows, edit.added_outflows)
    edit.removed_reserves = linked  # every linked earmark is named by a change: put back below as its item now is
    for key in earmarked:
        if (earmarked_item := current.get(key)) is not None:
            edit.added_reserves.append(
                Reserve(
                    earmarked_item.kind,
                    earmarked_item.name,
                    earmarked_item.amount,
                    until=earmarked_item.date,
                    source_id=earmarked_item.source_id,
                )
            )
    return edit


def _sort_into(item: CashItem, inflows: list[Inflow], outflows: list[Outflow]) -> None:
    if isinstance(item, Inflow):
        inflows.append(item)
    elif isinstance(item, Outflow):
        outflows.append(item)


def _only(index: int, key: tuple[str, str], items: list[CashItem]) -> CashItem:
    if not items:
        raise InvalidChange(index, "source_id", f"There is no {key[0]} {key[1]} in the forecast.")
    if len(items) > 1:
        raise InvalidChange(index, "source_id", f"{key[0]} {key[1]} names {len(items)} items of the forecast.")
    return items[0]


def _changed(index: int, change: Change, item: CashItem, today: date, settled: list[CashItem]) -> CashItem | None:
    """``item`` after ``change`` (None: taken out); a paid or collected part goes to ``settled``."""
    if isinstance(change, Remove):
        return None
    if isinstance(change, Delay):
        _check_day(index, "to", change.to, today)
        shift = change.to - item.date
        reason = f"Moved to {change.to.isoformat()} (what-if); it was dated {item.date.isoformat()}."
        return replace(item, date=change.to, early=item.early + shift, late=item.late + shift, reason=reason)
    assert isinstance(change, Pay | Collect)
    direction, verb = (Outflow, "paid") if isinstance(change, Pay) else (Inflow, "collected")
    if not isinstance(item, direction):
        what = "an outflow (a bill)" if direction is Outflow else "an inflow (an invoice)"
        raise InvalidChange(index, "source_id", f"{change.kind} {change.source_id} is not {what}.")
    amount = item.amount if change.amount is None else change.amount
    _check_amount(index, amount, item.amount)
    on = today if change.on is None else change.on
    _check_day(index, "on", on, today)
    settled.append(
        replace(item, amount=amount, date=on, early=on, late=on, reason=f"{amount} {verb} on {on} (what-if).")
    )
    rest = item.amount - amount
    return replace(item, amount=rest) if rest > 0 else None


def _check_amount(index: int, amount: Decimal, most: Decimal | None) -> None:
    if not amount.is_finite() or amount <= 0:
        raise InvalidChange(index, "amount", f"The amount must be more than zero, not {amount}.")
    if most is not None and amount > most:
        raise InvalidChange(index, "amount", f"The amount {amount} is more than the {most} outstanding.")


def _check_day(index: int, name: str, day: date, today: date) -> None:
    if day < today:
        raise InvalidChange(index, name, f"{day.isoformat()} is before today, {today.isoformat()}.")
