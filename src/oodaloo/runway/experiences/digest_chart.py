"""The digest's runway chart as a PNG (mail clients show inline images, not SVG or scripts): projected free cash over
the 13 weeks, its uncertainty band, the reserve floor and the week free cash falls below it — drawn from the same
``RunwayOut`` the API serves, so the mail and the console can never disagree.

Drawn at twice the size it is shown (``DISPLAY_WIDTH`` x ``DISPLAY_HEIGHT``) so it stays sharp on high-density
screens. Pixel geometry is computed in floats; the amounts themselves stay Decimal until they become a position.
"""

from __future__ import annotations

import io
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from PIL import Image, ImageDraw, ImageFont

from oodaloo.runway.core.schemas import RunwayOut
from oodaloo.runway.experiences.phrases import short_day, short_money

SCALE = 2
DISPLAY_WIDTH = 600
DISPLAY_HEIGHT = 260
WIDTH = DISPLAY_WIDTH * SCALE
HEIGHT = DISPLAY_HEIGHT * SCALE
# The plot's box inside the image: room on the left for the amounts, below for the dates and the legend.
LEFT, RIGHT, TOP, BOTTOM = 150, WIDTH - 30, 30, HEIGHT - 110
FONT_SIZE = 22
# A little air above and below the extremes, so the line never runs along the box's edge.
PADDING = 0.08
TICKS = 6

BACKGROUND = (255, 255, 255)
GRID = (226, 230, 236)
AXIS = (120, 128, 140)
TEXT = (52, 60, 72)
LINE = (31, 95, 168)
BAND = (207, 227, 247)
FLOOR = (192, 57, 43)
RUN_OUT = (253, 226, 222)
LINE_WIDTH = 5
FLOOR_WIDTH = 4


Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True)
class ChartSeries:
    """What the chart shows: free cash today and at the end of each week (``free``), the band around it, the floor,
    the week free cash falls below it (None: not within the horizon), and each point's date."""

    free: tuple[Decimal, ...]
    low: tuple[Decimal, ...]
    high: tuple[Decimal, ...]
    days: tuple[str, ...]
    floor: Decimal
    runs_out_week: int | None
    currency: str


@dataclass(frozen=True)
class ChartLayout:
    """Where amounts and weeks land in the image (its own pixels, before it is shown at half size)."""

    lowest: float
    highest: float
    points: int

    def y_of(self, amount: Decimal | float) -> int:
        span = self.highest - self.lowest
        share = (float(amount) - self.lowest) / span if span else 0.5
        return round(BOTTOM - share * (BOTTOM - TOP))

    def x_of(self, index: int) -> int:
        return round(LEFT + index * (RIGHT - LEFT) / max(self.points - 1, 1))


@dataclass(frozen=True)
class RunwayChart:
    png: bytes
    layout: ChartLayout
    series: ChartSeries
    alt: str  # the chart in words, for a reader who cannot see it


def series_of(runway: RunwayOut) -> ChartSeries:
    """Today's free cash, then each week's ending free cash and band (the band less the week's reserves, as the
    runway counts free cash)."""
    weeks = runway.weeks
    return ChartSeries(
        free=(runway.free_cash, *(week.free_ending for week in weeks)),
        low=(runway.free_cash, *(week.low_ending - week.reserved for week in weeks)),
        high=(runway.free_cash, *(week.high_ending - week.reserved for week in weeks)),
        days=(short_day(runway.as_of), *(short_day(week.end) for week in weeks)),
        floor=runway.reserve_floor,
        runs_out_week=runway.runway.runs_out_week,
        currency=runway.currency,
    )


def layout_of(series: ChartSeries) -> ChartLayout:
    values = [float(value) for value in (*series.low, *series.high, *series.free, series.floor, Decimal(0))]
    lowest, highest = min(values), max(values)
    pad = (highest - lowest) * PADDING or 1.0
    return ChartLayout(lowest - pad, highest + pad, len(series.free))


def draw_runway_chart(series: ChartSeries) -> RunwayChart:
    layout = layout_of(series)
    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=FONT_SIZE)
    _run_out(draw, layout, series, font)
    _grid(draw, layout, series, font)
    _band(draw, layout, series)
    _line(draw, layout, series.free, LINE, LINE_WIDTH)
    # The floor last: nothing is drawn over it, it reads as the limit.
    draw.line([(LEFT, layout.y_of(series.floor)), (RIGHT, layout.y_of(series.floor))], fill=FLOOR, width=FLOOR_WIDTH)
    _legend(draw, font)
    buffer = io.BytesIO()
    # The default compression: "optimize" would make it a few per cent smaller at several times the cost per digest.
    image.save(buffer, format="PNG")
    return RunwayChart(buffer.getvalue(), layout, series, describe(series))


