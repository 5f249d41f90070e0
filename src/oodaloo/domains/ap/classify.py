"""Must Pay or Can Delay: the rules that sort an open bill, each giving the reason a person reads beside it, and the
dates that follow from the class (when we plan to pay it; for a bill that can wait, the latest day it safely can).

Pure: no I/O, no clock. The first rule that applies decides, in this order: the user's own choice; payroll; taxes;
rent or lease; a vendor marked critical; late fees; overdue beyond the tolerance. A bill no rule claims can wait.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from oodaloo.domains.ap.decisions import BillClass, PlanChoice, VendorSettings
from oodaloo.domains.ap.history import ExpenseAccount, OpenBill

# A bill this many days past its due date is paid now whatever else is true of it: by then vendors stop service,
# put the account on hold or pass it to collections.
OVERDUE_TOLERANCE_DAYS = 30

Rule = Literal["user_override", "payroll", "taxes", "rent", "critical_vendor", "late_fees", "overdue", "default"]

# QBO account subtypes (AccountSubType) that say what a line pays for, whatever the account is called.
PAYROLL_SUBTYPES = frozenset({"PayrollExpenses", "PayrollClearing"})
TAX_SUBTYPES = frozenset(
    {
        "TaxesPaid",
        "PayrollTaxPayable",
        "SalesTaxPayable",
        "FederalIncomeTaxPayable",
        "StateLocalIncomeTaxPayable",
        "GlobalTaxPayable",
    }
)
RENT_SUBTYPES = frozenset({"RentOrLeaseOfBuildings"})
# Account names people give such accounts (whole words, any case), for charts of accounts with generic subtypes.
PAYROLL_ACCOUNT_NAME = re.compile(r"\b(payroll|wages?|salary|salaries)\b", re.IGNORECASE)
TAX_ACCOUNT_NAME = re.compile(r"\b(taxes|tax payable|(payroll|sales|income|property|excise|franchise) tax)\b", re.I)
RENT_ACCOUNT_NAME = re.compile(r"\b(rent|lease|leases|leasing)\b", re.IGNORECASE)
# Vendors that are tax agencies or payroll providers, by name (QBO has no vendor type for either).
TAX_AGENCY_NAME = re.compile(
    r"\b(IRS|internal revenue service|(united states|u\.?s\.?) treasury|franchise tax board|board of equalization"
    r"|department of (revenue|taxation)|dept\.? of revenue|revenue (agency|service)|tax (board|commission|collector"
    r"|agency|office)|comptroller|employment development department|HMRC)\b",
    re.IGNORECASE,
)
PAYROLL_PROVIDER_NAME = re.compile(
    r"\b(payroll|gusto|ADP|paychex|justworks|trinet|rippling|paylocity|paycom|paycor|insperity|onpay"
    r"|surepayroll)\b",
    re.IGNORECASE,
)
# A term whose name says paying late costs money ("Net 30, 1.5% late fee", "Net 15 + interest").
LATE_FEE_TERM_NAME = re.compile(r"\b(late (fee|charge|payment fee)s?|interest|penalt(y|ies))\b", re.IGNORECASE)


@dataclass(frozen=True)
class BillDecision:
    """The class of an open bill and why, the day we plan to pay it, and (for a bill that can wait) the latest day it
    can be paid without going past the vendor's grace."""

    klass: BillClass
    reason: str
    rule: Rule
    planned_pay_date: date
    latest_safe_pay_date: date | None


def classify(bill: OpenBill, vendor: VendorSettings, plan: PlanChoice | None, today: date) -> BillDecision:
    """``today`` is the business's own date (its time zone)."""
    klass, rule, reason = _class_of(bill, vendor, plan, today)
    planned = _planned_pay_date(bill, plan, today)
    safe = latest_safe_pay_date(bill, vendor) if klass is BillClass.CAN_DELAY else None
    if safe is not None and safe < today and rule != "default":  # the default reason already says so
        reason += f" It is past its latest safe pay date, {_day(safe)}."
    elif safe is not None and safe >= today and planned > safe:
        reason += f" Planned for {_day(planned)}, after its latest safe pay date, {_day(safe)}."
    return BillDecision(klass, reason, rule, planned, safe)


def latest_safe_pay_date(bill: OpenBill, vendor: VendorSettings) -> date | None:
    due = bill.effective_due_date
    return None if due is None else due + timedelta(days=vendor.grace_days)


