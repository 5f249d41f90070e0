"""What a business's forecast is made of, gathered from the domains: cash in the bank (``core.cash``), each open
invoice at the date its customer's habits make likely (``ar``), each open bill at its planned pay date (``ap``), the
recurring outflows found in the history or entered by people (``ap.recurring``), and the reserves and floor.

Beside the open invoices, the invoices a customer is billed on a schedule (a retainer) and not issued yet are
forecast too (``recurring_inflows``): without them the forecast would see a month of revenue against three of costs.

For today, or as of a past day D: then every figure is what the books said at the end of D (transactions dated on
or before it), without what people decided since (bill plans, recurring-item changes, reserves), which were not
known on D. The loaders read the mirror once; ``assemble`` is pure, so a replay of many past days loads once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.ap.classify import BillDecision
from oodaloo.domains.ap.history import OpenBill, Payables, load_payables
from oodaloo.domains.ap.payables import DecisionInputs, load_decision_inputs
from oodaloo.domains.ap.recurring import RecurringItem, RecurringService, SpendingHistory, load_spending_history
from oodaloo.domains.ap.scheduled import ScheduledOutflow, load_scheduled_payments
from oodaloo.domains.ar.behaviour import Behaviours, learn_behaviour
from oodaloo.domains.ar.collections import OpenReceivables
from oodaloo.domains.ar.history import OpenInvoice, Receivables, load_receivables
from oodaloo.domains.core.cash import CashLedger, load_cash_ledger
from oodaloo.domains.core.models import Business
from oodaloo.domains.core.reserves import Earmarks, ReserveService
from oodaloo.infra.collector import collector_paused
from oodaloo.runway.core.forecast import HORIZON_DAYS, ZERO, ForecastInputs, Inflow, Outflow, Reserve
from oodaloo.runway.core.recurring_inflows import InvoiceSeries, detect_invoicing, expected_invoices

NO_EARMARKS = Earmarks((), ZERO)
NO_DECISIONS = DecisionInputs({}, {})


@dataclass(frozen=True)
class Books:
    """A business's history, loaded once from its mirror, and the decisions people made about it."""

    business_id: uuid.UUID
    timezone: str
    receivables: Receivables
    payables: Payables
    ledger: CashLedger
    spending: SpendingHistory
    decisions: DecisionInputs
    earmarks: Earmarks
    scheduled: tuple[ScheduledOutflow, ...] = ()  # payments scheduled and not yet made (earmarked)


@dataclass(frozen=True)
class RunwayBasis:
    """The forecast's inputs and what stands beside them: the trailing burn and the recurring items (in the
    forecast or not, with why)."""

    inputs: ForecastInputs
    burn: Decimal  # the average weekly net outflow over the trailing 90 days
    recurring: tuple[RecurringItem, ...]
    invoicing: tuple[InvoiceSeries, ...]
    receivables: OpenReceivables  # the open invoices and customers' habits the inflows were dated from


async def load_books(session: AsyncSession, business: Business) -> Books:
    return Books(
        business_id=business.id,
        timezone=business.timezone,
        receivables=await load_receivables(session, business.id),
        payables=await load_payables(session, business.id),
        ledger=await load_cash_ledger(session, business.id),
        spending=await load_spending_history(session, business.id),
        decisions=await load_decision_inputs(session, business.id),
        earmarks=await ReserveService(session, business.id).earmarks(),
        scheduled=tuple(await load_scheduled_payments(session, business.id)),
    )


async def runway_basis(session: AsyncSession, business: Business, as_of: date | None = None) -> RunwayBasis:
    """The basis of ``business``'s forecast today (its own date), or as of a past day."""
    books = await load_books(session, business)
    today = business.today()
    day = today if as_of is None else as_of
    if day > today:
        raise ValueError(f"a forecast as of {day} is in the future (today is {today})")
    replay = day < today
    recurring = await RecurringService(session, business.id).items(day, with_edits=not replay, history=books.spending)
    return basis_of(books, day, recurring, replay=replay)


@collector_paused()  # tens of thousands of items built and kept: no collector passes over them meanwhile
def basis_of(books: Books, day: date, recurring: Sequence[RecurringItem], *, replay: bool) -> RunwayBasis:
    """The basis as of ``day`` from books already loaded (a replay leaves out people's decisions)."""
    decisions, earmarks = (NO_DECISIONS, NO_EARMARKS) if replay else (books.decisions, books.earmarks)
    behaviours = learn_behaviour(books.receivables, day)
    open_invoices = tuple(books.receivables.open_as_of(day))
    invoicing = detect_invoicing(books.receivables, day)
    until = day + timedelta(days=HORIZON_DAYS)
    inputs = assemble(
        today=day,
        timezone=books.timezone,
        starting_cash=books.ledger.cash_as_of(day),
        invoices=open_invoices,
        behaviours=behaviours,
        bills=books.payables.open_as_of(day),
        decide=decisions.decide,
        planned_by_people={bill_id: plan.planned_pay_date for bill_id, plan in decisions.plans.items()},
        recurring=recurring,
        expected_invoices=[
            inflow for series in invoicing for inflow in expected_invoices(series, behaviours, day, until)
        ],
        earmarks=earmarks,
        scheduled=() if replay else books.scheduled,
    )
    return RunwayBasis(
        inputs,
        books.ledger.burn(day),
        tuple(recurring),
        tuple(invoicing),
        OpenReceivables(open_invoices, behaviours),
    )


