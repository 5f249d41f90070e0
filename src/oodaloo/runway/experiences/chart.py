"""The 13-week runway chart, drawn on the server as SVG from the very forecast the runway API serves (``RunwayOut``),
so the page and the API cannot disagree: free cash week by week with its likely range (the forecast's band), the
reserve floor, the day free cash falls below it, and each week's cash in and out as bars.

Geometry first (``geometry``: every figure placed in the drawing's own units, exact decimals), then the markup
(``svg``), so another renderer (the digest's PNG) can draw the same shapes. The SVG scales with its container (a
``viewBox``, no fixed size); it is one image to assistive technology (``role="img"`` with a ``<title>`` and a
``<desc>`` that says what it shows), and the page carries the same figures as a table for those who cannot see it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from markupsafe import Markup, escape

from oodaloo.runway.core.schemas import RunwayOut, WeekOut
from oodaloo.runway.experiences.phrases import day, money, short_day, short_money, weeks_and_days

# The drawing's units (the viewBox); it is scaled to the width of its container.
WIDTH = Decimal(640)
HEIGHT = Decimal(392)
LEFT = Decimal(70)  # room for the money axis' labels
RIGHT = Decimal(630)
LINE_TOP = Decimal(34)  # room above for the run-out label
LINE_BOTTOM = Decimal(232)
BARS_TOP = Decimal(256)
BARS_BOTTOM = Decimal(322)
WEEK_LABELS_Y = Decimal(342)
LEGEND_Y = Decimal(374)
FONT = 14  # large for the drawing: on a 390 px phone it is drawn at about half size
TICKS = 4  # gaps between the money axis' gridlines, about
TENTH = Decimal("0.1")

INK, MUTED, GRID = "#1d2733", "#5b6776", "#d9dee5"
CASH, BAD, IN, OUT = "#0b6e4f", "#a4262c", "#2f855a", "#b45309"


# --------------------------------------------------------------------------------------------------- geometry
@dataclass(frozen=True)
class Point:
    x: Decimal
    y: Decimal


@dataclass(frozen=True)
class Bar:
    week: int
    x: Decimal
    y: Decimal
    width: Decimal
    height: Decimal
    direction: str  # "inflow" or "outflow"


@dataclass(frozen=True)
class Tick:
    value: Decimal
    y: Decimal


@dataclass(frozen=True)
class RunOut:
    """Where free cash first falls below the floor: the day, its week, and its place on the drawing."""

    on: date
    week: int
    x: Decimal
    y: Decimal


@dataclass(frozen=True)
class Geometry:
    """Everything the chart draws, in the drawing's units (x to the right, y downwards)."""

    slot: Decimal  # one week's width
    line: tuple[Point, ...]  # free cash today, then at the end of each week
    band_high: tuple[Point, ...]
    band_low: tuple[Point, ...]
    floor_y: Decimal
    zero_y: Decimal | None  # where 0 is, when the axis crosses it
    ticks: tuple[Tick, ...]
    bars: tuple[Bar, ...]
    bars_max: Decimal
    run_out: RunOut | None


@dataclass(frozen=True)
class Row:
    """One week as the chart's table lists it."""

    week: int
    start: date
    end: date
    inflows: Decimal
    outflows: Decimal
    free_ending: Decimal
    low: Decimal
    high: Decimal
    runs_out: bool


@dataclass(frozen=True)
class Chart:
    """The chart of one forecast: its SVG, what it says in words, and its figures as table rows."""

    svg: Markup
    title: str
    description: str
    rows: tuple[Row, ...]


def _free(week: WeekOut) -> tuple[Decimal, Decimal, Decimal]:
    """A week's ending free cash, and its band's low and high ends, all less the reserves held then."""
    return week.free_ending, week.low_ending - week.reserved, week.high_ending - week.reserved


def nice_step(span: Decimal) -> Decimal:
    """A round gridline step (1, 2 or 5 times a power of ten) giving about ``TICKS`` gaps over ``span``."""
    rough = span / TICKS
    power = Decimal(1).scaleb(rough.adjusted())
    for multiple in (1, 2, 5):
        if rough <= power * multiple:
            return power * multiple
    return power * 10


