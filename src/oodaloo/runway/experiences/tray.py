"""The prep tray: what needs a person's attention now, in order, each item with the one action that clears it; and the
books' hygiene score (0-100), which also sets how far the forecast can be trusted and says why.

API for the other experiences (the digest, the advisor portfolio):

* ``await build_tray(session, business, today, quickbooks_app=QUICKBOOKS_APP) -> PrepTray`` — the whole tray:
  ``items`` (``TrayItem``: kind, key, title, why, amount, action=TrayAction(label, href, external), weight) in tray
  order, ``left_out`` (``LeftOut``: kind, count, label, href — what did not fit), ``hygiene`` (``Hygiene``) and its
  ``confidence`` / ``confidence_reason``. MirrorNotSynced (409) before the business's first full sync.
* ``await hygiene_of(session, business, today) -> Hygiene`` — the score alone (no forecast): ``score`` (0-100),
  ``components`` (``HygieneComponent``: key, name, count, amount, points_lost, max_points, explanation), ``confidence``
  ("high" / "medium" / "low"), ``confidence_reason`` (a sentence), ``flags`` (the explanation of each component that
  lost points, worst first). MirrorNotSynced before the first full sync (an empty mirror is not clean books).

``today`` is the business's local date (``business.today()``). ``quickbooks_app`` is the QuickBooks web app the
hygiene items link to (``quickbooks_app_for(settings.qbo_api_base_url)``).

The order: overdue invoices (by amount x months late x the chance the customer will not pay soon anyway: the chase
list's own ranking, so both agree), bills due within 7 days (soonest first), Must Pay bills at risk (planned in a
week whose forecast free cash ends below the reserve floor: the bill is not covered), open drift alerts (newest
first), then hygiene problems (the component costing most points first). A bill at risk is listed once, as at risk.

The hygiene score starts at 100 and each component takes points per problem found, up to its cap (the caps add up to
100). The weights say how much each kind of problem can mislead the cash picture:

=============================  ========  ===  ==============================================================
component                      per item  cap  why it weighs that much
=============================  ========  ===  ==============================================================
unapplied_payments             4         20   cash received but its invoices still open: inflows counted twice
undeposited_funds              4         15   per item waiting over 7 days: cash the bank balance does not show
duplicate_bills                5         15   the forecast pays the same bill twice
unsent_invoices                2         15   a customer cannot pay an invoice it never received
uncategorized_expenses         2         15   the burn, and what it is spent on, are uncertain
bills_without_due_date         2         10   forecast as due at once, whatever the vendor expects
vendors_missing_info           1         10   their bills fall due on their bill date; remittances go nowhere
=============================  ========  ===  ==============================================================

Confidence follows the score: high from 80, medium from 50, low below (the demo companies, with a few of each
problem, score in the 50s); the sentence names what costs most.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.ap.classify import BillDecision
from oodaloo.domains.ap.decisions import BillClass
from oodaloo.domains.ap.history import load_open_bills
from oodaloo.domains.ap.payables import load_decision_inputs
from oodaloo.domains.ar.collections import rank_for_collection
from oodaloo.domains.ar.history import OpenInvoice
from oodaloo.domains.core.alerts import AlertKind, AlertOut, AlertService
from oodaloo.domains.core.models import Business
from oodaloo.domains.qbo.data_service import QBODataService
from oodaloo.domains.qbo.mirror_repository import SyncStateRepository
from oodaloo.domains.qbo.tray_data import (
    BillWithoutDueDate,
    DueBill,
    DuplicateBills,
    HygieneFacts,
    OverdueInvoice,
    TrayData,
    UnappliedPayment,
    UncategorizedExpense,
    UndepositedFunds,
    UnsentInvoice,
    VendorMissingInfo,
)
from oodaloo.runway.core.cache import runway_cache
from oodaloo.runway.core.forecast import DAYS_PER_WEEK, HORIZON_DAYS, Forecast
from oodaloo.runway.experiences.phrases import day, money, plural

Confidence = Literal["high", "medium", "low"]
ItemKind = Literal["overdue_invoice", "bill_due", "must_pay_at_risk", "drift_alert", "hygiene"]

MAX_SCORE = 100
HIGH_CONFIDENCE_FROM = 80
MEDIUM_CONFIDENCE_FROM = 50
# Checks wait a few days for a trip to the bank; beyond a week a payment in Undeposited Funds is forgotten.
UNDEPOSITED_GRACE_DAYS = 7
# The tray is a week's to-do list, not a ledger: each group shows its most pressing items and says how many more.
ITEMS_PER_GROUP = 10
ITEMS_PER_PROBLEM = 5
# The QuickBooks web app the hygiene items open (``quickbooks_app_for`` picks Intuit's sandbox app where it applies).
QUICKBOOKS_APP = "https://app.qbo.intuit.com/app"
QUICKBOOKS_SANDBOX_APP = "https://app.sandbox.qbo.intuit.com/app"
_INTUIT_SANDBOX_API_HOST = "sandbox-quickbooks.api.intuit.com"


# ---------------------------------------------------------------------------------------------------- the shapes
@dataclass(frozen=True)
class TrayAction:
    """The one action that clears an item: a console page, or (``external``) the record in QuickBooks."""

    label: str
    href: str
    external: bool = False


@dataclass(frozen=True)
class TrayItem:
    kind: ItemKind
    key: str  # stable within a business: "invoice:130", "bill:146", "alert:<uuid>", "unapplied_payments:231"
    title: str
    why: str
    amount: Decimal | None
    action: TrayAction
    # How much it matters within its kind (overdue invoices: the chase score; others: the amount at stake).
    weight: Decimal


@dataclass(frozen=True)
class LeftOut:
    """Items of a kind the tray did not show, and where they all are."""

    kind: ItemKind
    count: int
    label: str
    href: str


@dataclass(frozen=True)
class HygieneComponent:
    key: str
    name: str
    count: int
    amount: Decimal | None
    points_lost: int
    max_points: int
    explanation: str


@dataclass(frozen=True)
class Hygiene:
    score: int
    components: tuple[HygieneComponent, ...]
    confidence: Confidence
    confidence_reason: str

    @property
    def flags(self) -> list[str]:
        """One sentence per component that lost points, worst first (what the digest lists)."""
        lost = sorted(
            (component for component in self.components if component.points_lost > 0),
            key=lambda component: -component.points_lost,
        )
        return [component.explanation for component in lost]


@dataclass(frozen=True)
class PrepTray:
    business_id: uuid.UUID
    as_of: date
    currency: str
    items: tuple[TrayItem, ...]
    left_out: tuple[LeftOut, ...]
    hygiene: Hygiene

    @property
    def confidence(self) -> Confidence:
        return self.hygiene.confidence

    @property
    def confidence_reason(self) -> str:
        return self.hygiene.confidence_reason

    def of_kind(self, kind: ItemKind) -> list[TrayItem]:
        return [item for item in self.items if item.kind == kind]


# ----------------------------------------------------------------------------------------------------- the API
async def build_tray(
    session: AsyncSession, business: Business, today: date, *, quickbooks_app: str = QUICKBOOKS_APP
) -> PrepTray:
    await SyncStateRepository(session, business.id).require_synced(business.qbo_realm_id)
    data = await QBODataService(session, business).get_tray_data(today)
    hygiene = score_hygiene(data.hygiene, business.currency)
    items, left_out = _capped(await _groups(session, business, data, today))
    items += _hygiene_items(data.hygiene, hygiene, _QuickBooksLinks(quickbooks_app), business.currency)
    return PrepTray(business.id, today, business.currency, tuple(items), tuple(left_out), hygiene)


@dataclass(frozen=True)
class _Group:
    kind: ItemKind
    items: list[TrayItem]
    where: str  # where all of them are, in words ("overdue invoices on the chase list") ...
    href: str  # ... and as a console page


async def _groups(session: AsyncSession, business: Business, data: TrayData, today: date) -> list[_Group]:
    """The tray's groups before hygiene, in order; a Must Pay bill at risk is not repeated among the bills due."""
    console = f"/businesses/{business.id}"
    overdue = await _overdue_items(session, business, data, today)
    decisions = await _decisions(session, business, today)
    at_risk = await _at_risk_items(session, business, decisions, console)
    at_risk_keys = {item.key for item in at_risk}
    due = [item for item in _due_items(data.bills_due, decisions, console) if item.key not in at_risk_keys]
    alerts = [_alert_item(alert, console) for alert in await AlertService(session, business.id).listed("open")]
    return [
        _Group("overdue_invoice", overdue, "overdue invoices on the chase list", f"{console}/chase"),
        _Group("bill_due", due, "bills due this week on the bills board", f"{console}/bills"),
        _Group("must_pay_at_risk", at_risk, "Must Pay bills at risk on the plan", f"{console}/plan"),
        _Group("drift_alert", alerts, "open alerts on the plan", f"{console}/plan"),
    ]