def _planned_pay_date(bill: OpenBill, plan: PlanChoice | None, today: date) -> date:
    """The user's planned date, else the due date; never before today (an overdue bill is planned for today)."""
    wanted = plan.planned_pay_date if plan is not None and plan.planned_pay_date is not None else None
    if wanted is None:
        wanted = bill.effective_due_date
    return today if wanted is None or wanted < today else wanted


def _class_of(
    bill: OpenBill, vendor: VendorSettings, plan: PlanChoice | None, today: date
) -> tuple[BillClass, Rule, str]:
    must = BillClass.MUST_PAY
    if plan is not None and plan.class_override is not None:
        return plan.class_override, "user_override", _chosen(plan.class_override, plan)
    if (account := _account_matching(bill.expense_accounts, PAYROLL_SUBTYPES, PAYROLL_ACCOUNT_NAME)) is not None:
        return must, "payroll", f"Payroll: booked to {account.name}; people are paid on time."
    if PAYROLL_PROVIDER_NAME.search(bill.vendor_name):
        return must, "payroll", f"Payroll: {bill.vendor_name} is a payroll provider; people are paid on time."
    if TAX_AGENCY_NAME.search(bill.vendor_name):
        return must, "taxes", f"Taxes: {bill.vendor_name} is a tax agency; late taxes draw penalties and interest."
    if (account := _account_matching(bill.expense_accounts, TAX_SUBTYPES, TAX_ACCOUNT_NAME)) is not None:
        return must, "taxes", f"Taxes: booked to {account.name}; late taxes draw penalties and interest."
    if (account := _account_matching(bill.expense_accounts, RENT_SUBTYPES, RENT_ACCOUNT_NAME)) is not None:
        return must, "rent", f"Rent or lease: booked to {account.name}; paying it late puts the premises at risk."
    if vendor.critical:
        note = f" ({vendor.note})" if vendor.note else ""
        return must, "critical_vendor", f"{bill.vendor_name} is marked critical{note}."
    if vendor.late_fees:
        return must, "late_fees", f"{bill.vendor_name} charges late fees."
    if bill.term is not None and LATE_FEE_TERM_NAME.search(bill.term.name):
        return must, "late_fees", f"Its terms ({bill.term.name}) charge for paying late."
    due = bill.effective_due_date
    overdue_days = (today - due).days if due is not None else 0
    if overdue_days > OVERDUE_TOLERANCE_DAYS:
        return (
            must,
            "overdue",
            f"{overdue_days} days past due, beyond the {OVERDUE_TOLERANCE_DAYS}-day tolerance: vendors this late "
            "stop service or send the bill to collections.",
        )
    return BillClass.CAN_DELAY, "default", _can_wait(bill, vendor, today)


def _account_matching(
    accounts: Iterable[ExpenseAccount], subtypes: frozenset[str], name: re.Pattern[str]
) -> ExpenseAccount | None:
    for account in accounts:
        if account.account_sub_type in subtypes or name.search(account.name):
            return account
    return None


def _chosen(klass: BillClass, plan: PlanChoice) -> str:
    who = plan.set_by_name or "a former member"
    if not plan.note:
        return f"{who} chose {klass.label}."
    return f"{who} chose {klass.label}: {plan.note}" + ("" if plan.note.endswith((".", "!", "?")) else ".")


def _can_wait(bill: OpenBill, vendor: VendorSettings, today: date) -> str:
    due = bill.effective_due_date
    if due is None:
        return "No rule makes it urgent."
    grace = vendor.grace_days
    safe = due + timedelta(days=grace)
    when = f"{_day(safe)} (due {_day(due)} + {_days(grace)} of grace)" if grace else f"its due date, {_day(due)}"
    if due >= today:
        return f"No rule makes it urgent; it can wait until {when}."
    late = f"{_days((today - due).days)} past due, within the {OVERDUE_TOLERANCE_DAYS}-day tolerance"
    if safe >= today:
        return f"{late}; no rule makes it urgent, and it is safe until {when}."
    return f"{late}; no rule makes it urgent, but it is past its latest safe pay date, {when}."


def _day(day: date) -> str:
    return day.isoformat()


def _days(count: int) -> str:
    return f"{count} day" if count == 1 else f"{count} days"
