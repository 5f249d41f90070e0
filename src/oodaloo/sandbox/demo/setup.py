"""The demo company's lists: chart of accounts, payment methods, sales tax, terms, service items, vendors and
customers. QBO's own defaults for a new US company come first, then what the firm set up itself."""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal

from . import names
from .book import Body, Book
from .model import Draft, between, money

# (Name, AccountType, AccountSubType). The accounts a new QBO company starts with (QBO makes them itself: the
# receivable/payable and clearing accounts, inventory and product-sales accounts with their cost of goods, the
# equity accounts and the "uncategorized" catch-alls that Preferences.OtherPrefs names). ADR 0002 has the sources.
QBO_DEFAULT_ACCOUNTS: tuple[tuple[str, str, str], ...] = (
    ("Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable"),
    ("Inventory Asset", "Other Current Asset", "Inventory"),
    ("Prepaid Expenses", "Other Current Asset", "PrepaidExpenses"),
    ("Uncategorized Asset", "Other Current Asset", "OtherCurrentAssets"),
    ("Undeposited Funds", "Other Current Asset", "UndepositedFunds"),
    ("Accounts Payable (A/P)", "Accounts Payable", "AccountsPayable"),
    ("Opening Balance Equity", "Equity", "OpeningBalanceEquity"),
    ("Retained Earnings", "Equity", "RetainedEarnings"),
    ("Sales of Product Income", "Income", "SalesOfProductIncome"),
    ("Services", "Income", "ServiceFeeIncome"),
    ("Uncategorized Income", "Income", "ServiceFeeIncome"),
    ("Cost of Goods Sold", "Cost of Goods Sold", "SuppliesMaterialsCogs"),
    ("Purchases", "Expense", "SuppliesMaterials"),
    ("Uncategorized Expense", "Expense", "OtherMiscellaneousServiceCost"),
    ("Reconciliation Discrepancies", "Other Expense", "OtherMiscellaneousExpense"),
)
# The firm's own accounts, added when it set up its books.
FIRM_ACCOUNTS: tuple[tuple[str, str, str], ...] = (
    ("Checking", "Bank", "Checking"),
    ("Savings", "Bank", "Savings"),
    ("Amex Business Card", "Credit Card", "CreditCard"),
    ("Owner's Equity", "Equity", "OwnersEquity"),
    ("Consulting Income", "Income", "ServiceFeeIncome"),
    ("Retainer Income", "Income", "ServiceFeeIncome"),
    ("Interest Earned", "Other Income", "InterestEarned"),
    ("Payroll Expenses", "Expense", "PayrollExpenses"),
    ("Payroll Taxes", "Expense", "PayrollExpenses"),
    ("Rent", "Expense", "RentOrLeaseOfBuildings"),
    ("Software Subscriptions", "Expense", "OfficeGeneralAdministrativeExpenses"),
    ("Contractors", "Expense", "CostOfLabor"),
    ("Professional Fees", "Expense", "LegalProfessionalFees"),
    ("Travel", "Expense", "Travel"),
    ("Meals", "Expense", "EntertainmentMeals"),
    ("Office Supplies", "Expense", "SuppliesMaterials"),
    ("Insurance", "Expense", "Insurance"),
    ("Utilities", "Expense", "Utilities"),
    ("Taxes & Licenses", "Expense", "TaxesPaid"),
    ("Bank Charges", "Expense", "BankCharges"),
)
ACCOUNTS = QBO_DEFAULT_ACCOUNTS + FIRM_ACCOUNTS

# (Name, Type): the payment methods a new QBO company has.
PAYMENT_METHODS: tuple[tuple[str, str], ...] = (
    ("American Express", "CREDIT_CARD"),
    ("Cash", "NON_CREDIT_CARD"),
    ("Check", "NON_CREDIT_CARD"),
    ("Diners Club", "CREDIT_CARD"),
    ("Discover", "CREDIT_CARD"),
    ("MasterCard", "CREDIT_CARD"),
    ("Visa", "CREDIT_CARD"),
)
# Sales tax as a US company has it: the pseudo codes every line uses, and the firm's state rate grouped in a code
# (a services firm charges none: Preferences.TaxPrefs.UsingSalesTax is false).
PSEUDO_TAX_CODES: tuple[tuple[str, bool], ...] = (("TAX", True), ("NON", False))
STATE_TAX = ("California", "7.25", "1")  # rate name, percent, tax agency Id

