"""The runway API over real HTTP: the app served beside a standalone sandbox, a demo company connected and synced
into the mirror. The forecast's weeks add up from the items each lists, no open invoice is dropped, an impact equals
the difference of two forecasts, a reserve lowers free cash and runway by exactly its amount; reserves and recurring
items are kept per business, written by owners and advisors only, and bad input is refused naming the field."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, time, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from oodaloo.settings import Settings
from tests.domains.qbo.mirror_support import Harness, Realm
from tests.runway.test_bill_pay_routes import REDIRECT_URI
from tests.support.clock import Instant, at
from tests.support.qbo import Browser, Browsers, Served, add_member, connect, new_business, served_beside_a_sandbox

# Mid-morning in the business's zone: the business's date cannot change while the module runs.
MORNING = Instant("America/New_York", time(10, 0))


@pytest.fixture(scope="module")
def served(settings: Settings) -> Iterator[Served]:
    with at(MORNING), served_beside_a_sandbox(settings, redirect_uri=REDIRECT_URI, redis_url=None) as (served, _app):
        yield served


@pytest.fixture(scope="module")
def browsers(served: Served) -> Iterator[Browsers]:
    browsers = Browsers(served)
    try:
        yield browsers
    finally:
        browsers.close()


@dataclass
class Company:
    """A business connected to a demo company of the sandbox and synced, with its owner's browser."""

    owner: Browser
    business_id: str
    realm: Realm

    def url(self, path: str = "") -> str:
        return f"/api/businesses/{self.business_id}{path}"

    def get(self, path: str, as_: Browser | None = None) -> httpx.Response:
        return (as_ or self.owner).get(self.url(path))

    def runway(self) -> dict[str, Any]:
        response = self.get("/runway")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def impact(self, *changes: dict[str, Any], as_: Browser | None = None) -> httpx.Response:
        return (as_ or self.owner).post(self.url("/runway/impact"), json={"changes": list(changes)})


def connected(served: Served, browsers: Browsers, scenario: str, *, sync: bool = True) -> Company:
    owner = browsers.sign_up(f"runway-{scenario}")
    business_id = new_business(owner, timezone=MORNING.zone)
    realm = Realm.create(served.sandbox, scenario=scenario)
    connect(owner, business_id, REDIRECT_URI, realm.realm_id)
    if sync:
        Harness.of(served.settings.database_url, realm, business_id).full_sync()
    return Company(owner, business_id, realm)


@pytest.fixture(scope="module")
def company(served: Served, browsers: Browsers) -> Company:
    """A healthy demo company, read by the tests that change nothing."""
    return connected(served, browsers, "healthy")


@pytest.fixture
def own_company(served: Served, browsers: Browsers) -> Company:
    """A tight demo company of the test's own, for tests that change reserves or recurring items."""
    return connected(served, browsers, "tight")


def money(value: str) -> Decimal:
    return Decimal(value)