def assemble(
    *,
    today: date,
    timezone: str,
    starting_cash: Decimal,
    invoices: Iterable[OpenInvoice],
    behaviours: Behaviours,
    bills: Iterable[OpenBill],
    decide: Callable[[OpenBill, date], BillDecision],
    planned_by_people: dict[str, date | None],
    recurring: Iterable[RecurringItem],
    expected_invoices: Iterable[Inflow] = (),
    earmarks: Earmarks,
    scheduled: Iterable[ScheduledOutflow] = (),
) -> ForecastInputs:
    """The forecast's inputs, each item with the reason it is dated where it is."""
    inflows = [_invoice(invoice, behaviours, today) for invoice in invoices if invoice.balance > 0]
    inflows += expected_invoices
    outflows = [_bill(bill, decide(bill, today), planned_by_people.get(bill.bill_id), today) for bill in bills]
    outflows += [outflow for item in recurring if item.in_forecast for outflow in _occurrences(item)]
    reserves = [
        Reserve(earmark.kind.value, earmark.name, earmark.amount, earmark.until) for earmark in earmarks.reserves
    ]
    outflows, reserves = _with_scheduled(outflows, reserves, list(scheduled))
    return ForecastInputs(
        today=today,
        timezone=timezone,
        starting_cash=starting_cash,
        inflows=inflows,
        outflows=outflows,
        reserves=reserves,
        reserve_floor=earmarks.floor,
    )


def _invoice(invoice: OpenInvoice, behaviours: Behaviours, today: date) -> Inflow:
    expected = behaviours.expected_collection(invoice, today)
    number = f"invoice {invoice.doc_number}" if invoice.doc_number else f"invoice #{invoice.invoice_id}"
    return Inflow(
        kind="invoice",
        source_id=invoice.invoice_id,
        name=f"{invoice.customer_name}, {number}",
        amount=invoice.balance,
        date=expected.expected,
        early=expected.early,
        late=expected.late,
        reason=expected.reason,
    )


def _bill(bill: OpenBill, decision: BillDecision, planned_by_people: date | None, today: date) -> Outflow:
    planned = decision.planned_pay_date
    due = bill.effective_due_date
    if planned_by_people is not None and planned == planned_by_people:
        when = f"Planned for {planned.isoformat()}, the date you chose."
    elif due is not None and due < today:
        when = f"Due {due.isoformat()} and unpaid: planned for today."
    elif due is not None:
        when = f"Planned for its due date, {due.isoformat()}."
    else:
        when = "No due date: planned for today."
    number = f"bill {bill.doc_number}" if bill.doc_number else f"bill #{bill.bill_id}"
    return Outflow(
        kind="bill",
        source_id=bill.bill_id,
        name=f"{bill.vendor_name}, {number}",
        amount=bill.balance,
        date=planned,
        early=planned,
        late=planned,
        reason=f"{when} {decision.klass.label}: {decision.reason}",
    )


def _occurrences(item: RecurringItem) -> Iterable[Outflow]:
    for occurrence in item.upcoming:
        late_note = (
            f" Expected around {occurrence.scheduled.isoformat()} and not seen yet: counted today."
            if occurrence.on > occurrence.scheduled
            else ""
        )
        yield Outflow(
            kind="recurring",
            source_id=f"{item.id}:{occurrence.scheduled.isoformat()}",
            name=item.name,
            amount=item.amount,
            date=occurrence.on,
            early=occurrence.early,
            late=occurrence.late,
            reason=f"Recurring, {item.schedule}. {item.reason}{late_note}",
        )


def _with_scheduled(
    outflows: list[Outflow], reserves: list[Reserve], scheduled: list[ScheduledOutflow]
) -> tuple[list[Outflow], list[Reserve]]:
    """A scheduled payment is paid on its day and earmarked until then; its bill keeps only what it does not pay."""
    if not scheduled:
        return outflows, reserves
    by_bill: dict[str, Decimal] = {}
    for payment in scheduled:
        by_bill[payment.bill_id] = by_bill.get(payment.bill_id, ZERO) + payment.amount
    kept: list[Outflow] = []
    for outflow in outflows:
        part = by_bill.get(outflow.source_id, ZERO) if outflow.kind == "bill" else ZERO
        if outflow.amount - part > 0:
            kept.append(replace(outflow, amount=outflow.amount - part) if part else outflow)
    for payment in scheduled:
        reason = f"Scheduled for {payment.pay_on.isoformat()}: made on its day, earmarked until then."
        day = payment.pay_on
        kept.append(
            Outflow("scheduled_payment", payment.source_id, payment.name, payment.amount, day, day, day, reason)
        )
    earmarked = [
        Reserve("scheduled_payment", payment.name, payment.amount, payment.pay_on, source_id=payment.source_id)
        for payment in scheduled
    ]
    return kept, [*reserves, *earmarked]