def describe(series: ChartSeries) -> str:
    start, end = short_money(series.free[0], series.currency), short_money(series.free[-1], series.currency)
    floor = short_money(series.floor, series.currency)
    when = (
        f"falls below it in week {series.runs_out_week}"
        if series.runs_out_week is not None
        else "stays above it through week 13"
    )
    return (
        f"Projected free cash over 13 weeks: {start} today, {end} in week 13; "
        f"the reserve floor is {floor} and free cash {when}."
    )


def _run_out(draw: ImageDraw.ImageDraw, layout: ChartLayout, series: ChartSeries, font: Font) -> None:
    week = series.runs_out_week
    if week is None:
        return
    left, right = layout.x_of(week - 1), layout.x_of(week)
    draw.rectangle([(left, TOP), (right, BOTTOM)], fill=RUN_OUT)
    label = f"Runs out: week {week}"
    width = draw.textlength(label, font=font)
    x = min(max(left, LEFT), RIGHT - width)
    draw.text((x, TOP - FONT_SIZE - 4 if TOP > FONT_SIZE else TOP + 4), label, fill=FLOOR, font=font)


def _grid(draw: ImageDraw.ImageDraw, layout: ChartLayout, series: ChartSeries, font: Font) -> None:
    for value in _ticks(layout.lowest, layout.highest):
        y = layout.y_of(value)
        draw.line([(LEFT, y), (RIGHT, y)], fill=GRID, width=2)
        label = _drawable(short_money(Decimal(str(value)), series.currency))
        width = draw.textlength(label, font=font)
        draw.text((LEFT - 12 - width, y - FONT_SIZE / 2), label, fill=TEXT, font=font)
    draw.line([(LEFT, TOP), (LEFT, BOTTOM), (RIGHT, BOTTOM)], fill=AXIS, width=2)
    for index, day in enumerate(series.days):
        if index % 2:  # every other date: thirteen would crowd a phone-sized image
            continue
        x = layout.x_of(index)
        draw.line([(x, BOTTOM), (x, BOTTOM + 8)], fill=AXIS, width=2)
        label = "Today" if index == 0 else day
        width = draw.textlength(label, font=font)
        draw.text((min(max(x - width / 2, 0), WIDTH - width), BOTTOM + 12), label, fill=TEXT, font=font)


def _drawable(label: str) -> str:
    """The label in characters the bundled font has: a true minus sign drawn as a hyphen, invisible formatting
    characters (a word joiner keeping the sign with its number) left out."""
    return "".join("-" if char == "\u2212" else char for char in label if unicodedata.category(char) != "Cf")


def _ticks(lowest: float, highest: float) -> list[float]:
    """Round amounts (1, 2 or 5 times a power of ten apart) inside the range."""
    span = highest - lowest
    if span <= 0:
        return [lowest]
    raw = span / TICKS
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(factor * magnitude for factor in (1, 2, 5, 10) if factor * magnitude >= raw)
    first = -(-lowest // step) * step
    ticks = []
    value = first
    while value <= highest:
        ticks.append(value)
        value += step
    return ticks


def _band(draw: ImageDraw.ImageDraw, layout: ChartLayout, series: ChartSeries) -> None:
    upper = [(layout.x_of(index), layout.y_of(value)) for index, value in enumerate(series.high)]
    lower = [(layout.x_of(index), layout.y_of(value)) for index, value in enumerate(series.low)]
    draw.polygon(upper + lower[::-1], fill=BAND)


def _line(
    draw: ImageDraw.ImageDraw, layout: ChartLayout, values: Sequence[Decimal], colour: tuple[int, int, int], width: int
) -> None:
    points = [(layout.x_of(index), layout.y_of(value)) for index, value in enumerate(values)]
    draw.line(points, fill=colour, width=width, joint="curve")
    radius = width
    for x, y in points:
        draw.ellipse([(x - radius, y - radius), (x + radius, y + radius)], fill=colour)


def _legend(draw: ImageDraw.ImageDraw, font: Font) -> None:
    y = HEIGHT - 40
    x = float(LEFT)
    for label, colour, kind in (
        ("Free cash", LINE, "line"),
        ("Likely range", BAND, "box"),
        ("Reserve floor", FLOOR, "line"),
        ("Runs out", RUN_OUT, "box"),
    ):
        if kind == "line":
            draw.line([(x, y), (x + 36, y)], fill=colour, width=LINE_WIDTH)
        else:
            draw.rectangle([(x, y - 10), (x + 36, y + 10)], fill=colour)
        draw.text((x + 46, y - FONT_SIZE / 2 - 2), label, fill=TEXT, font=font)
        x += 46 + draw.textlength(label, font=font) + 36
