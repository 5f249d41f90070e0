"""An action's runway impact (its effects turned into the forecast's changes) against the forecast of the books as the
action leaves them, built by hand the way the mirror records it: a bill paid from the bank lowers today's cash and the
bill, one paid by card only the bill; a payment received into the bank raises today's cash, into Undeposited Funds it
only lowers the invoice; a delay moves the bill; a scheduled payment takes its amount from the bill, pays it on its day
and is earmarked until then, and cancelling it gives the amount back to the bill."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from oodaloo.domains.core.impact import CashEffect, EffectKind
from oodaloo.runway.core.action_impact import impact_of, impact_out
from oodaloo.runway.core.forecast import HORIZON_DAYS, ForecastInputs, Inflow, Outflow, Reserve, forecast

TODAY = date(2026, 3, 18)
EXAMPLES = settings(max_examples=60, deadline=None)


def cents(low: int, high: int) -> st.SearchStrategy[Decimal]:
    return st.integers(low, high).map(lambda value: Decimal(value).scaleb(-2))


def bill(amount: Decimal, on: date) -> Outflow:
    return Outflow("bill", "B1", "Acme, bill 7", amount, on, on, on, "Planned for its due date.")


def invoice(amount: Decimal, on: date) -> Inflow:
    return Inflow("invoice", "I1", "Globex, invoice 9", amount, on, on - timedelta(days=3), on + timedelta(days=9), "")


@st.composite
def books(draw: st.DrawFn) -> tuple[ForecastInputs, Decimal, date]:
    """Cash, one bill and one invoice within the 13 weeks, some other outflows so the runway is not always beyond."""
    balance = draw(cents(100_00, 5_000_00))
    bill_on = TODAY + timedelta(days=draw(st.integers(0, 60)))
    others = [
        Outflow("recurring", str(n), "Rent", draw(cents(0, 3_000_00)), day, day, day, "")
        for n, day in enumerate(TODAY + timedelta(days=7 * week) for week in range(1, 13))
    ]
    inputs = ForecastInputs(
        today=TODAY,
        timezone="UTC",
        starting_cash=draw(cents(0, 20_000_00)),
        inflows=[invoice(draw(cents(100_00, 5_000_00)), TODAY + timedelta(days=draw(st.integers(0, 80))))],
        outflows=[bill(balance, bill_on), *others],
        reserve_floor=draw(cents(0, 2_000_00)),
    )
    return inputs, balance, bill_on


def assert_impact_is(inputs: ForecastInputs, effect: CashEffect, after: ForecastInputs) -> None:
    """The effect's impact on ``inputs`` is the difference between their forecast and ``after``'s."""
    got = impact_of(inputs, [effect])
    before_forecast, after_forecast = forecast(inputs), forecast(after)
    assert (got.before, got.after) == (before_forecast.runway, after_forecast.runway)
    assert got.free_cash_today_after == after_forecast.free_cash_today
    assert got.lowest_free_cash_after == after_forecast.lowest_free_cash
    assert got.ending_cash_after == after_forecast.ending_cash
    shown = impact_out(got)
    assert (shown.after.days, shown.before.days) == (after_forecast.runway.days, before_forecast.runway.days)


def with_bill(inputs: ForecastInputs, amount: Decimal, on: date, *extra: Outflow) -> ForecastInputs:
    rest = [bill(amount, on)] if amount > 0 else []
    return replace(inputs, outflows=[*rest, *inputs.outflows[1:], *extra])


@EXAMPLES
@given(books(), st.data())
def test_paying_from_the_bank_or_by_card(drawn: tuple[ForecastInputs, Decimal, date], data: st.DataObject) -> None:
    inputs, balance, bill_on = drawn
    amount = data.draw(cents(1, int(balance * 100)))
    from_bank = CashEffect(EffectKind.PAY_BILL, "B1", amount=amount, on=TODAY, reaches_bank=True)
    paid = replace(with_bill(inputs, balance - amount, bill_on), starting_cash=inputs.starting_cash - amount)
    assert_impact_is(inputs, from_bank, paid)
    by_card = replace(from_bank, reaches_bank=False)
    assert_impact_is(inputs, by_card, with_bill(inputs, balance - amount, bill_on))
    # A payment dated ahead leaves the bank on its day.
    ahead = TODAY + timedelta(days=data.draw(st.integers(1, 60)))
    check = Outflow("bill", "ahead", "Acme, bill 7", amount, ahead, ahead, ahead, "")
    assert_impact_is(inputs, replace(from_bank, on=ahead), with_bill(inputs, balance - amount, bill_on, check))


@EXAMPLES
@given(books(), st.data())
def test_recording_a_payment_into_the_bank_or_undeposited_funds(
    drawn: tuple[ForecastInputs, Decimal, date], data: st.DataObject
) -> None:
    inputs, _, _ = drawn
    (expected,) = inputs.inflows
    amount = data.draw(cents(1, int(expected.amount * 100)))
    rest = [replace(expected, amount=expected.amount - amount)] if amount < expected.amount else []
    into_bank = CashEffect(EffectKind.COLLECT_INVOICE, "I1", amount=amount, on=TODAY, reaches_bank=True)
    collected = replace(inputs, inflows=rest, starting_cash=inputs.starting_cash + amount)
    assert_impact_is(inputs, into_bank, collected)
    assert_impact_is(inputs, replace(into_bank, reaches_bank=False), replace(inputs, inflows=rest))


@EXAMPLES
@given(books(), st.integers(0, HORIZON_DAYS + 30))
def test_delaying_a_bill(drawn: tuple[ForecastInputs, Decimal, date], days: int) -> None:
    inputs, balance, _ = drawn
    to = TODAY + timedelta(days=days)
    effect = CashEffect(EffectKind.DELAY_BILL, "B1", on=to)
    assert_impact_is(inputs, effect, with_bill(inputs, balance, to))


@EXAMPLES
@given(books(), st.data())
def test_scheduling_a_payment_and_cancelling_it(
    drawn: tuple[ForecastInputs, Decimal, date], data: st.DataObject
) -> None:
    inputs, balance, bill_on = drawn
    amount = data.draw(cents(1, int(balance * 100)))
    pay_on = TODAY + timedelta(days=data.draw(st.integers(0, 60)))
    payment = Outflow("scheduled_payment", "S1", "Acme, bill 7", amount, pay_on, pay_on, pay_on, "Scheduled.")
    earmark = Reserve("scheduled_payment", "Acme, bill 7", amount, pay_on, source_id="S1")
    scheduled = replace(with_bill(inputs, balance - amount, bill_on, payment), reserves=[earmark])
    schedule = CashEffect(EffectKind.SCHEDULE_PAYMENT, "B1", amount=amount, on=pay_on, name="Acme, bill 7")
    assert_impact_is(inputs, schedule, scheduled)
    cancel = CashEffect(
        EffectKind.CANCEL_SCHEDULED_PAYMENT, "B1", amount=amount, on=bill_on, name="Acme, bill 7", scheduled_id="S1"
    )
    assert_impact_is(scheduled, cancel, inputs)
