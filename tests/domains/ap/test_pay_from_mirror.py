"""Paying bills once the business's mirror is synced, over real HTTP (the app served beside a standalone sandbox):
the payment is checked against the mirror and is one QBO call, listed or not; its result is in the mirror at once,
from the write's own answer (no read after it), the way QBO records it, so the next sync finds nothing to correct;
a payment the mirror refuses never reaches QBO."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from oodaloo.domains.qbo.mirror_models import MirroredRow, MirrorStatus, SyncOutcome
from oodaloo.domains.qbo.sync import SyncReport
from oodaloo.settings import Settings
from tests.domains.qbo.mirror_support import Harness, Realm
from tests.runway.test_bill_pay_routes import REDIRECT_URI, Payer, new_key, qbo_requests, qbo_requests_during
from tests.support.qbo import (
    Browsers,
    SandboxCompany,
    Served,
    connect,
    new_business,
    open_browsers,
    served_beside_a_sandbox,
)


@pytest.fixture(scope="module")
def served(settings: Settings) -> Iterator[Served]:
    with served_beside_a_sandbox(
        settings,
        redirect_uri=REDIRECT_URI,
        redis_url=None,
        reconcile_backoff_seconds=0.2,
        reconcile_stale_seconds=5.0,
        sweep_interval_seconds=0.3,
    ) as (served, _app):
        yield served


@pytest.fixture
def browsers(served: Served) -> Iterator[Browsers]:
    yield from open_browsers(served)


@pytest.fixture
def payer(served: Served, browsers: Browsers) -> Payer:
    owner = browsers.sign_up("mirror-payer")
    business_id = new_business(owner)
    company = SandboxCompany.create(served.sandbox)
    connect(owner, business_id, REDIRECT_URI, company.realm_id)
    return Payer(owner, business_id, company, company.account_id("Bank"))


@pytest.fixture
def mirror(served: Served, payer: Payer) -> Harness:
    """The payer's mirror, synced by MirrorSync as the job system would (its own SmartSync, the app's database)."""
    return Harness.of(served.settings.database_url, Realm(served.sandbox, payer.company.realm_id), payer.business_id)


def incremental_sync(mirror: Harness) -> SyncReport:
    report = mirror.run(lambda sync: sync.incremental(mirror.business_id))
    assert report.outcome is SyncOutcome.SUCCEEDED
    return report


def row(mirror: Harness, entity: str, qbo_id: str) -> MirroredRow:
    return mirror.rows(entity)[qbo_id]


def amount(value: Any) -> Decimal:
    return Decimal(str(value))


def test_a_payment_is_in_the_mirror_at_once_with_one_qbo_call_as_qbo_records_it(payer: Payer, mirror: Harness) -> None:
    bill = payer.company.new_bill("300.00")
    mirror.full_sync()
    vendor_id = bill["VendorRef"]["value"]
    bank_before = row(mirror, "Account", payer.bank_id).raw["CurrentBalance"]
    vendor_before = row(mirror, "Vendor", vendor_id).raw["Balance"]

    before = qbo_requests(payer.company)
    response = payer.pay(bill["Id"], {"amount": "120.00", "pay_from_account_id": payer.bank_id}, new_key())
    assert response.status_code == 200, response.text
    # Checked against the mirror, written once, recorded from the write's answer: no read before or after it.
    assert qbo_requests_during(payer.company, before) == {"billpayment": 1}

    payment_id = response.json()["bill_payment_id"]
    payment = row(mirror, "BillPayment", payment_id)
    assert payment.status is MirrorStatus.ACTIVE
    assert payment.raw == mirror.realm.objects("BillPayment")[payment_id]  # QBO's answer, exactly
    mirrored_bill = row(mirror, "Bill", bill["Id"])
    assert mirrored_bill.balance == Decimal("180.00")  # type: ignore[attr-defined]
    assert {"TxnId": payment_id, "TxnType": "BillPaymentCheck"} in mirrored_bill.raw["LinkedTxn"]
    assert amount(row(mirror, "Account", payer.bank_id).raw["CurrentBalance"]) == amount(bank_before) - 120
    assert amount(row(mirror, "Vendor", vendor_id).raw["Balance"]) == amount(vendor_before) - 120
    # The same numbers QBO now shows.
    in_qbo = payer.company.read("Bill", bill["Id"])
    assert (amount(in_qbo["Balance"]), in_qbo["LinkedTxn"]) == (Decimal("180.00"), mirrored_bill.raw["LinkedTxn"])
    bank_in_qbo = payer.company.read("Account", payer.bank_id)["CurrentBalance"]
    assert amount(row(mirror, "Account", payer.bank_id).raw["CurrentBalance"]) == amount(bank_in_qbo)

    # Listing reads the mirror: the new balances, without asking QBO.
    before = qbo_requests(payer.company)
    listed = {listed["bill_id"]: listed for listed in payer.open_bills().json()}
    accounts = payer.owner.get(f"/api/businesses/{payer.business_id}/accounts").json()
    assert qbo_requests_during(payer.company, before) == {}
    assert listed[bill["Id"]]["balance"] == "180.00"
    bank = next(account for account in accounts if account["account_id"] == payer.bank_id)
    assert amount(bank["current_balance"]) == amount(bank_in_qbo)

    # The rows changed locally kept their versions: the next sync replaces them with QBO's own copies (the bill's new
    # SyncToken, the balances' new LastUpdatedTime), and then the mirror equals QBO.
    assert mirrored_bill.sync_token == bill["SyncToken"] != in_qbo["SyncToken"]
    incremental_sync(mirror)
    mirror.assert_mirror_equals_sandbox()


def test_once_synced_the_lists_come_from_the_mirror_and_equal_quickbooks_own(payer: Payer, mirror: Harness) -> None:
    payer.company.new_bill("75.25")
    accounts_path = f"/api/businesses/{payer.business_id}/accounts"
    from_qbo = (payer.open_bills().json(), payer.owner.get(accounts_path).json())  # never synced: QBO answers
    mirror.full_sync()

    before = qbo_requests(payer.company)
    from_mirror = (payer.open_bills().json(), payer.owner.get(accounts_path).json())
    assert qbo_requests_during(payer.company, before) == {}
    # Each bill's decision (Must Pay / Can Delay) comes with the mirror; QuickBooks alone cannot give it.
    assert [bill.pop("decision") for bill in from_qbo[0]] == [None] * len(from_qbo[0])
    assert None not in [bill.pop("decision") for bill in from_mirror[0]]
    assert from_mirror == from_qbo
    bills, accounts = from_mirror
    assert bills  # nothing compared equal by being empty
    assert accounts


def test_a_bill_synced_and_not_listed_is_paid_in_parts_with_one_qbo_call_each(payer: Payer, mirror: Harness) -> None:
    mirror.full_sync()
    bill = payer.company.new_bill("150.00")
    card_id = payer.company.account_id("Credit Card")
    incremental_sync(mirror)  # as a webhook about the new bill would have it
    body = {"amount": "100.00", "pay_from_account_id": card_id}

    for part in ("100.00", "50.00"):
        before = qbo_requests(payer.company)
        response = payer.pay(bill["Id"], {**body, "amount": part}, new_key())
        assert response.status_code == 200, response.text
        assert qbo_requests_during(payer.company, before) == {"billpayment": 1}
    assert payer.company.bill_balance(bill["Id"]) == 0
    assert row(mirror, "Bill", bill["Id"]).balance == 0  # type: ignore[attr-defined]
    # Paid in full: the mirror refuses a third payment, without asking QBO.
    before = qbo_requests(payer.company)
    again = payer.pay(bill["Id"], {**body, "amount": "1.00"}, new_key())
    assert (again.status_code, again.json()["error"]["code"]) == (422, "bill_already_paid")
    assert qbo_requests_during(payer.company, before) == {}
    card = row(mirror, "Account", card_id)
    assert amount(card.raw["CurrentBalance"]) == amount(payer.company.read("Account", card_id)["CurrentBalance"])


def test_a_bill_newer_than_the_mirror_is_read_from_quickbooks_before_paying(payer: Payer, mirror: Harness) -> None:
    mirror.full_sync()
    bill = payer.company.new_bill("70.00")  # not synced yet: the mirror cannot vouch for it

    before = qbo_requests(payer.company)
    response = payer.pay(bill["Id"], {"amount": "70.00", "pay_from_account_id": payer.bank_id}, new_key())
    assert response.status_code == 200, response.text
    assert qbo_requests_during(payer.company, before) == {"bill": 1, "billpayment": 1}  # the account from the mirror
    assert response.json()["bill_payment_id"] in mirror.rows("BillPayment")


@pytest.mark.parametrize(
    ("problem", "code", "field"),
    [
        ("over_balance", "amount_over_balance", "amount"),
        ("paid_bill", "bill_already_paid", "bill_id"),
        ("deleted_bill", "not_found", "bill_id"),
        ("expense_account", "account_not_usable", "pay_from_account_id"),
        ("inactive_bank", "account_not_usable", "pay_from_account_id"),
    ],
)
def test_a_payment_the_mirror_refuses_is_answered_without_asking_quickbooks(
    payer: Payer, mirror: Harness, problem: str, code: str, field: str
) -> None:
    bill = payer.company.new_bill("50.00")
    mirror.full_sync()
    account_id, pay = payer.bank_id, "50.00"
    if problem == "over_balance":
        pay = "50.01"
    elif problem == "paid_bill":
        pay_directly_in_quickbooks(payer, bill, "50.00")
    elif problem == "deleted_bill":
        deleted = mirror.realm.post("/bill", {"Id": bill["Id"], "SyncToken": bill["SyncToken"]}, operation="delete")
        assert deleted.status_code == 200, deleted.text
    elif problem == "expense_account":
        account_id = payer.company.account_id("Expense")
    else:
        payer.company.deactivate("Account", account_id)
    incremental_sync(mirror)  # as the webhook about the change would have it

    before = qbo_requests(payer.company)
    response = payer.pay(bill["Id"], {"amount": pay, "pay_from_account_id": account_id}, new_key())
    assert response.status_code in (404, 422), response.text
    error = response.json()["error"]
    assert (error["code"], error["field"]) == (code, field)
    assert qbo_requests_during(payer.company, before) == {}


def test_a_lost_answer_is_recorded_in_the_mirror_when_the_reconciler_finds_the_payment(
    payer: Payer, mirror: Harness
) -> None:
    bill = payer.company.new_bill("90.00")
    mirror.full_sync()
    faults = f"{payer.company.sandbox}/_sandbox/faults"
    httpx.post(faults, json={"error_rate": 1.0, "kinds": {"lost_response": 1.0}}).raise_for_status()
    try:
        response = payer.pay(bill["Id"], {"amount": "90.00", "pay_from_account_id": payer.bank_id}, new_key())
    finally:
        httpx.post(faults, json={"error_rate": 0.0, "kinds": {"500": 1.0, "502": 1.0, "503": 1.0}}).raise_for_status()
    assert response.status_code == 202, response.text
    assert row(mirror, "Bill", bill["Id"]).balance == Decimal("90.00")  # type: ignore[attr-defined]

    action = payer.settled(response.json()["action_id"])
    assert action["status"] == "succeeded", action
    assert action["qbo_id"] in mirror.rows("BillPayment")
    assert row(mirror, "Bill", bill["Id"]).balance == 0  # type: ignore[attr-defined]


def pay_directly_in_quickbooks(payer: Payer, bill: dict[str, Any], total: str) -> None:
    payer.company.write(
        "BillPayment",
        {
            "VendorRef": bill["VendorRef"],
            "PayType": "Check",
            "CheckPayment": {"BankAccountRef": {"value": payer.bank_id}},
            "TotalAmt": total,
            "Line": [{"Amount": total, "LinkedTxn": [{"TxnId": bill["Id"], "TxnType": "Bill"}]}],
        },
    )
