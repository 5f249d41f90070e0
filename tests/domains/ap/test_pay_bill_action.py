"""The ``bill.pay`` handler against a real sandbox: QBO refusals name our field, the marker finds the payment again,
and the drift check notices a payment voided in QuickBooks."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date
from decimal import Decimal

import httpx
import pytest

from oodaloo.domains.ap.actions import PAY_BILL, PayBillHandler, PayBillPayload
from oodaloo.domains.ap.errors import field_of_element
from oodaloo.infra.db.engine import Database
from oodaloo.infra.jobs.smart_sync import ActionContext, ActionRejected, Priority, SmartSyncService
from oodaloo.sandbox.app import create_sandbox_app
from oodaloo.sandbox.config import LimitsConfig, SandboxConfig
from tests.support.qbo import SandboxCompany
from tests.support.servers import serve


class MintedCredentials:
    """Tokens from the sandbox's admin path (the connection flow is tested with the routes)."""

    def __init__(self, company: SandboxCompany) -> None:
        self._company = company

    async def access_token(self) -> str:
        async with httpx.AsyncClient() as client:
            minted = await client.post(
                f"{self._company.sandbox}/_sandbox/tokens", json={"realm_id": self._company.realm_id}
            )
        token: str = minted.json()["access_token"]
        return token

    async def refresh_after_unauthorized(self, rejected: str) -> str:
        return await self.access_token()


@pytest.fixture(scope="module")
def company() -> Iterator[SandboxCompany]:
    with serve(create_sandbox_app(SandboxConfig(limits=LimitsConfig(enabled=False)))) as sandbox:
        yield SandboxCompany.create(sandbox)


@pytest.fixture
async def handler(company: SandboxCompany, database_url: str) -> AsyncIterator[PayBillHandler]:
    database = Database(database_url)
    sync = SmartSyncService.create(api_base_url=company.sandbox, sessionmaker=database.sessionmaker)
    yield PayBillHandler(sync, MintedCredentials(company), company.realm_id)
    await sync.aclose()
    await database.dispose()


def context(payload: PayBillPayload) -> ActionContext:
    action_id = uuid.uuid4()
    return ActionContext(
        action_id=action_id,
        business_id=uuid.uuid4(),
        realm_id="",
        kind=PAY_BILL,
        requestid=action_id.hex,
        marker=f"oodaloo:{action_id.hex}",
        payload={key: str(value) for key, value in payload.to_payload().items()},
        attempt=1,
        priority=Priority.USER,
        deadline=time.monotonic() + 20,
    )


def payload_for(company: SandboxCompany, amount: str = "45.00", vendor_id: str | None = None) -> PayBillPayload:
    bill = company.new_bill(amount)
    return PayBillPayload(
        bill_id=bill["Id"],
        vendor_id=vendor_id or bill["VendorRef"]["value"],
        amount=Decimal(amount),
        account_id=company.account_id("Bank"),
        pay_type="Check",
        txn_date=date(2026, 11, 20),
    )


async def test_a_performed_payment_is_found_by_its_marker_and_checked(
    handler: PayBillHandler, company: SandboxCompany
) -> None:
    ctx = context(payload_for(company))
    assert await handler.find(ctx) is None

    done = await handler.perform(ctx)
    assert done.qbo_entity == "BillPayment"
    assert (done.result["amount"], done.result["payment_date"]) == ("45.00", "2026-11-20")
    found = await handler.find(ctx)
    assert found is not None
    assert found.qbo_id == done.qbo_id
    assert await handler.check(ctx, done) is None


async def test_the_drift_check_notices_a_payment_voided_in_quickbooks(
    handler: PayBillHandler, company: SandboxCompany
) -> None:
    ctx = context(payload_for(company))
    done = await handler.perform(ctx)
    company.void("BillPayment", done.qbo_id)

    drift = await handler.check(ctx, done)
    assert drift is not None
    assert drift["reason"] == "voided"


async def test_a_bill_of_another_vendor_is_rejected_naming_the_bill(
    handler: PayBillHandler, company: SandboxCompany
) -> None:
    payload = payload_for(company)
    other_vendor = next(vendor for vendor in company.vendor_ids() if vendor != payload.vendor_id)
    ctx = context(PayBillPayload(**{**payload.__dict__, "vendor_id": other_vendor}))

    with pytest.raises(ActionRejected) as rejected:
        await handler.perform(ctx)
    assert (rejected.value.code, rejected.value.field) == ("qbo_validation", "bill_id")
    assert "another vendor" in rejected.value.message
    assert company.payments_of_bill(payload.bill_id) == []


def test_qbo_elements_map_to_the_fields_a_client_sends() -> None:
    assert field_of_element("TotalAmt") == "amount"
    assert field_of_element("CheckPayment.BankAccountRef") == "pay_from_account_id"
    assert field_of_element("TxnDate") == "payment_date"
    assert field_of_element("Line.LinkedTxn") == "bill_id"
    assert field_of_element("SomethingNew") == "SomethingNew"
    assert field_of_element(None) is None
