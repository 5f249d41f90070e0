"""Paying a bill over real HTTP: the app served beside a standalone sandbox, each test with a QBO company of its own."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from oodaloo.domains.core.demo import DEMO_EMAIL
from oodaloo.domains.core.models import Business, Membership, User
from oodaloo.domains.qbo.auth import RECONNECT_MESSAGE
from oodaloo.domains.qbo.models import QBOConnection
from oodaloo.infra.db.engine import Database
from oodaloo.main import create_app
from oodaloo.sandbox.app import create_sandbox_app
from oodaloo.sandbox.config import LimitsConfig, SandboxConfig
from oodaloo.settings import Settings
from tests.support.qbo import (
    Browser,
    Browsers,
    SandboxCompany,
    Served,
    add_member,
    connect,
    new_business,
    open_browsers,
)
from tests.support.servers import serve

REDIRECT_URI = "http://127.0.0.1:9/qbo/callback"
SETTLE_SECONDS = 20.0


@pytest.fixture(scope="module")
def served(settings: Settings) -> Iterator[Served]:
    with serve(create_sandbox_app(SandboxConfig(limits=LimitsConfig(enabled=False)))) as sandbox:
        app_settings = settings.model_copy(
            update={
                "qbo_discovery_url": f"{sandbox}/.well-known/openid_configuration",
                "qbo_api_base_url": sandbox,
                "qbo_redirect_uri": REDIRECT_URI,
                # In-process jobs and SmartSync state: nothing shared with other test processes through Redis.
                "redis_url": None,
                "reconcile_backoff_seconds": 0.2,
                "reconcile_stale_seconds": 5.0,
                "sweep_interval_seconds": 0.3,
            }
        )
        with serve(create_app(app_settings)) as app:
            yield Served(app, sandbox, app_settings)


@pytest.fixture
def browsers(served: Served) -> Iterator[Browsers]:
    yield from open_browsers(served)


@dataclass
class Payer:
    """A business connected to a sandbox company of its own, its owner's browser, and a bank account to pay from."""

    owner: Browser
    business_id: str
    company: SandboxCompany
    bank_id: str

    def pay(
        self, bill_id: str, body: dict[str, Any], key: str | None = None, as_: Browser | None = None
    ) -> httpx.Response:
        headers = {"Idempotency-Key": key} if key is not None else {}
        return (as_ or self.owner).post(
            f"/api/businesses/{self.business_id}/bills/{bill_id}/pay", json=body, headers=headers
        )

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


def key() -> str:
    return f"pay-{uuid.uuid4().hex}"


def test_paying_a_bill_writes_one_bill_payment_and_reduces_the_balance(payer: Payer) -> None:
    bill = payer.company.new_bill("300.00")
    response = payer.pay(
        bill["Id"], {"amount": "300.00", "pay_from_account_id": payer.bank_id, "payment_date": "2026-11-26"}, key()
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "succeeded"
    assert (body["bill_id"], body["amount"], body["pay_from_account_id"]) == (bill["Id"], "300.00", payer.bank_id)
    assert body["payment_date"] == "2026-11-26"
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
    idempotency_key = key()
    first = payer.pay(bill["Id"], body, idempotency_key)
    again = payer.pay(bill["Id"], {**body, "amount": "80"}, idempotency_key)
    other = payer.pay(bill["Id"], {**body, "amount": "70.00"}, idempotency_key)

    assert first.status_code == again.status_code == 200, again.text
    assert again.json() == {**first.json(), "repeated": True}
    assert len(payer.company.payments_of_bill(bill["Id"])) == 1
    assert other.status_code == 409, other.text
    assert other.json()["error"]["code"] == "idempotency_conflict"
    # Without a key every request is a new payment: the bill is paid now, so this one is refused.
    fresh = payer.pay(bill["Id"], body)
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
    idempotency_key = key()
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
        f"/api/businesses/{business_id}/bills/1/pay", json={"amount": "10.00", "pay_from_account_id": "35"}
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
        response = payer.pay(bill["Id"], {"amount": "90.00", "pay_from_account_id": payer.bank_id}, key())
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
    with serve(create_app(embedded_settings)):
        deadline = time.monotonic() + SETTLE_SECONDS
        status = asyncio.run(demo_connection_status(embedded_settings))
        while status != "connected" and time.monotonic() < deadline:
            time.sleep(0.1)
            status = asyncio.run(demo_connection_status(embedded_settings))
    assert status == "connected"


async def demo_connection_status(settings: Settings) -> str | None:
    database = Database(settings.database_url)
    try:
        async with database.sessionmaker() as session:
            statement = (
                select(QBOConnection.status)
                .join(Business, Business.id == QBOConnection.business_id)
                .join(Membership, Membership.business_id == Business.id)
                .join(User, User.id == Membership.user_id)
                .where(User.email == DEMO_EMAIL)
            )
            status = (await session.execute(statement)).scalar_one_or_none()
    finally:
        await database.dispose()
    return None if status is None else str(status.value)
