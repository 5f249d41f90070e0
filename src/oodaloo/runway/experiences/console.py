"""The console's overview (runway at a glance, the 13-week chart, a week's items, the change since last week, sync
status and "sync now", the forecast's track record) and its reserves and recurring items page.

Pages read the same services as the JSON API (``RunwayService``, ``ReserveService``, ``RecurringService``,
``BacktestService``) and the mirror through ``QBODataService``; forms post here, are checked with the API's own
request models, and write through the same domain services under the API's role rules (advisors and owners change
reserves and recurring items and ask for a sync; viewers read). A refused form is shown again with each message next
to its field, and nothing of it is written.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.ap.recurring import KEEP, Cadence, Category, RecurringChanges, RecurringItem, RecurringService
from oodaloo.domains.core.access import Capability
from oodaloo.domains.core.kpis import mirror_synced
from oodaloo.domains.core.models import Business
from oodaloo.domains.core.reserves import ReserveKind, ReserveService
from oodaloo.domains.qbo.console_data import Activity, ConsoleData
from oodaloo.domains.qbo.data_service import QBODataService
from oodaloo.domains.qbo.mirror_repository import MirrorNotSynced
from oodaloo.infra.db.base import utcnow
from oodaloo.infra.jobs.smart_sync import BreakerState, SmartSyncService
from oodaloo.infra.web.errors import AppError, PermissionDenied
from oodaloo.runway.core.backtest import BacktestOut, BacktestService, NotEnoughHistory
from oodaloo.runway.core.books_version import BooksVersion, books_version
from oodaloo.runway.core.cache import runway_cache
from oodaloo.runway.core.forecast import HORIZON_DAYS, WEEKS, Week, WeekItem
from oodaloo.runway.core.schemas import (
    RecurringItemIn,
    RecurringItemPatch,
    ReserveFloorIn,
    ReserveIn,
    ReservePatch,
    RunwayOut,
    WeekOut,
    week_fields,
)
from oodaloo.runway.core.service import RunwayService, WeekOutOfRange
from oodaloo.runway.deps import BusinessContext, SessionDep, ThrottleDep
from oodaloo.runway.experiences.chart import runway_chart
from oodaloo.runway.experiences.phrases import day, money, percent, plural, weeks_and_days
from oodaloo.runway.experiences.web import PageBusiness, csrf_ok, render, require
from oodaloo.runway.routes.sync import SYNC_NOW_LIMIT, NotConnected, SyncJobs

# Until web.py registers the shared filters itself, the console (always mounted) does it for every page.

router = APIRouter(include_in_schema=False)

CsrfField = Annotated[str, Form()]
# How often the sync panel asks again: every few seconds while something is moving (a first sync, a run, a request
# just queued), otherwise each minute so "synced 3 minutes ago" stays true on a page left open.
POLL_BUSY = "every 3s"
POLL_IDLE = "every 60s"
# How long after "Sync now" the panel may say a sync is queued without one starting.
QUEUED_AT_MOST = timedelta(minutes=5)
# A week lists its largest items; the rest are totalled (see ``largest_items``).
WEEK_ITEMS_LISTED = 100


class FormExpired(PermissionDenied):
    code = "form_expired"
    message = "This form has expired (its security token did not match). Reload the page and try again."


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _check_form(request: Request, token: str) -> None:
    if not csrf_ok(request, token):
        raise FormExpired()


def _page(access: BusinessContext, active: str, **context: Any) -> dict[str, Any]:
    """What every console page's layout needs, and the page's own context."""
    return {
        "business": access.business,
        "grant": access.grant,
        "user": access.user,
        "active": active,
        "can_propose": access.grant.allows(Capability.PROPOSE),
        "can_act": access.grant.allows(Capability.ACT),
        **context,
    }


# ================================================================================================== the overview
@dataclass(frozen=True)
class WeekChange:
    """How the runway and cash moved since the snapshot of a week ago, and what happened in the books meanwhile."""

    since: date
    compared: bool  # a snapshot of a week ago exists: the runway and cash figures below are set
    runway_words: str
    runway_delta_days: int | None  # positive: longer; None when not compared or beyond the horizon both times
    cash_delta: Decimal | None
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class QBOTrouble:
    """QuickBooks answering badly for this company: SmartSync's circuit for its realm is open (or testing again)."""

    state: BreakerState

    @property
    def message(self) -> str:
        if self.state is BreakerState.OPEN:
            return (
                "QuickBooks is not answering for this company right now, so we paused calling it and will try again "
                "in a moment. Figures here are from the last successful sync."
            )
        return "QuickBooks had trouble a moment ago; we are checking whether it answers again."


