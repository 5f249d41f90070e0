"""The cash ledger of a demo company synced from the sandbox over real HTTP: today's cash is QBO's bank balances, every
bank dollar is accounted for by a movement (the books open with nothing in the bank), cash between any two days
changes by the movements between them, and voided, deleted or future-dated transactions count as QBO counts them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, time, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oodaloo.domains.core.cash import CashLedger, load_cash_ledger
from oodaloo.infra.db.engine import Database
from oodaloo.infra.db.session import unit_of_work
from oodaloo.sandbox.config import SandboxConfig
from tests.domains.qbo.mirror_support import Harness, Realm
from tests.sandbox.conftest import RunningSandbox, make_config, sandbox
from tests.support.clock import Instant, at

__all__ = ["sandbox"]  # the served sandbox fixture

# Both ends of the company's day (the sandbox's demo companies keep Pacific time, as the business does).
ZONE = "America/Los_Angeles"
INSTANTS = (Instant(ZONE, time(0, 30)), Instant(ZONE, time(23, 30)))
EVERY_SOURCE = {"Payment", "Deposit", "SalesReceipt", "BillPayment", "Purchase", "Transfer", "JournalEntry"}


@pytest.fixture(scope="module")
def sandbox_config() -> SandboxConfig:
    return make_config(timezone=ZONE)


@dataclass
class Synced:
    harness: Harness
    today: date

    def ledger(self) -> CashLedger:
        async def load() -> CashLedger:
            database = Database(self.harness.database_url)
            try:
                async with unit_of_work(database.sessionmaker) as session:
                    return await load_cash_ledger(session, self.harness.business_id)
            finally:
                await database.dispose()

        return asyncio.run(load())

    @cached_property
    def loaded(self) -> CashLedger:
        """The ledger as first loaded (for tests that only read it)."""
        return self.ledger()

    def sync(self) -> None:
        self.harness.run(lambda mirror: mirror.incremental(self.harness.business_id))

    def bank_balances_in_qbo(self) -> dict[str, Decimal]:
        return {
            account_id: Decimal(str(account["CurrentBalance"]))
            for account_id, account in self.harness.realm.objects("Account").items()
            if account["AccountType"] == "Bank"
        }


def synced_demo(sandbox: RunningSandbox, database_url: str, instant: Instant) -> Synced:
    realm = Realm.create(sandbox.base_url)
    harness = Harness.connect(database_url, realm)
    harness.run(lambda mirror: mirror.full(harness.business_id))
    return Synced(harness, instant.moment.date())


@pytest.fixture(scope="module", params=INSTANTS, ids=[instant.id for instant in INSTANTS])
def demo(request: pytest.FixtureRequest, sandbox: RunningSandbox, database_url: str) -> Iterator[Synced]:
    """A healthy demo company made and synced at the instant, which the clock stays at for the module's tests."""
    with at(request.param) as instant:
        yield synced_demo(sandbox, database_url, instant)


def test_todays_cash_is_qbos_bank_balances_and_each_comes_from_movements(demo: Synced) -> None:
    ledger = demo.loaded
    in_qbo = demo.bank_balances_in_qbo()
    assert {account.account_id: account.balance for account in ledger.bank_accounts} == in_qbo
    assert ledger.cash_as_of(demo.today) == sum(in_qbo.values())
    assert {movement.entity for movement in ledger.movements} == EVERY_SOURCE
    assert max(movement.day for movement in ledger.movements) <= demo.today
    # The demo's books open with deposits into empty accounts: every dollar in each bank is a movement we found.
    opening = min(movement.day for movement in ledger.movements) - timedelta(days=1)
    assert {account_id: ledger.bank_balance_as_of(account_id, opening) for account_id in in_qbo} == dict.fromkeys(
        in_qbo, Decimal("0.00")
    )
    cards = {account.name: account.balance for account in ledger.card_accounts}
    assert cards == {
        account["Name"]: Decimal(str(account["CurrentBalance"]))
        for account in demo.harness.realm.objects("Account").values()
        if account["AccountType"] == "Credit Card"
    }


