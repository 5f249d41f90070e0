"""Request and response bodies of the runway API: the forecast and its weeks, what-if changes and their impact,
reserves and the reserve floor, recurring items. Money is a decimal string in replies; in requests a plain decimal
with at most two places ("125.00", or the JSON number 125.5)."""

from __future__ import annotations

import datetime as dt
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from oodaloo.domains.ap.recurring import KEY_MAX_LENGTH, NAME_MAX_LENGTH, Cadence, Category, RecurringItem
from oodaloo.domains.ap.schemas import plain_amount
from oodaloo.domains.core.reserves import RESERVE_NAME_MAX_LENGTH, Reserve, ReserveKind
from oodaloo.infra.web.errors import InvalidInput
from oodaloo.runway.core.forecast import (
    HORIZON_DAYS,
    WEEKS,
    AddPayment,
    Change,
    Collect,
    Delay,
    Impact,
    Pay,
    Remove,
    Runway,
    Week,
)

SOURCE_ID_MAX_LENGTH = KEY_MAX_LENGTH + 16  # a recurring occurrence: its item's id, a colon and a date
MAX_CHANGES = 100
CENT = Decimal("0.01")
# Amounts a small business handles: 13 digits before the point is beyond any of them, and keeps sums exact.


def amount_field(default: Any = ..., *, least: Literal["positive", "zero"] = "positive") -> Any:
    if least == "zero":
        return Field(default, ge=0, max_digits=15, decimal_places=2, allow_inf_nan=False)
    return Field(default, gt=0, max_digits=15, decimal_places=2, allow_inf_nan=False)


SourceId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=SOURCE_ID_MAX_LENGTH)]
ReserveName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=RESERVE_NAME_MAX_LENGTH)]
ItemName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX_LENGTH)]
ItemKind = Literal["invoice", "bill", "recurring", "scheduled_payment"]


class StrictBody(BaseModel):
    # Unknown fields are refused so a typo ("ammount") is an error, not a silently ignored value.
    model_config = ConfigDict(extra="forbid")


def cents(value: Any) -> Any:
    """A plain amount (see ``plain_amount``) to the cent: "4200.5" is 4200.50 in every reply."""
    amount = plain_amount(value)
    return amount.quantize(CENT) if isinstance(amount, Decimal) else amount


class _Money(StrictBody):
    @field_validator("amount", mode="before", check_fields=False)
    @classmethod
    def _plain(cls, value: Any) -> Any:
        return None if value is None else cents(value)


# ------------------------------------------------------------------------------------------------ the forecast
class RunwayFigureOut(BaseModel):
    days: int | None = Field(
        description=f"Days from today whose ending free cash stays at or above the reserve floor; null: all "
        f"{HORIZON_DAYS} days of the {WEEKS}-week horizon (beyond it)."
    )
    weeks: Decimal | None = Field(description="The days in weeks, to a tenth, rounded down.")
    runs_out_on: date | None = Field(description="The first day free cash is below the floor.")
    runs_out_week: int | None = Field(description="The week (1 to 13) it falls below the floor in.")
    beyond_horizon: bool
    description: str


class WeekOut(BaseModel):
    number: int = Field(description="1 to 13; week 1 starts today.")
    start: date
    end: date = Field(description="Its last day.")
    opening: Decimal
    inflows: Decimal = Field(description="The sum of its inflow items.")
    outflows: Decimal = Field(description="The sum of its outflow items.")
    ending: Decimal = Field(description="opening + inflows - outflows.")
    low_ending: Decimal = Field(description="Ending cash with every inflow at its latest and outflow at its earliest.")
    high_ending: Decimal = Field(description="Ending cash with every inflow at its earliest and outflow at its latest.")
    reserved: Decimal = Field(description="Reserves held at the week's end.")
    free_ending: Decimal = Field(description="ending - reserved.")
    inflow_count: int
    outflow_count: int


class LaterOut(BaseModel):
    """What is dated after the 13 weeks: in no week, totalled so nothing goes unaccounted."""

    inflows: Decimal
    outflows: Decimal
    inflow_count: int
    outflow_count: int


class RunwayOut(BaseModel):
    as_of: date = Field(description="Today in the business's time zone: week 1 starts on it.")
    timezone: str
    currency: str
    starting_cash: Decimal = Field(description="Cash in the bank accounts now.")
    reserves: Decimal = Field(description="Reserves held today.")
    free_cash: Decimal = Field(description="starting_cash - reserves.")
    reserve_floor: Decimal
    burn: Decimal = Field(description="Average weekly net outflow of the bank accounts over the last 90 days.")
    runway: RunwayFigureOut
    runway_low: RunwayFigureOut = Field(description="The runway at the band's low end (inflows late, outflows early).")
    lowest_free_cash: Decimal
    lowest_free_cash_on: date
    ending_cash: Decimal = Field(description="Cash at the end of week 13.")
    later: LaterOut
    weeks: list[WeekOut]