def _axis(values: Sequence[Decimal]) -> tuple[Decimal, Decimal, Decimal]:
    """(lowest, highest, step) of a money axis covering ``values``, on round gridlines."""
    low, high = min(values), max(values)
    if high == low:  # one flat figure: give it room to sit in the middle of
        pad = max(abs(high) / 10, Decimal(100))
        low, high = low - pad, high + pad
    step = nice_step(high - low)
    return (
        (low / step).to_integral_value(ROUND_FLOOR) * step,
        (high / step).to_integral_value(ROUND_CEILING) * step,
        step,
    )


def geometry(runway: RunwayOut) -> Geometry:
    weeks = runway.weeks
    slot = (RIGHT - LEFT) / len(weeks)
    figures = [(runway.free_cash, runway.free_cash, runway.free_cash), *(_free(week) for week in weeks)]
    everything = [value for triple in figures for value in triple] + [runway.reserve_floor]
    bottom, top, step = _axis(everything)

    def y(value: Decimal) -> Decimal:
        return LINE_BOTTOM - (value - bottom) / (top - bottom) * (LINE_BOTTOM - LINE_TOP)

    def x(index: int) -> Decimal:
        return LEFT + slot * index

    ticks = tuple(Tick(value, y(value)) for value in _range(bottom, top, step))
    return Geometry(
        slot=slot,
        line=tuple(Point(x(index), y(free)) for index, (free, _, _) in enumerate(figures)),
        band_high=tuple(Point(x(index), y(high)) for index, (_, _, high) in enumerate(figures)),
        band_low=tuple(Point(x(index), y(low)) for index, (_, low, _) in enumerate(figures)),
        floor_y=y(runway.reserve_floor),
        zero_y=y(Decimal(0)) if bottom < 0 < top else None,
        ticks=ticks,
        bars=_bars(weeks, slot),
        bars_max=max((max(week.inflows, week.outflows) for week in weeks), default=Decimal(0)),
        run_out=_run_out(runway, slot, y),
    )


def _range(bottom: Decimal, top: Decimal, step: Decimal) -> Iterator[Decimal]:
    value = bottom
    while value <= top:
        yield value
        value += step


def _bars(weeks: Sequence[WeekOut], slot: Decimal) -> tuple[Bar, ...]:
    """Each week's inflow and outflow side by side, heights on one scale (the largest of either fills the panel)."""
    largest = max((max(week.inflows, week.outflows) for week in weeks), default=Decimal(0))
    if largest <= 0:
        return ()
    width = slot * Decimal("0.34")
    bars: list[Bar] = []
    for index, week in enumerate(weeks):
        middle = LEFT + slot * index + slot / 2
        for direction, amount, left in (
            ("inflow", week.inflows, middle - width - 1),
            ("outflow", week.outflows, middle + 1),
        ):
            height = amount / largest * (BARS_BOTTOM - BARS_TOP)
            bars.append(Bar(week.number, left, BARS_BOTTOM - height, width, height, direction))
    return tuple(bars)


def _run_out(runway: RunwayOut, slot: Decimal, y: Callable[[Decimal], Decimal]) -> RunOut | None:
    figure = runway.runway
    if figure.days is None or figure.runs_out_on is None or figure.runs_out_week is None:
        return None
    # The runway's days are the days whose ending free cash stays at or above the floor: it falls below at the end
    # of day ``days``, one day's width further than the start of that day.
    x = LEFT + slot * Decimal(figure.days + 1) / 7
    return RunOut(figure.runs_out_on, figure.runs_out_week, min(x, RIGHT), y(runway.reserve_floor))


# ------------------------------------------------------------------------------------------------------ words
def describe(runway: RunwayOut) -> str:
    """What the chart shows, in sentences: where free cash starts and ends, its lowest, the floor and when it falls
    below it, the likely range at the end, and the cash in and out over the 13 weeks."""
    currency, weeks = runway.currency, runway.weeks
    last = weeks[-1]
    _, low, high = _free(last)
    parts = [
        f"Free cash (cash less reserves) is {money(runway.free_cash, currency)} today and is forecast at "
        f"{money(last.free_ending, currency)} at the end of week {last.number}, {day(last.end)}; "
        f"the likely range then is {money(low, currency)} to {money(high, currency)}.",
        f"Its lowest is {money(runway.lowest_free_cash, currency)} on {day(runway.lowest_free_cash_on)}.",
        _floor_sentence(runway),
        f"Over the {len(weeks)} weeks {money(sum((w.inflows for w in weeks), Decimal(0)), currency)} comes in and "
        f"{money(sum((w.outflows for w in weeks), Decimal(0)), currency)} goes out.",
    ]
    return " ".join(parts)


