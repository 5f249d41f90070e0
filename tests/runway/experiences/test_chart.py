"""The runway chart drawn from a forecast, and the phrases every page says figures with: the chart places each week's
free cash on the right side of the floor, marks the day it falls below it inside that day's week, keeps the band
around the line, says it all in words, and escapes what it did not write itself."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from jinja2 import Environment

from oodaloo.runway.core.forecast import ForecastInputs, Inflow, Outflow, Reserve, forecast
from oodaloo.runway.core.schemas import LaterOut, RunwayOut, WeekOut, runway_figure_out, week_fields
from oodaloo.runway.experiences.chart import LEFT, RIGHT, geometry, nice_step, runway_chart
from oodaloo.runway.experiences.phrases import (
    ago,
    day,
    duration,
    money,
    percent,
    register_filters,
    short_money,
    signed_money,
    weeks_and_days,
)

TODAY = date(2026, 3, 18)


def runway_of(inputs: ForecastInputs, currency: str = "USD") -> RunwayOut:
    """The forecast of ``inputs`` as the runway API serves it."""
    result = forecast(inputs)
    return RunwayOut(
        as_of=result.today,
        timezone=inputs.timezone,
        currency=currency,
        starting_cash=result.starting_cash,
        reserves=result.reserves_today,
        free_cash=result.free_cash_today,
        reserve_floor=result.reserve_floor,
        burn=Decimal(0),
        runway=runway_figure_out(result.runway),
        runway_low=runway_figure_out(result.runway_low),
        lowest_free_cash=result.lowest_free_cash,
        lowest_free_cash_on=result.lowest_free_cash_on,
        ending_cash=result.ending_cash,
        later=LaterOut(inflows=Decimal(0), outflows=Decimal(0), inflow_count=0, outflow_count=0),
        weeks=[WeekOut(**week_fields(week)) for week in result.weeks],
    )


def payroll(on: date, amount: str = "30000.00") -> Outflow:
    return Outflow("recurring", f"payroll:{on}", "Payroll", Decimal(amount), on, on - timedelta(days=1), on, "Payroll.")


def invoice(number: int, on: date, amount: str) -> Inflow:
    return Inflow("invoice", str(number), f"Invoice {number}", Decimal(amount), on, on, on + timedelta(days=10), "Due.")


def crisis() -> RunwayOut:
    """Cash of 100,000 against payroll of 30,000 every two weeks and 2,500 coming in each week: exactly at the
    20,000 floor after the third payroll (day 29, not below it), below it after the fourth (day 43, in week 7)."""
    outflows = [payroll(TODAY + timedelta(days=1 + 14 * n)) for n in range(7)]
    inflows = [invoice(n, TODAY + timedelta(days=3 + 7 * n), "2500.00") for n in range(13)]
    inputs = ForecastInputs(
        today=TODAY,
        timezone="America/New_York",
        starting_cash=Decimal("100000.00"),
        inflows=inflows,
        outflows=outflows,
        reserve_floor=Decimal("20000.00"),
    )
    return runway_of(inputs)


def healthy() -> RunwayOut:
    inputs = ForecastInputs(
        today=TODAY,
        timezone="America/New_York",
        starting_cash=Decimal("250000.00"),
        inflows=[invoice(n, TODAY + timedelta(days=2 + 7 * n), "20000.00") for n in range(13)],
        outflows=[payroll(TODAY + timedelta(days=4 + 14 * n), "25000.00") for n in range(7)],
        reserves=[Reserve("payroll", "Next payroll", Decimal("25000.00"))],
        reserve_floor=Decimal("10000.00"),
    )
    return runway_of(inputs)


# ---------------------------------------------------------------------------------------------------- the chart
def test_each_week_sits_on_the_right_side_of_the_floor() -> None:
    runway = crisis()
    shapes = geometry(runway)
    assert len(shapes.line) == len(runway.weeks) + 1  # today, then each week's end
    for point, week in zip(shapes.line[1:], runway.weeks, strict=True):
        # y grows downwards: at or above the floor is drawn at or above its line.
        assert (point.y <= shapes.floor_y) == (week.free_ending >= runway.reserve_floor)
    assert shapes.line[0].x == LEFT
    assert shapes.line[-1].x == RIGHT
    for high, line, low in zip(shapes.band_high, shapes.line, shapes.band_low, strict=True):
        assert high.y <= line.y <= low.y


def test_the_day_free_cash_falls_below_the_floor_is_marked_inside_its_week() -> None:
    runway = crisis()
    figure = runway.runway
    assert figure.days is not None
    assert (figure.days, figure.runs_out_week) == (43, 7)
    shapes = geometry(runway)
    assert shapes.run_out is not None
    week_left = LEFT + shapes.slot * (figure.runs_out_week - 1)
    assert week_left < shapes.run_out.x <= week_left + shapes.slot
    assert shapes.run_out.y == shapes.floor_y

    chart = runway_chart(runway, name="Cobalt Street")
    assert 'class="run-out"' in chart.svg
    assert "Runs out " in chart.svg
    assert f"on {day(figure.runs_out_on)}, in week 7" in chart.description  # type: ignore[arg-type]
    assert f"a runway of {weeks_and_days(figure.days)}" in chart.description
    assert [row.week for row in chart.rows if row.runs_out] == [7]


def test_a_runway_beyond_the_horizon_has_no_run_out_marker_and_says_so() -> None:
    runway = healthy()
    assert runway.runway.days is None
    chart = runway_chart(runway, name="Healthy Co")
    assert geometry(runway).run_out is None
    assert 'class="run-out"' not in chart.svg
    assert 'class="reserve-floor"' in chart.svg
    assert "stays at or above the reserve floor of $10,000.00 through all 13 weeks" in chart.description
    # Free cash is cash less the reserves held: the line and the table start from it.
    assert runway.free_cash == Decimal("225000.00")
    assert money(Decimal("225000.00")) in chart.description


def test_the_svg_is_one_labelled_image_that_scales() -> None:
    chart = runway_chart(crisis(), name="Cobalt Street", element_id="chart-1")
    svg = str(chart.svg)
    assert re.match(r'<svg [^>]*viewBox="0 0 640 392"', svg)
    assert 'width="' not in svg.split(">", 1)[0]  # no fixed size: it takes its container's width
    assert 'role="img"' in svg
    assert 'aria-labelledby="chart-1-title chart-1-desc"' in svg
    assert '<title id="chart-1-title">Cobalt Street: free cash over the next 13 weeks</title>' in svg
    assert len(re.findall(r'<rect class="inflow"', svg)) == 13
    assert len(re.findall(r'<rect class="outflow"', svg)) == 13


def test_what_the_chart_did_not_write_is_escaped() -> None:
    chart = runway_chart(crisis(), name='<script>alert("x")</script> & Sons')
    assert "<script>" not in chart.svg
    assert "&lt;script&gt;" in chart.svg
    assert "&amp; Sons" in chart.svg


def test_bars_share_one_scale_and_the_largest_fills_the_panel() -> None:
    runway = crisis()
    shapes = geometry(runway)
    largest = max(shapes.bars, key=lambda bar: bar.height)
    assert shapes.bars_max == max(max(week.inflows, week.outflows) for week in runway.weeks)
    for bar in shapes.bars:
        week = runway.weeks[bar.week - 1]
        amount = week.inflows if bar.direction == "inflow" else week.outflows
        assert bar.height == amount / shapes.bars_max * largest.height


@pytest.mark.parametrize(
    ("span", "step"),
    [
        (Decimal("100000"), Decimal("50000")),
        (Decimal("37000"), Decimal("10000")),
        (Decimal("800"), Decimal("200")),
        (Decimal("4.2"), Decimal("2")),
    ],
)
def test_gridlines_fall_on_round_figures(span: Decimal, step: Decimal) -> None:
    assert nice_step(span) == step


# -------------------------------------------------------------------------------------------------- the phrases
def test_money_is_written_in_the_currency_rounded_to_its_cents() -> None:
    assert money(Decimal("12345.675")) == "$12,345.68"
    assert money(Decimal("-1200")) == "\u2212\u2060$1,200.00"
    assert money(Decimal("1200"), "EUR") == "€1,200.00"
    assert money(Decimal("1200.4"), "JPY") == "¥1,200"
    assert money(Decimal("99.5"), "CHF") == "CHF\u00a099.50"
    assert signed_money(Decimal("300")) == "+$300.00"
    assert signed_money(Decimal("-300")) == "\u2212\u2060$300.00"
    assert signed_money(Decimal("0.001")) == "$0.00"


def test_chart_labels_are_short() -> None:
    assert short_money(Decimal("84234")) == "$84.2k"
    assert short_money(Decimal("1250000")) == "$1.25M"
    assert short_money(Decimal("-200000")) == "\u2212\u2060$200k"
    assert short_money(Decimal("950.4")) == "$950"
    assert short_money(Decimal("0")) == "$0"


def test_times_and_spans_in_words() -> None:
    now = datetime(2026, 3, 18, 14, 0, tzinfo=UTC)
    assert ago(now - timedelta(seconds=20), now) == "just now"
    assert ago(now - timedelta(minutes=1), now) == "1 minute ago"
    assert ago(now - timedelta(minutes=3, seconds=50), now) == "3 minutes ago"
    assert ago(now - timedelta(hours=5), now) == "5 hours ago"
    assert ago(now - timedelta(days=2, hours=3), now) == "2 days ago"
    assert ago(now + timedelta(seconds=5), now) == "just now"
    assert duration(timedelta(seconds=45)) == "45 seconds"
    assert duration(timedelta(hours=3, minutes=2)) == "3 hours"
    assert weeks_and_days(37) == "5 weeks and 2 days"
    assert weeks_and_days(14) == "2 weeks"
    assert weeks_and_days(1) == "1 day"
    assert weeks_and_days(8) == "1 week and 1 day"
    assert day(date(2026, 3, 6)) == "Fri 6 Mar 2026"
    assert percent(Decimal("0.3249")) == "32%"
    assert percent(Decimal("1.1")) == "110%"


def test_pages_use_the_phrases_as_filters() -> None:
    env = Environment(autoescape=True)
    register_filters(env)
    now = datetime(2026, 3, 18, 14, 0, tzinfo=UTC)
    template = env.from_string("{{ amount | money('GBP') }} · {{ when | ago(now) }} · {{ days | weeks_and_days }}")
    shown = template.render(amount=Decimal("10"), when=now - timedelta(minutes=3), now=now, days=9)
    assert shown == "£10.00 · 3 minutes ago · 1 week and 2 days"
