"""Acceptance 5 over real HTTP: a company of the ``empty`` scenario is loaded through the public /v3 API as a client
would (batch requests of 30 creates: customers, 2,000 invoices, then a payment for each, some partial), and a full
sync mirrors it exactly — the same Ids, objects, balances and SyncTokens, entity by entity.

The sandbox runs QBO's limits. The load phase (and the test's own checking reads) relax its request and batch
windows through the admin path (134 batches would otherwise take QBO's 40-batches-a-minute window over three
minutes); they are back to QBO's for the sync, which runs under them with SmartSync's default limiter.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from oodaloo.domains.qbo.mirror_models import MIRRORED, MirrorStatus, SyncKind, SyncOutcome
from oodaloo.domains.qbo.sync import MirrorSync, SyncReport
from oodaloo.infra.db.engine import Database
from oodaloo.infra.jobs.smart_sync import SmartSyncService
from oodaloo.sandbox.config import LimitsConfig, SandboxConfig
from tests.domains.qbo.mirror_support import Connected, Harness, Realm, paged_calls
from tests.sandbox.conftest import RunningSandbox

INVOICES = 2000
CUSTOMERS = 20
BATCH_ITEMS = 30  # QBO's most per batch request
# The load phase's windows: high enough that the loading client is never throttled.
LOAD_LIMITS = {"per_second": 1_000, "per_minute": 10_000, "batch_per_minute": 1_000, "realm_batch_per_minute": 1_000}
QBO_LIMITS = LimitsConfig()


@pytest.fixture(scope="module")
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(limits=LimitsConfig())  # QBO's limits, on


def set_limits(sandbox: str, limits: dict[str, Any]) -> None:
    httpx.post(f"{sandbox}/_sandbox/limits", json={**limits, "reset": True}).raise_for_status()


@contextlib.contextmanager
def relaxed_limits(sandbox: str) -> Iterator[None]:
    """The loading client's and the checks' requests are not throttled; QBO's limits again afterwards."""
    set_limits(sandbox, LOAD_LIMITS)
    try:
        yield
    finally:
        set_limits(sandbox, vars(QBO_LIMITS))


def batches(api: httpx.Client, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Send ``items`` (``{"Entity": body}``) as batch creates of 30; returns the created objects in order."""
    created: list[dict[str, Any]] = []
    for start in range(0, len(items), BATCH_ITEMS):
        chunk = items[start : start + BATCH_ITEMS]
        request = [{"bId": str(start + index), "operation": "create", **item} for index, item in enumerate(chunk)]
        response = api.post("/batch", json={"BatchItemRequest": request})
        assert response.status_code == 200, response.text
        for answer, item in zip(response.json()["BatchItemResponse"], chunk, strict=True):
            [entity] = item
            assert entity in answer, answer
            created.append(answer[entity])
    return created


def load(realm: Realm) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Customers, invoices of varied amounts, and a payment per invoice (every third one partial)."""
    with realm.api() as api:
        items = api.get("/query", params={"query": "SELECT * FROM Item WHERE Name = 'Consulting'"})
        item_id = items.json()["QueryResponse"]["Item"][0]["Id"]
        customers = batches(api, [{"Customer": {"DisplayName": f"Load Client {n:02d}"}} for n in range(CUSTOMERS)])
        invoices = batches(
            api,
            [
                {
                    "Invoice": {
                        "CustomerRef": {"value": customers[n % CUSTOMERS]["Id"]},
                        "Line": [
                            {
                                "Amount": str(Decimal("100.00") + Decimal(n) * Decimal("1.37")),
                                "DetailType": "SalesItemLineDetail",
                                "SalesItemLineDetail": {"ItemRef": {"value": item_id}},
                            }
                        ],
                    }
                }
                for n in range(INVOICES)
            ],
        )
        payments = batches(api, [{"Payment": payment_for(n, invoice)} for n, invoice in enumerate(invoices)])
    return invoices, payments


def payment_for(n: int, invoice: dict[str, Any]) -> dict[str, Any]:
    total = Decimal(str(invoice["TotalAmt"]))
    amount = (total / 2).quantize(Decimal("0.01")) if n % 3 == 0 else total
    return {
        "CustomerRef": invoice["CustomerRef"],
        "TotalAmt": str(amount),
        "Line": [{"Amount": str(amount), "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}],
    }


def full_sync(harness: Harness) -> SyncReport:
    """A full sync with SmartSync's default limiter (QBO's windows, as in production)."""

    async def go() -> SyncReport:
        database = Database(harness.database_url)
        sync = SmartSyncService.create(api_base_url=harness.realm.sandbox, sessionmaker=database.sessionmaker)
        connections = Connected(harness.realm.sandbox, {harness.business_id: harness.realm.realm_id})
        mirror = MirrorSync(
            sync=sync, connections=connections, sessionmaker=database.sessionmaker, entities=harness.entities
        )
        try:
            return await mirror.full(harness.business_id)
        finally:
            await sync.aclose()
            await database.dispose()

    return asyncio.run(go())


def test_an_empty_company_loaded_through_the_api_is_mirrored_exactly_by_a_full_sync(
    sandbox: RunningSandbox, database_url: str
) -> None:
    realm = Realm.create(sandbox.base_url, scenario="empty")
    assert realm.objects("Invoice") == {}
    with relaxed_limits(sandbox.base_url):
        invoices, payments = load(realm)
        harness = Harness.connect(database_url, realm)
        fewest = paged_calls(realm, harness.entities)
    assert len(invoices) == len(payments) == INVOICES
    open_balance = sum((Decimal(str(invoice["TotalAmt"])) for invoice in invoices), Decimal(0)) - sum(
        (Decimal(str(payment["TotalAmt"])) for payment in payments), Decimal(0)
    )
    assert open_balance > 0  # the partial payments left balances to mirror
    assert set(harness.entities) == set(MIRRORED)
    realm.reset_calls()

    report = full_sync(harness)  # under QBO's limits

    assert report.kind is SyncKind.FULL
    assert report.outcome is SyncOutcome.SUCCEEDED
    assert sum(realm.calls().values()) == fewest == report.calls
    assert report.counts["Invoice"] == report.counts["Payment"] == INVOICES
    with relaxed_limits(sandbox.base_url):
        harness.assert_mirror_equals_sandbox()  # every entity: Ids, raw objects, SyncTokens, typed columns
    mirrored = {
        qbo_id: row for qbo_id, row in harness.rows("Invoice").items() if row.status is not MirrorStatus.DELETED
    }
    assert set(mirrored) == {invoice["Id"] for invoice in invoices}
    assert sum((row.raw["Balance"] for row in mirrored.values()), Decimal(0)) == open_balance
    paid_in_full = [invoice["Id"] for n, invoice in enumerate(invoices) if n % 3 != 0]
    assert all(mirrored[qbo_id].raw["Balance"] == 0 for qbo_id in paid_in_full)
    assert all(mirrored[qbo_id].sync_token == "1" for qbo_id in mirrored)  # each invoice changed once, by its payment
    assert set(harness.rows("Payment")) == {payment["Id"] for payment in payments}