def _floor_sentence(runway: RunwayOut) -> str:
    floor = money(runway.reserve_floor, runway.currency)
    figure = runway.runway
    if figure.days is None or figure.runs_out_on is None:
        return f"It stays at or above the reserve floor of {floor} through all {len(runway.weeks)} weeks."
    if figure.days == 0:
        return f"It is below the reserve floor of {floor} already today."
    return (
        f"It falls below the reserve floor of {floor} on {day(figure.runs_out_on)}, in week {figure.runs_out_week}: "
        f"a runway of {weeks_and_days(figure.days)}."
    )


def rows(runway: RunwayOut) -> tuple[Row, ...]:
    run_out_week = runway.runway.runs_out_week
    return tuple(
        Row(week.number, week.start, week.end, week.inflows, week.outflows, *_free(week), week.number == run_out_week)
        for week in runway.weeks
    )


# ----------------------------------------------------------------------------------------------------- markup
def _n(value: Decimal) -> str:
    """A coordinate, to a tenth of a unit."""
    return str(value.quantize(TENTH, ROUND_HALF_UP))


def _path(points: Sequence[Point]) -> str:
    return " ".join(f"{'M' if index == 0 else 'L'}{_n(p.x)},{_n(p.y)}" for index, p in enumerate(points))


def _text(x: Decimal, y: Decimal, words: str, *, anchor: str = "start", fill: str = MUTED, bold: bool = False) -> str:
    weight = ' font-weight="600"' if bold else ""
    return (
        f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}" fill="{fill}" font-size="{FONT}"{weight}>'
        f"{escape(words)}</text>"
    )


def svg(runway: RunwayOut, shapes: Geometry, *, title: str, description: str, element_id: str) -> Markup:
    currency = runway.currency
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" class="runway-chart" '
        f'id="{escape(element_id)}" aria-labelledby="{escape(element_id)}-title {escape(element_id)}-desc" '
        'preserveAspectRatio="xMidYMid meet" font-family="system-ui, -apple-system, Segoe UI, sans-serif">',
        f'<title id="{escape(element_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(element_id)}-desc">{escape(description)}</desc>',
        *_grid(shapes, currency),
        *_band_and_line(shapes),
        *_floor(runway, shapes),
        *_run_out_marker(shapes),
        *_bars_panel(runway, shapes),
        *_legend(),
        "</svg>",
    ]
    # Every text and attribute taken from data went through ``escape`` above; the rest is our own markup.
    return Markup("".join(parts))  # noqa: S704


def _grid(shapes: Geometry, currency: str) -> Iterator[str]:
    for tick in shapes.ticks:
        yield f'<line x1="{_n(LEFT)}" x2="{_n(RIGHT)}" y1="{_n(tick.y)}" y2="{_n(tick.y)}" stroke="{GRID}"/>'
        yield _text(LEFT - 6, tick.y + 5, short_money(tick.value, currency), anchor="end")
    if shapes.zero_y is not None:
        y = _n(shapes.zero_y)
        yield f'<line class="zero" x1="{_n(LEFT)}" x2="{_n(RIGHT)}" y1="{y}" y2="{y}" stroke="{MUTED}"/>'


def _band_and_line(shapes: Geometry) -> Iterator[str]:
    band = _path(shapes.band_high) + " " + _path(tuple(reversed(shapes.band_low))).replace("M", "L", 1) + " Z"
    yield f'<path class="band" d="{band}" fill="{CASH}" fill-opacity="0.16" stroke="none"/>'
    yield (
        f'<path class="cash-line" d="{_path(shapes.line)}" fill="none" stroke="{CASH}" stroke-width="3" '
        'stroke-linejoin="round"/>'
    )
    for point in shapes.line:
        yield f'<circle cx="{_n(point.x)}" cy="{_n(point.y)}" r="3.5" fill="{CASH}"/>'


def _floor(runway: RunwayOut, shapes: Geometry) -> Iterator[str]:
    y = _n(shapes.floor_y)
    yield (
        f'<line class="reserve-floor" x1="{_n(LEFT)}" x2="{_n(RIGHT)}" y1="{y}" y2="{y}" stroke="{BAD}" '
        'stroke-width="2" stroke-dasharray="8 5"/>'
    )
    label = f"Floor {short_money(runway.reserve_floor, runway.currency)}"
    yield _text(RIGHT, shapes.floor_y - 6, label, anchor="end", fill=BAD)


