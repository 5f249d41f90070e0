"""The Must Pay / Can Delay board, bill plans and vendor settings over real HTTP: the app served beside a standalone
sandbox, a business connected to a company of its own and its mirror synced. The clock is frozen late on a Wednesday
evening in Los Angeles (already Thursday in UTC), so the business's own date and week decide every window."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, time, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from oodaloo.domains.ap.classify import OVERDUE_TOLERANCE_DAYS
from oodaloo.settings import Settings
from tests.domains.qbo.mirror_support import Harness, Realm
from tests.support.clock import Instant, at
from tests.support.qbo import (
    Browser,
    Browsers,
    SandboxCompany,
    Served,
    add_member,
    connect,
    new_business,
    open_browsers,
    served_beside_a_sandbox,
)

REDIRECT_URI = "http://127.0.0.1:9/qbo/callback"
ZONE = "America/Los_Angeles"
INSTANT = Instant(ZONE, time(23, 30))  # Wednesday 18 March 2026, 23:30 in Los Angeles; Thursday in UTC
TODAY = INSTANT.day
SUNDAY = date(2026, 3, 22)
NEXT_SUNDAY = date(2026, 3, 29)


@pytest.fixture(scope="module")
def served(settings: Settings) -> Iterator[Served]:
    # Started inside the frozen clock, so the app, the sandbox and its tokens all live at the instant.
    with at(INSTANT), served_beside_a_sandbox(settings, redirect_uri=REDIRECT_URI, redis_url=None) as (served, _):
        yield served


@dataclass
class Books:
    """A business connected to an empty sandbox company filled by the test, and its mirror."""

    owner: Browser
    business_id: str
    company: SandboxCompany
    mirror: Harness
    vendors: dict[str, str]  # name -> id

    def get(self, path: str, as_: Browser | None = None) -> httpx.Response:
        return (as_ or self.owner).get(f"/api/businesses/{self.business_id}{path}")

    def patch(self, path: str, body: Any, as_: Browser | None = None) -> httpx.Response:
        return (as_ or self.owner).client.patch(f"/api/businesses/{self.business_id}{path}", json=body)

    def vendor(self, name: str) -> str:
        if name not in self.vendors:
            self.vendors[name] = self.company.write("Vendor", {"DisplayName": name})["Id"]
        return self.vendors[name]

    def account(self, name: str) -> str:
        (row,) = self.company.query(f"SELECT * FROM Account WHERE Name = '{name}'")
        account_id: str = row["Id"]
        return account_id

    def bill(self, vendor: str, account: str, amount: str, due: date, txn: date | None = None) -> str:
        written = self.company.write(
            "Bill",
            {
                "VendorRef": {"value": self.vendor(vendor)},
                "TxnDate": (txn or TODAY - timedelta(days=40)).isoformat(),
                "DueDate": due.isoformat(),
                "Line": [
                    {
                        "Amount": amount,
                        "DetailType": "AccountBasedExpenseLineDetail",
                        "AccountBasedExpenseLineDetail": {"AccountRef": {"value": self.account(account)}},
                    }
                ],
            },
        )
        bill_id: str = written["Id"]
        return bill_id

    def pay_in_quickbooks(self, vendor: str, bill_id: str, amount: str) -> None:
        self.company.write(
            "BillPayment",
            {
                "VendorRef": {"value": self.vendor(vendor)},
                "PayType": "Check",
                "CheckPayment": {"BankAccountRef": {"value": self.company.account_id("Bank")}},
                "TotalAmt": amount,
                "TxnDate": TODAY.isoformat(),
                "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": bill_id, "TxnType": "Bill"}]}],
            },
        )

    def sync(self) -> None:
        self.mirror.full_sync()


def connected(served: Served, browsers: Browsers, scenario: str) -> Books:
    owner = browsers.sign_up("payables")
    business_id = new_business(owner, timezone=ZONE)
    realm = Realm.create(served.sandbox, scenario=scenario)
    connect(owner, business_id, REDIRECT_URI, realm.realm_id)
    mirror = Harness.of(served.settings.database_url, realm, business_id)
    company = SandboxCompany(served.sandbox, realm.realm_id)
    vendors = {row["DisplayName"]: row["Id"] for row in company.query("SELECT * FROM Vendor MAXRESULTS 1000")}
    return Books(owner, business_id, company, mirror, vendors)


@dataclass(frozen=True)
class Written:
    payroll: str
    taxes: str
    rent: str
    supplies_overdue: str
    supplies_later: str
    cable_long_overdue: str
    design: str
    paid: str


@pytest.fixture
def books(served: Served, browsers: Browsers) -> Books:
    return connected(served, browsers, "empty")


@pytest.fixture
def written(books: Books) -> Written:
    return write_a_week(books)


@pytest.fixture(scope="module")
def refusing(served: Served) -> Iterator[tuple[Books, Written]]:
    """One synced business for the tests of refused input, which change nothing (each checks that)."""
    for browsers in open_browsers(served):
        books = connected(served, browsers, "empty")
        yield books, write_a_week(books)


def write_a_week(books: Books) -> Written:
    """A week of payables around Wednesday 18 March, synced."""
    written = Written(
        payroll=books.bill("Gusto", "Payroll Expenses", "8200.00", due=date(2026, 3, 20)),
        taxes=books.bill("IRS", "Taxes & Licenses", "2300.00", due=date(2026, 3, 25)),
        rent=books.bill("Townsend Street Properties LLC", "Rent", "6000.00", due=date(2026, 4, 1)),
        supplies_overdue=books.bill("Staples", "Office Supplies", "140.00", due=date(2026, 3, 10)),
        supplies_later=books.bill("Staples", "Office Supplies", "95.50", due=date(2026, 4, 10)),
        cable_long_overdue=books.bill("Comcast Business", "Utilities", "310.00", due=date(2026, 2, 1)),
        design=books.bill("Priya Natarajan Design", "Contractors", "1500.00", due=date(2026, 3, 21)),
        paid=books.bill("Staples", "Office Supplies", "60.00", due=date(2026, 3, 19)),
    )
    books.pay_in_quickbooks("Staples", written.paid, "60.00")
    books.pay_in_quickbooks("Priya Natarajan Design", written.design, "500.00")
    books.sync()
    return written


def board_layout(board: dict[str, Any]) -> dict[str, dict[str, list[tuple[str, list[str]]]]]:
    """column -> window -> [(vendor name, [bill ids])], the board as a person scans it."""
    return {
        column: {
            window["window"]: [
                (vendor["vendor_name"], [bill["bill_id"] for bill in vendor["bills"]]) for vendor in window["vendors"]
            ]
            for window in board[column]["windows"]
        }
        for column in ("must_pay", "can_delay")
    }


def bills_on(board: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        bill["bill_id"]: bill
        for column in ("must_pay", "can_delay")
        for window in board[column]["windows"]
        for vendor in window["vendors"]
        for bill in vendor["bills"]
    }


def test_the_board_sorts_open_bills_into_must_pay_and_can_delay_by_week_and_vendor_with_reasons(
    books: Books, written: Written
) -> None:
    response = books.get("/bills/board")
    assert response.status_code == 200, response.text
    board = response.json()

    assert (board["today"], board["timezone"]) == (TODAY.isoformat(), ZONE)  # Los Angeles' Wednesday, not UTC's
    assert board_layout(board) == {
        "must_pay": {
            "overdue": [("Comcast Business", [written.cable_long_overdue])],
            "this_week": [("Gusto", [written.payroll])],
            "next_week": [("IRS", [written.taxes])],
            "later": [("Townsend Street Properties LLC", [written.rent])],
        },
        "can_delay": {
            "overdue": [("Staples", [written.supplies_overdue])],
            "this_week": [("Priya Natarajan Design", [written.design])],
            "next_week": [],
            "later": [("Staples", [written.supplies_later])],
        },
    }
    windows = {window["window"]: window for window in board["must_pay"]["windows"]}
    assert (windows["overdue"]["starts"], windows["overdue"]["ends"]) == (None, "2026-03-17")
    assert (windows["this_week"]["starts"], windows["this_week"]["ends"]) == ("2026-03-18", SUNDAY.isoformat())
    assert (windows["next_week"]["starts"], windows["next_week"]["ends"]) == ("2026-03-23", NEXT_SUNDAY.isoformat())
    assert (windows["later"]["starts"], windows["later"]["ends"]) == ("2026-03-30", None)
    assert (board["must_pay"]["total"], board["must_pay"]["bills"]) == ("16810.00", 4)
    assert (board["can_delay"]["total"], board["can_delay"]["bills"]) == ("1235.50", 3)

    bills = bills_on(board)
    assert written.paid not in bills  # paid in QuickBooks
    design = bills[written.design]
    assert (design["total"], design["balance"], design["expense_accounts"]) == ("1500.00", "1000.00", ["Contractors"])
    decisions = {bill_id: bill["decision"] for bill_id, bill in bills.items()}
    assert decisions[written.payroll]["rule"] == "payroll"
    assert decisions[written.payroll]["reason"].startswith("Payroll: booked to Payroll Expenses")
    assert decisions[written.taxes]["reason"].startswith("Taxes: IRS is a tax agency")
    assert decisions[written.rent]["reason"].startswith("Rent or lease: booked to Rent")
    assert decisions[written.cable_long_overdue]["reason"].startswith("45 days past due, beyond the 30-day tolerance")
    assert decisions[written.cable_long_overdue]["planned_pay_date"] == TODAY.isoformat()
    assert decisions[written.supplies_overdue] == {
        "class": "can_delay",
        "rule": "default",
        "reason": "8 days past due, within the 30-day tolerance; no rule makes it urgent, but it is past its latest "
        "safe pay date, its due date, 2026-03-10.",
        "planned_pay_date": TODAY.isoformat(),
        "latest_safe_pay_date": "2026-03-10",
    }
    assert decisions[written.supplies_later]["planned_pay_date"] == "2026-04-10"
    assert all(decisions[bill_id]["latest_safe_pay_date"] is None for bill_id in (written.payroll, written.rent))

    # The bill list carries the same decisions, bill for bill.
    listed = books.get("/bills")
    assert listed.status_code == 200, listed.text
    assert {bill["bill_id"]: bill["decision"] for bill in listed.json()} == decisions


def test_a_plan_overrides_the_rules_moves_the_pay_date_and_clears_back_to_the_rules(
    books: Books, written: Written
) -> None:
    plan = f"/bills/{written.payroll}/plan"
    planned = (TODAY + timedelta(days=9)).isoformat()
    response = books.patch(
        plan, {"class_override": "can_delay", "note": "Gusto agreed to draft on the 27th", "planned_pay_date": planned}
    )
    assert response.status_code == 200, response.text
    chosen = response.json()
    assert chosen["decision"] == {
        "class": "can_delay",
        "rule": "user_override",
        "reason": f"{books.owner.email} chose Can Delay: Gusto agreed to draft on the 27th. Planned for {planned}, "
        "after its latest safe pay date, 2026-03-20.",
        "planned_pay_date": planned,
        "latest_safe_pay_date": "2026-03-20",
    }
    assert chosen["plan"]["set_by"] == books.owner.email
    assert (chosen["plan"]["class_override"], chosen["plan"]["planned_pay_date"]) == ("can_delay", planned)
    board = books.get("/bills/board").json()
    assert board_layout(board)["can_delay"]["this_week"] == [
        ("Gusto", [written.payroll]),
        ("Priya Natarajan Design", [written.design]),
    ]
    listed = {bill["bill_id"]: bill for bill in books.get("/bills").json()}
    assert listed[written.payroll]["decision"] == chosen["decision"]
    assert listed[written.payroll]["due_date"] == "2026-03-20"  # the vendor's due date is unchanged

    # Only the date: the class is the rules' again once the override is cleared.
    assert books.patch(plan, {"class_override": None}).json()["decision"]["rule"] == "payroll"
    cleared = books.patch(plan, {"note": None, "planned_pay_date": None})
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["plan"] is None
    assert cleared.json()["decision"]["planned_pay_date"] == "2026-03-20"


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        (
            {"planned_pay_date": (TODAY - timedelta(days=1)).isoformat()},
            "planned_pay_date_out_of_range",
            "planned_pay_date",
        ),
        (
            {"planned_pay_date": (TODAY + timedelta(days=366)).isoformat()},
            "planned_pay_date_out_of_range",
            "planned_pay_date",
        ),
        ({"planned_pay_date": "next friday"}, "invalid_input", "planned_pay_date"),
        ({"planned_pay_date": 1774000000}, "invalid_input", "planned_pay_date"),
        ({"class_override": "maybe"}, "invalid_input", "class_override"),
        ({"note": "x" * 1001}, "invalid_input", "note"),
        ({"class": "must_pay"}, "invalid_input", "class"),
        ({}, "invalid_input", None),  # the message names the fields to send
    ],
)
def test_a_bad_plan_is_refused_naming_the_field_and_changes_nothing(
    refusing: tuple[Books, Written], body: dict[str, Any], code: str, field: str | None
) -> None:
    books, written = refusing
    response = books.patch(f"/bills/{written.design}/plan", body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["code"], error["field"]) == (code, field)
    if field is None:
        assert "class_override, note, planned_pay_date" in error["message"]
    assert bills_on(books.get("/bills/board").json())[written.design]["plan"] is None


def test_a_plan_needs_an_open_bill_of_this_business_and_an_advisor_or_owner(
    books: Books, written: Written, browsers: Browsers
) -> None:
    unknown = books.patch("/bills/999999/plan", {"note": "?"})
    assert (unknown.status_code, unknown.json()["error"]["field"]) == (404, "bill_id")
    paid = books.patch(f"/bills/{written.paid}/plan", {"note": "?"})
    assert paid.status_code == 409, paid.text
    assert (paid.json()["error"]["code"], paid.json()["error"]["field"]) == ("bill_not_open", "bill_id")
    assert written.paid in paid.json()["error"]["message"]

    viewer, advisor, stranger = browsers.sign_up("viewer"), browsers.sign_up("advisor"), browsers.sign_up("stranger")
    add_member(books.owner, books.business_id, viewer, "viewer")
    add_member(books.owner, books.business_id, advisor, "advisor")
    body = {"class_override": "must_pay"}
    assert books.patch(f"/bills/{written.design}/plan", body, as_=viewer).status_code == 403
    assert books.patch(f"/bills/{written.design}/plan", body, as_=stranger).status_code == 404
    assert books.get("/bills/board", as_=stranger).status_code == 404
    assert books.get("/bills/board", as_=viewer).status_code == 200
    by_advisor = books.patch(f"/bills/{written.design}/plan", body, as_=advisor)
    assert by_advisor.status_code == 200, by_advisor.text
    assert by_advisor.json()["decision"]["reason"] == f"{advisor.email} chose Must Pay."


def test_vendor_settings_change_the_class_and_the_latest_safe_pay_date(books: Books, written: Written) -> None:
    listed = books.get("/vendors")
    assert listed.status_code == 200, listed.text
    vendors = {vendor["name"]: vendor for vendor in listed.json()}
    assert [vendor["name"] for vendor in listed.json()][:2] == ["Gusto", "Townsend Street Properties LLC"]
    staples = vendors["Staples"]
    assert (staples["open_balance"], staples["open_bills"], staples["overdue_balance"]) == ("235.50", 2, "140.00")
    assert (staples["critical"], staples["grace_days"], staples["late_fees"], staples["note"]) == (
        False,
        0,
        False,
        None,
    )

    design_vendor = books.vendor("Priya Natarajan Design")
    marked = books.patch(f"/vendors/{design_vendor}", {"critical": True, "note": "Only designer who knows the brand"})
    assert marked.status_code == 200, marked.text
    assert (marked.json()["critical"], marked.json()["open_balance"]) == (True, "1000.00")
    graced = books.patch(f"/vendors/{staples['vendor_id']}", {"grace_days": 10})
    assert (graced.json()["grace_days"], graced.json()["critical"]) == (10, False)

    bills = bills_on(books.get("/bills/board").json())
    assert bills[written.design]["decision"]["class"] == "must_pay"
    assert bills[written.design]["decision"]["reason"] == (
        "Priya Natarajan Design is marked critical (Only designer who knows the brand)."
    )
    assert bills[written.supplies_overdue]["decision"]["latest_safe_pay_date"] == "2026-03-20"
    assert bills[written.supplies_later]["decision"]["latest_safe_pay_date"] == "2026-04-20"

    # Left out, a setting stays; the note clears with null.
    fees = books.patch(f"/vendors/{design_vendor}", {"late_fees": True, "note": None}).json()
    assert (fees["critical"], fees["late_fees"], fees["note"]) == (True, True, None)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"grace_days": -1}, "grace_days"),
        ({"grace_days": 91}, "grace_days"),
        ({"grace_days": "5"}, "grace_days"),
        ({"grace_days": 2.5}, "grace_days"),
        ({"critical": "yes"}, "critical"),
        ({"critical": None}, "critical"),
        ({"late_fee": True}, "late_fee"),
    ],
)
def test_bad_vendor_settings_are_refused_naming_the_field(
    refusing: tuple[Books, Written], body: dict[str, Any], field: str
) -> None:
    books, _ = refusing
    response = books.patch(f"/vendors/{books.vendor('Staples')}", body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field
    staples = next(vendor for vendor in books.get("/vendors").json() if vendor["name"] == "Staples")
    assert (staples["critical"], staples["grace_days"], staples["settings_updated_at"]) == (False, 0, None)


def test_vendor_settings_need_a_known_vendor_and_an_advisor_or_owner(
    books: Books, written: Written, browsers: Browsers
) -> None:
    unknown = books.patch("/vendors/999999", {"critical": True})
    assert (unknown.status_code, unknown.json()["error"]["field"]) == (404, "vendor_id")
    viewer = browsers.sign_up("viewer")
    add_member(books.owner, books.business_id, viewer, "viewer")
    assert books.patch(f"/vendors/{books.vendor('Staples')}", {"critical": True}, as_=viewer).status_code == 403
    assert books.get("/vendors", as_=viewer).status_code == 200


def test_another_business_sees_none_of_these_bills_vendors_or_settings(
    served: Served, browsers: Browsers, books: Books, written: Written
) -> None:
    other = connected(served, browsers, "empty")
    other.sync()
    assert books.patch(f"/vendors/{books.vendor('Staples')}", {"critical": True}).status_code == 200

    assert other.get("/vendors").json() == []
    assert bills_on(other.get("/bills/board").json()) == {}
    missing = other.patch(f"/bills/{written.design}/plan", {"note": "not ours"})
    assert (missing.status_code, missing.json()["error"]["field"]) == (404, "bill_id")
    missing = other.patch(f"/vendors/{books.vendor('Staples')}", {"critical": False})
    assert (missing.status_code, missing.json()["error"]["field"]) == (404, "vendor_id")
    assert bills_on(books.get("/bills/board").json())[written.design]["plan"] is None


def test_before_the_first_sync_the_board_waits_and_the_bill_list_comes_without_decisions(books: Books) -> None:
    books.bill("Staples", "Office Supplies", "20.00", due=TODAY)
    for path in ("/bills/board", "/vendors"):
        waiting = books.get(path)
        assert (waiting.status_code, waiting.json()["error"]["code"]) == (409, "mirror_not_synced"), path
    listed = books.get("/bills")
    assert listed.status_code == 200, listed.text
    assert [bill["decision"] for bill in listed.json()] == [None]


def test_a_demo_company_s_open_bills_are_all_on_the_board_once_the_long_overdue_ones_must_pay(
    served: Served, browsers: Browsers
) -> None:
    books = connected(served, browsers, "tight")
    books.sync()
    in_quickbooks = {
        bill["Id"]: Decimal(str(bill["Balance"]))
        for bill in books.company.query("SELECT * FROM Bill WHERE Balance > '0' MAXRESULTS 1000")
    }
    board = books.get("/bills/board").json()
    bills = bills_on(board)

    assert {bill_id: Decimal(bill["balance"]) for bill_id, bill in bills.items()} == in_quickbooks
    assert Decimal(board["must_pay"]["total"]) + Decimal(board["can_delay"]["total"]) == sum(in_quickbooks.values())
    # The tight company stretches its vendors: some bills are long overdue, and those are paid first.
    cutoff = TODAY - timedelta(days=OVERDUE_TOLERANCE_DAYS)
    long_overdue = {bill_id for bill_id, bill in bills.items() if date.fromisoformat(bill["due_date"]) < cutoff}
    assert long_overdue
    assert {bill_id for bill_id, bill in bills.items() if bill["decision"]["class"] == "must_pay"} >= long_overdue
    assert board["can_delay"]["bills"] > 0
    for bill in bills.values():
        decision = bill["decision"]
        assert decision["planned_pay_date"] >= TODAY.isoformat()
        assert (decision["latest_safe_pay_date"] is None) == (decision["class"] == "must_pay")