def week(company: Company, number: int) -> dict[str, Any]:
    response = company.get(f"/runway/weeks/{number}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# ------------------------------------------------------------------------------------------------ the forecast
def test_every_week_adds_up_from_the_items_it_lists(company: Company) -> None:
    runway = company.runway()
    assert runway["as_of"] == MORNING.day.isoformat()
    assert len(runway["weeks"]) == 13
    balances = company.get("/balances").json()
    assert money(runway["starting_cash"]) == money(balances["total_cash"])
    opening = money(runway["starting_cash"])
    for summary in runway["weeks"]:
        detail = week(company, summary["number"])
        inflows = [money(item["amount"]) for item in detail["items"] if item["direction"] == "inflow"]
        outflows = [money(item["amount"]) for item in detail["items"] if item["direction"] == "outflow"]
        assert money(summary["opening"]) == opening
        assert money(summary["inflows"]) == sum(inflows, Decimal(0))
        assert money(summary["outflows"]) == sum(outflows, Decimal(0))
        assert money(summary["ending"]) == opening + sum(inflows, Decimal(0)) - sum(outflows, Decimal(0))
        assert money(summary["low_ending"]) <= money(summary["ending"]) <= money(summary["high_ending"])
        start, end = date.fromisoformat(detail["start"]), date.fromisoformat(detail["end"])
        assert all(start <= date.fromisoformat(item["on"]) <= end for item in detail["items"])
        assert all(item["reason"] for item in detail["items"])
        opening = money(summary["ending"])


def test_no_open_invoice_is_dropped_the_overdue_ones_included(company: Company) -> None:
    runway = company.runway()
    listed: dict[str, Decimal] = {}
    for number in range(1, 14):
        for item in week(company, number)["items"]:
            if item["kind"] == "invoice":
                listed[item["source_id"]] = money(item["amount"])
    invoices = company.get("/invoices").json()
    assert invoices
    assert any(invoice["days_overdue"] > 0 for invoice in invoices)  # the demo has overdue invoices
    expected = {invoice["invoice_id"]: money(invoice["balance"]) for invoice in invoices}
    beyond = set(expected) - set(listed)
    assert set(listed) <= set(expected)
    assert len(beyond) == runway["later"]["inflow_count"]  # only those expected after the 13 weeks are not listed
    assert all(listed[invoice_id] == balance for invoice_id, balance in expected.items() if invoice_id in listed)


def test_recurring_outflows_are_in_the_forecast_with_their_reason(company: Company) -> None:
    items = {item["id"]: item for item in company.get("/recurring-items").json()}
    payroll = next(item for item in items.values() if item["category"] == "payroll" and item["in_forecast"])
    occurrences = [
        item
        for number in range(1, 14)
        for item in week(company, number)["items"]
        if item["kind"] == "recurring" and item["source_id"].startswith(payroll["id"] + ":")
    ]
    assert [item["on"] for item in occurrences] == [occurrence["on"] for occurrence in payroll["upcoming"]]
    assert all(money(item["amount"]) == money(payroll["amount"]) for item in occurrences)
    assert all(payroll["schedule"] in item["reason"] for item in occurrences)
    charged = [item for item in items.values() if item["counted_in"] is not None]
    assert all(not item["in_forecast"] for item in charged)


def test_a_week_out_of_range_is_not_found_naming_it(company: Company) -> None:
    for number in (0, 14):
        response = company.get(f"/runway/weeks/{number}")
        assert response.status_code == 404, response.text
        error = response.json()["error"]
        assert (error["code"], error["field"]) == ("week_not_found", "n")
        assert f"Week {number} is out of range" in error["message"]
    assert company.get("/runway/weeks/two").status_code == 422


# ---------------------------------------------------------------------------------------------------- impact
def some_bill(company: Company) -> dict[str, Any]:
    for number in range(1, 14):
        bills = [item for item in week(company, number)["items"] if item["kind"] == "bill"]
        if bills:
            return bills[0]
    raise AssertionError("the demo company has no open bill in the forecast")


def test_an_impact_equals_the_difference_of_two_full_forecasts(own_company: Company) -> None:
    company = own_company
    before = company.runway()
    bill = some_bill(company)
    later = (date.fromisoformat(bill["on"]) + timedelta(days=40)).isoformat()
    answer = company.impact({"action": "delay", "source_id": bill["source_id"], "to": later})
    assert answer.status_code == 200, answer.text
    impact = answer.json()
    assert impact["before"] == before["runway"]

    # Plan the bill for that day for real (the payables' plan): the new forecast is the impact's "after".
    planned = company.owner.client.patch(
        company.url(f"/bills/{bill['source_id']}/plan"), json={"planned_pay_date": later}
    )
    assert planned.status_code == 200, planned.text
    after = company.runway()
    assert impact["after"] == after["runway"]
    if before["runway"]["days"] is not None and after["runway"]["days"] is not None:
        assert impact["change_days"] == after["runway"]["days"] - before["runway"]["days"]
    assert money(impact["lowest_free_cash_after"]) == money(after["lowest_free_cash"])


def test_impact_of_paying_part_of_a_bill_and_collecting_an_invoice(company: Company) -> None:
    bill = some_bill(company)
    part = (money(bill["amount"]) / 2).quantize(Decimal("0.01"))
    invoice = next(item for item in week(company, 1)["items"] + week(company, 2)["items"] if item["kind"] == "invoice")
    response = company.impact(
        {"action": "pay", "source_id": bill["source_id"], "amount": str(part)},
        {"action": "collect", "source_id": invoice["source_id"]},
    )
    assert response.status_code == 200, response.text
    impact = response.json()
    assert impact["description"]
    # Cash at the end of the horizon moves by neither (both were in it already, only earlier now).
    assert money(impact["ending_cash_after"]) == money(impact["ending_cash_before"])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"action": "pay", "source_id": "no-such-bill"}, "changes.0.source_id"),
        ({"action": "pay", "source_id": "BILL", "amount": "1e3"}, "changes.0.amount"),
        ({"action": "pay", "source_id": "BILL", "amount": "99999999.00"}, "changes.0.amount"),
        ({"action": "delay", "source_id": "BILL", "to": "2001-01-01"}, "changes.0.to"),
        ({"action": "delay", "source_id": "BILL"}, "changes.0.to"),
        ({"action": "delay", "source_id": "BILL", "to": "2099-01-01", "amount": "5"}, "changes.0.amount"),
        ({"action": "fly", "source_id": "BILL"}, "changes.0.action"),
    ],
)
def test_a_bad_change_is_refused_naming_its_field(company: Company, change: dict[str, Any], field: str) -> None:
    bill = some_bill(company)
    sent = {name: bill["source_id"] if value == "BILL" else value for name, value in change.items()}
    response = company.impact(sent)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


