"""Recurring outflows — payroll, rent, subscriptions, taxes, insurance, card payments — found in a business's own
history and projected over the forecast's 13 weeks; and what people changed about them (an amount, a cadence, a next
date, one switched off, one added by hand), kept beside the mirror and merged with what is found.

Where they are found. Bills (grouped by vendor, dated when billed and paid after their terms), purchases (checks,
debits and card charges, grouped by payee, or by expense account when there is none, and by what paid them), journal
entries that credit a bank account (payroll posted by a provider, grouped by the accounts they debit), and transfers
from a bank to a credit card (card payments). Voided and deleted transactions are left out.

As of a day. Detection uses only transactions dated on or before it (the backtest replays past weeks so); a series
needs three occurrences whose spacing fits one cadence (weekly, every two weeks, twice a month, monthly, quarterly,
or the US estimated-tax dates) for three intervals in four, and is dropped once two occurrences in a row are missing.
Its amount is the median of its last three; its timing spread (the forecast's band) the largest deviation seen from its
schedule.

Nothing is counted twice. A bill series is projected from its latest bill, open or paid: an open bill is the current
occurrence and is forecast with the payables, the projection starts with the next one. A series charged to a credit
card whose payments are themselves a detected series is listed but not forecast: its cash leaves with the card
payment.
"""

from __future__ import annotations

import calendar
import enum
import functools
import re
import statistics
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise
from typing import Any, Literal

import orjson
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    select,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from oodaloo.domains.ap.classify import (
    PAYROLL_ACCOUNT_NAME,
    PAYROLL_SUBTYPES,
    RENT_ACCOUNT_NAME,
    RENT_SUBTYPES,
    TAX_ACCOUNT_NAME,
    TAX_SUBTYPES,
)
from oodaloo.domains.core.audit import AuditLog
from oodaloo.domains.qbo.mirror_models import (
    MirroredAccount,
    MirroredBill,
    MirroredBillPayment,
    MirroredJournalEntry,
    MirroredPurchase,
    MirroredTransfer,
    MirroredVendor,
    MirrorStatus,
    ref_id,
    ref_name,
)
from oodaloo.infra.collector import collector_paused
from oodaloo.infra.db.base import Base, IdMixin, str_enum, utcnow
from oodaloo.infra.db.repository import TenantRepository
from oodaloo.infra.db.rows import column_rows
from oodaloo.infra.exact_json import loads_exact
from oodaloo.infra.web.errors import InvalidInput, NotFound

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
# The forecast's horizon: 13 weeks from today.
HORIZON_DAYS = 13 * 7
# At least three occurrences on one schedule, three in four of them on it: two could be a coincidence.
MIN_OCCURRENCES = 3
FIT_SHARE = 0.75
# The last occurrences a series is judged on: recent habits, not last year's.
RECENT_OCCURRENCES = 8
# The amount is the median of the last three on schedule: one odd month does not move it, a price rise (rent's yearly
# step, a renewed premium, a new hire on payroll) does by its second occurrence.
AMOUNT_OCCURRENCES = 3
# Schedule fits remembered per process (runs of at most RECENT_OCCURRENCES dates): a backtest's replays of a year ask
# for a few thousand.
FITS_REMEMBERED = 8192
NAME_MAX_LENGTH = 200
KEY_MAX_LENGTH = 100
# What an expense account is for: the payables rules' own patterns for payroll, taxes and rent (one answer across the
# payables), QBO's subtypes for insurance and utilities, whole words in the name for charts set up by hand.
_CATEGORY_PATTERNS: tuple[tuple[str, frozenset[str], re.Pattern[str]], ...] = (
    ("payroll", PAYROLL_SUBTYPES, PAYROLL_ACCOUNT_NAME),
    ("taxes", TAX_SUBTYPES, TAX_ACCOUNT_NAME),
    ("rent", RENT_SUBTYPES, RENT_ACCOUNT_NAME),
    ("insurance", frozenset({"Insurance"}), re.compile(r"\binsurance\b", re.IGNORECASE)),
    ("utilities", frozenset({"Utilities"}), re.compile(r"\b(utilities|electricity|gas|water|phone|internet)\b", re.I)),
    ("subscriptions", frozenset(), re.compile(r"\b(software|subscriptions?|saas|dues)\b", re.IGNORECASE)),
)


class Cadence(enum.StrEnum):
    WEEKLY = "weekly"
    BIWEEKLY = "biweekly"
    SEMIMONTHLY = "semimonthly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    TAX_QUARTERS = "tax_quarters"  # the US estimated-tax dates: 15 January, April, June and September


class Category(enum.StrEnum):
    PAYROLL = "payroll"
    RENT = "rent"
    TAXES = "taxes"
    SUBSCRIPTIONS = "subscriptions"
    INSURANCE = "insurance"
    UTILITIES = "utilities"
    CARD_PAYMENT = "card_payment"
    OTHER = "other"


PaidFrom = Literal["bank", "card"]
Origin = Literal["detected", "user"]

# (days a scheduled date is at least after the previous one, how far an occurrence may stray from its date)
_SPACING: dict[Cadence, tuple[int, int]] = {
    Cadence.WEEKLY: (4, 2),
    Cadence.BIWEEKLY: (8, 2),
    Cadence.SEMIMONTHLY: (8, 3),
    Cadence.MONTHLY: (15, 4),
    Cadence.QUARTERLY: (45, 10),
    Cadence.TAX_QUARTERS: (30, 6),
}
_TAX_DATES = ((1, 15), (4, 15), (6, 15), (9, 15))