def _run_out_marker(shapes: Geometry) -> Iterator[str]:
    marker = shapes.run_out
    if marker is None:
        return
    x = _n(marker.x)
    week_left = LEFT + shapes.slot * (marker.week - 1)
    yield (
        f'<rect class="run-out-week" x="{_n(week_left)}" y="{_n(LINE_TOP)}" width="{_n(shapes.slot)}" '
        f'height="{_n(BARS_BOTTOM - LINE_TOP)}" fill="{BAD}" fill-opacity="0.08"/>'
    )
    yield (
        f'<line class="run-out" x1="{x}" x2="{x}" y1="{_n(LINE_TOP - 4)}" y2="{_n(LINE_BOTTOM)}" stroke="{BAD}" '
        'stroke-width="2"/>'
    )
    yield f'<circle cx="{x}" cy="{_n(marker.y)}" r="6" fill="#fff" stroke="{BAD}" stroke-width="3"/>'
    # The label sits beside the line, on whichever side has room for it.
    anchor = "end" if marker.x > (LEFT + RIGHT) / 2 else "start"
    offset = Decimal(-6) if anchor == "end" else Decimal(6)
    yield _text(
        marker.x + offset, LINE_TOP - 12, f"Runs out {short_day(marker.on)}", anchor=anchor, fill=BAD, bold=True
    )


def _bars_panel(runway: RunwayOut, shapes: Geometry) -> Iterator[str]:
    yield f'<line x1="{_n(LEFT)}" x2="{_n(RIGHT)}" y1="{_n(BARS_BOTTOM)}" y2="{_n(BARS_BOTTOM)}" stroke="{MUTED}"/>'
    if shapes.bars_max > 0:
        yield _text(LEFT - 6, BARS_TOP + 10, short_money(shapes.bars_max, runway.currency), anchor="end")
    for bar in shapes.bars:
        colour = IN if bar.direction == "inflow" else OUT
        yield (
            f'<rect class="{bar.direction}" x="{_n(bar.x)}" y="{_n(bar.y)}" width="{_n(bar.width)}" '
            f'height="{_n(bar.height)}" fill="{colour}"/>'
        )
    run_out_week = shapes.run_out.week if shapes.run_out is not None else None
    yield _text(LEFT - 6, WEEK_LABELS_Y, "Week", anchor="end")
    for index, week in enumerate(runway.weeks):
        middle = LEFT + shapes.slot * index + shapes.slot / 2
        marked = week.number == run_out_week
        yield _text(middle, WEEK_LABELS_Y, str(week.number), anchor="middle", fill=BAD if marked else INK, bold=marked)
    yield _text(LEFT, WEEK_LABELS_Y + 18, f"from {short_day(runway.as_of)}", fill=MUTED)
    yield _text(RIGHT, WEEK_LABELS_Y + 18, f"to {short_day(runway.weeks[-1].end)}", anchor="end", fill=MUTED)


def _legend() -> Iterator[str]:
    y = LEGEND_Y
    entries = (
        (Decimal(70), f'<line x1="0" x2="16" y1="0" y2="0" stroke="{CASH}" stroke-width="3"/>', "Free cash"),
        (
            Decimal(168),
            f'<rect x="0" y="-6" width="16" height="12" fill="{CASH}" fill-opacity="0.16"/>',
            "Likely range",
        ),
        (
            Decimal(286),
            f'<line x1="0" x2="16" y1="0" y2="0" stroke="{BAD}" stroke-width="2" stroke-dasharray="5 3"/>',
            "Reserve floor",
        ),
        (Decimal(416), f'<rect x="0" y="-6" width="12" height="12" fill="{IN}"/>', "Cash in"),
        (Decimal(504), f'<rect x="0" y="-6" width="12" height="12" fill="{OUT}"/>', "Cash out"),
    )
    for left, swatch, label in entries:
        yield f'<g transform="translate({_n(left)},{_n(y)})">{swatch}</g>'
        yield _text(left + 22, y + 5, label, fill=INK)


# ------------------------------------------------------------------------------------------------------ entry
def runway_chart(runway: RunwayOut, *, name: str, element_id: str = "runway-chart") -> Chart:
    """The chart of ``runway`` for the business called ``name``."""
    title = f"{name}: free cash over the next {len(runway.weeks)} weeks"
    description = describe(runway)
    shapes = geometry(runway)
    markup = svg(runway, shapes, title=title, description=description, element_id=element_id)
    return Chart(markup, title, description, rows(runway))
