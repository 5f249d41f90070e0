"""The advisor portfolio: every business the user reaches (memberships and firm engagements) with its runway, cash,
overdue receivables, bills due this week, hygiene score and plans awaiting approval, riskiest first; and the client
switcher every console page can carry.

Built to stay fast for an advisor with dozens of clients: the runway and cash come from the process's runway cache
(one version query per client when nothing changed), the hygiene score from the prep tray's ``hygiene_of`` (kept the
same way, ``HygieneCache``), everything else from a handful of grouped queries over all the clients at once — never
a query per invoice or bill.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.core.models import Business, User
from oodaloo.domains.core.plan_models import Plan, PlanStatus
from oodaloo.domains.core.service import BusinessService, BusinessWithRole
from oodaloo.domains.qbo.mirror_models import MirroredBill, MirroredInvoice, MirrorStatus, SyncState
from oodaloo.domains.qbo.models import ConnectionStatus, QBOConnection
from oodaloo.infra.db.base import utcnow
from oodaloo.runway.core.books_version import BooksVersion, books_version
from oodaloo.runway.core.cache import runway_cache
from oodaloo.runway.core.forecast import HORIZON_DAYS, Runway
from oodaloo.runway.deps import OptionalCaller, SessionDep
from oodaloo.runway.experiences.onboarding import console_path
from oodaloo.runway.experiences.tray import Hygiene, hygiene_of
from oodaloo.runway.experiences.web import PageNotFound, SignInRequired, render

router = APIRouter(include_in_schema=False)

ZERO = Decimal("0.00")
# "Bills due this week": open bills due within the next seven days (today included), and those already late.
DUE_WITHIN_DAYS = 7
# A runway shorter than four weeks is flagged: a month is about the least time to chase, delay or borrow in.
RUNWAY_AT_RISK_DAYS = 28

# Hygiene scores kept: a few bytes each, so every client of a large firm's advisors fits.
HYGIENE_CAPACITY = 1024

Stage = Literal["ready", "first_sync", "not_connected"]
# Clients with figures first (riskiest first), then those whose books are being copied, then those not connected.
_STAGE_ORDER: dict[Stage, int] = {"ready": 0, "first_sync": 1, "not_connected": 2}


@dataclass(frozen=True)
class Totals:
    amount: Decimal = ZERO
    count: int = 0


@dataclass(frozen=True)
class ClientRow:
    """One client business as the portfolio shows it. ``runway``, ``cash`` and ``hygiene`` are None until its
    mirror completed a first sync (an empty mirror proves nothing)."""

    entry: BusinessWithRole
    stage: Stage
    reconnect_needed: bool
    runway: Runway | None
    cash: Decimal | None
    overdue_receivables: Totals
    bills_due: Totals
    due_by: date
    hygiene: Hygiene | None
    pending_approvals: int

    @property
    def business(self) -> Business:
        return self.entry.business

    @property
    def at_risk(self) -> bool:
        return self.runway is not None and self.runway.days is not None and self.runway.days < RUNWAY_AT_RISK_DAYS

    @property
    def href(self) -> str:
        return console_path(self.business.id)

    def risk(self) -> tuple[int, int, Decimal, str]:
        """Sort key: shortest runway first (beyond the horizon counts as longer than any), then the most overdue."""
        days = HORIZON_DAYS + 1 if self.runway is None or self.runway.days is None else self.runway.days
        return (_STAGE_ORDER[self.stage], days, -self.overdue_receivables.amount, self.business.name.casefold())


class HygieneCache:
    """Each business's hygiene score as last computed, served again while its date and books version
    (``runway.core.books_version``) are those it was computed for: the score reads only the mirror, and the version
    moves with any change of a mirror row. The version is read before the score, so what is kept is never older than
    its key (as in ``runway.core.cache``). Least recently used businesses make room beyond ``capacity``."""

    def __init__(self, capacity: int = HYGIENE_CAPACITY) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[uuid.UUID, tuple[tuple[date, BooksVersion], Hygiene]] = OrderedDict()
        self._lock = threading.Lock()  # shared by the event loops of one process

    async def score(self, session: AsyncSession, business: Business, today: date) -> Hygiene:
        key = (today, await books_version(session, business.id))
        with self._lock:
            kept = self._entries.get(business.id)
            if kept is not None and kept[0] == key:
                self._entries.move_to_end(business.id)
                return kept[1]
        hygiene = await hygiene_of(session, business, today)
        with self._lock:
            self._entries[business.id] = (key, hygiene)
            self._entries.move_to_end(business.id)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
        return hygiene


hygiene_cache = HygieneCache()


# --------------------------------------------------------------------------------------------- grouped queries
# Every query below is limited to the ids ``BusinessService.list_for`` returned: the user's access decides the rows.


async def _connections(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, bool]:
    """Each connected-or-once-connected client: whether its connection still works (connected, refresh token alive)."""
    statement = select(QBOConnection.business_id, QBOConnection.status, QBOConnection.refresh_token_expires_at).where(
        QBOConnection.business_id.in_(ids)
    )
    now = utcnow()
    return {
        business_id: status is ConnectionStatus.CONNECTED and (expires is None or expires > now)
        for business_id, status, expires in (await session.execute(statement)).all()
    }


async def _synced_realms(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The realm each client's mirror completed a first sync of."""
    statement = select(SyncState.business_id, SyncState.realm_id).where(
        SyncState.business_id.in_(ids), SyncState.cdc_cursor.is_not(None)
    )
    return {business_id: realm_id for business_id, realm_id in (await session.execute(statement)).all()}