def test_burn_is_the_weekly_fall_in_cash_over_the_window(demo: Synced) -> None:
    ledger = demo.loaded
    for as_of, days in ((demo.today, 90), (demo.today - timedelta(days=100), 90), (demo.today, 28)):
        fall = ledger.cash_as_of(as_of - timedelta(days=days)) - ledger.cash_as_of(as_of)
        assert ledger.burn(as_of, days) == (fall * 7 / days).quantize(Decimal("0.01"))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=st.integers(min_value=0, max_value=560), span=st.integers(min_value=0, max_value=200))
def test_cash_between_two_days_changes_by_the_movements_between_them(demo: Synced, first: int, span: int) -> None:
    ledger = demo.loaded
    start = demo.today - timedelta(days=first)
    end = start + timedelta(days=span)
    moved = sum((movement.amount for movement in ledger.movements_between(start, end)), Decimal(0))
    assert ledger.cash_as_of(end) - ledger.cash_as_of(start) == moved
    assert ledger.flows(start, end).net == moved


def test_voided_deleted_and_future_dated_transactions_count_as_qbo_counts_them(
    sandbox: RunningSandbox, database_url: str
) -> None:
    with at(INSTANTS[1]) as instant:
        demo = synced_demo(sandbox, database_url, instant)
        realm = demo.harness.realm
        before = demo.ledger()
        checking = next(account.account_id for account in before.bank_accounts if account.name == "Checking")
        paid_in = next(m for m in before.movements if m.entity == "Payment" and m.account_id == checking)
        bought = next(m for m in before.movements if m.entity == "Purchase" and m.account_id == checking)
        expense = next(
            account_id
            for account_id, account in realm.objects("Account").items()
            if account["AccountType"] == "Expense"
        )
        tomorrow = demo.today + timedelta(days=1)
        with realm.api() as api:
            voided = api.post(
                "/payment",
                params={"operation": "update", "include": "void"},
                json=_sparse(realm, "Payment", paid_in.txn_id),
            )
            assert voided.status_code == 200, voided.text
            deleted = api.post(
                "/purchase", params={"operation": "delete"}, json=_sparse(realm, "Purchase", bought.txn_id)
            )
            assert deleted.status_code == 200, deleted.text
            future = api.post(
                "/purchase",
                json={
                    "PaymentType": "Check",
                    "AccountRef": {"value": checking},
                    "TxnDate": tomorrow.isoformat(),
                    "Line": [
                        {
                            "Amount": "321.00",
                            "DetailType": "AccountBasedExpenseLineDetail",
                            "AccountBasedExpenseLineDetail": {"AccountRef": {"value": expense}},
                        }
                    ],
                },
            )
            assert future.status_code == 200, future.text
        demo.sync()
        after = demo.ledger()

    in_qbo = demo.bank_balances_in_qbo()
    assert {account.account_id: account.balance for account in after.bank_accounts} == in_qbo
    found = {(m.entity, m.txn_id) for m in after.movements}
    assert ("Payment", paid_in.txn_id) not in found
    assert ("Purchase", bought.txn_id) not in found
    # QBO's balance already counts tomorrow's check; today's cash does not, tomorrow's does.
    assert after.cash_as_of(demo.today) == sum(in_qbo.values()) + Decimal("321.00")
    assert after.cash_as_of(tomorrow) == sum(in_qbo.values())
    assert after.cash_as_of(demo.today) == before.cash_as_of(demo.today) - paid_in.amount - bought.amount


def _sparse(realm: Realm, entity: str, txn_id: str) -> dict[str, Any]:
    current = realm.objects(entity)[txn_id]
    return {"Id": txn_id, "SyncToken": current["SyncToken"], "sparse": True}