def test_a_business_not_synced_yet_has_no_runway(served: Served, browsers: Browsers) -> None:
    company = connected(served, browsers, "healthy", sync=False)
    response = company.get("/runway")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "mirror_not_synced"


# -------------------------------------------------------------------------------------------------- reserves
def test_a_reserve_lowers_free_cash_and_runway_by_exactly_its_amount(own_company: Company) -> None:
    company = own_company
    before = company.runway()
    created = company.owner.post(
        company.url("/reserves"), json={"kind": "payroll", "name": "Next payroll", "amount": "12000.00"}
    )
    assert created.status_code == 201, created.text
    held = company.runway()
    assert money(held["free_cash"]) == money(before["free_cash"]) - 12000
    assert money(held["starting_cash"]) == money(before["starting_cash"])
    for earlier, now in zip(before["weeks"], held["weeks"], strict=True):
        assert money(now["free_ending"]) == money(earlier["free_ending"]) - 12000
    # Holding 12,000 back is the same as raising the floor by 12,000.
    assert company.owner.client.delete(company.url(f"/reserves/{created.json()['id']}")).status_code == 204
    floor = money(before["reserve_floor"]) + 12000
    assert company.owner.client.put(company.url("/reserve-floor"), json={"amount": str(floor)}).status_code == 200
    raised = company.runway()
    assert raised["runway"] == held["runway"]
    assert money(raised["lowest_free_cash"]) - money(raised["reserve_floor"]) == money(
        held["lowest_free_cash"]
    ) - money(held["reserve_floor"])