@router.get("/businesses/{business_id}", response_class=HTMLResponse)
async def overview(request: Request, access: PageBusiness, session: SessionDep) -> HTMLResponse:
    """Runway at a glance: cash, runway, the change since last week, the chart, sync status, the prep tray."""
    business = access.business
    data = await QBODataService(session, business).get_console_data(business.today())
    context = _page(access, "overview", data=data, now=utcnow(), trouble=await _qbo_trouble(request, business))
    context["poll"] = _poll(data, queued=False)
    runway = await _runway(session, business) if data.synced else None
    if runway is not None:
        name = data.company_name or business.name
        context |= {"runway": runway, "chart": runway_chart(runway, name=name), "change": week_change(runway, data)}
    return render(request, "console/overview.html", context)


async def _runway(session: AsyncSession, business: Business) -> RunwayOut | None:
    try:
        return await RunwayService(session, business).summary()
    except MirrorNotSynced:  # the realm changed under us since the mirror was read: the first sync starts again
        return None


async def _qbo_trouble(request: Request, business: Business) -> QBOTrouble | None:
    """The realm's circuit as SmartSync sees it (shared by every process with Redis); None when calls go through."""
    smart_sync: SmartSyncService | None = getattr(request.app.state, "smart_sync", None)
    if smart_sync is None or business.qbo_realm_id is None:
        return None
    state = await smart_sync.circuit_state(business.qbo_realm_id)
    return None if state is BreakerState.CLOSED else QBOTrouble(state)


def _poll(data: ConsoleData, *, queued: bool) -> str:
    return POLL_BUSY if queued or not data.synced or data.sync.running is not None else POLL_IDLE


# ------------------------------------------------------------------------------------------- since last week
def week_change(runway: RunwayOut, data: ConsoleData) -> WeekChange:
    recent, then = data.recent, data.week_ago
    reasons = tuple(_reasons(data, runway.currency))
    if then is None:
        words = f"No figures were recorded a week ago yet; here is what happened since {day(recent.since)}."
        return WeekChange(recent.since, False, words, None, None, reasons)
    now_days, then_days = runway.runway.days, then.runway_days
    delta = None if now_days is None and then_days is None else _capped(now_days) - _capped(then_days)
    return WeekChange(
        since=then.day,
        compared=True,
        runway_words=_runway_change(now_days, then_days, then.day),
        runway_delta_days=delta,
        cash_delta=runway.starting_cash - then.cash,
        reasons=reasons,
    )


def _capped(days: int | None) -> int:
    """A runway beyond the horizon counts as the horizon when two are compared (as the daily snapshot compares)."""
    return HORIZON_DAYS if days is None else days


def _runway_words(days: int | None) -> str:
    return f"beyond {WEEKS} weeks" if days is None else weeks_and_days(days)


def _runway_change(now_days: int | None, then_days: int | None, then: date) -> str:
    if now_days is None and then_days is None:
        return f"Beyond {WEEKS} weeks, as on {day(then)}."
    delta = _capped(now_days) - _capped(then_days)
    if delta == 0:
        return f"Unchanged since {day(then)} ({_runway_words(then_days)})."
    longer = "longer" if delta > 0 else "shorter"
    change = weeks_and_days(abs(delta)).capitalize()
    return f"{change} {longer} than on {day(then)}, when it was {_runway_words(then_days)}."


def _reasons(data: ConsoleData, currency: str) -> list[str]:
    """What moved cash and the forecast since the day compared with, largest items named."""
    recent = data.recent
    reasons = [
        _activity_reason(recent.collected, currency, "Collected {total} in {count}", "customer payment", "from"),
        _activity_reason(recent.paid, currency, "Paid {total} in {count}", "bill payment", "to"),
        _activity_reason(recent.new_bills, currency, "{count} arrived, {total} in all", "new bill", "from"),
        _activity_reason(recent.new_invoices, currency, "Invoiced {total} in {count}", "new invoice", "to"),
    ]
    found = [reason for reason in reasons if reason is not None]
    if not found:
        return [f"No customer payments, bill payments, new bills or invoices are dated since {day(recent.since)}."]
    return found