# ------------------------------------------------------------------------------------------------- the calendar
@dataclass(frozen=True)
class Schedule:
    """When a series is due: every 7 or 14 days from ``reference``; on ``day`` (and ``second_day``) of each month; on
    ``day`` of every third month from ``reference``'s; or on the estimated-tax dates."""

    cadence: Cadence
    reference: date
    day: int
    second_day: int | None = None

    @classmethod
    def starting(cls, cadence: Cadence, first: date) -> Schedule:
        """A schedule whose first date is ``first`` (a person's "next on" date)."""
        second = None
        if cadence is Cadence.SEMIMONTHLY:
            second = first.day + 15 if first.day <= 15 else first.day - 15
        return cls(cadence, first, first.day, second)

    def after(self, day: date) -> date:
        """The first scheduled date far enough after ``day`` to be the next occurrence (half a period at least, so an
        occurrence paid a few days early or late still counts as the one it was)."""
        least = day + timedelta(days=_SPACING[self.cadence][0])
        return next(candidate for candidate in self._candidates(least) if candidate >= least)

    @property
    def tolerance(self) -> timedelta:
        """How far an occurrence may stray from its date and still be the one scheduled."""
        return timedelta(days=_SPACING[self.cadence][1])

    def stopped(self, last: date, as_of: date) -> bool:
        """Two occurrences in a row missed since ``last``: the series stopped."""
        return self.after(self.after(last)) + self.tolerance < as_of

    def nearest(self, day: date) -> date:
        """The scheduled date closest to ``day``."""
        window = timedelta(days=100)  # more than a quarter: every cadence has a date within it
        near = []
        for candidate in self._candidates(day - window):
            near.append(candidate)
            if candidate > day:
                break
        return min(near[-2:], key=lambda candidate: abs((candidate - day).days))

    def dates(self, first: date, until: date) -> Iterator[date]:
        """``first`` and each scheduled date after it, before ``until``."""
        current = first
        while current < until:
            yield current
            current = self.after(current)

    def _candidates(self, near: date) -> Iterator[date]:
        if self.cadence in (Cadence.WEEKLY, Cadence.BIWEEKLY):
            period = 7 if self.cadence is Cadence.WEEKLY else 14
            steps = -(-(near - self.reference).days // period)  # ceiling: the first on or after ``near``
            while True:
                yield self.reference + timedelta(days=steps * period)
                steps += 1
        months = _month_index(near) - 1
        while True:
            year, month = divmod(months, 12)
            month += 1
            if self.cadence is Cadence.TAX_QUARTERS:
                yield from (date(year, month, day) for tax_month, day in _TAX_DATES if tax_month == month)
            elif self.cadence is Cadence.QUARTERLY:
                if (month - self.reference.month) % 3 == 0:
                    yield _on_day(year, month, self.day)
            else:
                days = sorted({self.day, self.second_day or self.day})
                yield from (_on_day(year, month, day) for day in days)
            months += 1


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _on_day(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def describe_schedule(schedule: Schedule) -> str:
    cadence = schedule.cadence
    if cadence is Cadence.WEEKLY:
        return f"every week ({schedule.reference:%A}s)"
    if cadence is Cadence.BIWEEKLY:
        return f"every two weeks ({schedule.reference:%A}s)"
    if cadence is Cadence.SEMIMONTHLY:
        first, second = sorted((schedule.day, schedule.second_day or schedule.day))
        return f"twice a month, around the {_ordinal(first)} and the {_ordinal(second)}"
    if cadence is Cadence.MONTHLY:
        return f"monthly, around the {_ordinal(schedule.day)}"
    if cadence is Cadence.QUARTERLY:
        months = ", ".join(calendar.month_abbr[(schedule.reference.month - 1 + 3 * k) % 12 + 1] for k in range(4))
        return f"quarterly, around the {_ordinal(schedule.day)} of {months}"
    return "on the estimated-tax dates (15 January, April, June and September)"


# ------------------------------------------------------------------------------------------------- the history
@dataclass(frozen=True)
class SeriesKey:
    """What groups a business's spending into one possible series."""

    id: str  # stable across syncs: "bill-56", "purchase-12-bank-35", "journal-44+45", "card-41"
    name: str
    source: Literal["bill", "purchase", "journal_entry", "card_payment"]


@dataclass(frozen=True)
class Spend:
    """One past outflow: its series, date, amount and what it is for."""

    key: SeriesKey
    source_id: str
    day: date
    amount: Decimal
    category: Category
    paid_from: PaidFrom
    paid_from_account: str | None  # the bank or card account
    pays_card: str | None = None  # a card payment: the card account it pays
    terms_days: int | None = None  # a bill: days from its date to its due date


@dataclass(frozen=True)
class BillPaid:
    """A payment of a bill: when, and from a bank or a card."""

    bill_id: str
    day: date
    paid_from: PaidFrom
    account_id: str | None


class SpendingHistory:
    """A business's past outflows, loaded once, asked about as of any day."""

    def __init__(
        self, spends: Iterable[Spend], bill_payments: Iterable[BillPaid] = (), cards: dict[str, str] | None = None
    ):
        self._spends = sorted(spends, key=lambda spend: (spend.day, spend.source_id))
        self._bill_payments = sorted(bill_payments, key=lambda paid: paid.day)
        self.card_names = cards or {}

    def spends_as_of(self, day: date) -> Iterator[Spend]:
        for spend in self._spends:
            if spend.day > day:
                return
            yield spend

    def bill_payments_as_of(self, day: date) -> Iterator[BillPaid]:
        for paid in self._bill_payments:
            if paid.day > day:
                return
            yield paid


async def load_spending_history(session: AsyncSession, business_id: uuid.UUID) -> SpendingHistory:
    """Everything detection needs from the mirror, in a handful of queries (amounts from the typed columns, names and
    references from the raw objects). Every row is fetched first; the history is then built with the cyclic garbage
    collector held off (its passes would walk the growing history again and again)."""
    accounts = await _accounts(session, business_id)
    vendor_rows = await session.execute(
        select(MirroredVendor.qbo_id, MirroredVendor.name).where(MirroredVendor.business_id == business_id)
    )
    vendors = {qbo_id: name or qbo_id for qbo_id, name in vendor_rows}
    bills = select(
        MirroredBill.qbo_id,
        MirroredBill.vendor_id,
        MirroredBill.txn_date,
        MirroredBill.due_date,
        MirroredBill.total_amt,
        type_coerce(MirroredBill.raw, Text),
    ).where(_live(MirroredBill, business_id), MirroredBill.vendor_id.is_not(None))
    purchases = select(
        MirroredPurchase.qbo_id,
        MirroredPurchase.account_id,
        MirroredPurchase.payee_id,
        MirroredPurchase.txn_date,
        MirroredPurchase.total_amt,
        type_coerce(MirroredPurchase.raw, Text),
    ).where(_live(MirroredPurchase, business_id))
    journal_entries = select(
        MirroredJournalEntry.qbo_id, MirroredJournalEntry.txn_date, type_coerce(MirroredJournalEntry.raw, Text)
    ).where(_live(MirroredJournalEntry, business_id))
    transfers = select(
        MirroredTransfer.qbo_id,
        MirroredTransfer.txn_date,
        MirroredTransfer.total_amt,
        MirroredTransfer.from_account_id,
        MirroredTransfer.to_account_id,
    ).where(_live(MirroredTransfer, business_id))
    payments = select(
        MirroredBillPayment.txn_date,
        MirroredBillPayment.pay_type,
        MirroredBillPayment.account_id,
        type_coerce(MirroredBillPayment.raw, Text),
    ).where(_live(MirroredBillPayment, business_id))
    bill_rows = await column_rows(session, bills)
    purchase_rows = await column_rows(session, purchases)
    journal_rows = await column_rows(session, journal_entries)
    transfer_rows = await column_rows(session, transfers)
    payment_rows = await column_rows(session, payments)
    # Everything is fetched: what follows is pure computation, with no await for another task to run during.
    with collector_paused():
        spends: list[Spend] = []
        for qbo_id, vendor_id, txn_date, due_date, total, raw_text in bill_rows:
            if vendor_id is None or txn_date is None or not total or total <= 0:
                continue
            raw = orjson.loads(raw_text)  # names and references only: the amount is the typed column's
            name = vendors.get(vendor_id) or ref_name(raw, "VendorRef") or vendor_id
            terms = (due_date - txn_date).days if due_date is not None and due_date >= txn_date else 0
            spends.append(
                Spend(
                    SeriesKey(f"bill-{vendor_id}", name, "bill"),
                    qbo_id,
                    txn_date,
                    total,
                    _category_of_lines(raw, accounts),
                    "bank",
                    None,
                    terms_days=terms,
                )
            )
        for qbo_id, account_id, payee_id, txn_date, total, raw_text in purchase_rows:
            spend = _purchase(qbo_id, account_id, payee_id, txn_date, total, orjson.loads(raw_text), accounts, vendors)
            if spend is not None:
                spends.append(spend)
        for qbo_id, txn_date, raw_text in journal_rows:
            # Line amounts are money: parsed as Decimal (as the mirror's own column reads them), never through float.
            spend = _journal_entry(qbo_id, txn_date, loads_exact(raw_text), accounts)
            if spend is not None:
                spends.append(spend)
        for qbo_id, txn_date, total, from_id, to_id in transfer_rows:
            if txn_date is None or from_id is None or to_id is None or not total or total <= 0:
                continue
            if accounts.get(from_id, _NO_ACCOUNT).kind == "bank" and accounts.get(to_id, _NO_ACCOUNT).kind == "card":
                spends.append(_card_payment(qbo_id, txn_date, total, from_id, to_id, accounts))
        bill_payments = [
            BillPaid(bill_id, txn_date, "card" if pay_type == "CreditCard" else "bank", account_id)
            for txn_date, pay_type, account_id, raw_text in payment_rows
            if txn_date is not None
            for bill_id in _linked_bills(orjson.loads(raw_text))
        ]
        cards = {account_id: account.name for account_id, account in accounts.items() if account.kind == "card"}
        return SpendingHistory(spends, bill_payments, cards)


@dataclass(frozen=True)
class _Account:
    name: str
    kind: Literal["bank", "card", "other"]
    category: Category | None


_NO_ACCOUNT = _Account("", "other", None)


async def _accounts(session: AsyncSession, business_id: uuid.UUID) -> dict[str, _Account]:
    rows = await session.execute(
        select(
            MirroredAccount.qbo_id, MirroredAccount.name, MirroredAccount.account_type, MirroredAccount.account_sub_type
        ).where(MirroredAccount.business_id == business_id)
    )
    found: dict[str, _Account] = {}
    for qbo_id, name, account_type, sub_type in rows:
        kind: Literal["bank", "card", "other"] = (
            "bank" if account_type == "Bank" else "card" if account_type == "Credit Card" else "other"
        )
        category = Category.CARD_PAYMENT if kind == "card" else _category_of_account(name or "", sub_type)
        found[qbo_id] = _Account(name or qbo_id, kind, category)
    return found


def _category_of_account(name: str, sub_type: str | None) -> Category | None:
    for category, sub_types, words in _CATEGORY_PATTERNS:
        if sub_type in sub_types or words.search(name):
            return Category(category)
    return None


def _live(model: Any, business_id: uuid.UUID) -> Any:
    return (model.business_id == business_id) & (model.status == MirrorStatus.ACTIVE)


def _line_accounts(raw: dict[str, Any]) -> Iterator[str]:
    for line in raw.get("Line") or ():
        if isinstance(line, dict):
            account_id = ref_id(line.get("AccountBasedExpenseLineDetail"), "AccountRef")
            if account_id is not None:
                yield account_id


def _category_of_lines(raw: dict[str, Any], accounts: dict[str, _Account]) -> Category:
    """What the lines are booked to: the first line naming a known kind of expense."""
    for account_id in _line_accounts(raw):
        category = accounts.get(account_id, _NO_ACCOUNT).category
        if category is not None:
            return category
    return Category.OTHER


def _purchase(
    qbo_id: str,
    account_id: str | None,
    payee_id: str | None,
    txn_date: date | None,
    total: Decimal | None,
    raw: dict[str, Any],
    accounts: dict[str, _Account],
    vendors: dict[str, str],
) -> Spend | None:
    """A check, debit or card charge as a spend; None for a refund (``Credit``), or one not from a bank or card."""
    paid_from = accounts.get(account_id or "", _NO_ACCOUNT).kind
    if txn_date is None or not total or total <= 0 or raw.get("Credit") is True or paid_from == "other":
        return None
    assert paid_from in ("bank", "card")
    cards_paid = [line for line in _line_accounts(raw) if accounts.get(line, _NO_ACCOUNT).kind == "card"]
    if paid_from == "bank" and cards_paid:  # a check to the card issuer: the card's statement paid
        return _card_payment(qbo_id, txn_date, total, account_id, cards_paid[0], accounts)
    if payee_id is not None:
        name = vendors.get(payee_id) or ref_name(raw, "EntityRef") or payee_id
        key = SeriesKey(f"purchase-{payee_id}-{paid_from}-{account_id}", name, "purchase")
    else:
        line_account = next(_line_accounts(raw), "none")
        name = accounts.get(line_account, _NO_ACCOUNT).name or "Unnamed payee"
        key = SeriesKey(f"purchase-account-{line_account}-{paid_from}-{account_id}", name, "purchase")
    return Spend(key, qbo_id, txn_date, total, _category_of_lines(raw, accounts), paid_from, account_id)


def _card_payment(
    qbo_id: str, txn_date: date, total: Decimal, from_id: str | None, card_id: str, accounts: dict[str, _Account]
) -> Spend:
    name = f"{accounts.get(card_id, _NO_ACCOUNT).name or 'Credit card'} payment"
    key = SeriesKey(f"card-{card_id}", name, "card_payment")
    return Spend(key, qbo_id, txn_date, total, Category.CARD_PAYMENT, "bank", from_id, pays_card=card_id)


def _journal_entry(
    qbo_id: str, txn_date: date | None, raw: dict[str, Any], accounts: dict[str, _Account]
) -> Spend | None:
    """A journal entry taking cash out of bank accounts (net of what it puts in): payroll posted by a provider."""
    if txn_date is None:
        return None
    out_of_bank, debited = ZERO, set()
    bank_account = None
    for line in raw.get("Line") or ():
        detail = line.get("JournalEntryLineDetail") if isinstance(line, dict) else None
        account_id = ref_id(detail, "AccountRef")
        if detail is None or account_id is None:
            continue
        amount = Decimal(str(line.get("Amount") or 0))
        credit = detail.get("PostingType") == "Credit"
        if accounts.get(account_id, _NO_ACCOUNT).kind == "bank":
            out_of_bank += amount if credit else -amount
            bank_account = account_id
        elif not credit:
            debited.add(account_id)
    if out_of_bank <= 0 or not debited:
        return None
    names = sorted(accounts.get(account_id, _NO_ACCOUNT).name or account_id for account_id in debited)
    categories = [accounts.get(account_id, _NO_ACCOUNT).category for account_id in sorted(debited)]
    category = next((category for category in categories if category is not None), Category.OTHER)
    key = SeriesKey("journal-" + "+".join(sorted(debited)), ", ".join(names), "journal_entry")
    return Spend(key, qbo_id, txn_date, out_of_bank, category, "bank", bank_account)


def _linked_bills(raw: dict[str, Any]) -> Iterator[str]:
    for line in raw.get("Line") or ():
        for linked in line.get("LinkedTxn") or () if isinstance(line, dict) else ():
            if isinstance(linked, dict) and linked.get("TxnType") == "Bill" and linked.get("TxnId") is not None:
                yield str(linked["TxnId"])


# ------------------------------------------------------------------------------------------------- detection
@dataclass(frozen=True)
class DetectedSeries:
    """A recurring outflow found in the history as of a day."""

    key: SeriesKey
    category: Category
    schedule: Schedule
    amount: Decimal  # median of the last three
    last_seen: date
    seen: int  # occurrences judged on
    jitter_days: int  # the most an occurrence strayed from its schedule
    terms_days: int  # a bill series: paid this many days after it is billed
    paid_from: PaidFrom
    paid_from_account: str | None
    pays_card: str | None
    source_ids: tuple[str, ...]  # the transactions of its last occurrences, newest last

    @property
    def id(self) -> str:
        return self.key.id

    def reason(self) -> str:
        billed = (
            f" Billed, then due {self.terms_days} days later." if self.key.source == "bill" and self.terms_days else ""
        )
        return (
            f"{self.key.name}: {describe_schedule(self.schedule)}, about {self.amount} each (median of the last "
            f"{min(self.seen, AMOUNT_OCCURRENCES)}); last on {self.last_seen.isoformat()}.{billed}"
        )


def detect_recurring(history: SpendingHistory, as_of: date) -> list[DetectedSeries]:
    """The series alive as of ``as_of``, from transactions dated on or before it, largest first."""
    by_key: dict[str, list[Spend]] = defaultdict(list)
    for spend in history.spends_as_of(as_of):
        by_key[spend.key.id].append(spend)
    paid_by_bill: dict[str, BillPaid] = {}
    for paid in history.bill_payments_as_of(as_of):
        paid_by_bill[paid.bill_id] = paid  # in date order: the latest payment of each bill wins
    found = [series for spends in by_key.values() if (series := _series(spends, as_of, paid_by_bill)) is not None]
    return sorted(found, key=lambda series: (-series.amount, series.id))


def _series(spends: list[Spend], as_of: date, paid_by_bill: dict[str, BillPaid]) -> DetectedSeries | None:
    by_day: dict[date, list[Spend]] = defaultdict(list)
    for spend in spends:
        by_day[spend.day].append(spend)
    days = sorted(by_day)[-RECENT_OCCURRENCES:]
    if len(days) < MIN_OCCURRENCES:
        return None
    fit = fit_schedule(days)
    if fit is None:
        return None
    schedule, on_schedule = fit.schedule, fit.on_schedule
    last = on_schedule[-1]  # a one-off after it (a yearly reconciliation) does not move the schedule
    if schedule.stopped(last, as_of):
        return None
    amounts = [sum((spend.amount for spend in by_day[day]), ZERO) for day in on_schedule[-AMOUNT_OCCURRENCES:]]
    recent = [spend for day in on_schedule for spend in by_day[day]]
    first = recent[0]
    paid_from, paid_from_account = first.paid_from, recent[-1].paid_from_account
    if first.key.source == "bill":
        payments = [paid_by_bill[spend.source_id] for spend in recent if spend.source_id in paid_by_bill]
        if payments:
            latest = max(payments, key=lambda paid: paid.day)
            paid_from, paid_from_account = latest.paid_from, latest.account_id
    return DetectedSeries(
        key=first.key,
        category=Counter(spend.category for spend in recent).most_common(1)[0][0],
        schedule=schedule,
        amount=_median(amounts),
        last_seen=last,
        seen=len(on_schedule),
        jitter_days=fit.jitter_days,
        terms_days=int(statistics.median_low([spend.terms_days or 0 for spend in recent])),
        paid_from=paid_from,
        paid_from_account=paid_from_account,
        pays_card=first.pays_card,
        source_ids=tuple(spend.source_id for spend in by_day[last]),
    )


@dataclass(frozen=True)
class ScheduleFit:
    """How a run of dates keeps to a schedule."""

    schedule: Schedule
    on_schedule: list[date]  # the occurrences within the cadence's tolerance of a scheduled date
    jitter_days: int  # the furthest of them from its date


def fit_schedule(days: Sequence[date]) -> ScheduleFit | None:
    """The cadence whose schedule the days keep to best: three in four of them on it at least (the rest are one-offs
    of the same payee), and three in four of its dates between the first and the last met. Of several, the one most
    days keep to (twice a month on weekend-shifted dates also half fits every two weeks), then the tighter."""
    fit = _fit_schedule(tuple(days))
    # A copy of the remembered fit's list: whatever the caller does with it, the next answer stays the same.
    return None if fit is None else replace(fit, on_schedule=list(fit.on_schedule))


@functools.lru_cache(maxsize=FITS_REMEMBERED)
def _fit_schedule(days: tuple[date, ...]) -> ScheduleFit | None:
    """Pure in ``days``, and asked again and again for the same ones (each forecast, each week a backtest replays)."""
    fits: list[tuple[tuple[float, float, int, int], ScheduleFit]] = []
    for rank, schedule in enumerate(_candidates(days)):
        tolerance = _SPACING[schedule.cadence][1]
        slot_of = {day: slot for day in days if abs((day - (slot := schedule.nearest(day))).days) <= tolerance}
        slots = sorted(set(slot_of.values()))
        if len(slots) < MIN_OCCURRENCES or len(slot_of) < FIT_SHARE * len(days):
            continue
        expected = sum(1 for _ in schedule.dates(slots[0], slots[-1] + timedelta(days=1)))
        if len(slots) < FIT_SHARE * expected:
            continue
        jitter = max(abs((day - slot).days) for day, slot in slot_of.items())
        score = (len(slot_of) / len(days), len(slots) / expected, -jitter, -rank)
        fits.append((score, ScheduleFit(schedule, sorted(slot_of), jitter)))
    return max(fits, key=lambda scored: scored[0])[1] if fits else None


def _candidates(days: Sequence[date]) -> Iterator[Schedule]:
    """A schedule per cadence, each drawn from the days: the weekday most of them fall on, the day or two days of the
    month they keep near, the month of the quarter most of them fall in."""
    last = days[-1]
    yield Schedule(Cadence.TAX_QUARTERS, last, 15)
    weekday = Counter(day.weekday() for day in days).most_common(1)[0][0]
    on_weekday = next(day for day in reversed(days) if day.weekday() == weekday)
    yield Schedule(Cadence.WEEKLY, on_weekday, on_weekday.day)
    yield Schedule(Cadence.BIWEEKLY, on_weekday, on_weekday.day)
    ordered = sorted(day.day for day in days)
    gap, split = max((later - earlier, index) for index, (earlier, later) in enumerate(pairwise(ordered)))
    if gap >= 8:
        low, high = ordered[: split + 1], ordered[split + 1 :]
        yield Schedule(Cadence.SEMIMONTHLY, last, int(statistics.median_low(low)), int(statistics.median_low(high)))
    yield Schedule(Cadence.MONTHLY, last, int(statistics.median_low(ordered)))
    quarter_month = Counter(day.month % 3 for day in days).most_common(1)[0][0]
    in_quarter = [day for day in days if day.month % 3 == quarter_month]
    yield Schedule(Cadence.QUARTERLY, in_quarter[-1], int(statistics.median_low(day.day for day in in_quarter)))


def _median(amounts: Sequence[Decimal]) -> Decimal:
    ordered = sorted(amounts)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return ((ordered[middle - 1] + ordered[middle]) / 2).quantize(CENT, ROUND_HALF_UP)


# ------------------------------------------------------------------------------------- what people change


class RecurringEdit(IdMixin, Base):
    """A person's recurring item, or their change to a detected one (``detected_key``). Lifecycle: created by the
    first change; a user's own item is deleted when removed, a detected one's change row is kept (``disabled`` is
    how a detected series is taken out of the forecast, and put back)."""

    __tablename__ = "ap_recurring_items"
    __table_args__ = (
        UniqueConstraint("business_id", "detected_key", name="uq_ap_recurring_items_business_id_detected_key"),
        CheckConstraint("amount IS NULL OR amount > 0", name="amount_positive"),
        CheckConstraint(
            "detected_key IS NOT NULL OR (name IS NOT NULL AND category IS NOT NULL AND cadence IS NOT NULL "
            "AND amount IS NOT NULL AND next_date IS NOT NULL)",
            name="own_item_complete",
        ),
    )

    business_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    detected_key: Mapped[str | None] = mapped_column(String(KEY_MAX_LENGTH))
    name: Mapped[str | None] = mapped_column(String(NAME_MAX_LENGTH))
    category: Mapped[Category | None] = mapped_column(str_enum(Category, "recurring_category"))
    cadence: Mapped[Cadence | None] = mapped_column(str_enum(Cadence, "recurring_cadence"))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    next_date: Mapped[date | None] = mapped_column(Date)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RecurringItemNotFound(NotFound):
    code = "recurring_item_not_found"
    message = "No such recurring item in this business."


class NextDateInThePast(InvalidInput):
    code = "next_date_in_the_past"

    def __init__(self, next_date: date, today: date) -> None:
        super().__init__(f"next_date: {next_date.isoformat()} is before today, {today.isoformat()}.", field="next_date")


class OwnItemFieldRequired(InvalidInput):
    code = "field_required"

    def __init__(self, name: str) -> None:
        super().__init__(f"{name}: it cannot be cleared here; send a value.", field=name)


@dataclass(frozen=True)
class Edit:
    """A :class:`RecurringEdit` row's values, for the pure merge."""

    id: uuid.UUID
    detected_key: str | None
    name: str | None
    category: Category | None
    cadence: Cadence | None
    amount: Decimal | None
    next_date: date | None
    disabled: bool

    @classmethod
    def of(cls, row: RecurringEdit) -> Edit:
        return cls(
            row.id, row.detected_key, row.name, row.category, row.cadence, row.amount, row.next_date, row.disabled
        )


class _Keep(enum.Enum):
    KEEP = "keep"


KEEP = _Keep.KEEP


@dataclass(frozen=True)
class RecurringChanges:
    """Fields to change; ``KEEP`` leaves one as it is. On a detected series, None puts a field back to what detection
    says; on an item added by hand, None is refused."""

    name: str | _Keep | None = KEEP
    category: Category | _Keep | None = KEEP
    cadence: Cadence | _Keep | None = KEEP
    amount: Decimal | _Keep | None = KEEP
    next_date: date | _Keep | None = KEEP
    disabled: bool | _Keep = KEEP

    def set_fields(self) -> dict[str, Any]:
        return {name: value for name, value in vars(self).items() if value is not KEEP}


# ---------------------------------------------------------------------------------------- the merged items
@dataclass(frozen=True)
class Occurrence:
    """One payment of a series within the horizon: ``on`` is where the forecast counts it (today, for one due
    already and not seen yet), ``scheduled`` its date by the schedule, ``early``/``late`` how far it may stray."""

    on: date
    scheduled: date
    early: date
    late: date


@dataclass(frozen=True)
class RecurringItem:
    """A recurring outflow as the forecast and the API see it: detected (possibly changed by hand) or added."""

    id: str  # a detected series' key, or the uuid of an item added by hand
    origin: Origin
    name: str
    category: Category
    cadence: Cadence
    schedule: str  # in words
    amount: Decimal
    paid_from: PaidFrom
    enabled: bool
    edited: bool
    last_seen: date | None
    reason: str
    upcoming: tuple[Occurrence, ...]
    charged_to: str | None = None  # paid by card: the card account
    pays_card: str | None = None  # a card payment: the card it pays
    counted_in: str | None = None  # charged to a card whose payment is forecast: that payment's id

    @property
    def in_forecast(self) -> bool:
        return self.enabled and self.counted_in is None

    @property
    def next_date(self) -> date | None:
        return self.upcoming[0].on if self.upcoming else None


def recurring_items(
    detected: Sequence[DetectedSeries],
    edits: Sequence[Edit],
    as_of: date,
    *,
    until: date | None = None,
    card_names: dict[str, str] | None = None,
) -> list[RecurringItem]:
    """Detected series with people's changes applied, then the items people added; each with its occurrences from
    ``as_of`` to ``until`` (the 13 weeks by default). A card's charges are marked as counted in its payment."""
    until = until or as_of + timedelta(days=HORIZON_DAYS)
    changed = {edit.detected_key: edit for edit in edits if edit.detected_key is not None}
    items = [_detected_item(series, changed.get(series.id), as_of, until) for series in detected]
    items += [_own_item(edit, as_of, until) for edit in edits if edit.detected_key is None]
    paying = {item.pays_card: item for item in items if item.pays_card is not None and item.enabled}
    names = card_names or {}
    for index, item in enumerate(items):
        payment = paying.get(item.charged_to) if item.charged_to is not None else None
        if payment is not None and item.origin == "detected":
            card = names.get(item.charged_to or "", "the card")
            note = f" Charged to {card}: its cash leaves with the card's payment ({payment.name}), counted there."
            items[index] = replace(item, counted_in=payment.id, reason=item.reason + note)
    return items


def _detected_item(series: DetectedSeries, edit: Edit | None, as_of: date, until: date) -> RecurringItem:
    upcoming = _projected(series, as_of, until)
    schedule, reason = series.schedule, series.reason()
    amount, name, category = series.amount, series.key.name, series.category
    if edit is not None:
        amount = edit.amount or amount
        name = edit.name or name
        category = edit.category or category
        if edit.cadence is not None or edit.next_date is not None:
            first = edit.next_date or (upcoming[0].scheduled if upcoming else as_of)
            schedule = Schedule.starting(edit.cadence or series.schedule.cadence, first)
            upcoming = _scheduled(schedule, first, as_of, until)
        reason += " " + _changes_text(edit, describe_schedule(schedule))
    charged_to = series.paid_from_account if series.paid_from == "card" else None
    return RecurringItem(
        id=series.id,
        origin="detected",
        name=name,
        category=category,
        cadence=schedule.cadence,
        schedule=describe_schedule(schedule),
        amount=amount,
        paid_from=series.paid_from,
        enabled=edit is None or not edit.disabled,
        edited=edit is not None,
        last_seen=series.last_seen,
        reason=reason,
        upcoming=upcoming,
        charged_to=charged_to,
        pays_card=series.pays_card,
    )


def _own_item(edit: Edit, as_of: date, until: date) -> RecurringItem:
    assert edit.cadence
    assert edit.next_date
    assert edit.amount
    assert edit.name
    assert edit.category
    schedule = Schedule.starting(edit.cadence, edit.next_date)
    words = describe_schedule(schedule)
    return RecurringItem(
        id=str(edit.id),
        origin="user",
        name=edit.name,
        category=edit.category,
        cadence=edit.cadence,
        schedule=words,
        amount=edit.amount,
        paid_from="bank",
        enabled=not edit.disabled,
        edited=True,
        last_seen=None,
        reason=f"Added by hand: {edit.name}, {words}, {edit.amount} each from {edit.next_date.isoformat()}."
        + (" Switched off: not in the forecast." if edit.disabled else ""),
        upcoming=_scheduled(schedule, edit.next_date, as_of, until),
    )


def _changes_text(edit: Edit, schedule_words: str) -> str:
    changes = []
    if edit.amount is not None:
        changes.append(f"amount set to {edit.amount}")
    if edit.cadence is not None or edit.next_date is not None:
        changes.append(f"schedule set to {schedule_words}")
    if edit.name is not None:
        changes.append(f"named {edit.name!r}")
    if edit.category is not None:
        changes.append(f"filed as {edit.category.value}")
    text = f"Changed by hand: {', '.join(changes)}." if changes else ""
    return (text + " Switched off: not in the forecast.").strip() if edit.disabled else text


def _projected(series: DetectedSeries, as_of: date, until: date) -> tuple[Occurrence, ...]:
    """The series' next occurrences after its last one, paid its terms after each scheduled date; one due already and
    not seen yet is counted today (an outflow is not assumed away)."""
    jitter, terms = timedelta(days=series.jitter_days), timedelta(days=series.terms_days)
    found = []
    scheduled = series.schedule.after(series.last_seen)
    while (cash := scheduled + terms) < until:
        on = max(cash, as_of)
        found.append(Occurrence(on, cash, min(cash - jitter, on), max(cash + jitter, on)))
        scheduled = series.schedule.after(scheduled)
    return tuple(found)


def _scheduled(schedule: Schedule, first: date, as_of: date, until: date) -> tuple[Occurrence, ...]:
    """A schedule a person set: its dates from ``first``; those before ``as_of`` have passed."""
    return tuple(Occurrence(day, day, day, day) for day in schedule.dates(first, until) if day >= as_of)


# ------------------------------------------------------------------------------------------------ the service
class RecurringEditRepository(TenantRepository[RecurringEdit]):
    model = RecurringEdit

    async def listed(self) -> Sequence[RecurringEdit]:
        return await self.all(self.select().order_by(RecurringEdit.created_at, RecurringEdit.id))

    async def of_detected(self, key: str) -> RecurringEdit | None:
        return await self.one_or_none(self.select().where(RecurringEdit.detected_key == key))

    async def own(self, item_id: uuid.UUID) -> RecurringEdit | None:
        return await self.one_or_none(
            self.select().where(RecurringEdit.id == item_id, RecurringEdit.detected_key.is_(None))
        )


class RecurringService:
    """One business's recurring items, in the caller's session (which commits)."""

    def __init__(self, session: AsyncSession, business_id: uuid.UUID) -> None:
        self._session = session
        self._business_id = business_id
        self._edits = RecurringEditRepository(session, business_id)
        self._audit = AuditLog(session)

    async def items(
        self, as_of: date, *, with_edits: bool = True, history: SpendingHistory | None = None
    ) -> list[RecurringItem]:
        """Detected as of ``as_of`` and merged with people's changes (``with_edits=False``: detection alone, as a
        replay of a past day must be: today's changes were not known then)."""
        history = history or await load_spending_history(self._session, self._business_id)
        edits = [Edit.of(row) for row in await self._edits.listed()] if with_edits else []
        return recurring_items(detect_recurring(history, as_of), edits, as_of, card_names=history.card_names)

    async def item(self, item_id: str, today: date) -> RecurringItem:
        found = next((item for item in await self.items(today) if item.id == item_id), None)
        if found is None:
            raise RecurringItemNotFound()
        return found

    async def add(
        self,
        *,
        name: str,
        category: Category,
        cadence: Cadence,
        amount: Decimal,
        next_date: date,
        today: date,
        actor_id: uuid.UUID,
    ) -> RecurringItem:
        _check_next_date(next_date, today)
        row = RecurringEdit(
            business_id=self._business_id,
            name=name,
            category=category,
            cadence=cadence,
            amount=amount,
            next_date=next_date,
            disabled=False,
            created_by=actor_id,
            updated_by=actor_id,
        )
        await self._edits.add(row)
        await self._record(actor_id, "recurring_item.created", str(row.id), {"name": name, "amount": amount})
        return await self.item(str(row.id), today)

    async def change(
        self, item_id: str, changes: RecurringChanges, *, today: date, actor_id: uuid.UUID
    ) -> RecurringItem:
        values = changes.set_fields()
        if isinstance(values.get("next_date"), date):
            _check_next_date(values["next_date"], today)
        row = await self._row_for(item_id, today)
        for name, value in values.items():
            # An own item's fields are all needed; a detected one's fall back to detection, but on or off it must be.
            if value is None and (row.detected_key is None or name == "disabled"):
                raise OwnItemFieldRequired(name)
        for name, value in values.items():
            setattr(row, name, value)
        row.updated_by = actor_id
        await self._session.flush()
        await self._record(actor_id, "recurring_item.changed", item_id, values)
        return await self.item(item_id, today)

    async def remove(self, item_id: str, *, today: date, actor_id: uuid.UUID) -> None:
        """An item added by hand is deleted; a detected series is switched off (``disabled``), which can be undone."""
        row = await self._row_for(item_id, today)
        if row.detected_key is None:
            await self._edits.delete(row)
        else:
            row.disabled, row.updated_by = True, actor_id
            await self._session.flush()
        await self._record(actor_id, "recurring_item.removed", item_id, {})

    async def _row_for(self, item_id: str, today: date) -> RecurringEdit:
        """The row holding changes to ``item_id``: an own item's, or a detected series' (made at its first change)."""
        try:
            own_id = uuid.UUID(item_id)
        except ValueError:
            own_id = None
        if own_id is not None:
            row = await self._edits.own(own_id)
            if row is None:
                raise RecurringItemNotFound()
            return row
        row = await self._edits.of_detected(item_id)
        if row is not None:
            return row
        await self.item(item_id, today)  # only a series detected today can be changed
        return await self._edits.add(RecurringEdit(business_id=self._business_id, detected_key=item_id, disabled=False))

    async def _record(self, actor_id: uuid.UUID, action: str, item_id: str, detail: dict[str, Any]) -> None:
        safe = {name: value.value if isinstance(value, enum.Enum) else value for name, value in detail.items()}
        await self._audit.record(self._business_id, actor_id, action, subject=("recurring_item", item_id), detail=safe)


def _check_next_date(next_date: date, today: date) -> None:
    if next_date < today:
        raise NextDateInThePast(next_date, today)