def _capped(groups: Sequence[_Group]) -> tuple[list[TrayItem], list[LeftOut]]:
    """Each group's first ``ITEMS_PER_GROUP`` items, and how many more there are (and where)."""
    items: list[TrayItem] = []
    left_out: list[LeftOut] = []
    for group in groups:
        items += group.items[:ITEMS_PER_GROUP]
        more = len(group.items) - ITEMS_PER_GROUP
        if more > 0:
            left_out.append(LeftOut(group.kind, more, f"{more} more {group.where}", group.href))
    return items, left_out


async def hygiene_of(session: AsyncSession, business: Business, today: date) -> Hygiene:
    await SyncStateRepository(session, business.id).require_synced(business.qbo_realm_id)
    facts = await QBODataService(session, business).get_hygiene_data(today)
    return score_hygiene(facts, business.currency)


def quickbooks_app_for(api_base_url: str) -> str:
    """The QuickBooks web app of the QBO an API base URL points at: Intuit's sandbox companies open in their own app.
    (The local sandbox has no web app: its records are linked as Intuit's app would show them.)"""
    host = urlsplit(api_base_url).hostname or ""
    return QUICKBOOKS_SANDBOX_APP if host == _INTUIT_SANDBOX_API_HOST else QUICKBOOKS_APP