def _activity_reason(activity: Activity, currency: str, shape: str, unit: str, preposition: str) -> str | None:
    if activity.count == 0:
        return None
    sentence = shape.format(total=money(activity.total, currency), count=plural(activity.count, unit))
    sentence = sentence[0].upper() + sentence[1:]
    if activity.count > 1 and activity.largest is not None:
        party = f" {preposition} {activity.largest_party}" if activity.largest_party else ""
        sentence += f"; the largest, {money(activity.largest, currency)}{party}"
    elif activity.largest_party:
        sentence += f" ({preposition} {activity.largest_party})"
    return sentence + "."


# ----------------------------------------------------------------------------------------------- a week's items
@router.get("/businesses/{business_id}/weeks/{n}", response_class=HTMLResponse)
async def week_page(request: Request, n: int, access: PageBusiness, session: SessionDep) -> HTMLResponse:
    """Week ``n``'s items and why each is dated there: a fragment for htmx, else a page of its own."""
    week = await _week(session, access.business, n)
    shown, rest = largest_items(week.items())
    context = _page(
        access,
        "overview",
        week=WeekOut(**week_fields(week)),
        shown=shown,
        rest=rest,
        currency=access.business.currency,
        weeks=WEEKS,
    )
    template = "console/week_items.html" if _is_htmx(request) else "console/week.html"
    return render(request, template, context)


async def _week(session: AsyncSession, business: Business, number: int) -> Week:
    """Week ``number`` of the forecast ``GET .../runway/weeks/{n}`` serves, under the same refusals, taken from the
    forecast itself: shaping a first week of thousands of overdue bills into the API's reply only to list its
    largest hundred would cost the page more than all else it does."""
    if not 1 <= number <= WEEKS:
        raise WeekOutOfRange(number)
    if not await mirror_synced(session, business):
        raise MirrorNotSynced()
    return (await runway_cache.current(session, business)).forecast.week(number)


@dataclass(frozen=True)
class OtherItems:
    """A week's items beyond those listed: how many, and what they bring in and take out together."""

    count: int
    inflows: Decimal
    outflows: Decimal


def largest_items(items: Sequence[WeekItem]) -> tuple[list[WeekItem], OtherItems | None]:
    """The ``WEEK_ITEMS_LISTED`` largest of a week's items, in date order, and a total of the others: a first week can
    hold thousands of overdue bills, more than a page can usefully list (the bills and chase pages list them all)."""
    if len(items) <= WEEK_ITEMS_LISTED:
        return list(items), None
    largest = sorted(range(len(items)), key=lambda index: items[index].amount, reverse=True)[:WEEK_ITEMS_LISTED]
    kept = set(largest)
    others = [item for index, item in enumerate(items) if index not in kept]
    rest = OtherItems(
        count=len(others),
        inflows=sum((item.amount for item in others if item.direction == "inflow"), Decimal(0)),
        outflows=sum((item.amount for item in others if item.direction == "outflow"), Decimal(0)),
    )
    return [items[index] for index in sorted(kept)], rest


# ------------------------------------------------------------------------------------------------------- sync
@router.get("/businesses/{business_id}/sync-status", response_class=HTMLResponse)
async def sync_panel(
    request: Request,
    access: PageBusiness,
    session: SessionDep,
    waiting: bool = False,
    asked: datetime | None = None,
) -> Response:
    """The sync panel's status, asked for again by itself; a page waiting for the first sync reloads once it is
    done. ``asked``: when "Sync now" was pressed, so the panel says a sync is queued until one has run since."""
    business = access.business
    data = await QBODataService(session, business).get_console_data(business.today())
    if waiting and data.synced:
        return Response(status_code=204, headers={"HX-Refresh": "true"})
    return await _render_sync(request, access, data, asked=asked if _still_queued(data, asked) else None)


def _still_queued(data: ConsoleData, asked: datetime | None) -> bool:
    """A sync asked for at ``asked`` has not started yet: nothing runs, nothing ended since, and it was asked for
    recently (a lost request is not announced as queued for ever: the sweep or the next press will run one)."""
    if asked is None or asked.tzinfo is None or utcnow() - asked > QUEUED_AT_MOST:
        return False
    sync = data.sync
    ended = [
        sync.last_success.finished_at if sync.last_success else None,
        sync.last_error.at if sync.last_error else None,
    ]
    return sync.running is None and not any(at is not None and at >= asked for at in ended)