async def _pending_approvals(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    statement = (
        select(Plan.business_id, func.count())
        .where(Plan.business_id.in_(ids), Plan.status == PlanStatus.PROPOSED)
        .group_by(Plan.business_id)
    )
    return {business_id: int(count) for business_id, count in (await session.execute(statement)).all()}


def _by_day(businesses: Iterable[Business]) -> dict[date, list[uuid.UUID]]:
    """Clients grouped by their own today (their time zones): one query per distinct date, usually one or two."""
    grouped: dict[date, list[uuid.UUID]] = defaultdict(list)
    for business in businesses:
        grouped[business.today()].append(business.id)
    return grouped


async def _open_totals(
    session: AsyncSession, model: type[MirroredInvoice] | type[MirroredBill], ids: list[uuid.UUID], due_before: date
) -> dict[uuid.UUID, Totals]:
    """Open balances (active, unpaid) due before ``due_before``, per client. Without a due date a document is due
    on its own date (QuickBooks fills the due date in from the terms, so it is rarely missing)."""
    due = func.coalesce(model.due_date, model.txn_date)
    statement = (
        select(model.business_id, func.sum(model.balance), func.count())
        .where(model.business_id.in_(ids), model.status == MirrorStatus.ACTIVE, model.balance > 0, due < due_before)
        .group_by(model.business_id)
    )
    rows = (await session.execute(statement)).all()
    # Only documents with a balance are summed, so a group's sum is never null; money stays Decimal on both databases.
    return {business_id: Totals(Decimal(amount or ZERO), int(count)) for business_id, amount, count in rows}


async def _receivables_and_payables(
    session: AsyncSession, businesses: Sequence[Business]
) -> tuple[dict[uuid.UUID, Totals], dict[uuid.UUID, Totals]]:
    """Overdue receivables (due before today) and bills due this week (due before today + 7 days), per client."""
    overdue: dict[uuid.UUID, Totals] = {}
    bills_due: dict[uuid.UUID, Totals] = {}
    for today, ids in _by_day(businesses).items():
        overdue |= await _open_totals(session, MirroredInvoice, ids, today)
        bills_due |= await _open_totals(session, MirroredBill, ids, today + timedelta(days=DUE_WITHIN_DAYS))
    return overdue, bills_due


# ----------------------------------------------------------------------------------------------- the portfolio
@dataclass(frozen=True)
class _Facts:
    """What the grouped queries found for all the clients at once."""

    working: dict[uuid.UUID, bool]
    synced: frozenset[uuid.UUID]
    approvals: dict[uuid.UUID, int]
    overdue: dict[uuid.UUID, Totals]
    bills_due: dict[uuid.UUID, Totals]


async def _facts(session: AsyncSession, entries: Sequence[BusinessWithRole]) -> _Facts:
    ids = [entry.business.id for entry in entries]
    realms = await _synced_realms(session, ids)
    # Synced means of the company it is linked to now: a mirror of another company proves nothing about this one.
    synced = [
        e.business for e in entries if e.business.qbo_realm_id and realms.get(e.business.id) == e.business.qbo_realm_id
    ]
    overdue, bills_due = await _receivables_and_payables(session, synced)
    return _Facts(
        working=await _connections(session, ids),
        synced=frozenset(business.id for business in synced),
        approvals=await _pending_approvals(session, ids),
        overdue=overdue,
        bills_due=bills_due,
    )


async def _row(session: AsyncSession, entry: BusinessWithRole, facts: _Facts) -> ClientRow:
    business = entry.business
    today = business.today()
    common: dict[str, Any] = {
        "entry": entry,
        "reconnect_needed": business.id in facts.working and not facts.working[business.id],
        "overdue_receivables": facts.overdue.get(business.id, Totals()),
        "bills_due": facts.bills_due.get(business.id, Totals()),
        "due_by": today + timedelta(days=DUE_WITHIN_DAYS - 1),
        "pending_approvals": facts.approvals.get(business.id, 0),
    }
    if business.id not in facts.synced:
        stage: Stage = "first_sync" if facts.working.get(business.id) else "not_connected"
        return ClientRow(stage=stage, runway=None, cash=None, hygiene=None, **common)
    forecast = (await runway_cache.current(session, business)).forecast
    hygiene = await hygiene_cache.score(session, business, today)
    return ClientRow(stage="ready", runway=forecast.runway, cash=forecast.starting_cash, hygiene=hygiene, **common)


async def portfolio_rows(session: AsyncSession, entries: Sequence[BusinessWithRole]) -> list[ClientRow]:
    """Every entry as a row, riskiest first."""
    facts = await _facts(session, entries)
    rows = [await _row(session, entry, facts) for entry in entries]
    return sorted(rows, key=ClientRow.risk)


def _signed_in(caller: OptionalCaller) -> User:
    if caller is None:
        raise SignInRequired()
    return caller.user


@router.get("/portfolio", response_class=HTMLResponse)
async def portfolio(request: Request, caller: OptionalCaller, session: SessionDep) -> Response:
    """Every client with its figures, riskiest first; each opens its console."""
    user = _signed_in(caller)
    rows = await portfolio_rows(session, await BusinessService(session).list_for(user))
    now: datetime = utcnow()
    return render(request, "console/portfolio.html", {"user": user, "rows": rows, "now": now})


@router.get("/portfolio/switcher", response_class=HTMLResponse)
async def switcher(
    request: Request,
    caller: OptionalCaller,
    session: SessionDep,
    current: Annotated[str, Query()] = "",
) -> Response:
    """The client switcher alone (for a page that loads it with htmx); empty for a user with one business."""
    user = _signed_in(caller)
    entries = await BusinessService(session).list_for(user)
    return render(request, "console/_switcher.html", {"switcher": entries, "current_id": current})


@router.get("/portfolio/open")
async def open_client(caller: OptionalCaller, session: SessionDep, business: Annotated[str, Query()] = "") -> Response:
    """The switcher's target: the chosen client's console (only a business the user reaches)."""
    user = _signed_in(caller)
    try:
        business_id = uuid.UUID(business)
    except ValueError:
        raise PageNotFound() from None
    if await BusinessService(session).access(business_id, user) is None:
        raise PageNotFound()
    return RedirectResponse(console_path(business_id), status_code=303)
