"""The demo company generator: determinism, shapes, referential integrity, realism and scenario runways."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from oodaloo.sandbox.demo import DemoCompany, Scenario, SeedOp, generate_demo
from tests.sandbox.runway_estimate import INFINITE, bank_movements, estimate_runway_weeks
from tests.support.clock import CLOCK_INSTANTS, Instant

TZ = "America/Los_Angeles"
NOW = datetime(2026, 3, 18, 10, 15, tzinfo=ZoneInfo(TZ))
TODAY = NOW.date()
TRANSACTIONS = {"Bill", "BillPayment", "Invoice", "Payment", "Purchase", "Deposit"}
SCENARIOS: tuple[Scenario, ...] = ("healthy", "tight", "crisis")
# What each kind of reference points at.
REF_TARGETS = {
    "CustomerRef": "Customer",
    "VendorRef": "Vendor",
    "SalesTermRef": "Term",
    "TermRef": "Term",
    "ItemRef": "Item",
    "EntityRef": "Vendor",
    "DefaultTerms": "Term",
    "PaymentMethodRef": "PaymentMethod",
    "TaxRateRef": "TaxRate",
}
# References to objects the sandbox does not model (a TaxRate's tax agency).
UNMODELED_REFS = {"AgencyRef"}


@pytest.fixture(scope="module")
def companies() -> dict[str, DemoCompany]:
    return {scenario: generate_demo(scenario, seed=42, now=NOW, tz=TZ) for scenario in SCENARIOS}


@pytest.fixture(scope="module")
def tight(companies: dict[str, DemoCompany]) -> DemoCompany:
    return companies["tight"]


def by_entity(company: DemoCompany, entity: str) -> list[dict[str, Any]]:
    return [op.body for op in company.ops if op.entity == entity]


def refs(node: Any) -> Iterator[tuple[str, str]]:
    """(target entity, Id) for every reference and LinkedTxn in a body."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "LinkedTxn":
                yield from ((link["TxnType"], link["TxnId"]) for link in value)
            elif key in UNMODELED_REFS:
                continue
            elif key.endswith("Ref") and isinstance(value, dict) and "value" in value:
                yield REF_TARGETS.get(key, "Account"), value["value"]
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def txn_date(body: dict[str, Any]) -> date:
    return date.fromisoformat(body["TxnDate"])


def bank_moves(company: DemoCompany) -> list[tuple[date, Decimal]]:
    return bank_movements(
        accounts=by_entity(company, "Account"),
        purchases=by_entity(company, "Purchase"),
        bill_payments=by_entity(company, "BillPayment"),
        payments=by_entity(company, "Payment"),
        deposits=by_entity(company, "Deposit"),
        sales_receipts=by_entity(company, "SalesReceipt"),
        transfers=by_entity(company, "Transfer"),
        journal_entries=by_entity(company, "JournalEntry"),
    )


def runway(company: DemoCompany, today: date) -> Decimal:
    moves = bank_moves(company)
    balance = sum((amount for _, amount in moves), Decimal(0))
    return estimate_runway_weeks(bank_balance=balance, moves=moves, today=today)


# -- determinism -------------------------------------------------------------------------------


def test_same_arguments_give_identical_output(tight: DemoCompany) -> None:
    again = generate_demo("tight", seed=42, now=NOW, tz=TZ)
    assert again == tight


def test_seed_and_scenario_change_the_company(tight: DemoCompany, companies: dict[str, DemoCompany]) -> None:
    other_seed = generate_demo("tight", seed=7, now=NOW, tz=TZ)
    assert other_seed.ops != tight.ops
    assert companies["crisis"].ops != tight.ops
    assert companies["crisis"].company_info["CompanyName"] != companies["healthy"].company_info["CompanyName"]


def test_unknown_scenario_is_refused() -> None:
    with pytest.raises(ValueError, match="scenario"):
        generate_demo("booming", now=NOW)  # type: ignore[arg-type]