TERMS: tuple[tuple[str, int], ...] = (
    ("Due on receipt", 0),
    ("Net 15", 15),
    ("Net 30", 30),
    ("Net 45", 45),
    ("Net 60", 60),
)

# (Name, income account, description, unit price)
ITEMS: tuple[tuple[str, str, str, str], ...] = (
    ("Monthly Retainer", "Retainer Income", "Monthly advisory retainer", "0"),
    ("Consulting", "Consulting Income", "Consulting services (hourly)", "175"),
    ("Strategy Workshop", "Consulting Income", "Facilitated strategy workshop (hourly)", "225"),
    ("Implementation", "Consulting Income", "Implementation support (hourly)", "150"),
)


# How a customer pays, broadly; each customer draws its own lateness, noise and drift around its habit (payers.py).
Habit = Literal["early", "on_time", "slow", "late", "erratic"]
HABITS: tuple[Habit, ...] = ("early", "on_time", "slow", "late", "erratic")


@dataclass
class CustomerPlan:
    draft: Draft
    name: str
    email: str
    term: Draft
    term_days: int
    habit: Habit
    retainer: Decimal | None  # monthly retainer; None for project-only clients
    billing_day: int
    hourly_rate: Decimal
    projects_per_month: float
    pays_by_check: bool  # checks go to Undeposited Funds and reach the bank with a later Deposit
    active_from: date
    active_until: date | None = None


@dataclass
class VendorPlan:
    draft: Draft
    name: str
    role: str
    term_days: int | None  # None: the vendor has no terms (a hygiene problem)
    term: Draft | None
    email: str | None


@dataclass
class Lists:
    accounts: dict[str, Draft]
    terms: dict[str, Draft]
    items: dict[str, Draft]
    payment_methods: dict[str, Draft] = field(default_factory=dict)
    vendors: list[VendorPlan] = field(default_factory=list)
    customers: list[CustomerPlan] = field(default_factory=list)

    def vendors_in(self, role: str) -> list[VendorPlan]:
        return [vendor for vendor in self.vendors if vendor.role == role]

    def vendor(self, role: str) -> VendorPlan:
        return self.vendors_in(role)[0]


@dataclass(frozen=True)
class ListSizes:
    customers: int
    contractors: int


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", name.lower())