def test_reserves_are_listed_changed_and_removed(own_company: Company, browsers: Browsers) -> None:
    company = own_company
    until = (MORNING.day + timedelta(days=20)).isoformat()
    created = company.owner.post(
        company.url("/reserves"), json={"kind": "taxes", "name": "Q2 estimate", "amount": 4200.5, "until": until}
    )
    assert created.status_code == 201, created.text
    reserve = created.json()
    assert (reserve["amount"], reserve["until"], reserve["held_today"]) == ("4200.50", until, True)

    changed = company.owner.client.patch(company.url(f"/reserves/{reserve['id']}"), json={"until": None})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["until"], changed.json()["name"]) == (None, "Q2 estimate")
    listed = company.get("/reserves").json()
    assert [item["id"] for item in listed["reserves"]] == [reserve["id"]]
    assert money(listed["held_today"]) == Decimal("4200.50")

    assert company.owner.client.delete(company.url(f"/reserves/{reserve['id']}")).status_code == 204
    assert company.owner.client.delete(company.url(f"/reserves/{reserve['id']}")).status_code == 404
    assert company.get("/reserves").json()["reserves"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "payroll", "name": "x", "amount": "-5"}, "amount"),
        ({"kind": "payroll", "name": "x", "amount": "1_000"}, "amount"),
        ({"kind": "payroll", "name": "x", "amount": "0"}, "amount"),
        ({"kind": "rent", "name": "x", "amount": "5"}, "kind"),
        ({"kind": "payroll", "name": " ", "amount": "5"}, "name"),
        ({"kind": "payroll", "name": "x", "amount": "5", "until": "2001-01-01"}, "until"),
        ({"kind": "payroll", "name": "x", "amount": "5", "colour": "red"}, "colour"),
    ],
)
def test_a_bad_reserve_is_refused_naming_its_field(company: Company, body: dict[str, Any], field: str) -> None:
    response = company.owner.post(company.url("/reserves"), json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field
    assert company.get("/reserves").json()["reserves"] == []  # nothing half-written


def test_viewers_read_but_do_not_write_and_other_businesses_see_nothing(company: Company, browsers: Browsers) -> None:
    viewer, stranger = browsers.sign_up("viewer"), browsers.sign_up("stranger")
    add_member(company.owner, company.business_id, viewer, "viewer")
    assert company.get("/runway", as_=viewer).status_code == 200
    assert company.get("/reserves", as_=viewer).status_code == 200
    body = {"kind": "custom", "name": "Buffer", "amount": "10.00"}
    assert viewer.post(company.url("/reserves"), json=body).status_code == 403
    assert viewer.client.patch(company.url("/recurring-items/bill-1"), json={"disabled": True}).status_code == 403
    for path in ("/runway", "/runway/weeks/1", "/reserves", "/recurring-items"):
        assert company.get(path, as_=stranger).status_code == 404
    assert company.impact({"action": "pay", "source_id": "1"}, as_=stranger).status_code == 404


# --------------------------------------------------------------------------------------------- recurring items
def test_changing_a_detected_item_changes_the_forecast(own_company: Company) -> None:
    company = own_company
    items = company.get("/recurring-items").json()
    rent = next(item for item in items if item["category"] == "rent")
    before = company.runway()
    raised = money(rent["amount"]) + 1000
    changed = company.owner.client.patch(company.url(f"/recurring-items/{rent['id']}"), json={"amount": str(raised)})
    assert changed.status_code == 200, changed.text
    assert (money(changed.json()["amount"]), changed.json()["edited"]) == (raised, True)
    after = company.runway()
    occurrences = len(rent["upcoming"])
    assert money(after["ending_cash"]) == money(before["ending_cash"]) - 1000 * occurrences

    assert company.owner.client.delete(company.url(f"/recurring-items/{rent['id']}")).status_code == 204
    off = next(item for item in company.get("/recurring-items").json() if item["id"] == rent["id"])
    assert (off["enabled"], off["in_forecast"]) == (False, False)
    assert money(company.runway()["ending_cash"]) == money(before["ending_cash"]) + money(rent["amount"]) * occurrences

    back = company.owner.client.patch(
        company.url(f"/recurring-items/{rent['id']}"), json={"disabled": False, "amount": None}
    )
    assert back.status_code == 200, back.text
    assert money(company.runway()["ending_cash"]) == money(before["ending_cash"])


def test_an_item_added_by_hand_is_forecast_from_its_next_date(own_company: Company) -> None:
    company = own_company
    first = MORNING.day + timedelta(days=3)
    before = company.runway()
    added = company.owner.post(
        company.url("/recurring-items"),
        json={
            "name": "Equipment loan",
            "category": "other",
            "cadence": "monthly",
            "amount": "800.00",
            "next_date": first.isoformat(),
        },
    )
    assert added.status_code == 201, added.text
    item = added.json()
    assert item["origin"] == "user"
    assert item["next_date"] == first.isoformat()
    week_one = week(company, 1)
    assert any(entry["source_id"] == f"{item['id']}:{first.isoformat()}" for entry in week_one["items"])
    assert money(company.runway()["ending_cash"]) == money(before["ending_cash"]) - 800 * len(item["upcoming"])

    cleared = company.owner.client.patch(company.url(f"/recurring-items/{item['id']}"), json={"amount": None})
    assert cleared.status_code == 422
    assert cleared.json()["error"]["field"] == "amount"
    assert company.owner.client.delete(company.url(f"/recurring-items/{item['id']}")).status_code == 204
    assert company.owner.client.delete(company.url(f"/recurring-items/{item['id']}")).status_code == 404
    assert money(company.runway()["ending_cash"]) == money(before["ending_cash"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "category": "other", "cadence": "yearly", "amount": "5", "next_date": "2030-01-01"}, "cadence"),
        (
            {"name": "x", "category": "other", "cadence": "monthly", "amount": "5", "next_date": "2001-01-01"},
            "next_date",
        ),
        (
            {"name": "x", "category": "other", "cadence": "monthly", "amount": "5.001", "next_date": "2030-01-01"},
            "amount",
        ),
    ],
)
def test_a_bad_recurring_item_is_refused_naming_its_field(company: Company, body: dict[str, Any], field: str) -> None:
    response = company.owner.post(company.url("/recurring-items"), json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


def test_an_unknown_recurring_item_is_not_found(company: Company) -> None:
    for item_id in ("bill-999999", str(uuid.uuid4())):
        response = company.owner.client.patch(company.url(f"/recurring-items/{item_id}"), json={"amount": "5.00"})
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "recurring_item_not_found"