# -- shapes and integrity ----------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("instant", CLOCK_INSTANTS, ids=[instant.id for instant in CLOCK_INSTANTS])
def test_nothing_is_dated_or_created_after_now(instant: Instant, scenario: Scenario) -> None:
    """Made at 00:30, 02:30 or 23:30, in a zone behind or ahead of UTC, the history ends at that instant."""
    now = instant.moment
    company = generate_demo(scenario, seed=42, now=now, tz=instant.zone)
    assert all(op.at.tzinfo is not None and op.at <= now for op in company.ops)
    today = now.date()
    dated = [txn_date(op.body) for op in company.ops if op.entity in TRANSACTIONS]
    assert max(dated) <= today
    assert max(dated) >= today - timedelta(days=7)  # the history runs up to today
    assert all(date.fromisoformat(body["DueDate"]) >= txn_date(body) for body in by_entity(company, "Invoice"))


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        generate_demo("healthy", now=NOW.replace(tzinfo=None))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_history_spans_twelve_to_eighteen_months(companies: dict[str, DemoCompany], scenario: str) -> None:
    company = companies[scenario]
    dated = [txn_date(op.body) for op in company.ops if op.entity in TRANSACTIONS]
    opening = next(op for op in company.ops if op.entity == "Deposit")
    assert opening.body["PrivateNote"] == "Opening balance"
    assert txn_date(opening.body) <= TODAY - timedelta(days=365)
    assert min(dated) >= TODAY - timedelta(days=18 * 31)
    # Invoices still open when the books moved to QBO keep their earlier dates; everything else follows.
    assert date.fromisoformat(company.company_info["CompanyStartDate"]) <= txn_date(opening.body)
    assert min(dated) >= txn_date(opening.body) - timedelta(days=31)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_reference_points_to_an_earlier_op(companies: dict[str, DemoCompany], scenario: str) -> None:
    created: set[tuple[str, str]] = set()
    previous_at = None
    for op in companies[scenario].ops:
        for target in refs(op.body):
            assert target in created, f"{op.entity} {op.body['Id']} refers to {target} before it exists"
        created.add((op.entity, op.body["Id"]))
        assert previous_at is None or op.at >= previous_at
        previous_at = op.at


def test_ids_are_per_entity_sequences_from_one(tight: DemoCompany) -> None:
    """Numbered per entity from "1"; only QBO's pseudo tax codes TAX and NON are named instead."""
    ids: dict[str, list[int]] = defaultdict(list)
    named = [op.body["Id"] for op in tight.ops if not op.body["Id"].isdigit()]
    assert named == ["TAX", "NON"]
    for op in tight.ops:
        assert isinstance(op, SeedOp)
        if op.body["Id"] in named:
            continue
        ids[op.entity].append(int(op.body["Id"]))
    assert all(numbers == list(range(1, len(numbers) + 1)) for numbers in ids.values())


def test_preferences_refer_to_existing_terms(tight: DemoCompany) -> None:
    terms = {op.body["Id"] for op in tight.ops if op.entity == "Term"}
    assert {target for target in refs(tight.preferences)} <= {("Term", term) for term in terms}
    assert tight.preferences["CurrencyPrefs"] == {"HomeCurrency": {"value": "USD"}, "MultiCurrencyEnabled": False}
    assert tight.company_info["Country"] == "US"
    assert "Id" not in tight.company_info


def test_money_is_decimal_cents_and_lines_add_up(tight: DemoCompany) -> None:
    for op in tight.ops:
        if op.entity not in TRANSACTIONS:
            continue
        amounts = [line["Amount"] for line in op.body.get("Line", [])]
        assert all(isinstance(a, Decimal) and a.as_tuple().exponent == -2 and a >= 0 for a in amounts)
        if op.entity == "Payment" and amounts:
            # Invoices paid less credits used: what the customer actually sent.
            signed = [
                -line["Amount"] if line["LinkedTxn"][0]["TxnType"] == "CreditMemo" else line["Amount"]
                for line in op.body["Line"]
            ]
            assert op.body["TotalAmt"] == sum(signed)
        elif "TotalAmt" in op.body and amounts:
            assert op.body["TotalAmt"] == sum(amounts)
        for line in op.body.get("Line", []):
            detail = line.get("SalesItemLineDetail")
            if detail:
                assert line["Amount"] == detail["Qty"] * detail["UnitPrice"]


