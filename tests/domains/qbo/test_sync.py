"""The QBO mirror over real HTTP against the sandbox: a full sync equals the sandbox entity by entity; it resumes
after an interruption without fetching a stored page again; an incremental sync brings random changes over with
one CDC call (plus fallback pages only for a type that hit CDC's cap); a cursor beyond CDC's reach reconciles Ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from oodaloo.domains.qbo.mirror_models import MirrorStatus, SyncKind, SyncOutcome, SyncRun, SyncState
from oodaloo.domains.qbo.sync import SyncReport
from oodaloo.sandbox.app import create_sandbox_app
from oodaloo.sandbox.config import SandboxConfig
from tests.domains.qbo.mirror_support import Harness, Realm, paged_calls
from tests.sandbox.conftest import RunningSandbox, make_config
from tests.support.servers import serve

# A realm of this size has more than 1000 invoices and payments: those types take two pages.
LARGE_REALM = 4500
# CDC's cap in the sandbox of the capped tests (QBO's is 1000): a few changes of one type exceed it.
SMALL_CDC_CAP = 5


@pytest.fixture(scope="module")
def sandbox_config() -> SandboxConfig:
    return make_config()


class Interrupted(Exception):
    """Raised from the page hook: the sync stops as a crash would, after a page was stored."""


def incremental(harness: Harness, **options: Any) -> SyncReport:
    return harness.run(lambda mirror: mirror.incremental(harness.business_id), **options)


def runs(harness: Harness) -> list[SyncRun]:
    found = harness.query(
        lambda: select(SyncRun).where(SyncRun.business_id == harness.business_id).order_by(SyncRun.started_at)
    )
    return found


# ------------------------------------------------------------------------------------------------ full sync
def test_a_full_sync_mirrors_the_sandbox_entity_by_entity_in_the_fewest_pages(
    sandbox: RunningSandbox, database_url: str
) -> None:
    realm = Realm.create(sandbox.base_url, size=LARGE_REALM)
    harness = Harness.connect(database_url, realm)
    assert len(realm.objects("Invoice")) > 1000  # a type of more than one page
    fewest = paged_calls(realm, harness.entities)
    realm.reset_calls()

    report = harness.run(lambda mirror: mirror.full(harness.business_id))

    calls = realm.calls()
    assert report.outcome is SyncOutcome.SUCCEEDED
    assert report.kind is SyncKind.FULL
    assert sum(calls.values()) == fewest == report.calls
    assert calls["cdc"] == 0
    harness.assert_mirror_equals_sandbox()
    [run] = runs(harness)
    assert run.outcome is SyncOutcome.SUCCEEDED
    assert run.calls == fewest
    assert run.error is None
    assert run.counts == {entity: len(realm.objects(entity)) for entity in harness.entities}
    assert run.duration_ms is not None
    assert run.finished_at is not None
    [state] = harness.query(lambda: select(SyncState).where(SyncState.business_id == harness.business_id))
    # The cursor is QBO's time of the sync's first answers, not ours: at or before when the run finished.
    assert state.cdc_cursor is not None
    assert state.cdc_cursor <= run.finished_at


def test_a_full_sync_interrupted_after_some_pages_continues_without_fetching_them_again(
    sandbox: RunningSandbox, database_url: str
) -> None:
    realm = Realm.create(sandbox.base_url)
    harness = Harness.connect(database_url, realm)
    page_size = 100  # small pages: many to interrupt between
    fewest = paged_calls(realm, harness.entities, page_size)
    stored_before_crash = 7
    stored: list[str] = []

    async def crash_after_some_pages(entity: str, rows: int) -> None:
        stored.append(entity)
        if len(stored) == stored_before_crash:
            raise Interrupted

    realm.reset_calls()
    with pytest.raises(Interrupted):
        harness.run(
            lambda mirror: mirror.full(harness.business_id),
            page_size=page_size,
            concurrency=1,
            after_page=crash_after_some_pages,
        )
    first = sum(realm.calls().values())
    stored_pages = stored_before_crash  # transactions are paged first; the singletons, one call each, come last
    # At most the page requested while the last one was being stored was fetched and not stored.
    assert first - stored_pages in (0, 1)

    report = harness.run(lambda mirror: mirror.full(harness.business_id), page_size=page_size)

    # No stored page was fetched again: the second run started after the last page the first one stored.
    assert report.calls == fewest - stored_pages
    harness.assert_mirror_equals_sandbox()
    failed, succeeded = runs(harness)
    assert failed.outcome is SyncOutcome.FAILED
    assert failed.error is not None
    assert "Interrupted" in failed.error
    assert stored_pages <= failed.calls <= first  # a prefetch cut off before its answer is not counted
    assert succeeded.outcome is SyncOutcome.SUCCEEDED


def test_a_full_sync_after_a_finished_one_starts_over_and_keeps_the_cursor_for_deletes(
    sandbox: RunningSandbox, database_url: str
) -> None:
    realm = Realm.create(sandbox.base_url)
    harness = Harness.connect(database_url, realm)
    first = harness.run(lambda mirror: mirror.full(harness.business_id))
    unpaid = next(bill for bill in realm.objects("Bill").values() if bill["Balance"] == bill["TotalAmt"])
    realm.post("/bill", {"Id": unpaid["Id"], "SyncToken": unpaid["SyncToken"]}, operation="delete")
    fewest = paged_calls(realm, harness.entities)
    realm.reset_calls()

    second = harness.run(lambda mirror: mirror.full(harness.business_id))

    assert sum(realm.calls().values()) == fewest
    # A listing cannot show a delete: the bill is still live in the mirror, and the cursor stays where the first
    # sync left it, so the next incremental sync brings the delete.
    assert harness.rows("Bill")[unpaid["Id"]].status is MirrorStatus.ACTIVE
    assert second.cursor == first.cursor
    incremental(harness)
    assert harness.rows("Bill")[unpaid["Id"]].status is MirrorStatus.DELETED
    harness.assert_mirror_equals_sandbox()


# ------------------------------------------------------------------------------------------------ incremental
class Changes:
    """Random writes to a realm through its API: creates, updates, voids and deletes. A write QBO's rules refuse
    (a bill with payments cannot be deleted, ...) simply does not happen: the mirror must equal whatever did."""

    def __init__(self, realm: Realm) -> None:
        self.realm = realm
        self.expense_account = self._first("SELECT * FROM Account WHERE AccountType = 'Expense'")
        self.item = self._first("SELECT * FROM Item WHERE Type = 'Service'")

    def _first(self, statement: str) -> str:
        with self.realm.api() as api:
            page = api.get("/query", params={"query": statement + " MAXRESULTS 1"}).json()["QueryResponse"]
        rows = next(value for value in page.values() if isinstance(value, list))
        return str(rows[0]["Id"])

    def _ids(self, entity: str, where: str = "") -> list[str]:
        statement = f"SELECT * FROM {entity} {where} ORDERBY Id DESC MAXRESULTS 50"
        with self.realm.api() as api:
            page = api.get("/query", params={"query": statement}).json()["QueryResponse"]
        return [str(row["Id"]) for row in page.get(entity, [])]

    def _current(self, entity: str, entity_id: str) -> dict[str, Any]:
        with self.realm.api() as api:
            body: dict[str, Any] = api.get(f"/{entity.lower()}/{entity_id}").json()[entity]
        return body

    def apply(self, operation: str, pick: int, amount: Decimal) -> None:
        kind, _, action = operation.partition(".")
        if action == "create":
            response = self.realm.post(f"/{kind.lower()}", self._new(kind, amount))
        else:
            candidates = self._ids(kind)
            if not candidates:
                return
            current = self._current(kind, candidates[pick % len(candidates)])
            version = {"Id": current["Id"], "SyncToken": current["SyncToken"]}
            if action == "update":
                note = {"PrivateNote": f"note {pick}"} if kind not in ("Vendor", "Customer") else {}
                fields = note or {"CompanyName": f"Renamed {pick}"}
                response = self.realm.post(f"/{kind.lower()}", {**version, "sparse": True, **fields})
            elif action == "delete":
                response = self.realm.post(f"/{kind.lower()}", version, operation="delete")
            elif kind == "Invoice":
                response = self.realm.post("/invoice", version, operation="void")
            else:
                body = {**version, "sparse": True}
                response = self.realm.post(f"/{kind.lower()}", body, operation="update", include="void")
        assert response.status_code in (200, 400), response.text  # refused by QBO's rules, never a server error

    def _new(self, kind: str, amount: Decimal) -> dict[str, Any]:
        if kind == "Vendor":
            return {"DisplayName": f"Vendor {amount} {len(self._ids('Vendor'))}-{id(self)}-{amount}"}
        customer = self._ids("Customer")[0]
        if kind == "Invoice":
            detail = {"ItemRef": {"value": self.item}, "Qty": 1, "UnitPrice": str(amount)}
            line = {"Amount": str(amount), "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": detail}
            return {"CustomerRef": {"value": customer}, "Line": [line]}
        vendor = self._ids("Vendor", "WHERE Active = true")[0]
        detail = {"AccountRef": {"value": self.expense_account}}
        line = {
            "Amount": str(amount),
            "DetailType": "AccountBasedExpenseLineDetail",
            "AccountBasedExpenseLineDetail": detail,
        }
        return {"VendorRef": {"value": vendor}, "Line": [line]}


OPERATIONS = (
    "Bill.create",
    "Bill.update",
    "Bill.delete",
    "Invoice.create",
    "Invoice.update",
    "Invoice.void",
    "Invoice.delete",
    "Payment.void",
    "Payment.delete",
    "BillPayment.void",
    "BillPayment.delete",
    "Vendor.create",
    "Vendor.update",
    "Customer.update",
)
change = st.tuples(
    st.sampled_from(OPERATIONS),
    st.integers(min_value=0, max_value=49),
    st.decimals(min_value=Decimal("1.00"), max_value=Decimal("9999.99"), places=2),
)


@pytest.fixture(scope="module")
def synced(sandbox: RunningSandbox, database_url: str) -> tuple[Harness, Changes]:
    realm = Realm.create(sandbox.base_url)
    harness = Harness.connect(database_url, realm)
    harness.run(lambda mirror: mirror.full(harness.business_id))
    return harness, Changes(realm)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.lists(change, min_size=1, max_size=12))
def test_one_incremental_sync_with_one_cdc_call_brings_any_changes_over(
    synced: tuple[Harness, Changes], changes: list[tuple[str, int, Decimal]]
) -> None:
    harness, writer = synced
    for operation, pick, amount in changes:
        writer.apply(operation, pick, amount)
    harness.realm.reset_calls()

    report = incremental(harness)

    assert report.kind is SyncKind.CDC
    assert report.outcome is SyncOutcome.SUCCEEDED
    assert harness.realm.calls() == {"cdc": 1}  # no type reached CDC's cap: nothing else
    harness.assert_mirror_equals_sandbox()


def test_deletes_and_voids_stay_in_the_mirror_marked(synced: tuple[Harness, Changes]) -> None:
    harness, writer = synced
    bill = writer.realm.post("/bill", writer._new("Bill", Decimal("12.34"))).json()["Bill"]
    invoice = writer.realm.post("/invoice", writer._new("Invoice", Decimal("56.78"))).json()["Invoice"]
    incremental(harness)
    assert harness.rows("Bill")[bill["Id"]].balance == Decimal("12.34")

    writer.realm.post("/bill", {"Id": bill["Id"], "SyncToken": bill["SyncToken"]}, operation="delete")
    writer.realm.post("/invoice", {"Id": invoice["Id"], "SyncToken": invoice["SyncToken"]}, operation="void")
    incremental(harness)

    deleted = harness.rows("Bill")[bill["Id"]]
    assert deleted.status is MirrorStatus.DELETED
    assert deleted.deleted_at is not None
    assert deleted.total_amt == Decimal("12.34")  # the last version we saw is kept
    voided = harness.rows("Invoice")[invoice["Id"]]
    assert voided.status is MirrorStatus.VOIDED
    assert voided.balance == 0
    harness.assert_mirror_equals_sandbox()


@pytest.mark.parametrize("deletes_first", [True, False], ids=["deletes-within-the-cap", "deletes-beyond-the-cap"])
def test_a_type_over_the_cdc_cap_falls_back_to_paged_queries_for_that_type_only(
    database_url: str, deletes_first: bool
) -> None:
    with serve(create_sandbox_app(make_config(cdc_max_objects=SMALL_CDC_CAP))) as base_url:
        realm = Realm.create(base_url)
        harness = Harness.connect(database_url, realm)
        harness.run(lambda mirror: mirror.full(harness.business_id))
        writer = Changes(realm)
        unpaid = [bill for bill in realm.objects("Bill").values() if bill["Balance"] == bill["TotalAmt"]][:2]

        def delete_unpaid_bills() -> None:
            for bill in unpaid:
                answer = realm.post("/bill", {"Id": bill["Id"], "SyncToken": bill["SyncToken"]}, operation="delete")
                assert answer.status_code == 200, answer.text

        if deletes_first:
            delete_unpaid_bills()
        for number in range(SMALL_CDC_CAP + 3):
            writer.apply("Bill.create", 0, Decimal(100 + number))
        if not deletes_first:
            delete_unpaid_bills()
        writer.apply("Invoice.create", 0, Decimal("10.00"))  # another type, under the cap
        realm.reset_calls()

        incremental(harness, cdc_max_objects=SMALL_CDC_CAP)

        calls = realm.calls()
        assert calls["cdc"] == 1
        # Bills only: the page of bills changed since the cursor and their count. When a delete came after the
        # cap, the count is short and a listing of the bills (one page) and a look-up of the missing ones follow.
        assert calls["query"] == (2 if deletes_first else 4)
        assert set(calls) == {"cdc", "query"}
        harness.assert_mirror_equals_sandbox()
        for bill in unpaid:
            assert harness.rows("Bill")[bill["Id"]].status is MirrorStatus.DELETED


# ------------------------------------------------------------------------------------------------ reconciliation
def test_a_cursor_beyond_cdc_reach_reconciles_ids_instead(sandbox: RunningSandbox, database_url: str) -> None:
    realm = Realm.create(sandbox.base_url)
    harness = Harness.connect(database_url, realm)
    harness.run(lambda mirror: mirror.full(harness.business_id))
    writer = Changes(realm)
    unpaid = next(bill for bill in realm.objects("Bill").values() if bill["Balance"] == bill["TotalAmt"])
    realm.post("/bill", {"Id": unpaid["Id"], "SyncToken": unpaid["SyncToken"]}, operation="delete")
    writer.apply("Bill.create", 0, Decimal("77.00"))
    writer.apply("Vendor.update", 3, Decimal("1.00"))
    month_ago = datetime.now(UTC) - timedelta(days=31)
    harness.query(
        lambda: (
            update(SyncState)
            .where(SyncState.business_id == harness.business_id)
            .values(cdc_cursor=month_ago)
            .returning(SyncState.id)
        )
    )
    fewest = paged_calls(realm, harness.entities)
    realm.reset_calls()

    report = incremental(harness)

    assert report.kind is SyncKind.RECONCILE
    assert report.outcome is SyncOutcome.SUCCEEDED
    calls = realm.calls()
    assert calls["cdc"] == 0  # QBO would refuse a CDC that far back
    # Every type listed once (Ids and objects come in the same pages), and one look-up by Id of the bill the listing
    # no longer showed, before it is marked deleted.
    assert sum(calls.values()) == fewest + 1 == report.calls
    harness.assert_mirror_equals_sandbox()
    assert harness.rows("Bill")[unpaid["Id"]].status is MirrorStatus.DELETED
    assert report.cursor is not None
    assert report.cursor > month_ago + timedelta(days=30)
    assert runs(harness)[-1].kind is SyncKind.RECONCILE
