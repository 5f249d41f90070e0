"""Must Pay / Can Delay: each rule with the reason a person reads, the order they apply in (the user's choice first),
and the dates that follow from the class. Pure: no database, no clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oodaloo.domains.ap.classify import OVERDUE_TOLERANCE_DAYS, classify
from oodaloo.domains.ap.decisions import BillClass, PlanChoice, VendorSettings
from oodaloo.domains.ap.history import ExpenseAccount, OpenBill, Term

TODAY = date(2026, 3, 18)
SUPPLIES = ExpenseAccount("7", "Office Supplies", "Expense", "SuppliesMaterials")
PAYROLL = ExpenseAccount("8", "Payroll Expenses", "Expense", "PayrollExpenses")
TAXES = ExpenseAccount("9", "Taxes & Licenses", "Expense", "TaxesPaid")
RENT = ExpenseAccount("10", "Rent", "Expense", "RentOrLeaseOfBuildings")
NO_SETTINGS = VendorSettings()


def bill(
    *,
    vendor: str = "Staples",
    accounts: tuple[ExpenseAccount, ...] = (SUPPLIES,),
    due: date | None = TODAY + timedelta(days=10),
    txn: date | None = TODAY - timedelta(days=20),
    term: Term | None = None,
) -> OpenBill:
    return OpenBill(
        bill_id="148",
        doc_number="NW-1",
        vendor_id="56",
        vendor_name=vendor,
        txn_date=txn,
        due_date=due,
        total=Decimal("1250.00"),
        balance=Decimal("1250.00"),
        expense_accounts=accounts,
        term=term,
    )


def plan(
    klass: BillClass | None = None, *, note: str | None = None, pay_on: date | None = None, by: str | None = "Dana"
) -> PlanChoice:
    return PlanChoice(klass, note, pay_on, by, datetime(2026, 3, 17, 16, 0, tzinfo=UTC))


@pytest.mark.parametrize(
    ("open_bill", "rule", "reason"),
    [
        (bill(accounts=(SUPPLIES, PAYROLL)), "payroll", "Payroll: booked to Payroll Expenses"),
        (
            bill(accounts=(ExpenseAccount("11", "Wages", "Expense", "OtherMiscellaneousServiceCost"),)),
            "payroll",
            "Payroll: booked to Wages",
        ),
        (bill(vendor="Gusto"), "payroll", "Payroll: Gusto is a payroll provider"),
        (bill(vendor="ADP, Inc."), "payroll", "Payroll: ADP, Inc. is a payroll provider"),
        (bill(vendor="IRS"), "taxes", "Taxes: IRS is a tax agency"),
        (bill(vendor="California Franchise Tax Board"), "taxes", "California Franchise Tax Board is a tax agency"),
        (bill(accounts=(TAXES,)), "taxes", "Taxes: booked to Taxes & Licenses"),
        (
            bill(accounts=(ExpenseAccount("12", "Sales Tax Payable", "Other Current Liability", None),)),
            "taxes",
            "Taxes: booked to Sales Tax Payable",
        ),
        (bill(vendor="Townsend Street Properties LLC", accounts=(RENT,)), "rent", "Rent or lease: booked to Rent"),
        (
            bill(accounts=(ExpenseAccount("13", "Equipment Lease", "Expense", "EquipmentRental"),)),
            "rent",
            "Rent or lease: booked to Equipment Lease",
        ),
        (
            bill(term=Term("5", "Net 30, 1.5% late fee", 30)),
            "late_fees",
            "Its terms (Net 30, 1.5% late fee) charge for paying late.",
        ),
    ],
)
def test_each_rule_makes_a_bill_must_pay_and_says_why(open_bill: OpenBill, rule: str, reason: str) -> None:
    decision = classify(open_bill, NO_SETTINGS, None, TODAY)
    assert (decision.klass, decision.rule) == (BillClass.MUST_PAY, rule)
    assert reason in decision.reason
    assert decision.latest_safe_pay_date is None  # shown only for bills that can wait
    assert decision.planned_pay_date == open_bill.due_date


@pytest.mark.parametrize(
    ("vendor", "account"),
    [
        ("TaxJar", SUPPLIES),  # a software vendor, not a tax agency
        ("Adobe", SUPPLIES),  # not ADP
        ("Hertz", ExpenseAccount("14", "Rental Cars", "Expense", "Travel")),  # a rental, not rent
        ("Baker & Pruitt CPAs", ExpenseAccount("15", "Tax Preparation Fees", "Expense", "LegalProfessionalFees")),
    ],
)
def test_names_that_only_look_like_a_rule_leave_the_bill_free_to_wait(vendor: str, account: ExpenseAccount) -> None:
    decision = classify(bill(vendor=vendor, accounts=(account,)), NO_SETTINGS, None, TODAY)
    assert (decision.klass, decision.rule) == (BillClass.CAN_DELAY, "default")


def test_a_vendor_marked_critical_or_charging_late_fees_is_must_pay() -> None:
    critical = classify(bill(), VendorSettings(critical=True, note="sole supplier of toner"), None, TODAY)
    assert (critical.klass, critical.rule) == (BillClass.MUST_PAY, "critical_vendor")
    assert critical.reason == "Staples is marked critical (sole supplier of toner)."
    fees = classify(bill(), VendorSettings(late_fees=True), None, TODAY)
    assert (fees.klass, fees.rule, fees.reason) == (BillClass.MUST_PAY, "late_fees", "Staples charges late fees.")


def test_a_bill_overdue_beyond_the_tolerance_is_must_pay_and_planned_for_today() -> None:
    at_tolerance = bill(due=TODAY - timedelta(days=OVERDUE_TOLERANCE_DAYS))
    beyond = bill(due=TODAY - timedelta(days=OVERDUE_TOLERANCE_DAYS + 1))

    waiting = classify(at_tolerance, NO_SETTINGS, None, TODAY)
    assert (waiting.klass, waiting.rule) == (BillClass.CAN_DELAY, "default")
    assert waiting.reason.startswith(f"{OVERDUE_TOLERANCE_DAYS} days past due, within the")
    assert "past its latest safe pay date, its due date, 2026-02-16" in waiting.reason

    overdue = classify(beyond, NO_SETTINGS, None, TODAY)
    assert (overdue.klass, overdue.rule) == (BillClass.MUST_PAY, "overdue")
    assert overdue.reason.startswith(f"{OVERDUE_TOLERANCE_DAYS + 1} days past due, beyond the 30-day tolerance")
    assert overdue.planned_pay_date == TODAY


def test_a_bill_no_rule_claims_can_wait_until_its_due_date_plus_the_vendor_s_grace() -> None:
    due = TODAY + timedelta(days=10)
    plain = classify(bill(due=due), NO_SETTINGS, None, TODAY)
    assert (plain.klass, plain.planned_pay_date, plain.latest_safe_pay_date) == (BillClass.CAN_DELAY, due, due)
    assert plain.reason == "No rule makes it urgent; it can wait until its due date, 2026-03-28."

    graced = classify(bill(due=due), VendorSettings(grace_days=5), None, TODAY)
    assert graced.latest_safe_pay_date == due + timedelta(days=5)
    assert graced.planned_pay_date == due  # the plan stays the due date; the grace is a limit, not a plan
    assert graced.reason == "No rule makes it urgent; it can wait until 2026-04-02 (due 2026-03-28 + 5 days of grace)."

    overdue_in_grace = classify(bill(due=TODAY - timedelta(days=2)), VendorSettings(grace_days=7), None, TODAY)
    assert overdue_in_grace.latest_safe_pay_date == TODAY + timedelta(days=5)
    assert overdue_in_grace.planned_pay_date == TODAY
    assert "2 days past due" in overdue_in_grace.reason
    assert "it is safe until 2026-03-23 (due 2026-03-16 + 7 days of grace)" in overdue_in_grace.reason


def test_the_user_s_choice_wins_over_every_rule_and_says_who_chose_it() -> None:
    payroll = bill(vendor="Gusto", accounts=(PAYROLL,), due=TODAY - timedelta(days=45))
    chosen = classify(
        payroll, VendorSettings(critical=True), plan(BillClass.CAN_DELAY, note="Agreed with Gusto"), TODAY
    )
    assert (chosen.klass, chosen.rule) == (BillClass.CAN_DELAY, "user_override")
    assert chosen.reason == "Dana chose Can Delay: Agreed with Gusto. It is past its latest safe pay date, 2026-02-01."
    assert chosen.latest_safe_pay_date == payroll.due_date

    must = classify(bill(), NO_SETTINGS, plan(BillClass.MUST_PAY, by=None), TODAY)
    assert (must.klass, must.rule, must.reason) == (
        BillClass.MUST_PAY,
        "user_override",
        "a former member chose Must Pay.",
    )
    assert must.latest_safe_pay_date is None


def test_the_planned_pay_date_is_the_user_s_else_the_due_date_and_never_before_today() -> None:
    due = TODAY + timedelta(days=10)
    later = TODAY + timedelta(days=20)
    assert classify(bill(due=due), NO_SETTINGS, plan(pay_on=later), TODAY).planned_pay_date == later
    # A plan made earlier for a day now past: the bill is still to be paid, today.
    assert classify(bill(due=due), NO_SETTINGS, plan(pay_on=TODAY - timedelta(days=1)), TODAY).planned_pay_date == TODAY
    # No due date: the transaction date plus the term's days, else the transaction date.
    txn = TODAY + timedelta(days=1)
    with_term = bill(due=None, txn=txn, term=Term("3", "Net 30", 30))
    assert classify(with_term, NO_SETTINGS, None, TODAY).planned_pay_date == txn + timedelta(days=30)
    assert classify(bill(due=None, txn=txn), NO_SETTINGS, None, TODAY).planned_pay_date == txn
    assert classify(bill(due=None, txn=None), NO_SETTINGS, None, TODAY).planned_pay_date == TODAY


def test_a_plan_past_the_latest_safe_pay_date_says_so() -> None:
    due = TODAY + timedelta(days=3)
    decision = classify(bill(due=due), VendorSettings(grace_days=4), plan(pay_on=TODAY + timedelta(days=9)), TODAY)
    assert decision.klass is BillClass.CAN_DELAY
    assert decision.reason.endswith("Planned for 2026-03-27, after its latest safe pay date, 2026-03-25.")


@settings(max_examples=150, deadline=None)
@given(
    due_offset=st.one_of(st.none(), st.integers(-120, 120)),
    txn_offset=st.one_of(st.none(), st.integers(-200, 10)),
    plan_offset=st.one_of(st.none(), st.integers(-30, 365)),
    override=st.one_of(st.none(), st.sampled_from(BillClass)),
    grace=st.integers(0, 90),
    critical=st.booleans(),
    late_fees=st.booleans(),
    account=st.sampled_from((SUPPLIES, PAYROLL, TAXES, RENT)),
)
def test_dates_and_classes_hold_for_any_bill(
    due_offset: int | None,
    txn_offset: int | None,
    plan_offset: int | None,
    override: BillClass | None,
    grace: int,
    critical: bool,
    late_fees: bool,
    account: ExpenseAccount,
) -> None:
    open_bill = bill(
        due=None if due_offset is None else TODAY + timedelta(days=due_offset),
        txn=None if txn_offset is None else TODAY + timedelta(days=txn_offset),
        accounts=(account,),
    )
    choice = None if plan_offset is None and override is None else plan(override, pay_on=_day(plan_offset))
    vendor = VendorSettings(critical=critical, grace_days=grace, late_fees=late_fees)
    decision = classify(open_bill, vendor, choice, TODAY)

    assert decision.planned_pay_date >= TODAY
    assert decision.reason
    if override is not None:
        assert (decision.klass, decision.rule) == (override, "user_override")
    due = open_bill.effective_due_date
    if decision.klass is BillClass.CAN_DELAY and due is not None:
        assert decision.latest_safe_pay_date == due + timedelta(days=grace)
    else:
        assert decision.latest_safe_pay_date is None
    if plan_offset is not None:
        assert decision.planned_pay_date == max(TODAY, TODAY + timedelta(days=plan_offset))
    elif due is not None:
        assert decision.planned_pay_date == max(TODAY, due)


def _day(offset: int | None) -> date | None:
    return None if offset is None else TODAY + timedelta(days=offset)
