"""``GET /api/businesses/{business_id}/balances`` over real HTTP, on a demo company synced from the sandbox: cash per
bank account and in total as QBO has it, what is owed on each card; empty (and saying so) before the first sync."""

from __future__ import annotations

from collections.abc import Callable
from datetime import time
from decimal import Decimal

import pytest

from oodaloo.sandbox.config import SandboxConfig
from tests.conftest import Account
from tests.domains.qbo.mirror_support import Harness, Realm
from tests.runway.test_business_routes import add_member, create_business
from tests.sandbox.conftest import RunningSandbox, make_config, sandbox
from tests.support.clock import Instant, at

__all__ = ["sandbox"]  # the served sandbox fixture

ZONE = "America/Los_Angeles"


@pytest.fixture(scope="module")
def sandbox_config() -> SandboxConfig:
    return make_config(timezone=ZONE)


def test_balances_are_qbos_per_bank_and_card_with_the_total_cash(
    sandbox: RunningSandbox, database_url: str, make_account: Callable[..., Account]
) -> None:
    owner, viewer = make_account("owner"), make_account("viewer")
    with at(Instant(ZONE, time(23, 30))) as instant:
        business_id = create_business(owner, timezone=ZONE)["id"]
        add_member(owner, business_id, viewer, "viewer")
        before = viewer.client.get(f"/api/businesses/{business_id}/balances").json()
        assert (before["last_synced_at"], before["total_cash"], before["bank_accounts"]) == (None, "0.00", [])

        realm = Realm.create(sandbox.base_url)
        harness = Harness.of(database_url, realm, business_id)
        harness.run(lambda mirror: mirror.full(harness.business_id))
        response = viewer.client.get(f"/api/businesses/{business_id}/balances")

    assert response.status_code == 200, response.text
    body = response.json()
    accounts = realm.objects("Account").values()
    banks = {
        account["Name"]: Decimal(str(account["CurrentBalance"]))
        for account in accounts
        if account["AccountType"] == "Bank"
    }
    cards = {
        account["Name"]: Decimal(str(account["CurrentBalance"]))
        for account in accounts
        if account["AccountType"] == "Credit Card"
    }
    assert body["as_of"] == instant.moment.date().isoformat()
    assert body["last_synced_at"] is not None
    assert [account["name"] for account in body["bank_accounts"]] == ["Checking", "Savings"]
    assert {account["name"]: Decimal(account["balance"]) for account in body["bank_accounts"]} == banks
    assert Decimal(body["total_cash"]) == sum(banks.values())
    assert {account["name"]: Decimal(account["balance"]) for account in body["credit_cards"]} == cards
    assert Decimal(body["total_card_balance"]) == sum(cards.values())
    assert body["currency"] == "USD"
