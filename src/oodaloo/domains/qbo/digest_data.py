"""The mirror's data for the Friday digest, read through QBODataService: the late invoices most worth chasing (with
why), the bills due this week (with their Must Pay / Can Delay class), the totals owed both ways, the plans waiting
for the owner's approval, and when the mirror was last brought up to date. Everything from the mirror and people's
decisions; nothing from QuickBooks itself."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.ap.classify import BillDecision
from oodaloo.domains.ap.decisions import BillClass
from oodaloo.domains.ap.history import OpenBill, load_open_bills
from oodaloo.domains.ap.payables import load_decision_inputs, window_of
from oodaloo.domains.ar.behaviour import learn_behaviour
from oodaloo.domains.ar.collections import OpenReceivables
from oodaloo.domains.ar.history import ZERO, load_receivables
from oodaloo.domains.core.models import Business, User
from oodaloo.domains.core.plan_models import Plan, PlanItem, PlanStatus
from oodaloo.domains.qbo.mirror_models import SyncOutcome
from oodaloo.domains.qbo.mirror_repository import SyncRunRepository

# A digest is one page: the few invoices most worth a call, and every bill due this week up to this many.
TOP_LATE_INVOICES = 5
MAX_BILLS_DUE = 10


@dataclass(frozen=True)
class LateInvoice:
    invoice_id: str
    doc_number: str | None
    customer_name: str
    balance: Decimal
    due_date: date
    days_overdue: int
    reason: str  # why it ranks where it does (the chase list's reason)


@dataclass(frozen=True)
class BillDue:
    bill_id: str
    doc_number: str | None
    vendor_name: str
    balance: Decimal
    due_date: date | None  # None: the bill has no date at all, so it counts as due now
    bill_class: BillClass
    reason: str  # why it is Must Pay or Can Delay


@dataclass(frozen=True)
class PendingApproval:
    """A plan proposed to the owner and not yet approved."""

    plan_id: uuid.UUID
    title: str
    items: int
    proposed_at: datetime | None
    proposed_by: str | None  # the proposer's name


@dataclass(frozen=True)
class DigestData:
    """One business's week as the mirror shows it on ``as_of`` (the business's own date)."""

    as_of: date
    late_invoices: tuple[LateInvoice, ...]  # the TOP_LATE_INVOICES most worth chasing
    late_count: int
    late_total: Decimal
    receivables_total: Decimal  # everything open, late or not
    bills_due: tuple[BillDue, ...]  # due from today to Sunday (or undated), soonest first, MAX_BILLS_DUE at most
    bills_due_count: int
    bills_due_total: Decimal
    payables_total: Decimal  # every open bill's balance
    pending_approvals: tuple[PendingApproval, ...]
    synced_at: datetime | None  # when the last successful sync of the mirror finished


async def load_digest_data(
    session: AsyncSession, business: Business, today: date, receivables: OpenReceivables | None = None
) -> DigestData:
    """``receivables``: today's, when the caller has them already (the runway keeps them); else read here."""
    if receivables is None:
        receivables = await _open_receivables(session, business.id, today)
    late, late_count, late_total, receivables_total = _receivables(receivables)
    due, due_count, due_total, payables_total = await _payables(session, business.id, today)
    run = await SyncRunRepository(session, business.id).latest(outcome=SyncOutcome.SUCCEEDED)
    return DigestData(
        as_of=today,
        late_invoices=late,
        late_count=late_count,
        late_total=late_total,
        receivables_total=receivables_total,
        bills_due=due,
        bills_due_count=due_count,
        bills_due_total=due_total,
        payables_total=payables_total,
        pending_approvals=await _pending_approvals(session, business.id),
        synced_at=run.finished_at if run is not None else None,
    )


async def _open_receivables(session: AsyncSession, business_id: uuid.UUID, today: date) -> OpenReceivables:
    receivables = await load_receivables(session, business_id)
    return OpenReceivables(tuple(receivables.open_as_of(today)), learn_behaviour(receivables, today))


def _receivables(receivables: OpenReceivables) -> tuple[tuple[LateInvoice, ...], int, Decimal, Decimal]:
    ranked = receivables.ranked()
    late = tuple(
        LateInvoice(
            invoice_id=item.invoice.invoice_id,
            doc_number=item.invoice.doc_number,
            customer_name=item.invoice.customer_name,
            balance=item.invoice.balance,
            due_date=item.invoice.due_date,
            days_overdue=item.invoice.days_overdue,
            reason=item.reason,
        )
        for item in ranked[:TOP_LATE_INVOICES]
    )
    late_total = sum((item.invoice.balance for item in ranked), ZERO)
    return late, len(ranked), late_total, sum((invoice.balance for invoice in receivables.open_invoices), ZERO)


async def _payables(
    session: AsyncSession, business_id: uuid.UUID, today: date
) -> tuple[tuple[BillDue, ...], int, Decimal, Decimal]:
    bills = [bill for bill in await load_open_bills(session, business_id) if bill.balance > 0]
    decisions = await load_decision_inputs(session, business_id)
    due = sorted(
        (bill for bill in bills if window_of(bill.effective_due_date, today) == "this_week"),
        key=lambda bill: (bill.effective_due_date or today, -bill.balance, bill.bill_id),
    )
    listed = tuple(_bill_due(bill, decisions.decide(bill, today)) for bill in due[:MAX_BILLS_DUE])
    due_total = sum((bill.balance for bill in due), ZERO)
    return listed, len(due), due_total, sum((bill.balance for bill in bills), ZERO)


def _bill_due(bill: OpenBill, decision: BillDecision) -> BillDue:
    return BillDue(
        bill_id=bill.bill_id,
        doc_number=bill.doc_number,
        vendor_name=bill.vendor_name,
        balance=bill.balance,
        due_date=bill.effective_due_date,
        bill_class=decision.klass,
        reason=decision.reason,
    )


async def _pending_approvals(session: AsyncSession, business_id: uuid.UUID) -> tuple[PendingApproval, ...]:
    counts = (
        select(PlanItem.plan_id, func.count().label("item_count"))
        .where(PlanItem.business_id == business_id)
        .group_by(PlanItem.plan_id)
        .subquery()
    )
    statement = (
        select(Plan, counts.c.item_count, User.display_name)
        .outerjoin(counts, counts.c.plan_id == Plan.id)
        .outerjoin(User, User.id == Plan.proposed_by)
        .where(Plan.business_id == business_id, Plan.status == PlanStatus.PROPOSED)
        .order_by(Plan.proposed_at, Plan.id)
    )
    return tuple(
        PendingApproval(plan.id, plan.title, count or 0, plan.proposed_at, proposer)
        for plan, count, proposer in (await session.execute(statement)).all()
    )
