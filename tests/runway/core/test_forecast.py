"""The forecast engine on random inputs (hypothesis) against a day-by-day model written the slow, obvious way: every
weekly figure adds up from the items it lists, nothing is dropped, a reserve lowers free cash and runway by exactly
its amount, and an impact equals the difference of two full forecasts."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oodaloo.runway.core.forecast import (
    HORIZON_DAYS,
    WEEKS,
    AddPayment,
    Change,
    Collect,
    Delay,
    ForecastInputs,
    Inflow,
    InvalidChange,
    Outflow,
    Pay,
    Remove,
    Reserve,
    Runway,
    apply_changes,
    forecast,
    impact,
)

TODAY = date(2026, 3, 18)
EXAMPLES = settings(max_examples=150, deadline=None)


def cents(low: int = 0, high: int = 2_000_000) -> st.SearchStrategy[Decimal]:
    return st.integers(low, high).map(lambda value: Decimal(value).scaleb(-2))


@st.composite
def items(draw: st.DrawFn, kind: type[Inflow] | type[Outflow], prefix: str) -> list[Inflow] | list[Outflow]:
    count = draw(st.integers(0, 25))
    drawn = []
    for number in range(count):
        # From well before today (overdue) to beyond the horizon.
        on = TODAY + timedelta(days=draw(st.integers(-40, HORIZON_DAYS + 20)))
        early = on - timedelta(days=draw(st.integers(0, 15)))
        late = on + timedelta(days=draw(st.integers(0, 30)))
        amount = draw(cents())
        drawn.append(kind(prefix, str(number), f"{prefix} {number}", amount, on, early, late, f"{prefix} reason"))
    return drawn


@st.composite
def reserves(draw: st.DrawFn) -> list[Reserve]:
    count = draw(st.integers(0, 3))
    return [
        Reserve(
            "custom",
            f"reserve {number}",
            draw(cents(0, 500_000)),
            until=draw(st.none() | st.integers(-5, HORIZON_DAYS + 5).map(lambda days: TODAY + timedelta(days=days))),
        )
        for number in range(count)
    ]


@st.composite
def inputs(draw: st.DrawFn) -> ForecastInputs:
    return ForecastInputs(
        today=TODAY,
        timezone="America/Los_Angeles",
        starting_cash=draw(cents(-500_000, 5_000_000)),
        inflows=draw(items(Inflow, "invoice")),
        outflows=draw(items(Outflow, "bill")),
        reserves=draw(reserves()),
        reserve_floor=draw(cents(0, 1_000_000)),
    )


# -------------------------------------------------------------------------------- a slow model, day by day
def counted_on(day: date) -> date:
    return max(day, TODAY)


def cash_at_end_of(day: date, data: ForecastInputs, *, low: bool = False, high: bool = False) -> Decimal:
    def when(item: Inflow | Outflow) -> date:
        if low:
            return item.late if isinstance(item, Inflow) else item.early
        if high:
            return item.early if isinstance(item, Inflow) else item.late
        return item.date

    cash = data.starting_cash
    cash += sum((item.amount for item in data.inflows if counted_on(when(item)) <= day), Decimal(0))
    cash -= sum((item.amount for item in data.outflows if counted_on(when(item)) <= day), Decimal(0))
    return cash


def held_on(day: date, data: ForecastInputs) -> Decimal:
    return sum(
        (reserve.amount for reserve in data.reserves if reserve.until is None or day < reserve.until), Decimal(0)
    )


def model_runway(data: ForecastInputs) -> int | None:
    if data.starting_cash - held_on(TODAY, data) < data.reserve_floor:
        return 0
    for offset in range(HORIZON_DAYS):
        day = TODAY + timedelta(days=offset)
        if cash_at_end_of(day, data) - held_on(day, data) < data.reserve_floor:
            return offset
    return None


# ------------------------------------------------------------------------------------------------ properties
@EXAMPLES
@given(inputs())
def test_every_weekly_figure_adds_up_from_the_items_it_lists(data: ForecastInputs) -> None:
    result = forecast(data)
    assert len(result.weeks) == WEEKS
    opening = data.starting_cash
    for week in result.weeks:
        assert week.opening == opening
        assert week.inflows == sum((item.amount for item in week.inflow_items), Decimal(0))
        assert week.outflows == sum((item.amount for item in week.outflow_items), Decimal(0))
        assert week.ending == week.opening + week.inflows - week.outflows
        listed = week.items()
        assert sum((item.amount for item in listed if item.direction == "inflow"), Decimal(0)) == week.inflows
        assert sum((item.amount for item in listed if item.direction == "outflow"), Decimal(0)) == week.outflows
        assert all(week.start <= item.on <= week.end for item in listed)
        # The same figure the slow model gives for the week's last day.
        assert week.ending == cash_at_end_of(week.end, data)
        assert week.low_ending == cash_at_end_of(week.end, data, low=True)
        assert week.high_ending == cash_at_end_of(week.end, data, high=True)
        assert week.low_ending <= week.ending <= week.high_ending
        assert week.free_ending == week.ending - held_on(week.end, data)
        opening = week.ending


@EXAMPLES
@given(inputs())
def test_every_item_is_counted_once_past_dated_ones_in_week_one(data: ForecastInputs) -> None:
    result = forecast(data)
    horizon_end = TODAY + timedelta(days=HORIZON_DAYS)
    for items_of, flows, later_count, later_total in (
        (lambda week: week.inflow_items, data.inflows, result.later.inflow_count, result.later.inflows),
        (lambda week: week.outflow_items, data.outflows, result.later.outflow_count, result.later.outflows),
    ):
        listed = [(week.number, item) for week in result.weeks for item in items_of(week)]
        assert sorted(id(item) for _, item in listed) == sorted(id(item) for item in flows if item.date < horizon_end)
        for number, item in listed:
            assert number == (counted_on(item.date) - TODAY).days // 7 + 1
        beyond = [item for item in flows if item.date >= horizon_end]
        assert later_count == len(beyond)
        assert later_total == sum((item.amount for item in beyond), Decimal(0))
    first_week = {(item.kind, item.source_id): item for item in result.weeks[0].items()}
    for item in [*data.inflows, *data.outflows]:
        if item.date < TODAY:
            explained = first_week[(item.kind, item.source_id)]
            assert explained.on == TODAY
            assert item.date.isoformat() in explained.reason
            assert "has passed" in explained.reason


@EXAMPLES
@given(inputs())
def test_runway_is_the_days_free_cash_stays_at_or_above_the_floor(data: ForecastInputs) -> None:
    result = forecast(data)
    assert result.runway.days == model_runway(data)
    if result.runway.days is None:
        assert result.runway.runs_out_on is None
        assert result.runway.week is None
        assert all(week.free_ending >= data.reserve_floor for week in result.weeks)
    else:
        assert result.runway.runs_out_on == TODAY + timedelta(days=result.runway.days)
        assert result.runway.week == result.runway.days // 7 + 1
        assert result.lowest_free_cash < data.reserve_floor
    # The band's low end never gives more runway than the forecast.
    if result.runway.days is not None:
        assert result.runway_low.days is not None
        assert result.runway_low.days <= result.runway.days


@EXAMPLES
@given(inputs(), cents(1, 1_000_000))
def test_a_reserve_lowers_free_cash_and_runway_by_exactly_its_amount(data: ForecastInputs, amount: Decimal) -> None:
    without = forecast(data)
    held = forecast(replace(data, reserves=[*data.reserves, Reserve("payroll", "Next payroll", amount)]))
    assert held.free_cash_today == without.free_cash_today - amount
    assert held.lowest_free_cash == without.lowest_free_cash - amount
    for before, after in zip(without.weeks, held.weeks, strict=True):
        assert after.ending == before.ending  # still in the bank
        assert after.free_ending == before.free_ending - amount
    # Holding it back is raising the floor by it.
    assert held.runway == forecast(replace(data, reserve_floor=data.reserve_floor + amount)).runway


@EXAMPLES
@given(inputs(), cents(1, 1_000_000), st.integers(1, HORIZON_DAYS - 1))
def test_a_reserve_until_a_date_is_released_on_it(data: ForecastInputs, amount: Decimal, days: int) -> None:
    until = TODAY + timedelta(days=days)
    without = forecast(data)
    held = forecast(replace(data, reserves=[*data.reserves, Reserve("taxes", "Q2 estimate", amount, until=until)]))
    for before, after in zip(without.weeks, held.weeks, strict=True):
        assert after.free_ending == before.free_ending - (amount if after.end < until else 0)


@st.composite
def changes_for(draw: st.DrawFn, data: ForecastInputs) -> list[Change]:
    """A few changes naming items of ``data`` (each item at most once), and a new payment now and then."""
    days = st.integers(0, HORIZON_DAYS + 10).map(lambda offset: TODAY + timedelta(days=offset))
    changes: list[Change] = []
    for item in draw(
        st.lists(st.sampled_from([*data.inflows, *data.outflows]), unique_by=id, max_size=4)
        if data.inflows or data.outflows
        else st.just([])
    ):
        partial = draw(st.none() | st.integers(1, max(1, int(item.amount * 100))).map(lambda c: Decimal(c).scaleb(-2)))
        if partial is not None and partial > item.amount:
            partial = None
        choice = draw(st.sampled_from(["settle", "delay", "remove"]))
        if choice == "settle" and item.amount == 0:
            choice = "remove"  # nothing to pay or collect: refused, as the examples below show
        if choice == "delay":
            changes.append(Delay(item.source_id, draw(days), kind=item.kind))
        elif choice == "remove":
            changes.append(Remove(item.source_id, kind=item.kind))
        elif isinstance(item, Inflow):
            changes.append(Collect(item.source_id, partial, draw(st.none() | days), kind=item.kind))
        else:
            changes.append(Pay(item.source_id, partial, draw(st.none() | days), kind=item.kind))
    if draw(st.booleans()):
        changes.append(AddPayment("new-1", "Scheduled payment", draw(cents(1, 1_000_000)), draw(days)))
    return changes


@EXAMPLES
@given(st.data())
def test_an_impact_equals_the_difference_of_two_full_forecasts(data: st.DataObject) -> None:
    base = data.draw(inputs())
    changes = data.draw(changes_for(base))
    before, after = forecast(base), forecast(apply_changes(base, changes))
    for result in (impact(base, changes), impact(base, changes, baseline=before)):
        assert result.before == before.runway
        assert result.after == after.runway
        if before.runway.days is not None and after.runway.days is not None:
            assert result.change_days == after.runway.days - before.runway.days
        else:
            assert result.change_days is None
        assert result.free_cash_today_after == after.free_cash_today
        assert result.lowest_free_cash_after == after.lowest_free_cash
        assert result.ending_cash_after == after.ending_cash


# ------------------------------------------------------------------------------------------------ examples
def bill(source_id: str, amount: str, on: date, name: str = "Vendor") -> Outflow:
    return Outflow("bill", source_id, name, Decimal(amount), on, on, on, "Due then.")


def invoice(source_id: str, amount: str, on: date, early: date | None = None, late: date | None = None) -> Inflow:
    return Inflow("invoice", source_id, "Acme", Decimal(amount), on, early or on, late or on, "Acme pays on time.")


def day(offset: int) -> date:
    return TODAY + timedelta(days=offset)


def payroll_company(**overrides: object) -> ForecastInputs:
    """10,000 in the bank, 6,000 of payroll on days 3 and 17, a 3,000 invoice expected on day 10."""
    base = ForecastInputs(
        today=TODAY,
        timezone="America/Los_Angeles",
        starting_cash=Decimal("10000.00"),
        inflows=[invoice("INV-1", "3000.00", day(10), early=day(5), late=day(30))],
        outflows=[bill("PR-1", "6000.00", day(3), "Payroll"), bill("PR-2", "6000.00", day(17), "Payroll")],
        reserve_floor=Decimal("500.00"),
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def test_runway_counts_the_days_until_free_cash_falls_below_the_floor() -> None:
    result = forecast(payroll_company())
    # 10,000 - 6,000 (day 3) + 3,000 (day 10) = 7,000; - 6,000 on day 17 = 1,000 >= 500: never below.
    assert result.runway == Runway(None, None)
    assert result.runway.describe().startswith("Beyond the 13-week horizon")
    assert [week.ending for week in result.weeks[:3]] == [Decimal("4000.00"), Decimal("7000.00"), Decimal("1000.00")]
    # Collected late (day 30), payroll on day 17 takes free cash to -2,000 before the invoice lands.
    assert result.runway_low == Runway(17, day(17))
    assert (result.weeks[2].low_ending, result.weeks[2].high_ending) == (Decimal("-2000.00"), Decimal("1000.00"))

    tighter = forecast(payroll_company(reserve_floor=Decimal("1500.00")))
    assert tighter.runway == Runway(17, day(17))
    assert tighter.runway.weeks == Decimal("2.4")
    assert tighter.runway.week == 3


def test_an_overdue_bill_is_counted_today_with_its_reason() -> None:
    result = forecast(payroll_company(outflows=[bill("B-9", "700.00", day(-12))]))
    (explained,) = result.weeks[0].items()  # the invoice is in week 2
    assert (explained.on, explained.date, explained.amount) == (TODAY, day(-12), Decimal("700.00"))
    assert explained.reason == f"Due then. Its date, {day(-12).isoformat()}, has passed: counted today, {TODAY}."
    assert result.weeks[0].ending == Decimal("9300.00")


@pytest.mark.parametrize(("offset", "days"), [(-3, 0), (0, 0), (1, 1), (6, 6), (7, 7), (90, 90), (91, None)])
def test_runway_ends_on_the_day_a_bill_takes_free_cash_below_the_floor(offset: int, days: int | None) -> None:
    result = forecast(payroll_company(inflows=[], outflows=[bill("B-1", "9600.00", day(offset))]))
    assert result.runway.days == days
    assert result.runway.runs_out_on == (None if days is None else day(days))


def test_free_cash_below_the_floor_today_is_no_runway() -> None:
    result = forecast(payroll_company(reserves=[Reserve("payroll", "Payroll", Decimal("9600.00"))]))
    assert result.free_cash_today == Decimal("400.00")
    assert result.runway == Runway(0, TODAY)


def test_delaying_a_bill_is_the_forecast_with_the_bill_moved() -> None:
    data = payroll_company(reserve_floor=Decimal("1500.00"))
    moved = replace(data, outflows=[data.outflows[0], bill("PR-2", "6000.00", day(24), "Payroll")])
    result = impact(data, [Delay("PR-2", day(24))])
    assert result.before == Runway(17, day(17))
    assert result.after == forecast(moved).runway == Runway(24, day(24))
    assert result.change_days == 7
    assert result.describe() == "Runway 17 -> 24 days (+7 days); lowest free cash 1000.00 -> 1000.00."


def test_a_runway_moving_beyond_the_horizon_has_no_change_in_days_but_says_so() -> None:
    data = payroll_company(reserve_floor=Decimal("1500.00"))
    result = impact(data, [Remove("PR-2", kind="bill")])
    assert result.after == forecast(replace(data, outflows=data.outflows[:1])).runway == Runway(None, None)
    assert result.change_days is None
    assert result.describe().startswith("Runway rises from 17 days to beyond the 13-week horizon")


def test_paying_part_of_a_bill_now_leaves_the_rest_where_it_was() -> None:
    data = payroll_company(reserve_floor=Decimal("1500.00"), outflows=[bill("B-1", "2000.00", day(20))])
    changed = apply_changes(data, [Pay("B-1", Decimal("500.00"))])
    assert sorted((item.date, item.amount) for item in changed.outflows) == [
        (TODAY, Decimal("500.00")),
        (day(20), Decimal("1500.00")),
    ]
    assert forecast(changed).weeks[0].ending == Decimal("9500.00")
    assert impact(data, [Pay("B-1", Decimal("500.00"))]).lowest_free_cash_after == Decimal("9500.00")


def test_a_scheduled_payment_is_earmarked_until_its_date_and_cancelling_releases_it() -> None:
    data = payroll_company()
    scheduled = apply_changes(data, [AddPayment("S-1", "Rent", Decimal("2500.00"), day(9))])
    assert forecast(scheduled).free_cash_today == Decimal("7500.00")
    assert forecast(scheduled).weeks[1].free_ending == forecast(data).weeks[1].free_ending - Decimal("2500.00")
    assert apply_changes(scheduled, [Remove("S-1", kind="scheduled_payment")]).reserves == []
    delayed = apply_changes(scheduled, [Delay("S-1", day(40), kind="scheduled_payment")])
    assert [(reserve.amount, reserve.until) for reserve in delayed.reserves] == [(Decimal("2500.00"), day(40))]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (Pay("nope"), "source_id", "There is no bill nope"),
        (Pay("PR-1", Decimal("6000.01")), "amount", "more than the 6000.00 outstanding"),
        (Pay("PR-1", Decimal("0")), "amount", "more than zero"),
        (Delay("PR-1", day(-1)), "to", "before today"),
        (Collect("PR-1", kind="bill"), "source_id", "is not an inflow"),
        (AddPayment("PR-1", "x", Decimal("1"), TODAY, kind="bill"), "source_id", "already in the forecast"),
    ],
)
def test_a_change_that_cannot_apply_names_its_field(change: Change, field: str, words: str) -> None:
    with pytest.raises(InvalidChange) as raised:
        impact(payroll_company(), [Remove("PR-2", kind="bill"), change])
    assert (raised.value.index, raised.value.field) == (1, field)
    assert words in raised.value.message


def test_a_second_change_to_an_item_taken_out_is_refused() -> None:
    with pytest.raises(InvalidChange, match="already taken out"):
        impact(payroll_company(), [Pay("PR-1"), Delay("PR-1", day(5))])
