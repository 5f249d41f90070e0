"""Listing and paying bills over real HTTP: the app served beside a standalone sandbox, each test with a QBO company
of its own."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI, Request
from sqlalchemy import select

from oodaloo.domains.ap.schemas import CENTS, PayBillIn
from oodaloo.domains.ap.service import BillService, PaymentAnswer
from oodaloo.domains.core.action_runner import ActionRunner, Actor
from oodaloo.domains.core.demo import DEMO_EMAIL
from oodaloo.domains.core.models import Business, Membership, User
from oodaloo.domains.qbo.auth import RECONNECT_MESSAGE
from oodaloo.domains.qbo.models import QBOConnection
from oodaloo.infra.db.engine import Database
from oodaloo.infra.jobs.models import QBOAction
from oodaloo.infra.jobs.smart_sync import BreakerSettings
from oodaloo.main import create_app, sandbox_config
from oodaloo.runway.routes.bills import get_bill_service
from oodaloo.settings import Settings
from tests.support.qbo import (
    Browser,
    Browsers,
    SandboxCompany,
    Served,
    add_member,
    connect,
    new_business,
    served_beside_a_sandbox,
)
from tests.support.servers import serve

REDIRECT_URI = "http://127.0.0.1:9/qbo/callback"
SETTLE_SECONDS = 20.0


@dataclass(frozen=True)
class Running:
    served: Served
    app: FastAPI  # to swap a dependency for one test


@pytest.fixture(scope="module")
def running(settings: Settings) -> Iterator[Running]:
    # In-process jobs and SmartSync state: nothing shared with other test processes through Redis.
    with served_beside_a_sandbox(
        settings,
        redirect_uri=REDIRECT_URI,
        redis_url=None,
        reconcile_backoff_seconds=0.2,
        reconcile_stale_seconds=5.0,
        sweep_interval_seconds=0.3,
    ) as (served, app):
        yield Running(served, app)


@pytest.fixture(scope="module")
def served(running: Running) -> Served:
    return running.served


@dataclass
class Payer:
    """A business connected to a sandbox company of its own, its owner's browser, and a bank account to pay from."""

    owner: Browser
    business_id: str
    company: SandboxCompany
    bank_id: str

    def pay(
        self,
        bill_id: str,
        body: dict[str, Any],
        key: str | None = None,
        as_: Browser | None = None,
        *,
        without_key: bool = False,
    ) -> httpx.Response:
        """Pay as a client does: with ``key``, or a new key of its own (a new payment); ``without_key`` sends none."""
        headers = {} if without_key else {"Idempotency-Key": key or new_key()}
        return (as_ or self.owner).post(
            f"/api/businesses/{self.business_id}/bills/{bill_id}/pay", json=body, headers=headers
        )

    def open_bills(self, as_: Browser | None = None) -> httpx.Response:
        return (as_ or self.owner).get(f"/api/businesses/{self.business_id}/bills")

    def action(self, action_id: str) -> dict[str, Any]:
        response = self.owner.get(f"/api/businesses/{self.business_id}/actions/{action_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def settled(self, action_id: str) -> dict[str, Any]:
        """The action once it is final, polling (bounded) while the reconciler works."""
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            action = self.action(action_id)
            if action["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
                return action
            time.sleep(0.1)


@pytest.fixture
def payer(served: Served, browsers: Browsers) -> Payer:
    owner = browsers.sign_up("payer")
    business_id = new_business(owner)
    company = SandboxCompany.create(served.sandbox)
    connect(owner, business_id, REDIRECT_URI, company.realm_id)
    return Payer(owner, business_id, company, company.account_id("Bank"))


def new_key() -> str:
    return f"pay-{uuid.uuid4().hex}"


def test_paying_a_bill_writes_one_bill_payment_and_reduces_the_balance(payer: Payer) -> None:
    bill = payer.company.new_bill("300.00")
    # A few days back in the business's zone (new_business: New York): well inside the window whatever the hour.
    paid_on = (datetime.now(ZoneInfo("America/New_York")).date() - timedelta(days=5)).isoformat()
    response = payer.pay(
        bill["Id"], {"amount": "300.00", "pay_from_account_id": payer.bank_id, "payment_date": paid_on}, new_key()
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "succeeded"
    assert (body["bill_id"], body["amount"], body["pay_from_account_id"]) == (bill["Id"], "300.00", payer.bank_id)
    assert body["payment_date"] == paid_on
    assert body["repeated"] is False
    payments = payer.company.payments_of_bill(bill["Id"])
    assert [payment["Id"] for payment in payments] == [body["bill_payment_id"]]
    assert payments[0]["PayType"] == "Check"
    assert payments[0]["PrivateNote"] == f"oodaloo:{uuid.UUID(body['action_id']).hex}"
    assert payer.company.bill_balance(bill["Id"]) == 0

    action = payer.action(body["action_id"])
    assert (action["kind"], action["status"], action["attempts"]) == ("bill.pay", "succeeded", 1)
    assert (action["qbo_entity"], action["qbo_id"]) == ("BillPayment", body["bill_payment_id"])
    assert action["completed_at"] is not None


def test_a_partial_payment_leaves_the_rest_open_and_more_than_the_balance_is_refused(payer: Payer) -> None:
    bill = payer.company.new_bill("300.00")
    first = payer.pay(bill["Id"], {"amount": 120.5, "pay_from_account_id": payer.bank_id})
    assert first.status_code == 200, first.text
    assert first.json()["amount"] == "120.50"
    assert payer.company.bill_balance(bill["Id"]) == Decimal("179.50")

    over = payer.pay(bill["Id"], {"amount": "179.51", "pay_from_account_id": payer.bank_id})
    assert over.status_code == 422, over.text
    error = over.json()["error"]
    assert (error["code"], error["field"]) == ("amount_over_balance", "amount")
    assert "179.50" in error["message"]
    assert len(payer.company.payments_of_bill(bill["Id"])) == 1


def test_a_repeated_key_answers_the_first_outcome_and_a_changed_body_is_a_conflict(payer: Payer) -> None:
    bill = payer.company.new_bill("80.00")
    body = {"amount": "80.00", "pay_from_account_id": payer.bank_id}
    idempotency_key = new_key()
    first = payer.pay(bill["Id"], body, idempotency_key)
    again = payer.pay(bill["Id"], {**body, "amount": "80"}, idempotency_key)
    other = payer.pay(bill["Id"], {**body, "amount": "70.00"}, idempotency_key)

    assert first.status_code == again.status_code == 200, again.text
    assert again.json() == {**first.json(), "repeated": True}
    assert len(payer.company.payments_of_bill(bill["Id"])) == 1
    assert other.status_code == 409, other.text
    assert other.json()["error"]["code"] == "idempotency_conflict"
    # A new key is a new payment: the bill is paid now, so this one is refused.
    fresh = payer.pay(bill["Id"], body, new_key())
    assert (fresh.status_code, fresh.json()["error"]["code"]) == (422, "bill_already_paid")


@pytest.mark.parametrize("problem", ["expense_account", "inactive_bank", "no_such_account"])
def test_an_account_bills_cannot_be_paid_from_is_refused(payer: Payer, problem: str) -> None:
    bill = payer.company.new_bill("50.00")
    if problem == "expense_account":
        account_id = payer.company.account_id("Expense")
    elif problem == "inactive_bank":
        account_id = payer.bank_id
        payer.company.deactivate("Account", account_id)
    else:
        account_id = "999999"
    response = payer.pay(bill["Id"], {"amount": "50.00", "pay_from_account_id": account_id})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("account_not_usable", "pay_from_account_id")
    assert payer.company.payments_of_bill(bill["Id"]) == []


def test_a_payment_quickbooks_refuses_fails_the_action_and_writes_nothing(payer: Payer) -> None:
    vendor_id = payer.company.vendor_ids()[1]
    bill = payer.company.new_bill("60.00", vendor_id=vendor_id)
    payer.company.deactivate("Vendor", vendor_id)  # our checks pass (bill open, account usable); QBO refuses
    idempotency_key = new_key()
    response = payer.pay(bill["Id"], {"amount": "60.00", "pay_from_account_id": payer.bank_id}, idempotency_key)

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "qbo_validation"
    assert "inactive" in error["message"]
    assert payer.company.payments_of_bill(bill["Id"]) == []
    assert payer.company.bill_balance(bill["Id"]) == Decimal("60.00")
    # The action was recorded and failed: repeating the key answers the same refusal without asking QBO again.
    repeat = payer.pay(bill["Id"], {"amount": "60.00", "pay_from_account_id": payer.bank_id}, idempotency_key)
    assert (repeat.status_code, repeat.json()["error"]) == (422, error)


@pytest.mark.parametrize(
    ("body", "headers", "field"),
    [
        ({"amount": "10.001", "pay_from_account_id": "35"}, {}, "amount"),
        ({"amount": "0", "pay_from_account_id": "35"}, {}, "amount"),
        ({"amount": "-5.00", "pay_from_account_id": "35"}, {}, "amount"),
        ({"amount": "ten", "pay_from_account_id": "35"}, {}, "amount"),
        ({"amount": "10.00"}, {}, "pay_from_account_id"),
        ({"amount": "10.00", "pay_from_account_id": "35", "payment_date": "26/11/2026"}, {}, "payment_date"),
        ({"amount": "10.00", "pay_from_account_id": "35"}, {"Idempotency-Key": "k" * 201}, "Idempotency-Key"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    payer: Payer, body: dict[str, Any], headers: dict[str, str], field: str
) -> None:
    response = payer.owner.post(f"/api/businesses/{payer.business_id}/bills/1/pay", json=body, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


def test_a_bill_quickbooks_does_not_have_is_not_found(payer: Payer) -> None:
    response = payer.pay("987654321", {"amount": "10.00", "pay_from_account_id": payer.bank_id})
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"


def test_roles_and_tenancy_decide_who_may_pay_and_see_the_action(payer: Payer, browsers: Browsers) -> None:
    viewer, advisor, stranger = browsers.sign_up("viewer"), browsers.sign_up("advisor"), browsers.sign_up("stranger")
    add_member(payer.owner, payer.business_id, viewer, "viewer")
    add_member(payer.owner, payer.business_id, advisor, "advisor")
    bill = payer.company.new_bill("40.00")
    body = {"amount": "20.00", "pay_from_account_id": payer.bank_id}

    assert payer.pay(bill["Id"], body, as_=viewer).status_code == 403
    assert payer.pay(bill["Id"], body, as_=stranger).status_code == 404
    # Paying is acting: an advisor pays once the owner allows it.
    assert payer.pay(bill["Id"], body, as_=advisor).status_code == 403
    members_url = f"/api/businesses/{payer.business_id}/members"
    advisor_id = next(
        member["user_id"] for member in payer.owner.get(members_url).json() if member["email"] == advisor.email
    )
    assert payer.owner.client.patch(f"{members_url}/{advisor_id}", json={"may_act": True}).status_code == 200
    paid = payer.pay(bill["Id"], body, as_=advisor)
    assert paid.status_code == 200, paid.text
    action_path = f"/api/businesses/{payer.business_id}/actions/{paid.json()['action_id']}"
    assert viewer.get(action_path).json()["status"] == "succeeded"
    assert stranger.get(action_path).status_code == 404
    # The stranger's own business cannot reach it either: actions are scoped to their business.
    own = new_business(stranger)
    assert stranger.get(f"/api/businesses/{own}/actions/{paid.json()['action_id']}").status_code == 404


def test_a_business_without_quickbooks_is_told_to_connect(browsers: Browsers) -> None:
    owner = browsers.sign_up("unconnected")
    business_id = new_business(owner)
    response = owner.post(
        f"/api/businesses/{business_id}/bills/1/pay",
        json={"amount": "10.00", "pay_from_account_id": "35"},
        headers={"Idempotency-Key": new_key()},
    )
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "qbo_not_connected"
    assert "connect" in error["message"]


def test_a_lost_response_is_answered_202_and_the_reconciler_confirms_one_payment(payer: Payer) -> None:
    bill = payer.company.new_bill("90.00")
    faults = f"{payer.company.sandbox}/_sandbox/faults"
    # Every write commits but its answer is lost (reads are untouched), on each of the user's attempts.
    httpx.post(faults, json={"error_rate": 1.0, "kinds": {"lost_response": 1.0}}).raise_for_status()
    try:
        response = payer.pay(bill["Id"], {"amount": "90.00", "pay_from_account_id": payer.bank_id}, new_key())
    finally:
        httpx.post(faults, json={"error_rate": 0.0, "kinds": {"500": 1.0, "502": 1.0, "503": 1.0}}).raise_for_status()

    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["status"], body["bill_payment_id"]) == ("pending_verification", None)
    assert "confirmed" in body["message"]
    action = payer.settled(body["action_id"])
    assert action["status"] == "succeeded", action
    assert [payment["Id"] for payment in payer.company.payments_of_bill(bill["Id"])] == [action["qbo_id"]]
    assert payer.company.bill_balance(bill["Id"]) == 0


def test_an_access_token_expired_mid_run_is_refreshed_once(payer: Payer) -> None:
    bill = payer.company.new_bill("25.00")
    tokens = f"{payer.company.sandbox}/_sandbox/tokens"
    before = httpx.get(tokens).json()["refresh_calls"][payer.company.realm_id]
    httpx.post(f"{tokens}/expire", json={"realm_id": payer.company.realm_id}).raise_for_status()

    response = payer.pay(bill["Id"], {"amount": "25.00", "pay_from_account_id": payer.bank_id})
    assert response.status_code == 200, response.text
    assert httpx.get(tokens).json()["refresh_calls"][payer.company.realm_id] == before + 1


def test_a_revoked_connection_asks_to_reconnect(payer: Payer) -> None:
    bill = payer.company.new_bill("25.00")
    httpx.post(
        f"{payer.company.sandbox}/_sandbox/tokens/revoke", json={"realm_id": payer.company.realm_id}
    ).raise_for_status()
    body = {"amount": "25.00", "pay_from_account_id": payer.bank_id}

    response = payer.pay(bill["Id"], body)
    assert response.status_code == 409, response.text
    assert response.json()["error"] == {"code": "qbo_reconnect_required", "message": RECONNECT_MESSAGE, "field": None}
    # The connection now says so, and the next attempt is refused without calling QBO.
    again = payer.pay(bill["Id"], body)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "qbo_reconnect_required")
    assert payer.company.payments_of_bill(bill["Id"]) == []


def test_the_embedded_demo_business_is_connected_after_start_up(embedded_settings: Settings, served: Served) -> None:
    # The app's own port is only known once it listens, so the QBO URLs point at the module's sandbox, whose default
    # company is the demo's too; by default (``oodaloo run``) they point at the mounted one on host:port.
    embedded_settings = embedded_settings.model_copy(
        update={key: getattr(served.settings, key) for key in ("qbo_discovery_url", "qbo_api_base_url")}
    )
    demo_realm = sandbox_config(embedded_settings).realm_id
    company_name = SandboxCompany(served.sandbox, demo_realm).read("CompanyInfo", demo_realm)["CompanyName"]
    with serve(create_app(embedded_settings)):
        deadline = time.monotonic() + SETTLE_SECONDS
        status, name = asyncio.run(demo_connection(embedded_settings))
        while (status != "connected" or name != company_name) and time.monotonic() < deadline:
            time.sleep(0.1)
            status, name = asyncio.run(demo_connection(embedded_settings))
    assert status == "connected"
    # Connecting named the demo business after its QuickBooks company, and a restart keeps that name.
    assert name == company_name
    with serve(create_app(embedded_settings)):
        assert asyncio.run(demo_connection(embedded_settings)) == ("connected", company_name)


async def demo_connection(settings: Settings) -> tuple[str | None, str | None]:
    """The demo business's connection status and its name."""
    database = Database(settings.database_url)
    try:
        async with database.sessionmaker() as session:
            statement = (
                select(QBOConnection.status, Business.name)
                .join(Business, Business.id == QBOConnection.business_id)
                .join(Membership, Membership.business_id == Business.id)
                .join(User, User.id == Membership.user_id)
                .where(User.email == DEMO_EMAIL)
            )
            row = (await session.execute(statement)).one_or_none()
    finally:
        await database.dispose()
    return (None, None) if row is None else (str(row.status.value), row.name)


# ------------------------------------------------------------------------------ the open bills, and paying from them
MONEY = re.compile(r"^\d+\.\d{2}$")


def qbo_requests(company: SandboxCompany) -> Counter[str]:
    """Requests the company's QBO has answered so far, by endpoint (``bill``, ``account``, ``billpayment``, ...)."""
    response = httpx.get(f"{company.sandbox}/_sandbox/stats", params={"realm_id": company.realm_id})
    response.raise_for_status()
    by_endpoint: dict[str, dict[str, int]] = response.json()["requests"]
    return Counter({endpoint: sum(statuses.values()) for endpoint, statuses in by_endpoint.items()})


def qbo_requests_during(company: SandboxCompany, before: Counter[str]) -> dict[str, int]:
    return dict(qbo_requests(company) - before)


def test_the_open_bills_are_listed_soonest_due_first_with_money_as_strings(payer: Payer, browsers: Browsers) -> None:
    partly = payer.company.new_bill("300.00")
    paid = payer.company.new_bill("45.50")
    for bill_id, amount in ((partly["Id"], "120.25"), (paid["Id"], "45.50")):
        response = payer.pay(bill_id, {"amount": amount, "pay_from_account_id": payer.bank_id})
        assert response.status_code == 200, response.text

    response = payer.open_bills()
    assert response.status_code == 200, response.text
    listed = response.json()
    by_id = {bill["bill_id"]: bill for bill in listed}
    assert paid["Id"] not in by_id
    assert by_id[partly["Id"]] == {
        "bill_id": partly["Id"],
        "vendor_id": partly["VendorRef"]["value"],
        "vendor_name": partly["VendorRef"].get("name"),
        "doc_number": partly.get("DocNumber"),
        "txn_date": partly["TxnDate"],
        "due_date": partly.get("DueDate"),
        "total": "300.00",
        "balance": "179.75",
        "decision": None,  # decided once the mirror is synced
    }
    # Exactly the company's open bills, each with money as two-decimal strings.
    open_in_qbo = payer.company.query("SELECT * FROM Bill WHERE Balance > '0' MAXRESULTS 1000")
    assert sorted(by_id) == sorted(bill["Id"] for bill in open_in_qbo)
    assert all(MONEY.match(bill["total"]) and MONEY.match(bill["balance"]) for bill in listed)
    assert all(Decimal(bill["balance"]) > 0 for bill in listed)
    due_dates = [bill["due_date"] for bill in listed]
    dated = [due for due in due_dates if due is not None]
    assert due_dates == dated + [None] * (len(due_dates) - len(dated))
    assert dated == sorted(dated)


def test_any_member_may_list_the_open_bills_of_their_business_only(payer: Payer, browsers: Browsers) -> None:
    viewer, stranger = browsers.sign_up("viewer"), browsers.sign_up("stranger")
    add_member(payer.owner, payer.business_id, viewer, "viewer")
    payer.company.new_bill("10.00")

    as_owner, as_viewer = payer.open_bills(), payer.open_bills(as_=viewer)
    assert as_owner.status_code == as_viewer.status_code == 200, as_viewer.text
    assert as_viewer.json() == as_owner.json()
    assert payer.open_bills(as_=stranger).status_code == 404
    # The stranger's own business is not connected to QuickBooks: nothing of this company is reachable from it.
    own = new_business(stranger)
    unconnected = stranger.get(f"/api/businesses/{own}/bills")
    assert (unconnected.status_code, unconnected.json()["error"]["code"]) == (409, "qbo_not_connected")
    other_status = payer.owner.get(f"/api/businesses/{payer.business_id}/bills", params={"status": "paid"})
    assert (other_status.status_code, other_status.json()["error"]["field"]) == (422, "status")


def test_paying_a_listed_bill_asks_quickbooks_only_to_write_the_payment(payer: Payer) -> None:
    bill = payer.company.new_bill("150.00")
    assert payer.open_bills().status_code == 200
    body = {"amount": "100.00", "pay_from_account_id": payer.bank_id}

    before = qbo_requests(payer.company)
    first = payer.pay(bill["Id"], body, new_key())
    assert first.status_code == 200, first.text
    assert qbo_requests_during(payer.company, before) == {"billpayment": 1}
    # What is left is known from the first payment: paying it is one request too.
    before = qbo_requests(payer.company)
    rest = payer.pay(bill["Id"], {**body, "amount": "50.00"}, new_key())
    assert rest.status_code == 200, rest.text
    assert qbo_requests_during(payer.company, before) == {"billpayment": 1}
    assert payer.company.bill_balance(bill["Id"]) == 0
    assert len(payer.company.payments_of_bill(bill["Id"])) == 2


def test_paying_a_bill_not_listed_reads_the_bill_and_the_account_then_writes(payer: Payer) -> None:
    bill = payer.company.new_bill("70.00")
    before = qbo_requests(payer.company)
    response = payer.pay(bill["Id"], {"amount": "70.00", "pay_from_account_id": payer.bank_id}, new_key())

    assert response.status_code == 200, response.text
    assert qbo_requests_during(payer.company, before) == {"bill": 1, "account": 1, "billpayment": 1}


def test_a_stale_listed_balance_is_refused_by_quickbooks_naming_the_amount(payer: Payer, served: Served) -> None:
    bill = payer.company.new_bill("300.00")
    assert payer.open_bills().status_code == 200
    # Someone pays part of it directly in QuickBooks after the list was read.
    payer.company.write(
        "BillPayment",
        {
            "VendorRef": bill["VendorRef"],
            "PayType": "Check",
            "CheckPayment": {"BankAccountRef": {"value": payer.bank_id}},
            "TotalAmt": "200.00",
            "Line": [{"Amount": "200.00", "LinkedTxn": [{"TxnId": bill["Id"], "TxnType": "Bill"}]}],
        },
    )
    body = {"amount": "300.00", "pay_from_account_id": payer.bank_id}
    idempotency_key = new_key()

    response = payer.pay(bill["Id"], body, idempotency_key)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("qbo_validation", "amount")
    assert "exceeds its open balance" in error["message"]
    assert len(payer.company.payments_of_bill(bill["Id"])) == 1
    assert payer.company.bill_balance(bill["Id"]) == Decimal("100.00")
    # The action was recorded and failed: the same key answers the same refusal.
    repeat = payer.pay(bill["Id"], body, idempotency_key)
    assert (repeat.status_code, repeat.json()["error"]) == (422, error)
    # The action names the field as a value of its own; its message is QuickBooks' text, with nothing appended.
    action = payer.action(str(asyncio.run(action_id_of(served.settings, idempotency_key))))
    assert (action["status"], action["error_code"], action["error_field"]) == ("failed", "qbo_validation", "amount")
    assert action["error_message"] == error["message"]
    # The stale snapshot is gone: a new request is checked against QuickBooks' current balance.
    fresh = payer.pay(bill["Id"], body, new_key())
    assert fresh.status_code == 422, fresh.text
    assert fresh.json()["error"]["code"] == "amount_over_balance"
    assert "100.00" in fresh.json()["error"]["message"]


async def action_id_of(settings: Settings, idempotency_key: str) -> uuid.UUID:
    """The id of the action recorded for ``idempotency_key`` (a refused payment's answer does not carry it)."""
    database = Database(settings.database_url)
    try:
        async with database.sessionmaker() as session:
            statement = select(QBOAction.id).where(QBOAction.idempotency_key == idempotency_key)
            action_id: uuid.UUID = (await session.execute(statement)).scalar_one()
    finally:
        await database.dispose()
    return action_id


class TwinPaysFirst(BillService):
    """The duplicate-request race, made deterministic: the request's twin (same key, same body) runs to completion
    right after this copy looked the key up and found nothing, as when both arrive at once and the other is quicker."""

    twin: tuple[Actor, str, PayBillIn, str] | None = None
    twin_answer: PaymentAnswer | None = None

    async def pay(self, payer: Actor, bill_id: str, request: PayBillIn, idempotency_key: str) -> PaymentAnswer:
        if self.twin is None:
            self.twin = (payer, bill_id, request, idempotency_key)
        return await super().pay(payer, bill_id, request, idempotency_key)

    async def _realm_of(self, business_id: uuid.UUID) -> str:
        # Called once the key was found unused, before the bill is checked: the moment the twin overtakes this copy.
        if self.twin is not None and self.twin_answer is None:
            twin, self.twin = self.twin, None
            self.twin_answer = await super().pay(*twin)
        return await super()._realm_of(business_id)


def twin_pays_first(request: Request) -> BillService:
    state = request.app.state
    return TwinPaysFirst(
        ActionRunner(sync=state.smart_sync, connections=state.qbo_connections, sessionmaker=state.database.sessionmaker)
    )


@pytest.mark.parametrize("listed", [False, True], ids=["read_from_qbo", "listed_first"])
def test_a_copy_overtaken_by_its_twin_answers_the_twins_payment(running: Running, payer: Payer, listed: bool) -> None:
    bill = payer.company.new_bill("65.00")
    if listed:
        assert payer.open_bills().status_code == 200
    running.app.dependency_overrides[get_bill_service] = twin_pays_first
    try:
        response = payer.pay(bill["Id"], {"amount": "65.00", "pay_from_account_id": payer.bank_id}, new_key())
    finally:
        running.app.dependency_overrides.pop(get_bill_service)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["repeated"]) == ("succeeded", True)
    assert [payment["Id"] for payment in payer.company.payments_of_bill(bill["Id"])] == [body["bill_payment_id"]]
    assert payer.action(body["action_id"])["attempts"] == 1


async def test_two_copies_sent_at_once_both_answer_the_one_payment(payer: Payer) -> None:
    bills = [payer.company.new_bill("55.00"), payer.company.new_bill("56.00")]
    assert payer.open_bills().status_code == 200  # the second bill is paid from a warm cache, the first too
    headers = {"Cookie": f"oodaloo_session={payer.owner.session}"}
    async with httpx.AsyncClient(base_url=str(payer.owner.client.base_url), headers=headers, timeout=30) as client:
        for bill in bills:
            path = f"/api/businesses/{payer.business_id}/bills/{bill['Id']}/pay"
            body = {"amount": bill["Balance"], "pay_from_account_id": payer.bank_id}
            copy = {"json": body, "headers": {"Idempotency-Key": new_key()}}
            answers = await asyncio.gather(client.post(path, **copy), client.post(path, **copy))

            assert [answer.status_code for answer in answers] == [200, 200], [answer.text for answer in answers]
            first, second = (answer.json() for answer in answers)
            assert sorted([first["repeated"], second["repeated"]]) == [False, True]
            assert {**first, "repeated": None} == {**second, "repeated": None}
            assert [payment["Id"] for payment in payer.company.payments_of_bill(bill["Id"])] == [
                first["bill_payment_id"]
            ]


# ------------------------------------------------------------------------------------- what a payment must carry
def test_a_payment_without_an_idempotency_key_is_refused_428_and_pays_nothing(payer: Payer) -> None:
    """Sent twice without a key, the same request once paid the bill twice; now neither is sent to QuickBooks."""
    bill = payer.company.new_bill("75.00")
    body = {"amount": "75.00", "pay_from_account_id": payer.bank_id}

    answers = [payer.pay(bill["Id"], body, without_key=True) for _ in range(2)]

    for answer in answers:
        assert answer.status_code == 428, answer.text
        error = answer.json()["error"]
        assert (error["code"], error["field"]) == ("idempotency_key_required", "Idempotency-Key")
        assert "Idempotency-Key" in error["message"]
    assert payer.company.payments_of_bill(bill["Id"]) == []
    assert payer.company.bill_balance(bill["Id"]) == Decimal("75.00")
    # With a key it goes through.
    assert payer.pay(bill["Id"], body, new_key()).status_code == 200


def test_the_openapi_marks_the_idempotency_key_required(served: Served) -> None:
    operation = httpx.get(f"{served.app}/openapi.json").json()["paths"][
        "/api/businesses/{business_id}/bills/{bill_id}/pay"
    ]["post"]
    headers = [parameter for parameter in operation["parameters"] if parameter["in"] == "header"]
    assert [(header["name"], header["required"]) for header in headers] == [("Idempotency-Key", True)]
    assert headers[0]["schema"]["maxLength"] == 200
    assert "428" in operation["responses"]


SURPRISING_AMOUNTS: list[Any] = [
    "1_000",  # Python's Decimal reads it as 1000
    "1_000.00",
    "\uff11\uff10\uff10\uff10.00",  # full-width digits: 1000.00 to Decimal
    "\u0661\u0660\u0660\u0660",  # Arabic-Indic digits: 1000
    "1e3",
    "1E3",
    " 1000.00",
    "1000.00 ",
    "+1000.00",
    "1,000.00",
    "1000.",
    ".50",
    "0x3e8",
    "Infinity",
    1e-07,  # a JSON number whose shortest form is not plain
    1e3 * 1e20,
    True,
]


def test_an_amount_that_is_not_a_plain_decimal_is_refused_and_nothing_is_paid(payer: Payer) -> None:
    bill = payer.company.new_bill("1000.00")
    for amount in SURPRISING_AMOUNTS:
        response = payer.pay(bill["Id"], {"amount": amount, "pay_from_account_id": payer.bank_id})
        assert response.status_code == 422, (amount, response.text)
        error = response.json()["error"]
        assert (error["code"], error["field"]) == ("invalid_input", "amount"), amount
        assert "plain decimal" in error["message"]
    assert payer.company.payments_of_bill(bill["Id"]) == []
    assert payer.company.bill_balance(bill["Id"]) == Decimal("1000.00")
    # The plain forms, as a string or a JSON number, still pay.
    for amount in ("400", "300.5", 299.5):
        paid = payer.pay(bill["Id"], {"amount": amount, "pay_from_account_id": payer.bank_id})
        assert paid.status_code == 200, (amount, paid.text)
    assert payer.company.bill_balance(bill["Id"]) == 0


@pytest.mark.parametrize("payment_date", ["0001-01-01", "9999-12-31"])
def test_a_payment_date_far_from_today_is_refused_and_not_sent(payer: Payer, payment_date: str) -> None:
    bill = payer.company.new_bill("30.00")
    before = qbo_requests(payer.company)
    response = payer.pay(
        bill["Id"], {"amount": "30.00", "pay_from_account_id": payer.bank_id, "payment_date": payment_date}
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("payment_date_out_of_range", "payment_date")
    assert qbo_requests_during(payer.company, before) == {}  # QuickBooks was not even asked
    assert payer.company.payments_of_bill(bill["Id"]) == []


# ------------------------------------------------------------------------------------------- accounts to pay from
def accounts_in_qbo(company: SandboxCompany) -> dict[str, dict[str, Any]]:
    rows = company.query("SELECT * FROM Account WHERE AccountType IN ('Bank', 'Credit Card') MAXRESULTS 1000")
    return {row["Id"]: row for row in rows if row.get("Active", True)}


def test_the_accounts_to_pay_from_are_listed_with_balances(payer: Payer, browsers: Browsers) -> None:
    viewer, stranger = browsers.sign_up("viewer"), browsers.sign_up("stranger")
    add_member(payer.owner, payer.business_id, viewer, "viewer")
    path = f"/api/businesses/{payer.business_id}/accounts"

    response = viewer.get(path)  # any member may read them
    assert response.status_code == 200, response.text
    listed = response.json()
    in_qbo = accounts_in_qbo(payer.company)
    assert {"Bank", "Credit Card"} <= {row["AccountType"] for row in in_qbo.values()}
    assert sorted(account["account_id"] for account in listed) == sorted(in_qbo)
    for account in listed:
        row = in_qbo[account["account_id"]]
        assert account["account_type"] == row["AccountType"]
        assert account["pay_type"] == ("Check" if row["AccountType"] == "Bank" else "CreditCard")
        assert MONEY.match(account["current_balance"].removeprefix("-")), account
        assert Decimal(account["current_balance"]) == Decimal(str(row.get("CurrentBalance", 0))).quantize(CENTS)
        assert account["name"] == row.get("FullyQualifiedName", row["Name"])
    types = [account["account_type"] for account in listed]
    assert types == sorted(types, key=lambda kind: kind != "Bank")  # banks first
    assert stranger.get(path).status_code == 404
    unconnected = stranger.get(f"/api/businesses/{new_business(stranger)}/accounts")
    assert (unconnected.status_code, unconnected.json()["error"]["code"]) == (409, "qbo_not_connected")


def test_a_listed_account_pays_a_listed_bill_with_no_other_ids(payer: Payer) -> None:
    payer.company.new_bill("42.00")
    bills = payer.open_bills().json()
    accounts = payer.owner.get(f"/api/businesses/{payer.business_id}/accounts").json()
    card = next(account for account in accounts if account["account_type"] == "Credit Card")
    bill = next(bill for bill in bills if bill["balance"] == "42.00")

    response = payer.pay(bill["bill_id"], {"amount": bill["balance"], "pay_from_account_id": card["account_id"]})
    assert response.status_code == 200, response.text
    payments = payer.company.payments_of_bill(bill["bill_id"])
    assert [payment["PayType"] for payment in payments] == ["CreditCard"]
    assert payments[0]["CreditCardPayment"]["CCAccountRef"]["value"] == card["account_id"]
    after = payer.owner.get(f"/api/businesses/{payer.business_id}/accounts").json()
    owed = {account["account_id"]: Decimal(account["current_balance"]) for account in after}
    assert owed[card["account_id"]] == Decimal(card["current_balance"]) + Decimal("42.00")  # more owed on the card


def test_an_inactive_account_is_not_listed(payer: Payer) -> None:
    payer.company.deactivate("Account", payer.bank_id)
    listed = payer.owner.get(f"/api/businesses/{payer.business_id}/accounts").json()
    assert payer.bank_id not in {account["account_id"] for account in listed}


def test_quickbooks_unavailable_is_one_503_with_retry_after_on_every_route(payer: Payer) -> None:
    """Failing reads and then the open circuit both answer 503 ``qbo_unavailable`` with Retry-After; the circuit's is
    its cool-down, which SmartSync's error carries to the route."""
    bill = payer.company.new_bill("20.00")
    faults = f"{payer.company.sandbox}/_sandbox/faults"
    httpx.post(faults, json={"error_rate": 1.0, "kinds": {"503": 1.0}}).raise_for_status()
    try:
        answers = [
            payer.open_bills(),  # QBO's 503s exhaust the retries and open the company's circuit
            payer.owner.get(f"/api/businesses/{payer.business_id}/accounts"),  # refused by the open circuit
            payer.pay(bill["Id"], {"amount": "20.00", "pay_from_account_id": payer.bank_id}),
        ]
    finally:
        httpx.post(faults, json={"error_rate": 0.0, "kinds": {"500": 1.0, "502": 1.0, "503": 1.0}}).raise_for_status()

    for answer in answers:
        assert answer.status_code == 503, answer.text
        error = answer.json()["error"]
        assert error["code"] == "qbo_unavailable"
        assert int(answer.headers["Retry-After"]) == error["retry_after_seconds"] >= 1
    cooldown = str(int(BreakerSettings().cooldown_seconds))
    assert [answer.headers["Retry-After"] for answer in answers[1:]] == [cooldown, cooldown]
    assert payer.company.payments_of_bill(bill["Id"]) == []