# ------------------------------------------------------------------------------------------------------- hygiene
@dataclass(frozen=True)
class _Weight:
    key: str
    name: str
    per_item: int
    cap: int


WEIGHTS: tuple[_Weight, ...] = (
    _Weight("unapplied_payments", "Unapplied customer payments", 4, 20),
    _Weight("undeposited_funds", "Undeposited funds", 4, 15),
    _Weight("duplicate_bills", "Likely duplicate bills", 5, 15),
    _Weight("unsent_invoices", "Unsent invoices", 2, 15),
    _Weight("uncategorized_expenses", "Uncategorized expenses", 2, 15),
    _Weight("bills_without_due_date", "Bills without a due date", 2, 10),
    _Weight("vendors_missing_info", "Vendors missing terms or email", 1, 10),
)
assert sum(weight.cap for weight in WEIGHTS) == MAX_SCORE, "the caps must add up to the whole score"


@dataclass(frozen=True)
class _Found:
    """What one component found: how many problems (each costing points), the money involved, and in words."""

    count: int
    amount: Decimal | None
    explanation: str
    phrase: str  # the short form the confidence sentence uses: "4 unapplied payments"


def score_hygiene(facts: HygieneFacts, currency: str) -> Hygiene:
    """The score from the facts (pure): each component's points lost, the total, and the confidence it allows."""

    def cash(amount: Decimal) -> str:
        return money(amount, currency)

    found = {
        "uncategorized_expenses": _uncategorized(facts.uncategorized, cash),
        "unapplied_payments": _unapplied(facts.unapplied_payments, cash),
        "undeposited_funds": _undeposited(facts.undeposited, cash),
        "bills_without_due_date": _without_due_date(facts.bills_without_due_date, cash),
        "unsent_invoices": _unsent(facts.unsent_invoices, cash),
        "vendors_missing_info": _vendors(facts.vendors_missing_info),
        "duplicate_bills": _duplicates(facts.duplicate_bills, cash),
    }
    components = tuple(
        HygieneComponent(
            key=weight.key,
            name=weight.name,
            count=found[weight.key].count,
            amount=found[weight.key].amount,
            points_lost=min(weight.cap, weight.per_item * found[weight.key].count),
            max_points=weight.cap,
            explanation=found[weight.key].explanation,
        )
        for weight in WEIGHTS
    )
    score = MAX_SCORE - sum(component.points_lost for component in components)
    confidence: Confidence = (
        "high" if score >= HIGH_CONFIDENCE_FROM else "medium" if score >= MEDIUM_CONFIDENCE_FROM else "low"
    )
    return Hygiene(score, components, confidence, _confidence_reason(score, confidence, components, found))