@router.post("/businesses/{business_id}/sync", response_class=HTMLResponse)
async def sync_now(
    request: Request, access: PageBusiness, session: SessionDep, throttle: ThrottleDep, csrf_token: CsrfField = ""
) -> Response:
    """Ask for an incremental sync now (advisors and owners), as ``POST /api/businesses/{id}/sync`` does."""
    _check_form(request, csrf_token)
    require(access, Capability.PROPOSE)
    business = access.business
    notice, refused = "", None
    try:
        notice = await _request_sync(request, business.id, throttle)
    except AppError as error:  # not connected, or asked a moment ago
        if not _is_htmx(request):
            raise
        refused = error.message
    if not _is_htmx(request):
        return RedirectResponse(f"/businesses/{business.id}", status_code=303)
    data = await QBODataService(session, business).get_console_data(business.today())
    asked = None if refused is not None else utcnow()
    return await _render_sync(request, access, data, asked=asked, notice=notice, refused=refused)


async def _request_sync(request: Request, business_id: uuid.UUID, throttle: ThrottleDep) -> str:
    """Queue the business's sync job under the API's rules (connected; once a minute); the words for the panel."""
    connection = await request.app.state.qbo_connections.status(business_id)
    if connection.status != "connected":
        raise NotConnected()
    admission = await throttle.admit(f"sync-now:{business_id}", SYNC_NOW_LIMIT)
    if not admission.granted:
        raise AppError("This business was synced moments ago; try again in a minute.")
    jobs: SyncJobs = request.app.state.sync_requester
    queued = await jobs.request(business_id)
    return "Sync requested: it starts in a moment." if queued else "A sync was already waiting to run; it runs shortly."


async def _render_sync(
    request: Request,
    access: BusinessContext,
    data: ConsoleData,
    *,
    asked: datetime | None,
    notice: str = "",
    refused: str | None = None,
) -> HTMLResponse:
    context = _page(
        access,
        "overview",
        data=data,
        now=utcnow(),
        trouble=await _qbo_trouble(request, access.business),
        poll=_poll(data, queued=asked is not None),
        asked=asked,
        notice=notice,
        refused=refused,
    )
    return render(request, "console/_sync_state.html", context)


# ----------------------------------------------------------------------------------------------- track record
@dataclass(frozen=True)
class TrackRecord:
    """The backtest in words, or why there is none yet."""

    sentences: tuple[str, ...]
    result: BacktestOut | None


class TrackRecordCache:
    """Each business's track record for its current books version and date: a backtest replays a year of forecasts
    (seconds on a large company), so it is computed once per change of the books, like the runway, not per view."""

    def __init__(self, capacity: int = 64) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[uuid.UUID, tuple[tuple[date, BooksVersion], TrackRecord]] = OrderedDict()
        self._lock = threading.Lock()

    async def current(self, session: AsyncSession, business: Business) -> TrackRecord:
        key = (business.today(), await books_version(session, business.id))
        with self._lock:
            entry = self._entries.get(business.id)
            if entry is not None and entry[0] == key:
                self._entries.move_to_end(business.id)
                return entry[1]
        record = await _track_record(session, business)
        with self._lock:
            self._entries.pop(business.id, None)
            self._entries[business.id] = (key, record)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)
        return record


track_records = TrackRecordCache()


async def _track_record(session: AsyncSession, business: Business) -> TrackRecord:
    try:
        result = await BacktestService(session, business).run()
    except NotEnoughHistory as missing:
        return TrackRecord(
            (f"Not enough history yet to check the forecast against what happened. {missing.message}",), None
        )
    return TrackRecord(track_record_sentences(result), result)


def track_record_sentences(result: BacktestOut) -> tuple[str, ...]:
    """ "Over the last 12 weeks our 4-week forecast of collections was off by 32% on average; due dates alone were off
    by 110%." and the same for ending cash."""
    span = f"Over the last {plural(result.as_of_weeks, 'week')}"
    horizon = f"{result.horizon_weeks}-week"
    ours, naive = result.ours.collections_wape, result.naive.collections_wape
    if ours is None or naive is None:
        collections = f"{span} no invoice open at the start of a week was collected, so there is nothing to compare."
    else:
        collections = (
            f"{span} our {horizon} forecast of collections was off by {percent(ours)} on average; "
            f"due dates alone were off by {percent(naive)}."
        )
    cash = (
        f"Its forecast of ending cash was off by {money(result.ours.cash_mae, result.currency)} a week on average "
        f"(due dates alone: {money(result.naive.cash_mae, result.currency)})."
    )
    return collections, cash


