"""The prep tray over real HTTP, on sandbox companies arranged through QBO's public API and synced: each hygiene
component counted and weighed as documented; the score falls as problems come and rises as they are cleared; the
items in order (overdue invoices, bills due this week, Must Pay bills the forecast does not cover, alerts, hygiene),
each with the one action that clears it; any member reads it, nobody else does; the page and its htmx fragment."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from oodaloo.runway.experiences.tray import quickbooks_app_for
from oodaloo.settings import Settings
from tests.runway.action_support import serve_for_actions
from tests.runway.experiences.test_tray_support import (
    MORNING,
    TrayBooks,
    component,
    items_of,
    money,
    points_lost,
)
from tests.support.clock import at
from tests.support.qbo import Browsers, Served, add_member

QBO_APP = "https://app.qbo.intuit.com/app"


@pytest.fixture(scope="module")
def served(settings: Settings) -> Iterator[Served]:
    with at(MORNING), serve_for_actions(settings) as (served, _app):
        yield served


@pytest.fixture
def books(served: Served, browsers: Browsers) -> TrayBooks:
    return TrayBooks.create(served, browsers)


def test_a_clean_company_scores_100_with_high_confidence(books: TrayBooks) -> None:
    tray = books.tray()

    assert tray["hygiene"]["score"] == 100
    assert tray["confidence"] == "high"
    assert tray["confidence_reason"] == "Confidence is high: nothing in the books makes cash uncertain."
    assert tray["items"] == []
    assert tray["as_of"] == MORNING.day.isoformat()
    assert [part["max_points"] for part in tray["hygiene"]["components"]] == [20, 15, 15, 15, 15, 10, 10]


def test_each_hygiene_component_is_counted_and_weighed(books: TrayBooks) -> None:
    mess = books.mess
    client = mess.customer()
    tidy, no_terms, no_email = mess.vendor(), mess.vendor(terms=False), mess.vendor(email=False)
    paid_by_check = mess.invoice(client, "900.00", days_ago=30)
    unapplied = [mess.payment(client, amount, days_ago=9) for amount in ("500.00", "700.00")]
    for amount, days in (("400.00", 21), ("300.00", 12), ("200.00", 3)):
        mess.payment(client, amount, days_ago=days, into="Undeposited Funds", applied_to=paid_by_check)
    expense = mess.expense("120.00", days_ago=6, payee=tidy)
    no_due = mess.bill(no_terms, "330.00", due_in=None, days_ago=20)
    original, copy = mess.bill(no_email, "1875.00", days_ago=9), mess.bill(no_email, "1875.00", days_ago=8)
    unsent = mess.invoice(client, "650.00", days_ago=1, status="NeedToSend")
    books.sync()

    tray = books.tray()

    assert points_lost(tray) == {
        "unapplied_payments": 8,  # 2 x 4
        "undeposited_funds": 8,  # the two checks waiting over a week, 4 each; the one from 3 days ago is normal
        "duplicate_bills": 5,
        "unsent_invoices": 2,
        "uncategorized_expenses": 2,
        "bills_without_due_date": 2,
        "vendors_missing_info": 2,  # one without terms, one without an email
    }
    assert tray["hygiene"]["score"] == 100 - 29
    assert component(tray, "unapplied_payments")["count"] == 2
    assert money(component(tray, "unapplied_payments")["amount"]) == money("1200.00")
    undeposited = component(tray, "undeposited_funds")
    assert money(undeposited["amount"]) == money("900.00")
    assert "the oldest 21 days" in undeposited["explanation"]
    assert money(component(tray, "duplicate_bills")["amount"]) == money("1875.00")
    assert tray["confidence"] == "medium"
    assert tray["confidence_reason"] == (
        "Confidence is lowered: 2 unapplied payments ($1,200.00), $900.00 in undeposited funds and 1 likely "
        "duplicate bill make cash uncertain (hygiene 71/100)."
    )

    # Each problem is an item that opens its record in QuickBooks, the worst component first.
    hygiene = {item["key"]: item for item in items_of(tray, "hygiene")}
    expected = {
        f"unapplied_payments:{unapplied[0]['Id']}": f"{QBO_APP}/recvpayment?txnId={unapplied[0]['Id']}",
        f"unapplied_payments:{unapplied[1]['Id']}": f"{QBO_APP}/recvpayment?txnId={unapplied[1]['Id']}",
        "undeposited_funds": f"{QBO_APP}/deposit",
        f"duplicate_bills:{copy['Id']}": f"{QBO_APP}/bill?txnId={copy['Id']}",
        f"unsent_invoices:{unsent['Id']}": f"{QBO_APP}/invoice?txnId={unsent['Id']}",
        f"uncategorized_expenses:Purchase:{expense['Id']}": f"{QBO_APP}/expense?txnId={expense['Id']}",
        f"bills_without_due_date:{no_due['Id']}": f"{QBO_APP}/bill?txnId={no_due['Id']}",
        f"vendors_missing_info:{no_terms['Id']}": f"{QBO_APP}/vendordetail?nameId={no_terms['Id']}",
        f"vendors_missing_info:{no_email['Id']}": f"{QBO_APP}/vendordetail?nameId={no_email['Id']}",
    }
    assert {key: item["action"]["href"] for key, item in hygiene.items()} == expected
    assert all(item["action"]["external"] for item in hygiene.values())
    assert list(hygiene)[:2] == [f"unapplied_payments:{unapplied[1]['Id']}", f"unapplied_payments:{unapplied[0]['Id']}"]
    assert list(hygiene)[-2:] == [f"vendors_missing_info:{no_email['Id']}", f"vendors_missing_info:{no_terms['Id']}"]
    assert f"#{original['Id']}" in hygiene[f"duplicate_bills:{copy['Id']}"]["why"]


def test_the_score_falls_as_problems_come_and_rises_as_they_are_cleared(books: TrayBooks) -> None:
    mess = books.mess
    client, vendor = mess.customer(), mess.vendor()
    invoice = mess.invoice(client, "500.00", days_ago=2)
    payment = mess.payment(client, "500.00", days_ago=1)
    mess.bill(vendor, "640.00", days_ago=6)
    copy = mess.bill(vendor, "640.00", days_ago=4)
    unsent = mess.invoice(client, "250.00", days_ago=1, status="NeedToSend")
    books.sync()

    messy = books.tray()
    assert points_lost(messy) == {"unapplied_payments": 4, "duplicate_bills": 5, "unsent_invoices": 2}
    assert messy["hygiene"]["score"] == 89
    assert len(items_of(messy, "hygiene")) == 3

    mess.apply(payment, invoice)
    books.sync()
    assert books.tray()["hygiene"]["score"] == 93

    mess.delete("Bill", copy)
    mess.send(unsent)
    books.sync()
    cleared = books.tray()
    assert cleared["hygiene"]["score"] == 100
    assert cleared["confidence"] == "high"
    assert items_of(cleared, "hygiene") == []


def test_the_tray_lists_what_needs_attention_in_order_each_with_its_action(books: TrayBooks) -> None:
    mess = books.mess
    console = f"/businesses/{books.business_id}"
    client, vendor, landlord = mess.customer(), mess.vendor(), mess.vendor()
    small = mess.invoice(client, "100.00", days_ago=3)
    books.sync()
    books.drift_check()  # the first check only records what the books look like
    overdue = [mess.invoice(client, amount, days_ago=45, due_in=15) for amount in ("1200.00", "4800.00")]
    can_delay = mess.bill(vendor, "300.00", days_ago=26, due_in=30)  # due in 4 days
    rent = mess.bill(landlord, "5000.00", days_ago=25, due_in=30, account="Rent")  # Must Pay; no cash to pay it
    mess.payment(client, "100.00", days_ago=0, applied_to=small)  # the invoice paid: an alert
    mess.payment(client, "250.00", days_ago=2)  # not applied: a hygiene problem
    books.sync()
    books.drift_check()

    tray = books.tray()

    assert [item["kind"] for item in tray["items"]] == [
        "overdue_invoice",
        "overdue_invoice",
        "bill_due",
        "must_pay_at_risk",
        "drift_alert",
        "hygiene",
    ]
    first, second = items_of(tray, "overdue_invoice")
    assert first["key"] == f"invoice:{overdue[1]['Id']}"  # the larger of two invoices as late, from one customer
    assert second["key"] == f"invoice:{overdue[0]['Id']}"
    assert money(first["weight"]) > money(second["weight"]) > 0
    assert "Overdue 30 days" in first["why"]
    assert first["action"] == {"label": "Chase it", "href": f"{console}/chase", "external": False}

    (due,) = items_of(tray, "bill_due")
    assert due["key"] == f"bill:{can_delay['Id']}"
    assert "Due in 4 days" in due["why"]
    assert "Can Delay" in due["why"]
    assert due["action"]["href"] == f"{console}/bills"

    (at_risk,) = items_of(tray, "must_pay_at_risk")  # due in 5 days too, but listed once: as at risk
    assert at_risk["key"] == f"bill:{rent['Id']}"
    assert money(at_risk["amount"]) == money("5000.00")
    assert "in week 1" in at_risk["why"]
    assert "Rent" in at_risk["why"]
    assert at_risk["action"] == {"label": "Plan how to cover it", "href": f"{console}/plan", "external": False}

    (alert,) = items_of(tray, "drift_alert")
    assert alert["title"].startswith("Invoice paid")
    assert alert["action"]["href"] == f"{console}/plan"

    (hygiene,) = items_of(tray, "hygiene")
    assert hygiene["key"].startswith("unapplied_payments:")
    assert hygiene["action"]["external"] is True


def test_members_read_the_tray_and_nobody_else_does(books: TrayBooks, browsers: Browsers) -> None:
    viewer, stranger = browsers.sign_up("tray-viewer"), browsers.sign_up("tray-stranger")
    add_member(books.owner, books.business_id, viewer, "viewer")

    assert books.tray(as_=viewer)["hygiene"]["score"] == 100
    assert books.html(as_=viewer).status_code == 200
    refused = stranger.get(books.api)
    assert refused.status_code == 404
    assert books.business_id not in refused.text
    assert books.html(as_=stranger).status_code == 404
    anonymous = books.owner.client.get(books.api, headers={"Cookie": ""})
    assert anonymous.status_code == 401


def test_the_page_and_the_fragment_the_overview_loads(books: TrayBooks) -> None:
    mess = books.mess
    client = mess.customer()
    mess.payment(client, "500.00", days_ago=3)
    books.sync()

    page = books.html()
    assert page.status_code == 200
    assert "<html" in page.text
    assert "<h1>Prep tray</h1>" in page.text
    assert 'aria-current="page">Overview<' in page.text
    assert '<h2 id="hygiene-heading">Books hygiene: <span id="hygiene-score">96</span>/100</h2>' in page.text
    assert "Forecast confidence: high." in page.text

    fragment = books.html(htmx=True)
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert '<h3 id="hygiene-heading">' in fragment.text
    assert '<h3 id="tray-hygiene">Bookkeeping' in fragment.text
    assert "Apply it in QuickBooks" in fragment.text
    assert f"{client['DisplayName']}&#39;s payment of $500.00 is not applied to an invoice" in fragment.text


def test_the_tray_waits_for_the_first_sync(served: Served, browsers: Browsers) -> None:
    owner = browsers.sign_up("tray-unsynced")
    business_id = owner.post("/api/businesses", json={"name": "New", "timezone": MORNING.zone}).json()["id"]

    response = owner.get(f"/api/businesses/{business_id}/tray")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "mirror_not_synced"


def test_hygiene_items_open_the_quickbooks_app_of_the_company() -> None:
    assert quickbooks_app_for("https://sandbox-quickbooks.api.intuit.com") == "https://app.sandbox.qbo.intuit.com/app"
    assert quickbooks_app_for("https://quickbooks.api.intuit.com") == QBO_APP
    assert quickbooks_app_for("http://127.0.0.1:8000/qbo-sandbox") == QBO_APP
