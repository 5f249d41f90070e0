"""Generates a deterministic demo professional-services firm as chronological QBO create requests."""

from __future__ import annotations

import contextlib
import gc
import hashlib
import math
import random
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from . import names
from .book import Body, Book
from .calibrate import Opening, opening_cash
from .dates import add_months
from .extras import ExtrasWriter
from .model import ZERO, DemoCompany, Draft, money
from .sales import SalesWriter
from .scenarios import PROFILES, Profile
from .setup import Lists, build_company_setup, build_lists, scaled_sizes
from .spend import SpendWriter

Scenario = Literal["healthy", "tight", "crisis", "empty"]

# The transactions ``size`` counts; the occasional credits, sales receipts, transfers and payroll journal entries
# come on top (their volume does not scale).
SIZED_ENTITIES = frozenset({"Bill", "BillPayment", "Invoice", "Payment", "Purchase", "Deposit"})
# Transactions in the natural history at scale 1, used for a first guess of the scale a size needs.
NATURAL_TRANSACTIONS = 2800
SIZE_ATTEMPTS = 6
MIN_SCALE = 0.05
TARGET_CORE_SHARE = 0.8
MIN_CORE_SHARE = 0.6


def derive_seed(seed: int, scenario: str) -> int:
    """A stable per-scenario seed (``hash()`` is salted per process, so it cannot be used)."""
    digest = hashlib.sha256(f"oodaloo-demo:{scenario}:{seed}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def generate_demo(
    scenario: Scenario, *, seed: int = 42, now: datetime, tz: str = "America/Los_Angeles", size: int | None = None
) -> DemoCompany:
    """The demo company for ``scenario`` as made at ``now`` (aware); the same arguments always give the same company.

    Its books run up to ``now``: dated up to today in the company's zone ``tz``, stamped no later than ``now``.

    ``size`` asks for exactly that many transactions (Bills, BillPayments, Invoices, Payments, Purchases
    and Deposits) instead of the natural volume; raises ``ValueError`` when it is below what a year of
    books needs. The ``empty`` scenario is a company just set up: settings and lists, no names or transactions.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    if scenario == "empty":
        if size is not None:
            raise ValueError("size does not apply to the empty scenario: it has no transactions")
        return _empty_company(now, ZoneInfo(tz))
    profile = PROFILES.get(scenario)
    if profile is None:
        raise ValueError(f"unknown scenario {scenario!r}; expected one of {sorted(PROFILES)} or 'empty'")
    if size is not None and size < 1:
        raise ValueError("size must be a positive number of transactions")
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    with _collector_paused():
        return _generate(profile, seed, now, ZoneInfo(tz), size)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Generation allocates millions of long-lived objects and frees none: cyclic GC passes are pure cost."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _generate(profile: Profile, seed: int, now: datetime, zone: ZoneInfo, size: int | None) -> DemoCompany:
    if size is None:
        return _Generation(profile, seed, now, zone, scale=1.0).finish(card_purchases=None)
    # Card purchases fill the gap to the exact size; the scale is tuned so that the rest (invoices,
    # payments, bills...) is most of the volume.
    scale = max(MIN_SCALE, size / NATURAL_TRANSACTIONS)
    fitting: _Generation | None = None
    for _ in range(SIZE_ATTEMPTS):
        generation = _Generation(profile, seed, now, zone, scale=scale)
        core = generation.core_transactions
        if core <= size:
            fitting = generation
            if core >= MIN_CORE_SHARE * size or scale == MIN_SCALE:
                break
        elif scale == MIN_SCALE:
            raise ValueError(f"size {size} is too small for 12-18 months of books (they need {core})")
        scale = max(MIN_SCALE, scale * TARGET_CORE_SHARE * size / core)
    if fitting is None:
        raise ValueError(f"size {size} could not be reached (the closest volume had {core} transactions)")
    return fitting.finish(card_purchases=size - fitting.core_transactions)


def _empty_company(now: datetime, zone: ZoneInfo) -> DemoCompany:
    """A company just set up: its chart of accounts, terms, payment methods, tax codes, items and settings."""
    book = Book(random.Random(0), zone, end=now)
    setup_day = book.today - timedelta(days=1)
    lists = build_company_setup(book, setup_at=datetime.combine(setup_day, time(9, 0), tzinfo=zone))
    ops = book.render()
    settings = _Settings(names.FIRMS["empty"], zone, setup_day, lists)
    return DemoCompany(settings.company_info(), settings.preferences(), ops)


class _Generation:
    """One run of the generator at a given scale: lists and core transactions first, then the rest."""

    def __init__(self, profile: Profile, seed: int, now: datetime, zone: ZoneInfo, *, scale: float) -> None:
        self.profile = profile
        self.zone = zone
        self.rng = random.Random(derive_seed(seed, profile.name))
        self.book = Book(self.rng, zone, end=now)
        self.today = today = self.book.today
        months = self.rng.randint(13, 16)
        self.start = add_months(today.replace(day=1), -months)
        self.setup_day = self.start - timedelta(days=10)
        frequency = max(1, round(math.sqrt(scale))) if scale > 1 else 1
        self.lists = build_lists(
            self.book,
            setup_at=datetime.combine(self.setup_day, time(9, 0), tzinfo=zone),
            sizes=scaled_sizes(scale),
            clients_since=add_months(self.start, -1),
            habit_weights=profile.habit_weights,
        )
        self.opening_checking, self.opening_savings = self._opening_deposits()
        conversion = datetime.combine(self.setup_day + timedelta(days=1), time(9, 0), tzinfo=zone)
        writer = SalesWriter(
            self.book, self.lists, start=self.start, today=today, frequency=frequency, conversion=conversion
        )
        sales = writer.write(profile)
        self.monthly_costs = self._monthly_costs(sales.revenue_by_month())
        self.spend = SpendWriter(
            self.book,
            self.lists,
            profile,
            start=self.start,
            today=today,
            frequency=frequency,
            monthly_costs=self.monthly_costs,
        )
        self.spend.write_core()
        ExtrasWriter(
            self.book,
            self.lists,
            random.Random(derive_seed(seed, f"{profile.name}:extras")),
            start=self.start,
            today=today,
            sales_numbers=writer.invoice_numbers,
            monthly_costs=self.monthly_costs,
        ).write(sales.invoices, savings=lambda: self._amounts["Savings"])
        self.core_transactions = sum(1 for draft in self.book.transactions() if draft.entity in SIZED_ENTITIES)

    def finish(self, *, card_purchases: int | None) -> DemoCompany:
        count = self.spend.natural_card_purchases() if card_purchases is None else card_purchases
        self.spend.write_card_purchases(count)
        others = [d for d in self.book.transactions() if d not in (self.opening_checking, self.opening_savings)]
        opening = opening_cash(
            others, profile=self.profile, today=self.today, monthly_costs=self.monthly_costs, rng=self.rng
        )
        self._fund(opening)
        ops = self.book.render()
        settings = _Settings(names.FIRMS[self.profile.name], self.zone, self.setup_day, self.lists)
        return DemoCompany(settings.company_info(), settings.preferences(), ops)

    def _monthly_costs(self, revenue: dict[date, Decimal]) -> Decimal:
        """Costs are sized to the revenue of the settled middle of the history (before any client loss)."""
        months = sorted(revenue)[1:-5] or sorted(revenue)
        baseline = sum((revenue[m] for m in months), ZERO) / len(months)
        return money(baseline / Decimal(str(self.profile.margin)))

    # -- opening balances -------------------------------------------------------------------------

    def _opening_deposits(self) -> tuple[Draft, Draft]:
        """Opening balances moved in from Opening Balance Equity on day one; amounts are decided last."""
        equity = self.lists.accounts["Opening Balance Equity"]
        self._amounts: dict[str, Decimal] = {"Checking": ZERO, "Savings": ZERO}

        def deposit(account_name: str) -> Draft:
            account = self.lists.accounts[account_name]

            def build() -> Body:
                amount = self._amounts[account_name]
                return {
                    "DepositToAccountRef": account.ref(),
                    "TxnDate": self.start.isoformat(),
                    "PrivateNote": "Opening balance",
                    "Line": [
                        {
                            "Amount": amount,
                            "DetailType": "DepositLineDetail",
                            "DepositLineDetail": {"AccountRef": equity.ref()},
                        }
                    ],
                }

            entered = datetime.combine(self.start, time(8, 0), tzinfo=self.zone)
            return self.book.add("Deposit", self.start, build, entered=entered)

        return deposit("Checking"), deposit("Savings")

    def _fund(self, opening: Opening) -> None:
        self._amounts["Checking"] = opening.checking
        self._amounts["Savings"] = opening.savings
        self.opening_checking.bank_delta = opening.checking
        self.opening_savings.bank_delta = opening.savings


class _Settings:
    """CompanyInfo and Preferences of a firm whose lists are numbered (``Book.render`` has run)."""

    def __init__(self, firm: str, zone: ZoneInfo, setup_day: date, lists: Lists) -> None:
        self.firm = firm
        self.zone = zone
        self.setup_day = setup_day
        self.lists = lists

    def company_info(self) -> dict[str, Any]:
        firm = self.firm
        address = dict(names.FIRM_ADDRESS)
        return {
            "CompanyName": firm,
            "LegalName": f"{firm} LLC",
            "CompanyAddr": address,
            "LegalAddr": dict(address),
            "CustomerCommunicationAddr": dict(address),
            "PrimaryPhone": {"FreeFormNumber": "(415) 555-0142"},
            "Email": {"Address": f"finance@{names.domain(firm)}"},
            "CustomerCommunicationEmailAddr": {"Address": f"billing@{names.domain(firm)}"},
            "WebAddr": {"URI": f"https://www.{names.domain(firm)}"},
            "CompanyStartDate": self.setup_day.isoformat(),
            "FiscalYearStartMonth": "January",
            "Country": "US",
            "SupportedLanguages": "en",
            "DefaultTimeZone": str(self.zone),
            "NameValue": [
                {"Name": "OfferingSku", "Value": "QuickBooks Online Plus"},
                {"Name": "NeoEnabled", "Value": "true"},
                {"Name": "PayrollFeature", "Value": "false"},
                {"Name": "IndustryType", "Value": "Management consulting services"},
                {"Name": "CompanyType", "Value": "LLC"},
            ],
        }

    def preferences(self) -> dict[str, Any]:
        """Every section QBO's Preferences has, shaped as Intuit's full example (ADR 0002), set for this firm.

        Called after the drafts are numbered: OtherPrefs names the uncategorized accounts by Id.
        """
        firm = self.firm
        net_30 = self.lists.terms["Net 30"].ref()
        accounts = self.lists.accounts
        thanks = "Thank you for your business."
        return {
            "AccountingInfoPrefs": {
                "FirstMonthOfFiscalYear": "January",
                "UseAccountNumbers": False,
                "TaxYearMonth": "January",
                "ClassTrackingPerTxn": False,
                "ClassTrackingPerTxnLine": False,
                "TrackDepartments": False,
                "DepartmentTerminology": "Location",
                "CustomerTerminology": "Customers",
            },
            "ProductAndServicesPrefs": {
                "ForSales": True,
                "ForPurchase": True,
                "QuantityWithPriceAndRate": True,
                "QuantityOnHand": False,
                "RevenueRecognition": False,
            },
            "SalesFormsPrefs": {
                "CustomField": _custom_fields("SalesFormsPrefs", "Sales"),
                "DefaultTerms": net_30,
                "CustomTxnNumbers": True,
                "AllowDeposit": False,
                "AllowDiscount": False,
                "AllowEstimates": True,
                "AllowServiceDate": False,
                "AllowShipping": False,
                "AutoApplyCredit": True,
                "AutoApplyPayments": True,
                "DefaultCustomerMessage": thanks,
                "EmailCopyToCompany": False,
                "EstimateMessage": "Please review the estimate below. We look forward to working with you.",
                "ETransactionAttachPDF": False,
                "ETransactionEnabledStatus": "NotApplicable",
                "ETransactionPaymentEnabled": False,
                "IPNSupportEnabled": False,
                "UsingPriceLevels": False,
                "UsingProgressInvoicing": False,
            },
            "EmailMessagesPrefs": {
                "InvoiceMessage": _email(
                    f"Invoice from {firm}",
                    f"Your invoice is attached. Please remit payment at your earliest convenience.\n{thanks}",
                    firm,
                ),
                "EstimateMessage": _email(
                    f"Estimate from {firm}",
                    "Please review the estimate below. Feel free to contact us if you have any questions.",
                    firm,
                ),
                "SalesReceiptMessage": _email(
                    f"Sales Receipt from {firm}", f"Your sales receipt is attached.\n{thanks}", firm
                ),
                "StatementMessage": _email(
                    f"Statement from {firm}",
                    f"Your statement is attached. Please remit payment at your earliest convenience.\n{thanks}",
                    firm,
                ),
            },
            "VendorAndPurchasesPrefs": {
                "POCustomField": _custom_fields("PurchasePrefs", "Purchase"),
                "DefaultTerms": net_30,
                "BillableExpenseTracking": False,
                "TrackingByCustomer": False,
                "TPAREnabled": True,
            },
            "TimeTrackingPrefs": {
                "WorkWeekStartDate": "Monday",
                "UseServices": True,
                "BillCustomers": True,
                "MarkTimeEntriesBillable": True,
                "ShowBillRateToAll": False,
            },
            # A services firm charges no sales tax (so no TaxGroupCodeRef); automated sales tax is not set up.
            "TaxPrefs": {"UsingSalesTax": False, "PartnerTaxEnabled": False},
            "CurrencyPrefs": {"HomeCurrency": {"value": "USD"}, "MultiCurrencyEnabled": False},
            "ReportPrefs": {"ReportBasis": "Accrual", "CalcAgingReportFromTxnDate": False},
            "OtherPrefs": {
                "NameValue": [
                    {"Name": "SalesFormsPrefs.DefaultCustomerMessage", "Value": thanks},
                    {"Name": "SalesFormsPrefs.DefaultItem", "Value": self.lists.items["Consulting"].id},
                    {"Name": "VendorAndPurchasesPrefs.UseCustomerEstimateOnPO", "Value": "false"},
                    {"Name": "UncategorizedAssetAccountId", "Value": accounts["Uncategorized Asset"].id},
                    {"Name": "UncategorizedIncomeAccountId", "Value": accounts["Uncategorized Income"].id},
                    {"Name": "UncategorizedExpenseAccountId", "Value": accounts["Uncategorized Expense"].id},
                    {"Name": "Vendor1099Enabled", "Value": "true"},
                    {"Name": "TimeTrackingFeatureEnabled", "Value": "true"},
                    {"Name": "ProjectsEnabled", "Value": "false"},
                    {"Name": "DateFormat", "Value": "Month Date Year separated by a slash"},
                    {"Name": "DateFormatMnemonic", "Value": "MMDDYYYY_SEP_SLASH"},
                    {"Name": "NumberFormat", "Value": "US Number Format"},
                    {"Name": "NumberFormatMnemonic", "Value": "US_NB"},
                    {"Name": "WarnDuplicateCheckNumber", "Value": "true"},
                    {"Name": "WarnDuplicateBillNumber", "Value": "false"},
                    {"Name": "SignoutInactiveMinutes", "Value": "60"},
                ]
            },
        }


def _email(subject: str, message: str, firm: str) -> dict[str, str]:
    return {"Subject": subject, "Message": f"{message}\n\nSincerely,\n{firm}"}


def _custom_fields(prefix: str, form: str) -> list[dict[str, Any]]:
    """QBO's three custom-field switches for a kind of form (none in use), as its Preferences lists them."""
    switches = [
        {"Name": f"{prefix}.Use{form}Custom{n}", "Type": "BooleanType", "BooleanValue": False} for n in (1, 2, 3)
    ]
    return [{"CustomField": switches}]