@router.get("/businesses/{business_id}/track-record", response_class=HTMLResponse)
async def track_record(request: Request, access: PageBusiness, session: SessionDep) -> HTMLResponse:
    """The forecast's track record, loaded after the overview (it may take a moment the first time)."""
    record = await track_records.current(session, access.business)
    return render(request, "console/_chart_track_record.html", _page(access, "overview", record=record))


# ============================================================================================ reserves & recurring
SAVED = {
    "floor": "The reserve floor is saved.",
    "reserve-added": "The reserve is added.",
    "reserve-changed": "The reserve is saved.",
    "reserve-deleted": "The reserve is deleted.",
    "item-added": "The recurring item is added.",
    "item-changed": "The recurring item is saved.",
    "item-removed": "The recurring item is taken out of the forecast.",
    "item-restored": "The recurring item is back in the forecast.",
}
FormErrors = dict[str, dict[str, str]]  # form key -> field -> message
FormValues = dict[str, dict[str, str]]  # form key -> field -> what was typed
ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass
class Refused(Exception):
    """A settings form refused: its key, each field's message and what was typed, to show it again."""

    form: str
    errors: dict[str, str]
    values: dict[str, str]


@router.get("/businesses/{business_id}/settings", response_class=HTMLResponse)
async def settings_page(request: Request, access: PageBusiness, session: SessionDep, saved: str = "") -> HTMLResponse:
    return await _settings(request, access, session, saved=SAVED.get(saved))


async def _settings(
    request: Request,
    access: BusinessContext,
    session: AsyncSession,
    *,
    saved: str | None = None,
    refused: Refused | None = None,
) -> HTMLResponse:
    business = access.business
    today = business.today()
    reserves = ReserveService(session, business.id)
    earmarks = await reserves.earmarks()
    context = _page(
        access,
        "settings",
        today=today,
        floor=earmarks.floor,
        held_today=earmarks.held_on(today),
        reserves=await reserves.listed(),
        items=await _recurring_items(session, business, today),
        reserve_kinds=list(ReserveKind),
        categories=list(Category),
        cadences=list(Cadence),
        saved=saved,
        errors={refused.form: refused.errors} if refused else {},
        values={refused.form: refused.values} if refused else {},
    )
    return render(request, "console/settings.html", context, status_code=422 if refused else 200)


async def _recurring_items(session: AsyncSession, business: Business, today: date) -> Sequence[RecurringItem]:
    """The recurring items as the forecast has them: from the runway kept for the current books (detecting them
    reads the whole spending history; the runway did it already and is valid while the books, edits included, are
    unchanged), or found afresh while the mirror is not synced."""
    if await mirror_synced(session, business):
        return (await runway_cache.current(session, business)).basis.recurring
    return await RecurringService(session, business.id).items(today)


def _saved(business_id: uuid.UUID, what: str) -> RedirectResponse:
    return RedirectResponse(f"/businesses/{business_id}/settings?saved={what}", status_code=303)


async def _settings_write(
    request: Request,
    access: BusinessContext,
    session: AsyncSession,
    csrf_token: str,
    write: Callable[[], Any],
    saved: str,
) -> Response:
    """Run a settings form's write for an advisor or owner; a refusal shows the page again with the messages and
    rolls back whatever the write had begun (a reserve's amount set before its date was refused), so nothing of a
    refused form is kept. A savepoint rather than the request's whole transaction: the business and the member
    read for the page stay loaded."""
    _check_form(request, csrf_token)
    require(access, Capability.PROPOSE)
    try:
        async with session.begin_nested():
            await write()
    except Refused as refused:
        return await _settings(request, access, session, refused=refused)
    return _saved(access.business.id, saved)


def _form_values(form: Mapping[str, Any], fields: tuple[str, ...]) -> dict[str, str]:
    return {name: str(form.get(name, "")).strip() for name in fields}