class _Clock:
    """Set-up happens one object after another in the days before the books start."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def tick(self, seconds: int) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def build_lists(
    book: Book, *, setup_at: datetime, sizes: ListSizes, clients_since: date, habit_weights: tuple[int, ...]
) -> Lists:
    clock = _Clock(setup_at)
    lists = _company_setup(book, clock)
    lists.vendors = _vendors(book, clock, lists.terms, sizes.contractors)
    lists.customers = _customers(book, clock, lists.terms, sizes.customers, clients_since, habit_weights)
    return lists


def build_company_setup(book: Book, *, setup_at: datetime) -> Lists:
    """Only what a company has before any name or transaction: accounts, payment methods, tax, terms, items."""
    return _company_setup(book, _Clock(setup_at))


def _company_setup(book: Book, clock: _Clock) -> Lists:
    accounts = {name: _account(book, clock, name, kind, sub) for name, kind, sub in ACCOUNTS}
    methods = {name: _payment_method(book, clock, name, kind) for name, kind in PAYMENT_METHODS}
    _sales_tax(book, clock)
    terms = {name: _term(book, clock, name, days) for name, days in TERMS}
    items = {item[0]: _item(book, clock, item, accounts) for item in ITEMS}
    return Lists(accounts, terms, items, methods)


def _account(book: Book, clock: _Clock, name: str, kind: str, sub: str) -> Draft:
    body: Body = {"Name": name, "AccountType": kind, "AccountSubType": sub}
    return book.add_at("Account", clock.tick(40), lambda: dict(body))


def _payment_method(book: Book, clock: _Clock, name: str, kind: str) -> Draft:
    return book.add_at("PaymentMethod", clock.tick(20), lambda: {"Name": name, "Type": kind})


def _sales_tax(book: Book, clock: _Clock) -> None:
    for code, taxable in PSEUDO_TAX_CODES:
        body: Body = {"Name": code, "Description": code, "Taxable": taxable}
        book.add_at("TaxCode", clock.tick(5), functools.partial(dict, body), fixed_id=code)
    name, percent, agency = STATE_TAX
    rate_body: Body = {
        "Name": name,
        "Description": "Sales Tax",
        "RateValue": Decimal(percent),
        "AgencyRef": {"value": agency},
    }
    rate = book.add_at("TaxRate", clock.tick(20), lambda: dict(rate_body))

    def group() -> Body:
        detail = {"TaxTypeApplicable": "TaxOnAmount", "TaxRateRef": rate.ref(), "TaxOrder": 0}
        return {
            "Name": name,
            "Description": name,
            "SalesTaxRateList": {"TaxRateDetail": [detail]},
            "PurchaseTaxRateList": {"TaxRateDetail": []},
        }

    book.add_at("TaxCode", clock.tick(20), group)


def _term(book: Book, clock: _Clock, name: str, days: int) -> Draft:
    return book.add_at("Term", clock.tick(30), lambda: {"Name": name, "DueDays": days})


def _item(book: Book, clock: _Clock, item: tuple[str, str, str, str], accounts: dict[str, Draft]) -> Draft:
    name, income, description, price = item
    income_account = accounts[income]

    def build() -> Body:
        return {
            "Name": name,
            "Type": "Service",
            "Description": description,
            "UnitPrice": money(price),
            "IncomeAccountRef": income_account.ref(),
        }

    return book.add_at("Item", clock.tick(45), build)


# Vendor roles with their usual terms; a few vendors are deliberately left without terms or email.
_VENDOR_ROLES: tuple[tuple[str, tuple[str, ...], str | None], ...] = (
    ("landlord", (names.LANDLORD,), "Due on receipt"),
    ("payroll", (names.PAYROLL_PROVIDER,), "Due on receipt"),
    ("tax", (names.IRS, names.STATE_TAX), "Due on receipt"),
    ("card_issuer", (names.CARD_ISSUER,), "Due on receipt"),
    ("insurance", names.INSURERS, "Net 30"),
    ("utility", names.UTILITIES, "Net 15"),
    ("billed_software", names.BILLED_SOFTWARE, "Net 15"),
    ("card_software", names.CARD_SOFTWARE, "Due on receipt"),
    ("professional", names.PROFESSIONAL, "Net 30"),
    ("travel", names.TRAVEL, "Due on receipt"),
    ("meals", names.MEALS, "Due on receipt"),
    ("office", names.OFFICE, "Net 30"),
)
_WITHOUT_TERMS = {names.UTILITIES[2], names.TRAVEL[2], names.CONTRACTORS[3]}
_WITHOUT_EMAIL = {names.UTILITIES[0], names.MEALS[1], names.CONTRACTORS[4], names.OFFICE[2]}


def _vendors(book: Book, clock: _Clock, terms: dict[str, Draft], contractors: int) -> list[VendorPlan]:
    plans: list[VendorPlan] = []
    for role, role_names, term_name in _VENDOR_ROLES:
        for name in role_names:
            plans.append(_vendor(book, clock, name, role, None if name in _WITHOUT_TERMS else term_name, terms))
    for name in _contractor_names(contractors):
        term_name = None if name in _WITHOUT_TERMS else book.rng.choice(("Net 15", "Net 30"))
        plans.append(_vendor(book, clock, name, "contractor", term_name, terms))
    return plans


def _contractor_names(count: int) -> list[str]:
    composed = (
        f"{first} {last} {kind}"
        for kind, last, first in _product(_TRADES, names.CONTRACTOR_LAST, names.CONTRACTOR_FIRST)
    )
    return _take(names.CONTRACTORS, composed, count)


def _vendor(
    book: Book, clock: _Clock, name: str, role: str, term_name: str | None, terms: dict[str, Draft]
) -> VendorPlan:
    term = terms[term_name] if term_name else None
    email = None if name in _WITHOUT_EMAIL else f"billing@{slug(name)}.example"
    phone = f"(415) 555-{between(book.rng, 1000, 9999)}"

    def build() -> Body:
        body: Body = {
            "DisplayName": name,
            "CompanyName": name,
            "PrimaryPhone": {"FreeFormNumber": phone},
            "Vendor1099": role == "contractor",
        }
        if email:
            body["PrimaryEmailAddr"] = {"Address": email}
        if term:
            body["TermRef"] = term.ref()
        return body

    draft = book.add_at("Vendor", clock.tick(60), build)
    return VendorPlan(draft, name, role, dict(TERMS).get(term_name or ""), term, email)


_TERM_WEIGHTS = (("Due on receipt", 1), ("Net 15", 3), ("Net 30", 6), ("Net 45", 2), ("Net 60", 1))
# The first few customers cover every habit, so each is present at any size; the rest are drawn.
_FIRST_HABITS: tuple[Habit, ...] = ("early", "late", "on_time", "erratic", "late", "early", "erratic", "late", "slow")


def _habit(book: Book, index: int, weights: tuple[int, ...]) -> Habit:
    return _FIRST_HABITS[index] if index < len(_FIRST_HABITS) else book.rng.choices(HABITS, weights)[0]


def _customer_names(count: int) -> list[str]:
    composed = (
        f"{prefix} {suffix}{place}"
        for place, suffix, prefix in _product(_PLACES, names.NAME_SUFFIXES, names.NAME_PREFIXES)
    )
    return _take(names.CUSTOMERS, composed, count)


_TRADES = ("Consulting", "Design", "Analytics", "Research", "Studio")
# Large realms need many distinct names: the composed ones are repeated per place (and then numbered).
_PLACES = ("", " of Oakland", " of San Jose", " of Fresno", " of Sacramento", " of Reno", " of Portland")


def _product(*lists: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    """Every combination, then every combination again with a number, without end."""
    yield from itertools.product(*lists)
    for round_number in itertools.count(2):
        for combination in itertools.product(*lists):
            yield (*combination[:-1], f"{combination[-1]} {round_number}")


def _take(fixed: tuple[str, ...], composed: Iterator[str], count: int) -> list[str]:
    return list(fixed[:count]) + list(itertools.islice(composed, max(0, count - len(fixed))))


def _customers(
    book: Book,
    clock: _Clock,
    terms: dict[str, Draft],
    count: int,
    clients_since: date,
    habit_weights: tuple[int, ...],
) -> list[CustomerPlan]:
    rng = book.rng
    plans: list[CustomerPlan] = []
    for index, name in enumerate(_customer_names(count)):
        term_name = rng.choices([t for t, _ in _TERM_WEIGHTS], [w for _, w in _TERM_WEIGHTS])[0]
        is_retainer = rng.random() < 0.7
        retainer = money(rng.choice((1500, 2000, 2500, 3000, 3500, 4000, 4500, 5000, 6000, 7500, 9000)))
        email = f"{rng.choice(('ap', 'billing', 'accounts'))}@{slug(name)}.example"
        plan = CustomerPlan(
            draft=_customer_draft(book, clock, name, email, terms[term_name], index),
            name=name,
            email=email,
            term=terms[term_name],
            term_days=dict(TERMS)[term_name],
            habit=_habit(book, index, habit_weights),
            retainer=retainer if is_retainer else None,
            billing_day=between(rng, 1, 28),
            hourly_rate=money(rng.choice((150, 165, 175, 195, 225, 250))),
            projects_per_month=0.1 if is_retainer else rng.uniform(0.35, 0.8),
            pays_by_check=index % 4 == 1 or rng.random() < 0.12,
            active_from=clients_since,
        )
        plans.append(plan)
    return plans


def _customer_draft(book: Book, clock: _Clock, name: str, email: str, term: Draft, index: int) -> Draft:
    phone = f"({book.rng.choice((415, 510, 650, 408))}) 555-{between(book.rng, 1000, 9999)}"
    given, family = names.CONTRACTOR_FIRST[index % 10], names.CONTRACTOR_LAST[index % 8]

    def build() -> Body:
        return {
            "DisplayName": name,
            "CompanyName": name,
            "GivenName": given,
            "FamilyName": family,
            "PrimaryEmailAddr": {"Address": email},
            "PrimaryPhone": {"FreeFormNumber": phone},
            "SalesTermRef": term.ref(),
            "PreferredDeliveryMethod": "Email",
        }

    return book.add_at("Customer", clock.tick(60), build)


def scaled_sizes(scale: float) -> ListSizes:
    """Name lists grow with the square root of the volume; the rest of the growth is frequency."""
    if scale <= 1:
        return ListSizes(customers=max(12, round(60 * scale)), contractors=max(3, round(6 * scale)))
    root = math.sqrt(scale)
    return ListSizes(customers=round(60 * root), contractors=round(6 * root))