def _confidence_reason(
    score: int, confidence: Confidence, components: Sequence[HygieneComponent], found: dict[str, _Found]
) -> str:
    if score == MAX_SCORE:
        return "Confidence is high: nothing in the books makes cash uncertain."
    if confidence == "high":
        return f"Confidence is high: the books are in good order (hygiene {score}/100)."
    worst = sorted((c for c in components if c.points_lost > 0), key=lambda c: -c.points_lost)[:3]
    causes = _and([found[component.key].phrase for component in worst])
    verb = "makes" if len(worst) == 1 and found[worst[0].key].count == 1 else "make"
    opening = "Confidence is lowered" if confidence == "medium" else "Confidence is low"
    return f"{opening}: {causes} {verb} cash uncertain (hygiene {score}/100)."


def _and(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


Cash = Callable[[Decimal], str]
_ZERO = Decimal("0.00")


def _total(amounts: Iterable[Decimal]) -> Decimal:
    return sum(amounts, _ZERO)


def _uncategorized(found: Sequence[UncategorizedExpense], cash: Cash) -> _Found:
    total = _total(item.amount for item in found)
    if not found:
        return _Found(0, _ZERO, "No uncategorized expenses in the last year.", "")
    what = plural(len(found), "expense")
    return _Found(
        len(found),
        total,
        f"{what} ({cash(total)}) booked to an uncategorized account: the burn the forecast uses is less certain.",
        f"{plural(len(found), 'uncategorized expense')} ({cash(total)})",
    )


def _unapplied(found: Sequence[UnappliedPayment], cash: Cash) -> _Found:
    total = _total(item.unapplied for item in found)
    if not found:
        return _Found(0, _ZERO, "Every customer payment is applied to its invoices.", "")
    return _Found(
        len(found),
        total,
        f"{plural(len(found), 'customer payment')} ({cash(total)}) not applied to any invoice: their invoices still "
        "look unpaid, so the forecast expects that money again.",
        f"{plural(len(found), 'unapplied payment')} ({cash(total)})",
    )


def _undeposited(funds: UndepositedFunds, cash: Cash) -> _Found:
    stale = [item for item in funds.items if item.days_waiting > UNDEPOSITED_GRACE_DAYS]
    waiting = _total(item.amount for item in funds.items)
    amount = funds.balance if funds.balance > 0 else waiting
    if amount <= 0:
        return _Found(0, _ZERO, "Nothing is waiting in Undeposited Funds.", "")
    count = len(stale)
    if not funds.items:
        # A balance no payment explains (a journal entry, an old opening balance): one problem, age unknown.
        count = 1
        detail = "though no payment explains it"
    elif count:
        detail = (
            f"{plural(count, 'payment')} waiting over {UNDEPOSITED_GRACE_DAYS} days, the oldest {funds.oldest_days}"
        )
        detail += " days"
    else:
        detail = f"all received in the last {UNDEPOSITED_GRACE_DAYS} days"
    return _Found(
        count,
        amount,
        f"{cash(amount)} in Undeposited Funds ({detail}): cash the bank balance does not show yet.",
        f"{cash(amount)} in undeposited funds",
    )


def _without_due_date(found: Sequence[BillWithoutDueDate], cash: Cash) -> _Found:
    total = _total(item.balance for item in found)
    if not found:
        return _Found(0, _ZERO, "Every open bill has a due date.", "")
    return _Found(
        len(found),
        total,
        f"{plural(len(found), 'open bill')} ({cash(total)}) without a due date or terms: the forecast pays them at "
        "once.",
        plural(len(found), "bill") + " without a due date",
    )


def _unsent(found: Sequence[UnsentInvoice], cash: Cash) -> _Found:
    total = _total(item.balance for item in found)
    if not found:
        return _Found(0, _ZERO, "Every open invoice has been sent.", "")
    return _Found(
        len(found),
        total,
        f"{plural(len(found), 'open invoice')} ({cash(total)}) never sent: a customer cannot pay what it never "
        "received.",
        f"{plural(len(found), 'unsent invoice')} ({cash(total)})",
    )


def _vendors(found: Sequence[VendorMissingInfo]) -> _Found:
    if not found:
        return _Found(0, None, "Every vendor billing the business has terms and an email address.", "")
    no_terms = sum(1 for vendor in found if vendor.missing_terms)
    no_email = sum(1 for vendor in found if vendor.missing_email)
    return _Found(
        len(found),
        None,
        f"{plural(len(found), 'vendor')} billing the business lack terms ({no_terms}) or an email address "
        f"({no_email}).",
        f"{plural(len(found), 'vendor')} missing terms or email",
    )


def _duplicates(found: Sequence[DuplicateBills], cash: Cash) -> _Found:
    total = _total(pair.amount for pair in found)
    if not found:
        return _Found(0, _ZERO, "No likely duplicate bills.", "")
    return _Found(
        len(found),
        total,
        f"{plural(len(found), 'bill')} ({cash(total)}) likely entered twice: the forecast pays them twice.",
        plural(len(found), "likely duplicate bill"),
    )


# ----------------------------------------------------------------------------------------------- overdue invoices
async def _overdue_items(session: AsyncSession, business: Business, data: TrayData, today: date) -> list[TrayItem]:
    """Ranked as the chase list ranks them: amount x months late x the chance they are not paid soon anyway."""
    if not data.overdue_invoices:
        return []
    # The customers' habits the runway learned for its forecast (kept with it): the books are not read again.
    behaviours = (await runway_cache.current(session, business)).basis.receivables.behaviours
    facts = {invoice.invoice_id: invoice for invoice in data.overdue_invoices}
    ranked = rank_for_collection([_open_invoice(invoice, today) for invoice in data.overdue_invoices], behaviours)
    chase = f"/businesses/{business.id}/chase"
    items = []
    for entry in ranked:
        invoice = facts[entry.invoice.invoice_id]
        amount = money(invoice.balance, business.currency)
        name = _invoice_name(invoice.doc_number, invoice.invoice_id)
        items.append(
            TrayItem(
                kind="overdue_invoice",
                key=f"invoice:{invoice.invoice_id}",
                title=f"{invoice.customer_name} owes {amount} on {name}",
                why=entry.reason,
                amount=invoice.balance,
                action=TrayAction("Chase it", chase),
                weight=entry.score,
            )
        )
    return items


def _open_invoice(invoice: OverdueInvoice, today: date) -> OpenInvoice:
    return OpenInvoice(
        invoice_id=invoice.invoice_id,
        doc_number=invoice.doc_number,
        customer_id=invoice.customer_id,
        customer_name=invoice.customer_name,
        txn_date=invoice.txn_date,
        due_date=invoice.due_date,
        total=invoice.total,
        balance=invoice.balance,
        as_of=today,
    )


def _invoice_name(doc_number: str | None, invoice_id: str) -> str:
    return f"invoice {doc_number}" if doc_number else f"invoice #{invoice_id}"


def _bill_name(doc_number: str | None, bill_id: str) -> str:
    return f"bill {doc_number}" if doc_number else f"bill #{bill_id}"


# -------------------------------------------------------------------------------------------------------- bills
@dataclass(frozen=True)
class _Decided:
    bill_id: str
    doc_number: str | None
    vendor_name: str
    balance: Decimal
    decision: BillDecision


async def _decisions(session: AsyncSession, business: Business, today: date) -> dict[str, _Decided]:
    """Every open bill's class and planned pay date, as the bills board decides them."""
    inputs = await load_decision_inputs(session, business.id)
    return {
        bill.bill_id: _Decided(
            bill.bill_id, bill.doc_number, bill.vendor_name, bill.balance, inputs.decide(bill, today)
        )
        for bill in await load_open_bills(session, business.id)
    }


def _due_items(bills: Sequence[DueBill], decisions: dict[str, _Decided], console: str) -> list[TrayItem]:
    items = []
    for bill in bills:
        decided = decisions.get(bill.bill_id)
        when = _due_phrase(bill.days_until_due, bill.due_date)
        why = f"{when}." if decided is None else f"{when}. {decided.decision.klass.label}: {decided.decision.reason}"
        items.append(
            TrayItem(
                kind="bill_due",
                key=f"bill:{bill.bill_id}",
                title=f"{bill.vendor_name}, {_bill_name(bill.doc_number, bill.bill_id)}: {when.lower()}",
                why=why,
                amount=bill.balance,
                action=TrayAction("Pay or delay it", f"{console}/bills"),
                weight=bill.balance,
            )
        )
    return items


def _due_phrase(days_until_due: int, due: date) -> str:
    if days_until_due < 0:
        return f"Overdue {plural(-days_until_due, 'day')} (due {day(due)})"
    if days_until_due == 0:
        return "Due today"
    return f"Due in {plural(days_until_due, 'day')} ({day(due)})"


async def _at_risk_items(
    session: AsyncSession, business: Business, decisions: dict[str, _Decided], console: str
) -> list[TrayItem]:
    """Must Pay bills planned in a week whose forecast free cash ends below the reserve floor: not covered."""
    forecast = (await runway_cache.current(session, business)).forecast
    items = []
    for decided in decisions.values():
        if decided.decision.klass is not BillClass.MUST_PAY:
            continue
        found = _uncovered_week(forecast, decided.decision.planned_pay_date)
        if found is None:
            continue
        number, free = found
        currency = business.currency
        planned = max(decided.decision.planned_pay_date, forecast.today)
        name = _bill_name(decided.doc_number, decided.bill_id)
        items.append(
            TrayItem(
                kind="must_pay_at_risk",
                key=f"bill:{decided.bill_id}",
                title=f"{decided.vendor_name}, {name}: Must Pay, not covered",
                why=(
                    f"Planned for {day(planned)}, in week {number}, when free cash is forecast to end at "
                    f"{money(free, currency)} against a reserve floor of {money(forecast.reserve_floor, currency)}. "
                    f"Must Pay: {decided.decision.reason}"
                ),
                amount=decided.balance,
                action=TrayAction("Plan how to cover it", f"{console}/plan"),
                weight=decided.balance,
            )
        )
    return sorted(items, key=lambda item: (-item.weight, item.key))


def _uncovered_week(forecast: Forecast, planned: date) -> tuple[int, Decimal] | None:
    """(week number, its ending free cash) when the week ``planned`` falls in ends below the floor; None otherwise
    (covered, or beyond the forecast's 13 weeks)."""
    offset = max((planned - forecast.today).days, 0)
    if offset >= HORIZON_DAYS:
        return None
    week = forecast.weeks[offset // DAYS_PER_WEEK]
    return (week.number, week.free_ending) if week.free_ending < forecast.reserve_floor else None


# ------------------------------------------------------------------------------------------------------- alerts
_ALERT_TITLES = {
    AlertKind.BILL_PAID_ELSEWHERE: "Paid outside the plan",
    AlertKind.PAYMENT_VOIDED: "Payment voided",
    AlertKind.LARGE_BILL: "Large new bill",
    AlertKind.INVOICE_PAID: "Invoice paid",
    AlertKind.RUNWAY_DROP: "Runway dropped",
}


def _alert_item(alert: AlertOut, console: str) -> TrayItem:
    return TrayItem(
        kind="drift_alert",
        key=f"alert:{alert.id}",
        title=f"{_ALERT_TITLES.get(alert.kind, 'Alert')}: {alert.subject.name}",
        why=f"{alert.reason} {alert.what_to_do}",
        amount=alert.amount,
        action=TrayAction("See what to do", f"{console}/plan"),
        weight=alert.amount or _ZERO,
    )


# --------------------------------------------------------------------------------------------------- hygiene items
@dataclass(frozen=True)
class _QuickBooksLinks:
    """Records in the QuickBooks web app (its pages take the record's id; the company is the one signed in)."""

    app: str

    def transaction(self, page: str, txn_id: str) -> str:
        return f"{self.app}/{page}?txnId={txn_id}"

    def vendor(self, vendor_id: str) -> str:
        return f"{self.app}/vendordetail?nameId={vendor_id}"

    def deposit(self) -> str:
        return f"{self.app}/deposit"


# The QuickBooks page of an expense (a Purchase), by its payment type.
_PURCHASE_PAGES = {"Check": "check", "CreditCard": "expense", "Cash": "expense"}


def _hygiene_items(facts: HygieneFacts, hygiene: Hygiene, links: _QuickBooksLinks, currency: str) -> list[TrayItem]:
    builders: dict[str, Callable[[], list[TrayItem]]] = {
        "uncategorized_expenses": lambda: [_uncategorized_item(item, links, currency) for item in facts.uncategorized],
        "unapplied_payments": lambda: [_unapplied_item(item, links, currency) for item in facts.unapplied_payments],
        "undeposited_funds": lambda: _undeposited_items(facts.undeposited, hygiene, links, currency),
        "bills_without_due_date": lambda: [
            _due_date_item(item, links, currency) for item in facts.bills_without_due_date
        ],
        "unsent_invoices": lambda: [_unsent_item(item, links, currency) for item in facts.unsent_invoices],
        "vendors_missing_info": lambda: [_vendor_item(item, links) for item in facts.vendors_missing_info],
        "duplicate_bills": lambda: [_duplicate_item(item, links, currency) for item in facts.duplicate_bills],
    }
    worst_first = sorted(
        (component for component in hygiene.components if component.points_lost > 0),
        key=lambda component: -component.points_lost,
    )
    return [item for component in worst_first for item in builders[component.key]()[:ITEMS_PER_PROBLEM]]


def _hygiene(key: str, title: str, why: str, amount: Decimal | None, action: TrayAction) -> TrayItem:
    return TrayItem("hygiene", key, title, why, amount, action, amount or _ZERO)


def _uncategorized_item(item: UncategorizedExpense, links: _QuickBooksLinks, currency: str) -> TrayItem:
    page = "bill" if item.entity == "Bill" else _PURCHASE_PAGES.get(item.payment_type or "", "expense")
    payee = f" to {item.payee_name}" if item.payee_name else ""
    return _hygiene(
        f"uncategorized_expenses:{item.entity}:{item.txn_id}",
        f"Uncategorized: {money(item.amount, currency)}{payee} on {day(item.txn_date)}",
        f"Booked to {item.account_name}: the spending is real, but nobody has said what it is for.",
        item.amount,
        TrayAction("Categorize it in QuickBooks", links.transaction(page, item.txn_id), external=True),
    )


def _unapplied_item(item: UnappliedPayment, links: _QuickBooksLinks, currency: str) -> TrayItem:
    received = f" on {day(item.txn_date)}" if item.txn_date else ""
    return _hygiene(
        f"unapplied_payments:{item.payment_id}",
        f"{item.customer_name}'s payment of {money(item.unapplied, currency)} is not applied to an invoice",
        f"Received{received}. Until it is applied, {item.customer_name}'s invoices look unpaid and the forecast "
        "expects this money again.",
        item.unapplied,
        TrayAction("Apply it in QuickBooks", links.transaction("recvpayment", item.payment_id), external=True),
    )


def _undeposited_items(
    funds: UndepositedFunds, hygiene: Hygiene, links: _QuickBooksLinks, currency: str
) -> list[TrayItem]:
    component = next(component for component in hygiene.components if component.key == "undeposited_funds")
    amount = component.amount or _ZERO
    return [
        _hygiene(
            "undeposited_funds",
            f"{money(amount, currency)} waiting in Undeposited Funds",
            component.explanation + " Deposit it (or match it to the deposit the bank shows).",
            amount,
            TrayAction("Record the deposit in QuickBooks", links.deposit(), external=True),
        )
    ]


def _due_date_item(item: BillWithoutDueDate, links: _QuickBooksLinks, currency: str) -> TrayItem:
    return _hygiene(
        f"bills_without_due_date:{item.bill_id}",
        f"{item.vendor_name}, {_bill_name(item.doc_number, item.bill_id)} ({money(item.balance, currency)}) has no due "
        "date",
        f"Neither the bill nor {item.vendor_name} has terms, so QuickBooks made it due on its bill date and the "
        "forecast pays it at once.",
        item.balance,
        TrayAction("Set its due date in QuickBooks", links.transaction("bill", item.bill_id), external=True),
    )


def _unsent_item(item: UnsentInvoice, links: _QuickBooksLinks, currency: str) -> TrayItem:
    status = "waiting to be sent" if item.email_status == "NeedToSend" else "never emailed"
    return _hygiene(
        f"unsent_invoices:{item.invoice_id}",
        f"{_invoice_name(item.doc_number, item.invoice_id).capitalize()} to {item.customer_name} "
        f"({money(item.balance, currency)}) was never sent",
        f"QuickBooks shows it {status}: a customer cannot pay an invoice it never received.",
        item.balance,
        TrayAction("Send it from QuickBooks", links.transaction("invoice", item.invoice_id), external=True),
    )


def _vendor_item(item: VendorMissingInfo, links: _QuickBooksLinks) -> TrayItem:
    missing = [name for name, gone in (("terms", item.missing_terms), ("an email address", item.missing_email)) if gone]
    why = []
    if item.missing_terms:
        why.append("without terms its bills fall due on their bill date")
    if item.missing_email:
        why.append("without an email, remittances and questions have nowhere to go")
    return _hygiene(
        f"vendors_missing_info:{item.vendor_id}",
        f"{item.name} has no {' or '.join(missing)}",
        _and(why).capitalize() + ".",
        item.open_balance if item.open_balance > 0 else None,
        TrayAction("Complete it in QuickBooks", links.vendor(item.vendor_id), external=True),
    )


def _duplicate_item(item: DuplicateBills, links: _QuickBooksLinks, currency: str) -> TrayItem:
    apart = abs((item.duplicate_date - item.original_date).days)
    gap = "the same day" if apart == 0 else f"{plural(apart, 'day')} apart"
    still = (
        f" The copy is unpaid: the forecast pays {money(item.amount, currency)} too much until it is deleted."
        if item.duplicate_balance > 0
        else " Both are paid: ask the vendor for a credit."
    )
    return _hygiene(
        f"duplicate_bills:{item.duplicate_id}",
        f"{item.vendor_name}: two bills of {money(item.amount, currency)}, {gap}",
        f"Bills #{item.original_id} ({day(item.original_date)}) and #{item.duplicate_id} ({day(item.duplicate_date)}) "
        f"are for the same amount from the same vendor: likely one bill entered twice.{still}",
        item.amount,
        TrayAction("Review the copy in QuickBooks", links.transaction("bill", item.duplicate_id), external=True),
    )