def test_chart_of_accounts_terms_and_lists(tight: DemoCompany) -> None:
    accounts = {body["Name"]: body["AccountType"] for body in by_entity(tight, "Account")}
    assert accounts["Checking"] == accounts["Savings"] == "Bank"
    assert accounts["Undeposited Funds"] == "Other Current Asset"
    for name in ("Payroll Expenses", "Rent", "Software Subscriptions", "Uncategorized Expense", "Insurance"):
        assert accounts[name] == "Expense"
    assert {"Accounts Receivable", "Accounts Payable", "Credit Card", "Equity", "Income"} <= set(accounts.values())
    terms = {body["Name"]: body["DueDays"] for body in by_entity(tight, "Term")}
    assert terms == {"Due on receipt": 0, "Net 15": 15, "Net 30": 30, "Net 45": 45, "Net 60": 60}
    items = {item["Name"]: item for item in by_entity(tight, "Item")}
    bad_debt = items.pop("Bad Debt", None)  # set up the day the firm first writes an invoice off
    assert all(item["Type"] == "Service" and "IncomeAccountRef" in item for item in items.values())
    if bad_debt is not None:
        ids = {body["Id"]: body["Name"] for body in by_entity(tight, "Account")}
        assert ids[bad_debt["IncomeAccountRef"]["value"]] == "Bad Debts"
    assert 35 <= len(by_entity(tight, "Vendor")) <= 45
    assert 55 <= len(by_entity(tight, "Customer")) <= 65
    names = [body["DisplayName"] for body in by_entity(tight, "Vendor") + by_entity(tight, "Customer")]
    assert len(names) == len(set(names))


def test_chart_starts_with_qbo_s_defaults_then_the_firm_s_accounts(tight: DemoCompany) -> None:
    accounts = [(body["Name"], body["AccountType"], body["AccountSubType"]) for body in by_entity(tight, "Account")]
    assert accounts[0] == ("Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable")
    defaults = {
        ("Inventory Asset", "Other Current Asset", "Inventory"),
        ("Undeposited Funds", "Other Current Asset", "UndepositedFunds"),
        ("Accounts Payable (A/P)", "Accounts Payable", "AccountsPayable"),
        ("Opening Balance Equity", "Equity", "OpeningBalanceEquity"),
        ("Retained Earnings", "Equity", "RetainedEarnings"),
        ("Sales of Product Income", "Income", "SalesOfProductIncome"),
        ("Cost of Goods Sold", "Cost of Goods Sold", "SuppliesMaterialsCogs"),
        ("Uncategorized Income", "Income", "ServiceFeeIncome"),
        ("Uncategorized Expense", "Expense", "OtherMiscellaneousServiceCost"),
    }
    first_firm_account = next(i for i, account in enumerate(accounts) if account[0] == "Checking")
    assert defaults <= set(accounts[:first_firm_account])
    assert {"Consulting Income", "Payroll Expenses", "Rent"} <= {name for name, _, _ in accounts[first_firm_account:]}


def test_payment_methods_and_sales_tax_are_qbo_s_defaults(tight: DemoCompany) -> None:
    methods = {body["Name"]: body["Type"] for body in by_entity(tight, "PaymentMethod")}
    assert {"Cash": "NON_CREDIT_CARD", "Check": "NON_CREDIT_CARD", "Visa": "CREDIT_CARD"}.items() <= methods.items()
    assert {"MasterCard", "American Express", "Discover"} <= set(methods)
    codes = {body["Id"]: body for body in by_entity(tight, "TaxCode")}
    assert {"TAX", "NON"} <= set(codes)
    rates = by_entity(tight, "TaxRate")
    assert rates
    assert all(isinstance(rate["RateValue"], Decimal) for rate in rates)
    check = next(body["Id"] for body in by_entity(tight, "PaymentMethod") if body["Name"] == "Check")
    by_check = [p for p in by_entity(tight, "Payment") if p.get("PaymentMethodRef")]
    assert by_check
    assert all(p["PaymentMethodRef"] == {"value": check} for p in by_check)


