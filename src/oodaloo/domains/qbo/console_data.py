"""What the console's overview needs from the mirror, in one cheap read: the company's name, the QBO connection and
sync status, a first sync's progress, open bills and invoices, and what happened in the books since the daily
snapshot of a week ago (collections, bill payments, new bills and invoices), the reasons the runway moved.

Every figure is an aggregate answered from the mirror's indexes ((business_id, status), (business_id, txn_date)), so
the read costs the same few milliseconds for a company with 5,000 open bills as for one with 50.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.core.models import Business
from oodaloo.domains.core.snapshots import DailySnapshot, SnapshotRepository
from oodaloo.domains.qbo.auth import ConnectionState
from oodaloo.domains.qbo.mirror_models import (
    MIRRORED,
    SINGLETONS,
    MirroredBill,
    MirroredBillPayment,
    MirroredCompanyInfo,
    MirroredCustomer,
    MirroredInvoice,
    MirroredPayment,
    MirroredVendor,
    MirrorStatus,
)
from oodaloo.domains.qbo.mirror_repository import FullSyncProgressRepository, SyncStateRepository
from oodaloo.domains.qbo.repository import QBOConnectionRepository
from oodaloo.domains.qbo.sync_status import SyncStatus, SyncStatusService
from oodaloo.infra.db.base import utcnow

ZERO = Decimal("0.00")
# "Since last week" compares with the snapshot of seven days ago; when that day has none (the snapshot job missed
# it), the latest one before it, if it is at most a week older still: a comparison with a month ago is another story.
WEEK = timedelta(days=7)
OLDEST_COMPARED = timedelta(days=14)
# The entity types a first (full) sync copies page by page; the singletons are read on their own.
PAGED_ENTITIES = len(MIRRORED) - len(SINGLETONS)


@dataclass(frozen=True)
class Activity:
    """Transactions of one kind dated within a window: how many, their total, and the largest with its party."""

    count: int
    total: Decimal
    largest: Decimal | None
    largest_party: str | None  # the customer or vendor of the largest; None when unnamed in the mirror


@dataclass(frozen=True)
class RecentActivity:
    """What the books record dated after ``since`` up to ``today`` (both days of the business's calendar)."""

    since: date
    today: date
    collected: Activity  # customer payments received
    paid: Activity  # bill payments made
    new_bills: Activity
    new_invoices: Activity


@dataclass(frozen=True)
class PastFigures:
    """The figures of a daily snapshot: cash and runway as they stood at the end of ``day``."""

    day: date
    cash: Decimal
    runway_days: int | None  # None: beyond the horizon
    horizon_days: int


@dataclass(frozen=True)
class OpenItems:
    """Open bills and invoices (a balance left), and those past their due date."""

    bills: int
    bills_total: Decimal
    bills_overdue: int
    invoices: int
    invoices_total: Decimal
    invoices_overdue: int
    invoices_overdue_total: Decimal


@dataclass(frozen=True)
class FirstSyncProgress:
    """A first sync under way: of the ``total`` entity types it copies, ``done`` are finished."""

    done: int
    total: int


@dataclass(frozen=True)
class ConsoleData:
    """One business's mirror as the console's overview shows it, as of ``today`` in its time zone."""

    business_id: uuid.UUID
    today: date
    company_name: str | None  # QBO's name for the company; None before the first sync
    connection: ConnectionState
    synced: bool  # a first full sync of the connected realm completed: the mirror's figures mean something
    first_sync: FirstSyncProgress | None  # while not synced: how far the first sync has got
    sync: SyncStatus
    open_items: OpenItems
    week_ago: PastFigures | None  # the snapshot compared with, when there is one
    recent: RecentActivity

    @property
    def needs_reconnect(self) -> bool:
        return self.connection.status == "needs_reconnect"

    @property
    def connected(self) -> bool:
        return self.connection.status == "connected"


async def load_console_data(session: AsyncSession, business: Business, today: date) -> ConsoleData:
    """The overview's mirror data for ``business`` as of ``today`` (its date), read through the caller's session."""
    connection = ConnectionState.of(business.id, await QBOConnectionRepository(session, business.id).current())
    state = await SyncStateRepository(session, business.id).current()
    synced = state is not None and state.cdc_cursor is not None and state.realm_id == business.qbo_realm_id
    snapshot = await _week_ago(session, business.id, today)
    since = snapshot.day if snapshot is not None else today - WEEK
    return ConsoleData(
        business_id=business.id,
        today=today,
        company_name=await _company_name(session, business.id),
        connection=connection,
        synced=synced,
        first_sync=None if synced else await _first_sync_progress(session, business.id),
        sync=await SyncStatusService(session).status(business, utcnow()),
        open_items=await _open_items(session, business.id, today),
        week_ago=_past(snapshot) if snapshot is not None else None,
        recent=await _recent(session, business.id, since, today),
    )


# ----------------------------------------------------------------------------------------------- the pieces
def _live(model: Any, business_id: uuid.UUID) -> ColumnElement[bool]:
    """The business's rows of ``model`` that count: not deleted, not voided."""
    condition: ColumnElement[bool] = and_(model.business_id == business_id, model.status == MirrorStatus.ACTIVE)
    return condition


async def _company_name(session: AsyncSession, business_id: uuid.UUID) -> str | None:
    statement = select(MirroredCompanyInfo.company_name).where(_live(MirroredCompanyInfo, business_id)).limit(1)
    name: str | None = await session.scalar(statement)
    return name


async def _first_sync_progress(session: AsyncSession, business_id: uuid.UUID) -> FirstSyncProgress:
    progress = await FullSyncProgressRepository(session, business_id).by_entity()
    return FirstSyncProgress(done=sum(1 for row in progress.values() if row.done), total=PAGED_ENTITIES)


async def _week_ago(session: AsyncSession, business_id: uuid.UUID, today: date) -> DailySnapshot | None:
    # latest_before(day) is strictly before: before today - 6 days is on or before a week ago.
    snapshot = await SnapshotRepository(session, business_id).latest_before(today - WEEK + timedelta(days=1))
    if snapshot is None or snapshot.day < today - OLDEST_COMPARED:
        return None
    return snapshot


def _past(snapshot: DailySnapshot) -> PastFigures:
    return PastFigures(snapshot.day, snapshot.cash, snapshot.runway_days, snapshot.horizon_days)


async def _open_items(session: AsyncSession, business_id: uuid.UUID, today: date) -> OpenItems:
    """Open bills and invoices with their totals and those past due, in one round trip (a union of two scans of the
    open rows, each answered from the (business_id, status) index)."""
    parts = [_open(model, business_id, today) for model in (MirroredBill, MirroredInvoice)]
    rows = {row[0]: row[1:] for row in (await session.execute(union_all(*parts))).all()}
    bills, invoices = rows["bill"], rows["invoice"]
    return OpenItems(
        bills=int(bills[0]),
        bills_total=Decimal(bills[1] or 0),
        bills_overdue=int(bills[2]),
        invoices=int(invoices[0]),
        invoices_total=Decimal(invoices[1] or 0),
        invoices_overdue=int(invoices[2]),
        invoices_overdue_total=Decimal(invoices[3] or 0),
    )


_OpenRow = tuple[str, int, Decimal | None, int, Decimal | None]


def _open(model: type[MirroredBill] | type[MirroredInvoice], business_id: uuid.UUID, today: date) -> Select[*_OpenRow]:
    """(kind, open count, open total, overdue count, overdue total) of ``model``'s open rows."""
    overdue = model.due_date < today
    kind = "bill" if model is MirroredBill else "invoice"
    return select(
        literal(kind),
        func.count(),
        func.coalesce(func.sum(model.balance), ZERO),
        func.count().filter(overdue),
        func.coalesce(func.sum(model.balance).filter(overdue), ZERO),
    ).where(_live(model, business_id), model.balance > 0)


# The kinds of activity the change since last week names: (kind, table, the table of its party, the party column).
_ACTIVITY: tuple[tuple[str, Any, Any, str], ...] = (
    ("collected", MirroredPayment, MirroredCustomer, "customer_id"),
    ("paid", MirroredBillPayment, MirroredVendor, "vendor_id"),
    ("new_bills", MirroredBill, MirroredVendor, "vendor_id"),
    ("new_invoices", MirroredInvoice, MirroredCustomer, "customer_id"),
)


async def _recent(session: AsyncSession, business_id: uuid.UUID, since: date, today: date) -> RecentActivity:
    """Each kind's count and total, then each kind's largest with its party's name: two round trips for the four
    kinds (unions of statements each answered from the (business_id, txn_date) index)."""
    totals = union_all(
        *(
            select(literal(kind), func.count(), func.coalesce(func.sum(model.total_amt), ZERO)).where(
                _dated(model, business_id, since, today)
            )
            for kind, model, _, _ in _ACTIVITY
        )
    )
    counted = {kind: (int(count), Decimal(total or 0)) for kind, count, total in (await session.execute(totals)).all()}
    largest = [
        _largest(kind, model, party, column, business_id, since, today) for kind, model, party, column in _ACTIVITY
    ]
    found = {kind: (amount, name) for kind, amount, name in (await session.execute(union_all(*largest))).all()}
    activity = {
        kind: Activity(count, total, *found.get(kind, (None, None))) if count else Activity(0, ZERO, None, None)
        for kind, (count, total) in counted.items()
    }
    return RecentActivity(
        since, today, activity["collected"], activity["paid"], activity["new_bills"], activity["new_invoices"]
    )


def _dated(model: Any, business_id: uuid.UUID, since: date, today: date) -> ColumnElement[bool]:
    return and_(_live(model, business_id), model.txn_date > since, model.txn_date <= today)


def _largest(
    kind: str, model: Any, party: Any, column: str, business_id: uuid.UUID, since: date, today: date
) -> Select[Any]:
    """``model``'s largest transaction dated after ``since`` up to ``today``, named by its customer or vendor (as a
    subquery: a member of a union cannot order and limit itself on SQLite)."""
    ranked = (
        select(literal(kind).label("kind"), model.total_amt.label("amount"), party.name.label("party"))
        .outerjoin(party, and_(party.business_id == model.business_id, party.qbo_id == getattr(model, column)))
        .where(_dated(model, business_id, since, today))
        .order_by(model.total_amt.desc(), model.qbo_id)
        .limit(1)
        .subquery()
    )
    return select(ranked.c.kind, ranked.c.amount, ranked.c.party)