class WeekItemOut(BaseModel):
    direction: Literal["inflow", "outflow"]
    kind: str = Field(description="invoice, bill, recurring (an occurrence of a recurring item), ...")
    source_id: str = Field(description="With kind, names the item (what a what-if change refers to).")
    name: str
    amount: Decimal
    on: dt.date = Field(description="Where the forecast counts it.")
    date: dt.date = Field(description="Where its source dates it (before today for one past its date).")
    early: dt.date
    late: dt.date
    reason: str = Field(description="Why it is dated where it is.")


class WeekDetailOut(WeekOut):
    items: list[WeekItemOut] = Field(description="Inflows and outflows in date order.")


# --------------------------------------------------------------------------------------------- what-if changes
class ChangeIn(_Money):
    """One what-if change, by ``action``:

    - ``pay``: an outflow (``kind`` bill by default; recurring, scheduled_payment) named by ``source_id``, on ``on``
      (today when omitted), all of it or ``amount`` of it (the rest stays where it was);
    - ``collect``: an inflow (``kind`` invoice) likewise;
    - ``delay``: move an item (``kind`` bill by default) to ``to``;
    - ``add_payment``: a new payment ``name``, ``amount``, ``on``; with ``earmark`` (the default) its amount is
      reserved until then, as a scheduled payment is; ``source_id`` optional, to name it in later changes;
    - ``remove``: take an item (``kind`` and ``source_id``) out: a recurring occurrence skipped, a payment cancelled.
    """

    action: Literal["pay", "collect", "delay", "add_payment", "remove"]
    source_id: SourceId | None = None
    kind: ItemKind | None = None
    amount: Decimal | None = amount_field(None)
    on: date | None = None
    to: date | None = None
    name: ItemName | None = None
    earmark: bool | None = None


# The fields each action takes (required, optional); ``action`` aside.
CHANGE_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "pay": (frozenset({"source_id"}), frozenset({"kind", "amount", "on"})),
    "collect": (frozenset({"source_id"}), frozenset({"kind", "amount", "on"})),
    "delay": (frozenset({"source_id", "to"}), frozenset({"kind"})),
    "add_payment": (frozenset({"name", "amount", "on"}), frozenset({"source_id", "earmark"})),
    "remove": (frozenset({"source_id", "kind"}), frozenset()),
}


class ImpactIn(StrictBody):
    changes: list[ChangeIn] = Field(min_length=1, max_length=MAX_CHANGES, description="Applied in order.")


class ImpactOut(BaseModel):
    before: RunwayFigureOut
    after: RunwayFigureOut
    change_days: int | None = Field(description="after - before in days; null when either is beyond the horizon.")
    free_cash_today_before: Decimal
    free_cash_today_after: Decimal
    lowest_free_cash_before: Decimal
    lowest_free_cash_after: Decimal
    ending_cash_before: Decimal
    ending_cash_after: Decimal
    description: str


# ------------------------------------------------------------------------------------------------ reserves
class ReserveIn(_Money):
    kind: ReserveKind
    name: ReserveName
    amount: Decimal = amount_field()
    until: date | None = Field(default=None, description="Held on every day before it, released on it.")


class ReservePatch(_Money):
    """Only the fields sent change; ``until: null`` holds it until removed."""

    kind: ReserveKind | None = None
    name: ReserveName | None = None
    amount: Decimal | None = amount_field(None)
    until: date | None = None


class ReserveOut(BaseModel):
    id: uuid.UUID
    kind: ReserveKind
    name: str
    amount: Decimal
    until: date | None
    held_today: bool
    created_at: datetime
    updated_at: datetime


class ReservesOut(BaseModel):
    as_of: date
    floor: Decimal = Field(description="The least free cash to keep: the runway ends when free cash falls below it.")
    held_today: Decimal = Field(description="The reserves held today, together.")
    reserves: list[ReserveOut]


class ReserveFloorIn(StrictBody):
    amount: Decimal = amount_field(least="zero")

    @field_validator("amount", mode="before")
    @classmethod
    def _plain(cls, value: Any) -> Any:
        return cents(value)


class ReserveFloorOut(BaseModel):
    floor: Decimal


# --------------------------------------------------------------------------------------------- recurring items
class RecurringItemIn(_Money):
    name: ItemName
    category: Category
    cadence: Cadence
    amount: Decimal = amount_field()
    next_date: date


class RecurringItemPatch(_Money):
    """Only the fields sent change. On a detected item, null puts a field back to what detection found; on one you
    added, null is refused. ``disabled: true`` takes it out of the forecast (``false`` puts it back)."""

    name: ItemName | None = None
    category: Category | None = None
    cadence: Cadence | None = None
    amount: Decimal | None = amount_field(None)
    next_date: date | None = None
    disabled: bool | None = None


class OccurrenceOut(BaseModel):
    on: date = Field(description="Where the forecast counts it.")
    scheduled: date = Field(description="Its date by the schedule.")
    early: date
    late: date