def test_payments_and_bill_payments_link_their_own_documents(tight: DemoCompany) -> None:
    invoices = {body["Id"]: body for body in by_entity(tight, "Invoice")}
    bills = {body["Id"]: body for body in by_entity(tight, "Bill")}
    applied: Counter[str] = Counter()
    for payment in by_entity(tight, "Payment"):
        for line in payment.get("Line", []):
            if line["LinkedTxn"][0]["TxnType"] != "Invoice":
                continue  # a credit memo used up by the payment
            invoice = invoices[line["LinkedTxn"][0]["TxnId"]]
            assert invoice["CustomerRef"] == payment["CustomerRef"]
            assert txn_date(invoice) < txn_date(payment)
            applied[invoice["Id"]] += line["Amount"]
    assert all(applied[i] <= sum(line["Amount"] for line in invoices[i]["Line"]) for i in applied)
    for bill_payment in by_entity(tight, "BillPayment"):
        bill = bills[bill_payment["Line"][0]["LinkedTxn"][0]["TxnId"]]
        assert bill["VendorRef"] == bill_payment["VendorRef"]
        assert bill_payment["TotalAmt"] == sum(line["Amount"] for line in bill["Line"])
        assert txn_date(bill) <= txn_date(bill_payment)
        account = "CheckPayment" if bill_payment["PayType"] == "Check" else "CreditCardPayment"
        assert account in bill_payment


def test_money_moves_on_business_days(tight: DemoCompany) -> None:
    for entity in ("Payment", "Deposit", "BillPayment"):
        moved = [txn_date(body) for body in by_entity(tight, entity)[2:]]  # not the opening deposits
        assert all(day.weekday() < 5 for day in moved), entity


def test_payroll_is_posted_by_the_provider_and_the_biggest_outflow(tight: DemoCompany) -> None:
    accounts = {body["Id"]: body["Name"] for body in by_entity(tight, "Account")}

    def postings(body: dict[str, Any]) -> dict[str, tuple[str, Decimal]]:
        posted: dict[str, tuple[str, Decimal]] = {}
        for line in body["Line"]:
            detail = line["JournalEntryLineDetail"]
            name = accounts[detail["AccountRef"]["value"]]
            side, amount = posted.get(name, (detail["PostingType"], Decimal(0)))
            assert side == detail["PostingType"]
            posted[name] = (side, amount + line["Amount"])
        return posted

    payroll = [body for body in by_entity(tight, "JournalEntry") if "Payroll Expenses" in postings(body)]
    assert len(payroll) >= 24
    for body in payroll:
        posted = postings(body)
        assert posted["Payroll Expenses"][0] == posted["Payroll Taxes"][0] == "Debit"
        assert posted["Checking"] == ("Credit", posted["Payroll Expenses"][1] + posted["Payroll Taxes"][1])
        assert "posted by" in body["PrivateNote"]
    outflows: dict[str, Decimal] = defaultdict(Decimal)
    for body in by_entity(tight, "Purchase") + by_entity(tight, "Bill"):
        for line in body["Line"]:
            outflows[accounts[line["AccountBasedExpenseLineDetail"]["AccountRef"]["value"]]] += line["Amount"]
    for body in payroll:
        outflows["Payroll Expenses"] += postings(body)["Payroll Expenses"][1]
    assert max(outflows, key=outflows.__getitem__) == "Payroll Expenses"


# -- realism: hygiene (payment habits: test_demo_payers.py) -----------------------------------


def test_recent_invoices_are_open_and_some_are_overdue(tight: DemoCompany) -> None:
    paid = {line["LinkedTxn"][0]["TxnId"] for p in by_entity(tight, "Payment") for line in p.get("Line", [])}
    open_invoices = [body for body in by_entity(tight, "Invoice") if body["Id"] not in paid]
    assert any(txn_date(body) >= TODAY - timedelta(days=14) for body in open_invoices)
    overdue = [body for body in open_invoices if date.fromisoformat(body["DueDate"]) < TODAY - timedelta(days=15)]
    assert len(overdue) >= 3


