"""The receivables' action handlers against a real sandbox and the test database: a customer payment found again by
its marker, refused naming our field, its voiding noticed; a reminder sent once per customer cool-down, never for an
invoice the mirror shows paid, and recognised as sent by reading the invoice back."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import update

from oodaloo.domains.ar.payments import RECORD_PAYMENT, RecordPaymentHandler, RecordPaymentPayload
from oodaloo.domains.ar.reminders import SEND_REMINDER, SendReminderHandler
from oodaloo.domains.qbo.mirror_models import MirroredInvoice
from oodaloo.infra.db.engine import Database
from oodaloo.infra.db.session import unit_of_work
from oodaloo.infra.jobs.smart_sync import ActionContext, ActionRejected, Priority, SmartSyncService
from oodaloo.sandbox.app import create_sandbox_app
from oodaloo.sandbox.config import LimitsConfig, SandboxConfig
from tests.domains.qbo.mirror_support import Harness, MintedCredentials, Realm
from tests.support.servers import serve


@pytest.fixture(scope="module")
def sandbox() -> Iterator[str]:
    with serve(create_sandbox_app(SandboxConfig(limits=LimitsConfig(enabled=False)))) as url:
        yield url


@pytest.fixture
def mirror(sandbox: str, database_url: str) -> Harness:
    """A business of the test database connected to a realm of its own, its mirror fully synced."""
    harness = Harness.connect(database_url, Realm.create(sandbox))
    harness.run(lambda sync: sync.full(harness.business_id))
    return harness


@pytest.fixture
async def sync(sandbox: str, database_url: str) -> AsyncIterator[SmartSyncService]:
    database = Database(database_url)
    smart_sync = SmartSyncService.create(api_base_url=sandbox, sessionmaker=database.sessionmaker)
    yield smart_sync
    await smart_sync.aclose()
    await database.dispose()


def context(business_id: uuid.UUID, kind: str, payload: dict[str, Any]) -> ActionContext:
    action_id = uuid.uuid4()
    return ActionContext(
        action_id=action_id,
        business_id=business_id,
        realm_id="",
        kind=kind,
        requestid=action_id.hex,
        marker=f"oodaloo:{action_id.hex}",
        payload={key: None if value is None else str(value) for key, value in payload.items()},
        attempt=1,
        priority=Priority.USER,
        deadline=time.monotonic() + 20,
    )


def open_invoices(realm: Realm) -> list[dict[str, Any]]:
    rows = [row for row in realm.objects("Invoice").values() if Decimal(str(row.get("Balance", 0))) > 0]
    return sorted((row for row in rows if (row.get("BillEmail") or {}).get("Address")), key=lambda row: row["Id"])


def payment_payload(invoice: dict[str, Any], amount: str = "5.00", customer: str | None = None) -> RecordPaymentPayload:
    return RecordPaymentPayload(
        invoice_id=invoice["Id"],
        customer_id=customer or invoice["CustomerRef"]["value"],
        amount=Decimal(amount),
        deposit_account_id=None,
        txn_date=date(2026, 11, 20),
    )


async def test_a_recorded_payment_is_found_by_its_marker_and_its_voiding_noticed(
    mirror: Harness, sync: SmartSyncService
) -> None:
    realm = mirror.realm
    handler = RecordPaymentHandler(sync, MintedCredentials(realm.sandbox, realm.realm_id), realm.realm_id)
    invoice = open_invoices(realm)[0]
    ctx = context(mirror.business_id, RECORD_PAYMENT, payment_payload(invoice).to_payload())
    assert await handler.find(ctx) is None

    done = await handler.perform(ctx)
    assert (done.qbo_entity, done.result["amount"], done.result["matched"]) == ("Payment", "5.00", True)
    found = await handler.find(ctx)
    assert found is not None
    assert found.qbo_id == done.qbo_id
    assert await handler.check(ctx, done) is None
    realm.post(
        "/payment",
        {"Id": done.qbo_id, "SyncToken": found.result["sync_token"], "sparse": True},
        operation="update",
        include="void",
    )
    drift = await handler.check(ctx, done)
    assert drift is not None
    assert drift["reason"] == "voided"


async def test_a_payment_for_another_customers_invoice_is_refused_naming_the_invoice(
    mirror: Harness, sync: SmartSyncService
) -> None:
    realm = mirror.realm
    handler = RecordPaymentHandler(sync, MintedCredentials(realm.sandbox, realm.realm_id), realm.realm_id)
    invoices = open_invoices(realm)
    invoice = invoices[0]
    other = next(
        row["CustomerRef"]["value"]
        for row in invoices
        if row["CustomerRef"]["value"] != invoice["CustomerRef"]["value"]
    )
    ctx = context(mirror.business_id, RECORD_PAYMENT, payment_payload(invoice, customer=other).to_payload())

    with pytest.raises(ActionRejected) as rejected:
        await handler.perform(ctx)
    assert (rejected.value.code, rejected.value.field) == ("qbo_validation", "invoice_id")


async def test_a_reminder_goes_once_per_customer_cool_down_and_never_for_a_paid_invoice(
    mirror: Harness, sync: SmartSyncService
) -> None:
    realm = mirror.realm
    handler = SendReminderHandler(sync, MintedCredentials(realm.sandbox, realm.realm_id), realm.realm_id)
    invoices = open_invoices(realm)
    first = invoices[0]
    customer = first["CustomerRef"]["value"]

    def reminder(invoice: dict[str, Any]) -> ActionContext:
        payload = {
            "invoice_id": invoice["Id"],
            "customer_id": invoice["CustomerRef"]["value"],
            "send_to": "ap@example.com",
        }
        return context(mirror.business_id, SEND_REMINDER, payload)

    ctx = reminder(first)
    assert await handler.find(ctx) is None  # it holds no claim: nothing was sent for it
    done = await handler.perform(ctx)
    assert (done.result["matched"], done.result["customer_id"]) == (True, customer)
    found = await handler.find(ctx)  # read back: the invoice shows an email delivered since its claim
    assert found is not None
    assert found.qbo_id == first["Id"]

    same_customer = next((row for row in invoices[1:] if row["CustomerRef"]["value"] == customer), first)
    with pytest.raises(ActionRejected) as cooling:
        await handler.perform(reminder(same_customer))
    assert cooling.value.code == "reminder_cooling_down"

    paid = next(row for row in invoices if row["CustomerRef"]["value"] != customer)
    database = Database(mirror.database_url)
    try:
        async with unit_of_work(database.sessionmaker) as session:
            await session.execute(
                update(MirroredInvoice)
                .where(MirroredInvoice.business_id == mirror.business_id, MirroredInvoice.qbo_id == paid["Id"])
                .values(balance=Decimal("0.00"))
            )
    finally:
        await database.dispose()
    with pytest.raises(ActionRejected) as refused:
        await handler.perform(reminder(paid))
    assert (refused.value.code, refused.value.field) == ("invoice_paid", "invoice_id")