class RecurringItemOut(BaseModel):
    id: str = Field(description="A detected series' key (e.g. bill-56), or the id of an item added by hand.")
    origin: Literal["detected", "user"]
    name: str
    category: Category
    cadence: Cadence
    schedule: str
    amount: Decimal
    paid_from: Literal["bank", "card"]
    enabled: bool
    edited: bool
    in_forecast: bool
    counted_in: str | None = Field(description="Charged to a card: the id of the card payment that carries its cash.")
    last_seen: date | None
    next_date: date | None
    reason: str
    upcoming: list[OccurrenceOut]


# ------------------------------------------------------------------------------------------------ shaping
def runway_figure_out(runway: Runway) -> RunwayFigureOut:
    return RunwayFigureOut(
        days=runway.days,
        weeks=runway.weeks,
        runs_out_on=runway.runs_out_on,
        runs_out_week=runway.week,
        beyond_horizon=runway.beyond_horizon,
        description=runway.describe(),
    )


def week_fields(week: Week) -> dict[str, Any]:
    return {
        "number": week.number,
        "start": week.start,
        "end": week.end,
        "opening": week.opening,
        "inflows": week.inflows,
        "outflows": week.outflows,
        "ending": week.ending,
        "low_ending": week.low_ending,
        "high_ending": week.high_ending,
        "reserved": week.reserved,
        "free_ending": week.free_ending,
        "inflow_count": len(week.inflow_items),
        "outflow_count": len(week.outflow_items),
    }


def week_detail_out(week: Week) -> WeekDetailOut:
    items = [
        WeekItemOut(
            direction="inflow" if item.direction == "inflow" else "outflow",
            kind=item.kind,
            source_id=item.source_id,
            name=item.name,
            amount=item.amount,
            on=item.on,
            date=item.date,
            early=item.early,
            late=item.late,
            reason=item.reason,
        )
        for item in week.items()
    ]
    return WeekDetailOut(**week_fields(week), items=items)


def impact_out(impact: Impact) -> ImpactOut:
    return ImpactOut(
        before=runway_figure_out(impact.before),
        after=runway_figure_out(impact.after),
        change_days=impact.change_days,
        free_cash_today_before=impact.free_cash_today_before,
        free_cash_today_after=impact.free_cash_today_after,
        lowest_free_cash_before=impact.lowest_free_cash_before,
        lowest_free_cash_after=impact.lowest_free_cash_after,
        ending_cash_before=impact.ending_cash_before,
        ending_cash_after=impact.ending_cash_after,
        description=impact.describe(),
    )


class ChangeRefused(InvalidInput):
    code = "invalid_change"


def change_of(index: int, change: ChangeIn) -> Change:
    """The engine's change for ``change``; a field its action needs missing, or one it does not take, is refused
    naming it (``changes.0.to``)."""
    required, optional = CHANGE_FIELDS[change.action]
    sent = {name for name in change.model_fields_set if getattr(change, name) is not None} - {"action"}
    missing, extra = sorted(required - sent), sorted(sent - required - optional)
    if missing:
        field = f"changes.{index}.{missing[0]}"
        raise ChangeRefused(f"{field}: required to {change.action}.", field=field)
    if extra:
        field = f"changes.{index}.{extra[0]}"
        raise ChangeRefused(f"{field}: {change.action} does not take it.", field=field)
    source_id, kind = change.source_id or f"what-if-{index + 1}", change.kind
    if change.action == "pay":
        return Pay(source_id, change.amount, change.on, kind=kind or "bill")
    if change.action == "collect":
        return Collect(source_id, change.amount, change.on, kind=kind or "invoice")
    if change.action == "delay":
        assert change.to is not None
        return Delay(source_id, change.to, kind=kind or "bill")
    if change.action == "add_payment":
        assert change.name is not None
        assert change.amount is not None
        assert change.on is not None
        return AddPayment(source_id, change.name, change.amount, change.on, earmark=change.earmark is not False)
    assert kind is not None
    return Remove(source_id, kind=kind)


def reserve_out(reserve: Reserve, today: date) -> ReserveOut:
    return ReserveOut(
        id=reserve.id,
        kind=reserve.kind,
        name=reserve.name,
        amount=reserve.amount,
        until=reserve.until,
        held_today=reserve.held_on(today),
        created_at=reserve.created_at,
        updated_at=reserve.updated_at,
    )


def recurring_item_out(item: RecurringItem) -> RecurringItemOut:
    return RecurringItemOut(
        id=item.id,
        origin=item.origin,
        name=item.name,
        category=item.category,
        cadence=item.cadence,
        schedule=item.schedule,
        amount=item.amount,
        paid_from=item.paid_from,
        enabled=item.enabled,
        edited=item.edited,
        in_forecast=item.in_forecast,
        counted_in=item.counted_in,
        last_seen=item.last_seen,
        next_date=item.next_date,
        reason=item.reason,
        upcoming=[
            OccurrenceOut(
                on=occurrence.on, scheduled=occurrence.scheduled, early=occurrence.early, late=occurrence.late
            )
            for occurrence in item.upcoming
        ],
    )