def test_vendors_missing_terms_or_email(tight: DemoCompany) -> None:
    vendors = by_entity(tight, "Vendor")
    assert 1 <= sum(1 for v in vendors if "TermRef" not in v) <= 5
    assert 1 <= sum(1 for v in vendors if "PrimaryEmailAddr" not in v) <= 6
    assert sum(1 for v in vendors if "TermRef" in v and "PrimaryEmailAddr" in v) >= 30


def test_unapplied_and_undeposited_payments(tight: DemoCompany) -> None:
    accounts = {body["Name"]: body["Id"] for body in by_entity(tight, "Account")}
    payments = by_entity(tight, "Payment")
    assert 1 <= sum(1 for p in payments if not p.get("Line")) <= 2
    to_undeposited = [p for p in payments if p["DepositToAccountRef"]["value"] == accounts["Undeposited Funds"]]
    deposited = {
        line["LinkedTxn"][0]["TxnId"] for d in by_entity(tight, "Deposit") for line in d["Line"] if "LinkedTxn" in line
    }
    assert deposited <= {p["Id"] for p in to_undeposited}
    left = [p for p in to_undeposited if p["Id"] not in deposited]
    assert any(txn_date(p) <= TODAY - timedelta(days=30) for p in left)  # forgotten, not just in transit
    assert len(deposited) >= 20  # most checks do reach the bank


def test_unsent_invoices_are_recent(tight: DemoCompany) -> None:
    statuses = Counter(body["EmailStatus"] for body in by_entity(tight, "Invoice"))
    assert 1 <= statuses["NeedToSend"] <= 5
    assert statuses["EmailSent"] == len(by_entity(tight, "Invoice")) - statuses["NeedToSend"]
    unsent = [body for body in by_entity(tight, "Invoice") if body["EmailStatus"] == "NeedToSend"]
    assert all(txn_date(body) >= TODAY - timedelta(days=30) for body in unsent)


def test_uncategorized_expenses_exist(tight: DemoCompany) -> None:
    uncategorized = next(b["Id"] for b in by_entity(tight, "Account") if b["Name"] == "Uncategorized Expense")
    hits = [
        body
        for body in by_entity(tight, "Purchase")
        if any(line["AccountBasedExpenseLineDetail"]["AccountRef"]["value"] == uncategorized for line in body["Line"])
    ]
    assert 2 <= len(hits) <= 8


def test_one_likely_duplicate_bill(tight: DemoCompany) -> None:
    bills = by_entity(tight, "Bill")
    pairs = [
        (first, second)
        for index, first in enumerate(bills)
        for second in bills[index + 1 : index + 40]
        if first["VendorRef"] == second["VendorRef"]
        and first["Line"][0]["Amount"] == second["Line"][0]["Amount"]
        and abs((txn_date(second) - txn_date(first)).days) <= 5
    ]
    assert len(pairs) == 1
    first, second = pairs[0]
    assert first.get("DocNumber") != second.get("DocNumber")


# -- scenarios and size ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seed", "now"),
    [
        (42, NOW),
        (7, datetime(2025, 12, 31, 0, 30, tzinfo=ZoneInfo(TZ))),
        (1, datetime(2026, 8, 3, 23, 30, tzinfo=ZoneInfo(TZ))),
    ],
)
def test_each_scenario_runway_falls_in_its_band(seed: int, now: datetime) -> None:
    today = now.date()
    weeks = {scenario: runway(generate_demo(scenario, seed=seed, now=now, tz=TZ), today) for scenario in SCENARIOS}
    assert weeks["healthy"] == INFINITE or weeks["healthy"] > 26
    assert 4 <= weeks["tight"] <= 10
    assert 0 < weeks["crisis"] < 3


@pytest.mark.parametrize("scenario", ["healthy", "tight"])
def test_checking_is_never_overdrawn(companies: dict[str, DemoCompany], scenario: str) -> None:
    company = companies[scenario]
    checking = next(b["Id"] for b in by_entity(company, "Account") if b["Name"] == "Checking")
    accounts = [body for body in by_entity(company, "Account") if body["Id"] == checking]
    moves = bank_movements(
        accounts=accounts,
        purchases=by_entity(company, "Purchase"),
        bill_payments=by_entity(company, "BillPayment"),
        payments=by_entity(company, "Payment"),
        deposits=by_entity(company, "Deposit"),
        sales_receipts=by_entity(company, "SalesReceipt"),
        transfers=by_entity(company, "Transfer"),
        journal_entries=by_entity(company, "JournalEntry"),
    )
    balance = Decimal(0)
    by_day: dict[date, Decimal] = defaultdict(Decimal)
    for day, amount in moves:
        by_day[day] += amount
    for day in sorted(by_day):
        balance += by_day[day]
        assert balance >= 0, f"Checking overdrawn on {day}"


