"""Receivables over real HTTP, the app served beside a sandbox and the business's mirror synced from it: open and
overdue invoices with when each is expected to be paid, customers with how they pay, whom to chase and the aging;
all read from the mirror (no QuickBooks call), as of the business's own today, by any member and nobody else."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from oodaloo.domains.qbo.mirror_models import SyncOutcome
from oodaloo.settings import Settings
from tests.domains.qbo.mirror_support import Harness, Realm
from tests.runway.test_bill_pay_routes import qbo_requests, qbo_requests_during
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
# Half past midnight in Auckland: already tomorrow there, still yesterday in Los Angeles.
INSTANT = Instant("Pacific/Auckland", time(0, 30))
LOS_ANGELES = "America/Los_Angeles"
AUCKLAND = "Pacific/Auckland"
ROUTES = ("invoices", "customers", "collections")


@pytest.fixture(scope="module")
def served(settings: Settings) -> Iterator[Served]:
    # Started inside the frozen clock: the app, the sandbox's demo books and the tokens all live at the instant.
    with at(INSTANT), served_beside_a_sandbox(settings, redirect_uri=REDIRECT_URI, redis_url=None) as (served, _):
        yield served


@pytest.fixture(scope="module")
def browsers(served: Served) -> Iterator[Browsers]:
    yield from open_browsers(served)


@dataclass
class Books:
    """A business connected to a sandbox company of its own, its mirror synced."""

    owner: Browser
    business_id: str
    company: SandboxCompany
    mirror: Harness
    timezone: str

    def get(self, path: str = "", who: Browser | None = None, **params: str) -> Any:
        response = (who or self.owner).get(f"/api/businesses/{self.business_id}/{path}", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def today(self) -> date:
        return datetime.now(ZoneInfo(self.timezone)).date()

    def sync(self, kind: str = "full") -> None:
        report = self.mirror.run(
            lambda mirror: (
                mirror.full(self.mirror.business_id) if kind == "full" else mirror.incremental(self.mirror.business_id)
            )
        )
        assert report.outcome is SyncOutcome.SUCCEEDED

    def open_in_qbo(self) -> dict[str, Decimal]:
        return {
            invoice["Id"]: Decimal(str(invoice["Balance"]))
            for invoice in self.company.query("SELECT * FROM Invoice MAXRESULTS 1000")
            if Decimal(str(invoice["Balance"])) > 0
        }


def books_in(served: Served, browsers: Browsers, timezone: str = LOS_ANGELES, scenario: str = "healthy") -> Books:
    with at(INSTANT):
        owner = browsers.sign_up("receivables")
        business_id = new_business(owner, timezone=timezone)
        realm = Realm.create(served.sandbox, scenario=scenario)
        company = SandboxCompany(served.sandbox, realm.realm_id)
        connect(owner, business_id, REDIRECT_URI, company.realm_id)
        books = Books(
            owner, business_id, company, Harness.of(served.settings.database_url, realm, business_id), timezone
        )
        books.sync()
        return books


@pytest.fixture(scope="module")
def books(served: Served, browsers: Browsers) -> Iterator[Books]:
    """A synced demo company the read-only tests share, read at the frozen instant."""
    made = books_in(served, browsers, scenario="tight")
    with at(INSTANT):
        yield made


def amount(value: str) -> Decimal:
    return Decimal(value)


# ------------------------------------------------------------------------------------------------------ invoices
def test_open_invoices_are_qbo_s_read_from_the_mirror_each_with_when_it_should_be_paid(books: Books) -> None:
    before = qbo_requests(books.company)
    listed = books.get("invoices")
    overdue = books.get("invoices", status="overdue")
    assert qbo_requests_during(books.company, before) == {}

    today = books.today()
    assert {invoice["invoice_id"]: amount(invoice["balance"]) for invoice in listed} == books.open_in_qbo()
    assert [invoice["due_date"] for invoice in listed] == sorted(invoice["due_date"] for invoice in listed)
    for invoice in listed:
        due = date.fromisoformat(invoice["due_date"])
        assert invoice["days_overdue"] == (today - due).days
        assert amount(invoice["balance"]) <= amount(invoice["total"])
        expected = {
            key: date.fromisoformat(value) for key, value in invoice["expected_collection"].items() if key != "reason"
        }
        # Never before today, overdue or not; an early and a late date around it.
        assert today <= expected["early"] <= expected["expected"] <= expected["late"]
        assert invoice["customer_name"] in invoice["expected_collection"]["reason"]
    assert overdue == [invoice for invoice in listed if invoice["days_overdue"] > 0]
    assert overdue  # a company that is tight on cash has clients paying late
    assert len(overdue) < len(listed)


def test_invoices_are_filtered_by_aging_bucket_and_by_customer(books: Books) -> None:
    listed = books.get("invoices")
    buckets = {invoice["aging_bucket"] for invoice in listed}
    for bucket in buckets:
        assert books.get("invoices", aging=bucket) == [i for i in listed if i["aging_bucket"] == bucket]
    customer_id = listed[0]["customer_id"]
    assert books.get("invoices", customer_id=customer_id) == [i for i in listed if i["customer_id"] == customer_id]
    assert books.get("invoices", status="overdue", aging="current") == []


@pytest.mark.parametrize(
    ("params", "status", "code", "field"),
    [
        ({"status": "paid"}, 422, "invalid_input", "status"),
        ({"aging": "30-60"}, 422, "invalid_input", "aging"),
        ({"customer_id": "x" * 65}, 422, "invalid_input", "customer_id"),
        ({"customer_id": "999999"}, 404, "customer_not_found", "customer_id"),
    ],
)
def test_a_bad_filter_is_refused_naming_it(
    books: Books, params: dict[str, str], status: int, code: str, field: str
) -> None:
    response = books.owner.get(f"/api/businesses/{books.business_id}/invoices", params=params)

    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert (error["code"], error["field"]) == (code, field)


# ----------------------------------------------------------------------------------------------------- customers
def test_customers_show_what_they_owe_and_how_they_pay(books: Books) -> None:
    invoices = books.get("invoices")
    customers = books.get("customers")

    by_id = {customer["customer_id"]: customer for customer in customers}
    for customer_id in {invoice["customer_id"] for invoice in invoices}:
        owed = [invoice for invoice in invoices if invoice["customer_id"] == customer_id]
        customer = by_id[customer_id]
        assert amount(customer["open_balance"]) == sum(amount(invoice["balance"]) for invoice in owed)
        assert customer["open_invoices"] == len(owed)
        assert customer["overdue_invoices"] == sum(1 for invoice in owed if invoice["days_overdue"] > 0)
    overdue_balances = [amount(customer["overdue_balance"]) for customer in customers]
    assert overdue_balances == sorted(overdue_balances, reverse=True)
    regulars = [customer["behaviour"] for customer in customers if customer["behaviour"]["paid_invoices"] >= 5]
    assert regulars  # a year of books: customers with a history
    for behaviour in regulars:
        assert behaviour["p25_days_late"] <= behaviour["median_days_late"] <= behaviour["p75_days_late"]
        assert 0 <= behaviour["share_paid_late"] <= 1
        assert behaviour["recent_invoices"] == 4
        assert behaviour["trend"] in ("later", "sooner", "steady")
        assert 0 < behaviour["history_weight"] < 1
    # The more of its own history a customer has, the more it counts (the business's customers overall fill the rest).
    most = max(regulars, key=lambda behaviour: behaviour["paid_invoices"])
    assert most["history_weight"] > 0.5
    # Customers differ: not everyone pays alike.
    assert len({behaviour["median_days_late"] for behaviour in regulars}) > 3
    assert all(customer["name"] in customer["behaviour"]["summary"] for customer in customers)


def test_one_customer_with_its_open_invoices_and_an_unknown_one_named(books: Books) -> None:
    invoices = books.get("invoices")
    customer_id = invoices[-1]["customer_id"]

    customer = books.get(f"customers/{customer_id}")
    listed = next(c for c in books.get("customers") if c["customer_id"] == customer_id)

    assert customer["invoices"] == [invoice for invoice in invoices if invoice["customer_id"] == customer_id]
    assert {key: value for key, value in customer.items() if key != "invoices"} == listed
    unknown = books.owner.get(f"/api/businesses/{books.business_id}/customers/424242")
    assert unknown.status_code == 404, unknown.text
    error = unknown.json()["error"]
    assert (error["code"], error["field"]) == ("customer_not_found", "customer_id")
    assert "424242" in error["message"]


# --------------------------------------------------------------------------------------------------- collections
def test_collections_rank_the_overdue_invoices_with_reasons_and_age_everything_open(books: Books) -> None:
    invoices = books.get("invoices")
    collections = books.get("collections")

    assert collections["as_of"] == books.today().isoformat()
    assert amount(collections["total_open"]) == sum(amount(invoice["balance"]) for invoice in invoices)
    overdue = [invoice for invoice in invoices if invoice["days_overdue"] > 0]
    assert amount(collections["total_overdue"]) == sum(amount(invoice["balance"]) for invoice in overdue)
    aging = {bucket["bucket"]: bucket for bucket in collections["aging"]}
    assert list(aging) == ["current", "1-30", "31-60", "61-90", "90+"]
    assert sum(bucket["count"] for bucket in aging.values()) == len(invoices)
    assert sum(amount(bucket["balance"]) for bucket in aging.values()) == amount(collections["total_open"])
    for name, bucket in aging.items():
        in_bucket = [invoice for invoice in invoices if invoice["aging_bucket"] == name]
        assert bucket["count"] == len(in_bucket)
    ranked = collections["invoices"]
    assert sorted(item["invoice"]["invoice_id"] for item in ranked) == sorted(i["invoice_id"] for i in overdue)
    assert [item["rank"] for item in ranked] == list(range(1, len(ranked) + 1))
    scores = [amount(item["score"]) for item in ranked]
    assert scores == sorted(scores, reverse=True)
    for item in ranked:
        assert item["reason"].startswith(f"Overdue {item['invoice']['days_overdue']} days")
        assert item["invoice"]["customer_name"] in item["reason"]


# ------------------------------------------------------------------------------------------------------- changes
def test_a_payment_made_in_quickbooks_shows_after_the_next_sync(served: Served, browsers: Browsers) -> None:
    books = books_in(served, browsers)
    with at(INSTANT):
        chased = books.get("collections")["invoices"][0]["invoice"]
        customer_before = books.get(f"customers/{chased['customer_id']}")
        books.company.write(
            "Payment",
            {
                "CustomerRef": {"value": chased["customer_id"]},
                "TotalAmt": chased["balance"],
                "TxnDate": books.today().isoformat(),
                "Line": [
                    {"Amount": chased["balance"], "LinkedTxn": [{"TxnId": chased["invoice_id"], "TxnType": "Invoice"}]}
                ],
            },
        )
        assert chased["invoice_id"] in {invoice["invoice_id"] for invoice in books.get("invoices")}  # not synced yet

        books.sync("incremental")

        assert chased["invoice_id"] not in {invoice["invoice_id"] for invoice in books.get("invoices")}
        ranked = books.get("collections")["invoices"]
        assert chased["invoice_id"] not in {item["invoice"]["invoice_id"] for item in ranked}
        customer_after = books.get(f"customers/{chased['customer_id']}")
        paid = amount(chased["balance"])
        assert amount(customer_after["open_balance"]) == amount(customer_before["open_balance"]) - paid
        assert customer_after["open_invoices"] == customer_before["open_invoices"] - 1


def test_today_is_the_business_s_own_in_its_time_zone(served: Served, browsers: Browsers) -> None:
    """At the frozen instant it is already tomorrow in Auckland and still yesterday in Los Angeles: an invoice due on
    the Los Angeles date is due today there, and a day overdue in Auckland."""
    auckland, los_angeles = books_in(served, browsers, AUCKLAND), books_in(served, browsers, LOS_ANGELES)
    with at(INSTANT):
        assert auckland.today() == los_angeles.today() + timedelta(days=1)
        due = los_angeles.today()
        made = {}
        for books in (auckland, los_angeles):
            customer_id = books.company.query("SELECT * FROM Customer MAXRESULTS 1")[0]["Id"]
            item_id = books.company.query("SELECT * FROM Item WHERE Type = 'Service' MAXRESULTS 1")[0]["Id"]
            made[books.timezone] = books.company.write(
                "Invoice",
                {
                    "CustomerRef": {"value": customer_id},
                    "TxnDate": (due - timedelta(days=30)).isoformat(),
                    "DueDate": due.isoformat(),
                    "Line": [
                        {
                            "Amount": "640.00",
                            "DetailType": "SalesItemLineDetail",
                            "SalesItemLineDetail": {"ItemRef": {"value": item_id}},
                        }
                    ],
                },
            )["Id"]
            books.sync("incremental")

        def listed(books: Books) -> dict[str, Any]:
            return next(i for i in books.get("invoices") if i["invoice_id"] == made[books.timezone])

        in_los_angeles, in_auckland = listed(los_angeles), listed(auckland)
        assert (in_los_angeles["days_overdue"], in_los_angeles["aging_bucket"]) == (0, "current")
        assert (in_auckland["days_overdue"], in_auckland["aging_bucket"]) == (1, "1-30")
        assert made[LOS_ANGELES] not in {i["invoice_id"] for i in los_angeles.get("invoices", status="overdue")}
        assert made[AUCKLAND] in {i["invoice_id"] for i in auckland.get("invoices", status="overdue")}
        assert date.fromisoformat(in_auckland["expected_collection"]["expected"]) >= auckland.today()
        assert los_angeles.get("collections")["as_of"] == due.isoformat()
        assert auckland.get("collections")["as_of"] == (due + timedelta(days=1)).isoformat()


# ---------------------------------------------------------------------------------------------------------- access
def test_any_member_reads_and_nobody_else_learns_anything(books: Books, browsers: Browsers) -> None:
    viewer, stranger = browsers.sign_up("viewer"), browsers.sign_up("stranger")
    add_member(books.owner, books.business_id, viewer, "viewer")
    customer_id = books.get("invoices")[0]["customer_id"]
    paths = [*ROUTES, f"customers/{customer_id}"]

    for path in paths:
        assert books.get(path, who=viewer) == books.get(path)
        refused = stranger.get(f"/api/businesses/{books.business_id}/{path}")
        assert refused.status_code == 404, refused.text
        assert refused.json()["error"]["code"] == "business_not_found"
        anonymous = browsers.served.app + f"/api/businesses/{books.business_id}/{path}"
        assert stranger.client.get(anonymous, headers={"Cookie": ""}).status_code == 401