def _amount_text(typed: str) -> str:
    """People type "1,200" or "$1,200.50": thousands separators and a dollar sign are dropped before the API's own
    strict reading of the amount, which refuses anything else it cannot be sure of."""
    return typed.replace(",", "").removeprefix("$").strip()


def _validated(model: type[ModelT], form_key: str, values: dict[str, str], body: dict[str, Any]) -> ModelT:
    try:
        return model.model_validate(body)
    except ValidationError as invalid:
        raise Refused(form_key, _messages(invalid), values) from None


def _messages(invalid: ValidationError) -> dict[str, str]:
    messages: dict[str, str] = {}
    for error in invalid.errors():
        field = str(error["loc"][0]) if error["loc"] else "form"
        messages.setdefault(field, _message(field, error["type"], error.get("ctx") or {}, error["msg"]))
    return messages


def _message(field: str, kind: str, ctx: dict[str, Any], default: str) -> str:
    if kind in ("missing", "string_too_short"):
        return "This is required."
    if field == "amount" and kind in ("value_error", "decimal_parsing", "decimal_max_places"):
        return "Enter an amount such as 1200.50: digits, and at most two after the point."
    if kind == "greater_than":
        return "Enter an amount above zero."
    if kind == "greater_than_equal":
        return "Enter zero or more."
    if kind == "decimal_max_digits":
        return "That amount is too large."
    if kind.startswith("date"):
        return "Enter a date as YYYY-MM-DD."
    if kind == "enum":
        return "Choose one of the options listed."
    if kind == "string_too_long":
        return f"At most {ctx.get('max_length')} characters."
    return default


async def _domain(write: Callable[[], Any], form_key: str, values: dict[str, str]) -> Any:
    """Run a domain write; its refusals of a field (a date in the past, ...) become the form's messages."""
    try:
        return await write()
    except AppError as refused:
        if refused.field is None or refused.status_code != 422:
            raise
        raise Refused(form_key, {refused.field: refused.message}, values) from None


# --------------------------------------------------------------------------------------------- reserve floor
@router.post("/businesses/{business_id}/settings/floor")
async def save_floor(
    request: Request, access: PageBusiness, session: SessionDep, csrf_token: CsrfField = ""
) -> Response:
    form = await request.form()

    async def write() -> None:
        values = _form_values(form, ("amount",))
        body = _validated(ReserveFloorIn, "floor", values, {"amount": _amount_text(values["amount"])})
        await ReserveService(session, access.business.id).set_floor(body.amount, actor_id=access.user.id)

    return await _settings_write(request, access, session, csrf_token, write, "floor")


# ------------------------------------------------------------------------------------------------- reserves
RESERVE_FIELDS = ("kind", "name", "amount", "until")


def _reserve_body(values: dict[str, str]) -> dict[str, Any]:
    return {
        "kind": values["kind"],
        "name": values["name"],
        "amount": _amount_text(values["amount"]),
        "until": values["until"] or None,
    }


@router.post("/businesses/{business_id}/settings/reserves")
async def add_reserve(
    request: Request, access: PageBusiness, session: SessionDep, csrf_token: CsrfField = ""
) -> Response:
    form = await request.form()

    async def write() -> None:
        values = _form_values(form, RESERVE_FIELDS)
        body = _validated(ReserveIn, "new-reserve", values, _reserve_body(values))
        service = ReserveService(session, access.business.id)
        await _domain(
            lambda: service.create(
                kind=body.kind,
                name=body.name,
                amount=body.amount,
                until=body.until,
                today=access.business.today(),
                actor_id=access.user.id,
            ),
            "new-reserve",
            values,
        )

    return await _settings_write(request, access, session, csrf_token, write, "reserve-added")


@router.post("/businesses/{business_id}/settings/reserves/{reserve_id}")
async def change_reserve(
    request: Request, reserve_id: uuid.UUID, access: PageBusiness, session: SessionDep, csrf_token: CsrfField = ""
) -> Response:
    form = await request.form()
    form_key = f"reserve-{reserve_id}"

    async def write() -> None:
        values = _form_values(form, RESERVE_FIELDS)
        # Every field is sent; an empty "until" holds the reserve until it is deleted, as "until": null does.
        body = _validated(ReservePatch, form_key, values, _reserve_body(values))
        service = ReserveService(session, access.business.id)
        await _domain(
            lambda: service.update(
                reserve_id,
                today=access.business.today(),
                actor_id=access.user.id,
                kind=body.kind,
                name=body.name,
                amount=body.amount,
                until=body.until,
            ),
            form_key,
            values,
        )

    return await _settings_write(request, access, session, csrf_token, write, "reserve-changed")