def test_size_gives_exactly_that_many_transactions() -> None:
    company = generate_demo("healthy", seed=3, now=NOW, size=6000)
    counts = Counter(op.entity for op in company.ops)
    assert sum(counts[entity] for entity in TRANSACTIONS) == 6000
    # The volume is spread over every kind of transaction, not only the card purchases that fill the gap.
    assert counts["Invoice"] > 1000
    assert counts["Payment"] > 1000
    assert 60 <= counts["Customer"] <= 120
    weeks = runway(company, TODAY)
    assert weeks == INFINITE or weeks > 26


def test_size_below_a_year_of_books_is_refused() -> None:
    with pytest.raises(ValueError, match="too small"):
        generate_demo("healthy", now=NOW, size=50)


# -- credits, cash sales, owner transfers ------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_customer_credits_are_occasional_and_open_invoices_get_them_applied(
    companies: dict[str, DemoCompany], scenario: str
) -> None:
    company = companies[scenario]
    memos = {body["Id"]: body for body in by_entity(company, "CreditMemo")}
    goodwill = [memo for memo in memos.values() if memo["PrivateNote"].startswith("Goodwill")]
    assert 2 <= len(goodwill) <= 12  # a few a year, not a habit (disputes: test_demo_payers.py)
    applications = [
        payment
        for payment in by_entity(company, "Payment")
        if any(line["LinkedTxn"][0]["TxnType"] == "CreditMemo" for line in payment.get("Line", []))
    ]
    for payment in applications:
        invoice_line, credit_line = payment["Line"]
        assert payment["TotalAmt"] == 0
        assert invoice_line["Amount"] == credit_line["Amount"]
        memo = memos[credit_line["LinkedTxn"][0]["TxnId"]]
        assert memo["CustomerRef"] == payment["CustomerRef"]
        assert credit_line["Amount"] == sum(line["Amount"] for line in memo["Line"])


def test_every_demo_has_vendor_credits_sales_receipts_and_paired_owner_transfers(
    companies: dict[str, DemoCompany],
) -> None:
    for company in companies.values():
        accounts = {body["Name"]: body["Id"] for body in by_entity(company, "Account")}
        assert by_entity(company, "VendorCredit")
        receipts = by_entity(company, "SalesReceipt")
        assert receipts
        assert all(r["DepositToAccountRef"]["value"] == accounts["Checking"] for r in receipts)
        transfers = by_entity(company, "Transfer")
        assert transfers
        sides = {(t["FromAccountRef"]["value"], t["ToAccountRef"]["value"]) for t in transfers}
        assert sides <= {(accounts["Savings"], accounts["Checking"]), (accounts["Checking"], accounts["Savings"])}
        assert all(txn_date(t) <= TODAY for t in transfers)


@pytest.mark.parametrize("size", [None, 6000])
def test_the_new_documents_leave_the_sized_volume_alone(size: int | None) -> None:
    company = generate_demo("tight", seed=5, now=NOW, tz=TZ, size=size)
    counts = Counter(op.entity for op in company.ops)
    if size is not None:
        assert sum(counts[entity] for entity in TRANSACTIONS) == size
    assert counts["JournalEntry"] >= 26  # a year of biweekly payroll at least


def test_the_empty_scenario_has_settings_only() -> None:
    company = generate_demo("empty", now=NOW, tz=TZ)
    kinds = Counter(op.entity for op in company.ops)
    assert set(kinds) == {"Account", "PaymentMethod", "TaxCode", "TaxRate", "Term", "Item"}
    assert company.company_info["CompanyName"]
    assert company.preferences["SalesFormsPrefs"]["DefaultTerms"]["value"]
    assert all(op.at <= NOW for op in company.ops)