@router.post("/businesses/{business_id}/settings/reserves/{reserve_id}/delete")
async def delete_reserve(
    request: Request, reserve_id: uuid.UUID, access: PageBusiness, session: SessionDep, csrf_token: CsrfField = ""
) -> Response:
    async def write() -> None:
        await ReserveService(session, access.business.id).delete(reserve_id, actor_id=access.user.id)

    return await _settings_write(request, access, session, csrf_token, write, "reserve-deleted")


# ------------------------------------------------------------------------------------------ recurring items
ITEM_FIELDS = ("name", "category", "cadence", "amount", "next_date")
ItemId = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9+_-]+$")]


@router.post("/businesses/{business_id}/settings/recurring")
async def add_item(request: Request, access: PageBusiness, session: SessionDep, csrf_token: CsrfField = "") -> Response:
    form = await request.form()

    async def write() -> None:
        values = _form_values(form, ITEM_FIELDS)
        body = _validated(RecurringItemIn, "new-item", values, {**values, "amount": _amount_text(values["amount"])})
        service = RecurringService(session, access.business.id)
        await _domain(
            lambda: service.add(
                name=body.name,
                category=body.category,
                cadence=body.cadence,
                amount=body.amount,
                next_date=body.next_date,
                today=access.business.today(),
                actor_id=access.user.id,
            ),
            "new-item",
            values,
        )

    return await _settings_write(request, access, session, csrf_token, write, "item-added")


@router.post("/businesses/{business_id}/settings/recurring/{item_id}")
async def change_item(
    request: Request, item_id: ItemId, access: PageBusiness, session: SessionDep, csrf_token: CsrfField = ""
) -> Response:
    form = await request.form()
    form_key = f"item-{item_id}"

    async def write() -> None:
        values = _form_values(form, ITEM_FIELDS)
        service = RecurringService(session, access.business.id)
        today = access.business.today()
        current = await service.item(item_id, today)
        # Only what was changed is sent: a detected item keeps following what detection finds in the fields left as
        # they were; a field emptied on a detected item goes back to what detection found.
        sent = {name: value for name, value in values.items() if value != _shown(current, name)}
        body_values = {name: (value or None) for name, value in sent.items()}
        if "amount" in body_values and body_values["amount"] is not None:
            body_values["amount"] = _amount_text(body_values["amount"])
        body = _validated(RecurringItemPatch, form_key, values, body_values)
        changes = RecurringChanges(
            **{name: getattr(body, name) if name in body.model_fields_set else KEEP for name in ITEM_FIELDS}
        )
        await _domain(lambda: service.change(item_id, changes, today=today, actor_id=access.user.id), form_key, values)

    return await _settings_write(request, access, session, csrf_token, write, "item-changed")


def _shown(item: RecurringItem, field: str) -> str:
    """A recurring item's field as its form shows it."""
    if field == "amount":
        return str(item.amount)
    if field == "next_date":
        return item.next_date.isoformat() if item.next_date else ""
    return str(getattr(item, field))  # a category or cadence is a StrEnum: its value


@router.post("/businesses/{business_id}/settings/recurring/{item_id}/remove")
async def remove_item(
    request: Request, item_id: ItemId, access: PageBusiness, session: SessionDep, csrf_token: CsrfField = ""
) -> Response:
    async def write() -> None:
        today = access.business.today()
        await RecurringService(session, access.business.id).remove(item_id, today=today, actor_id=access.user.id)

    return await _settings_write(request, access, session, csrf_token, write, "item-removed")


@router.post("/businesses/{business_id}/settings/recurring/{item_id}/restore")
async def restore_item(
    request: Request, item_id: ItemId, access: PageBusiness, session: SessionDep, csrf_token: CsrfField = ""
) -> Response:
    async def write() -> None:
        today = access.business.today()
        service = RecurringService(session, access.business.id)
        await service.change(item_id, RecurringChanges(disabled=False), today=today, actor_id=access.user.id)

    return await _settings_write(request, access, session, csrf_token, write, "item-restored")
