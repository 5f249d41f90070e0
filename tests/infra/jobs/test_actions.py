"""Exactly-once actions against the QBO sandbox over real HTTP: one object per idempotency key, however the request is
repeated, raced, interrupted or answered; unclear outcomes settled by reconciliation; drift noticed afterwards."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.core.models import Business, User
from oodaloo.infra.db.base import utcnow
from oodaloo.infra.db.engine import Database
from oodaloo.infra.db.session import unit_of_work
from oodaloo.infra.jobs._activity import ActivityRecorder
from oodaloo.infra.jobs._cache import MemoryCache
from oodaloo.infra.jobs._freshness import FreshnessPolicy
from oodaloo.infra.jobs.actions import (
    RECONCILE_JOB,
    UNCONFIRMED_MESSAGE,
    ActionContext,
    ActionLog,
    ActionRejected,
    ActionResult,
    IdempotencyConflict,
    ReconcilePolicy,
    UnknownActionKind,
)
from oodaloo.infra.jobs.models import ActionStatus, Activity, QBOAction
from oodaloo.infra.jobs.smart_sync import Priority, QBOCall, RetryPolicy, SmartSyncService
from oodaloo.sandbox.app import create_sandbox_app
from tests.sandbox.conftest import RunningSandbox, make_config
from tests.support.credentials import MintedCredentials
from tests.support.servers import serve

pytestmark = pytest.mark.timeout(60)


# ------------------------------------------------------------------------------------------- the test's handler
@dataclass
class BillHandler:
    """Records a Bill for ``payload`` through SmartSync, its PrivateNote carrying the action's marker.

    ``lookup=False`` makes ``find`` see nothing, so reconciliation must rely on the requestid replay alone.
    """

    sync: SmartSyncService
    credentials: MintedCredentials
    realm_id: str
    lookup: bool = True

    async def perform(self, ctx: ActionContext) -> ActionResult:
        payload = ctx.payload
        bill = {
            "VendorRef": {"value": payload["vendor_id"]},
            "PrivateNote": ctx.marker,
            "Line": [
                {
                    "Amount": payload["amount"],
                    "DetailType": "AccountBasedExpenseLineDetail",
                    "AccountBasedExpenseLineDetail": {"AccountRef": {"value": payload["account_id"]}},
                }
            ],
        }
        response = await self._call(
            ctx, "POST", "/bill", params={"requestid": ctx.requestid}, body=json.dumps(bill).encode(), write=True
        )
        if response.status == 400:
            error = response.json()["Fault"]["Error"][0]
            raise ActionRejected(error["code"], error["Message"], error.get("element"))
        if response.status != 200:
            raise RuntimeError(f"unexpected HTTP {response.status}")
        created = response.json()["Bill"]
        return ActionResult("Bill", created["Id"], {"total": str(created["TotalAmt"])})

    async def find(self, ctx: ActionContext) -> ActionResult | None:
        if not self.lookup:
            return None
        for bill in await self._recent_bills(ctx):
            if bill.get("PrivateNote") == ctx.marker:
                return ActionResult("Bill", bill["Id"], {"total": str(bill["TotalAmt"])})
        return None

    async def check(self, ctx: ActionContext, done: ActionResult) -> dict[str, Any] | None:
        response = await self._call(ctx, "GET", f"/bill/{done.qbo_id}")
        if response.status == 400:
            return {"problem": "deleted in QuickBooks", "qbo_id": done.qbo_id}
        total = str(response.json()["Bill"]["TotalAmt"])
        return None if total == done.result["total"] else {"problem": "amount changed", "now": total}

    async def _recent_bills(self, ctx: ActionContext) -> list[dict[str, Any]]:
        query = "SELECT * FROM Bill ORDERBY Id DESC MAXRESULTS 200"
        response = await self._call(ctx, "GET", "/query", params={"query": query})
        if response.status != 200:
            raise RuntimeError(f"query failed with HTTP {response.status}")
        bills: list[dict[str, Any]] = response.json()["QueryResponse"].get("Bill", [])
        return bills

    async def _call(
        self,
        ctx: ActionContext,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: bytes | None = None,
        write: bool = False,
    ) -> Any:
        call = QBOCall(
            realm_id=self.realm_id,
            method=method,
            path=f"/v3/company/{self.realm_id}{path}",
            params={**(params or {}), "minorversion": "75"},
            body=body,
            content_type="application/json" if body is not None else None,
            is_write=write,
            label=f"test.bill.{method.lower()}",
        )
        return await self.sync.execute_with_retry(
            call, credentials=self.credentials, priority=ctx.priority, deadline=ctx.deadline
        )


# ------------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    app = create_sandbox_app(make_config())
    with serve(app) as base_url:
        running = RunningSandbox(base_url, app)
        yield running
        running.close()


@pytest.fixture(scope="module")
def qbo(sandbox: RunningSandbox) -> httpx.Client:
    return sandbox.client()


@pytest.fixture(scope="module")
def bill_refs(qbo: httpx.Client) -> dict[str, str]:
    vendor = qbo.get("/query", params={"query": "SELECT * FROM Vendor MAXRESULTS 1"}).json()["QueryResponse"]
    account = qbo.get("/query", params={"query": "SELECT * FROM Account WHERE Name = 'Rent'"}).json()
    return {"vendor_id": vendor["Vendor"][0]["Id"], "account_id": account["QueryResponse"]["Account"][0]["Id"]}


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url)
    yield db
    await db.dispose()


@dataclass
class Tenant:
    business_id: uuid.UUID
    user_id: uuid.UUID


@pytest.fixture
async def tenant(database: Database) -> Tenant:
    async with unit_of_work(database.sessionmaker) as session:
        user = User(email=f"actions-{uuid.uuid4().hex[:10]}@example.com", password_hash="x", display_name="Actor")
        business = Business(name="Action Co", timezone="UTC", currency="USD")
        session.add_all([user, business])
    return Tenant(business.id, user.id)


# One attempt per call, so one injected fault is one unclear outcome (SmartSync's retries are tested on their own).
SINGLE_ATTEMPT = {
    Priority.USER: RetryPolicy(max_attempts=1, default_deadline_seconds=20),
    Priority.BACKGROUND: RetryPolicy(max_attempts=1),
}


@pytest.fixture
async def sync(sandbox: RunningSandbox, database: Database) -> AsyncIterator[SmartSyncService]:
    service = SmartSyncService.create(
        api_base_url=sandbox.base_url, sessionmaker=database.sessionmaker, retry_policies=SINGLE_ATTEMPT
    )
    yield service
    await service.aclose()


@dataclass
class Harness:
    log: ActionLog
    kind: str
    tenant: Tenant
    sandbox: RunningSandbox
    database: Database
    refs: dict[str, str]

    async def execute(self, key: str, amount: str = "125.40", **extra: Any) -> Any:
        payload = {**self.refs, "amount": Decimal(amount), **extra}
        return await self.log.execute_action(
            business_id=self.tenant.business_id,
            realm_id=self.sandbox.realm_id,
            kind=self.kind,
            idempotency_key=key,
            payload=payload,
            user_id=self.tenant.user_id,
        )

    async def row(self, action_id: uuid.UUID) -> QBOAction:
        async with self.database.sessionmaker() as session:
            action = await session.get(QBOAction, action_id)
            assert action is not None
            return action

    def inject(self, kind: str, count: int = 1) -> None:
        inject(self.sandbox, kind, count)

    def bills_marked(self, action_id: uuid.UUID) -> list[dict[str, Any]]:
        return bills_marked(self.sandbox, action_id)


def inject(sandbox: RunningSandbox, kind: str, count: int = 1) -> None:
    """Make the realm's next ``count`` requests fail with the sandbox fault ``kind``."""
    with httpx.Client(base_url=sandbox.base_url) as admin:
        response = admin.post(
            "/_sandbox/faults/inject", json={"realm_id": sandbox.realm_id, "kind": kind, "count": count}
        )
        response.raise_for_status()


def bills_marked(sandbox: RunningSandbox, action_id: uuid.UUID) -> list[dict[str, Any]]:
    """The Bills in the sandbox that carry the action's marker."""
    marker = f"oodaloo:{action_id.hex}"
    with httpx.Client(
        base_url=f"{sandbox.base_url}/v3/company/{sandbox.realm_id}",
        headers={"Authorization": f"Bearer {sandbox.token()}", "Accept": "application/json"},
    ) as qbo:
        query = "SELECT * FROM Bill ORDERBY Id DESC MAXRESULTS 500"
        bills = qbo.get("/query", params={"query": query}).json()["QueryResponse"].get("Bill", [])
    return [bill for bill in bills if bill.get("PrivateNote") == marker]


def activity_recorder() -> ActivityRecorder:
    return ActivityRecorder(FreshnessPolicy(MemoryCache(), time.time))


def make_harness(
    sync: SmartSyncService,
    sandbox: RunningSandbox,
    database: Database,
    tenant: Tenant,
    refs: dict[str, str],
    *,
    policy: ReconcilePolicy | None = None,
    lookup: bool = True,
) -> Harness:
    log = ActionLog(sessionmaker=database.sessionmaker, activity=activity_recorder(), policy=policy)
    # A kind of its own per test: sweeps in later tests leave this test's rows to a handler they do not have.
    kind = f"test.bill.{uuid.uuid4().hex[:8]}"
    credentials = MintedCredentials(sandbox.base_url, sandbox.realm_id)

    async def factory(business_id: uuid.UUID, realm_id: str) -> BillHandler:
        return BillHandler(sync, credentials, realm_id, lookup=lookup)

    log.register_action(kind, factory)
    return Harness(log, kind, tenant, sandbox, database, refs)


@pytest.fixture
def harness(
    sync: SmartSyncService, sandbox: RunningSandbox, database: Database, tenant: Tenant, bill_refs: dict[str, str]
) -> Harness:
    return make_harness(sync, sandbox, database, tenant, bill_refs)


def key() -> str:
    return f"key-{uuid.uuid4().hex}"


# ----------------------------------------------------------------------------------------------------- tests
async def test_first_call_writes_once_and_a_repeat_returns_the_first_outcome(harness: Harness) -> None:
    idempotency_key = key()
    first = await harness.execute(idempotency_key)
    again = await harness.execute(idempotency_key)

    assert first.status is ActionStatus.SUCCEEDED
    assert first.repeated is False
    assert first.qbo_entity == "Bill"
    assert first.result is not None
    assert Decimal(first.result["total"]) == Decimal("125.40")
    assert again.repeated is True
    assert (again.action_id, again.status, again.qbo_id) == (first.action_id, ActionStatus.SUCCEEDED, first.qbo_id)
    assert [bill["Id"] for bill in harness.bills_marked(first.action_id)] == [first.qbo_id]

    row = await harness.row(first.action_id)
    assert row.attempts == 1
    assert row.requestid == first.action_id.hex
    assert row.next_check_at is not None  # the post-success drift check is scheduled
    async with harness.database.sessionmaker() as session:
        activities = (
            (await session.execute(select(Activity).where(Activity.business_id == harness.tenant.business_id)))
            .scalars()
            .all()
        )
    assert [(a.kind, a.subject, a.user_id) for a in activities] == [
        (harness.kind, f"Bill {first.qbo_id}", harness.tenant.user_id)
    ]


async def test_equal_amounts_written_differently_are_the_same_request(harness: Harness) -> None:
    idempotency_key = key()
    first = await harness.execute(idempotency_key, amount="80.00")
    again = await harness.execute(idempotency_key, amount="80.0")
    assert again.repeated is True
    assert again.qbo_id == first.qbo_id


async def test_same_key_with_a_different_payload_is_a_conflict(harness: Harness) -> None:
    idempotency_key = key()
    first = await harness.execute(idempotency_key, amount="10.00")
    with pytest.raises(IdempotencyConflict) as raised:
        await harness.execute(idempotency_key, amount="11.00")
    assert raised.value.action_id == first.action_id
    assert len(harness.bills_marked(first.action_id)) == 1


async def test_concurrent_duplicates_make_one_object(harness: Harness) -> None:
    idempotency_key = key()
    outcomes = await asyncio.gather(*(harness.execute(idempotency_key) for _ in range(5)))

    assert {outcome.action_id for outcome in outcomes} == {outcomes[0].action_id}
    assert [outcome.repeated for outcome in outcomes].count(False) == 1
    assert {outcome.status for outcome in outcomes} == {ActionStatus.SUCCEEDED}
    assert {outcome.qbo_id for outcome in outcomes} == {outcomes[0].qbo_id}
    assert len(harness.bills_marked(outcomes[0].action_id)) == 1


async def test_a_refusal_fails_the_action_with_the_reason(harness: Harness) -> None:
    outcome = await harness.execute(key(), vendor_id="999999")

    assert outcome.status is ActionStatus.FAILED
    assert outcome.error_code is not None
    assert outcome.error_message
    assert harness.bills_marked(outcome.action_id) == []
    row = await harness.row(outcome.action_id)
    assert row.next_check_at is None  # final: nothing left to check


async def test_a_lost_response_is_confirmed_by_one_reconciler(harness: Harness) -> None:
    harness.inject("lost_response")
    unclear = await harness.execute(key())

    assert unclear.status is ActionStatus.PENDING_VERIFICATION
    assert unclear.error_message == UNCONFIRMED_MESSAGE
    row = await harness.row(unclear.action_id)
    assert row.next_check_at is not None
    assert len(harness.bills_marked(unclear.action_id)) == 1  # QBO did write it

    # Three workers get the same prompt: one claims the action, the others leave it alone.
    outcomes = await asyncio.gather(*(harness.log.reconcile_action(unclear.action_id) for _ in range(3)))
    assert ActionStatus.SUCCEEDED in {outcome.status for outcome in outcomes}
    row = await harness.row(unclear.action_id)
    assert row.status is ActionStatus.SUCCEEDED
    assert row.attempts == 2  # the first send and one reconciliation
    assert [bill["Id"] for bill in harness.bills_marked(unclear.action_id)] == [row.qbo_id]


async def test_a_crashed_attempt_is_settled_by_the_sweep_without_a_duplicate(
    sync: SmartSyncService, sandbox: RunningSandbox, database: Database, tenant: Tenant, bill_refs: dict[str, str]
) -> None:
    # find() sees nothing, so only the requestid replay can keep QBO from writing a second Bill.
    harness = make_harness(sync, sandbox, database, tenant, bill_refs, lookup=False)
    first = await harness.execute(key())
    assert first.status is ActionStatus.SUCCEEDED
    # As if the process died after QBO wrote the Bill but before the outcome was recorded.
    crashed_at = utcnow() - timedelta(hours=1)
    async with unit_of_work(database.sessionmaker) as session:
        await session.execute(
            update(QBOAction)
            .where(QBOAction.id == first.action_id)
            .values(status=ActionStatus.IN_FLIGHT, qbo_id=None, qbo_entity=None, result=None, updated_at=crashed_at)
        )

    assert await harness.log.sweep() >= 1

    row = await harness.row(first.action_id)
    assert row.status is ActionStatus.SUCCEEDED
    assert row.qbo_id == first.qbo_id
    assert row.attempts == 2
    assert [bill["Id"] for bill in harness.bills_marked(first.action_id)] == [first.qbo_id]


async def test_an_action_that_cannot_be_confirmed_fails_after_the_last_attempt(
    sync: SmartSyncService, sandbox: RunningSandbox, database: Database, tenant: Tenant, bill_refs: dict[str, str]
) -> None:
    harness = make_harness(sync, sandbox, database, tenant, bill_refs, policy=ReconcilePolicy(max_attempts=2))
    harness.inject("503")
    unclear = await harness.execute(key())
    assert unclear.status is ActionStatus.PENDING_VERIFICATION

    harness.inject("503", count=2)  # the lookup and the re-send
    final = await harness.log.reconcile_action(unclear.action_id)

    assert final.status is ActionStatus.FAILED
    assert final.error_message == "could not be confirmed with QuickBooks after 2 attempts"
    assert harness.bills_marked(unclear.action_id) == []
    row = await harness.row(unclear.action_id)
    assert row.next_check_at is None


async def test_the_drift_check_records_an_object_deleted_in_quickbooks(harness: Harness) -> None:
    kept = await harness.execute(key())
    deleted = await harness.execute(key())
    async with httpx.AsyncClient(
        base_url=f"{harness.sandbox.base_url}/v3/company/{harness.sandbox.realm_id}",
        headers={"Authorization": f"Bearer {harness.sandbox.token()}", "Accept": "application/json"},
    ) as qbo:
        bill = (await qbo.get(f"/bill/{deleted.qbo_id}")).json()["Bill"]
        removal = {"Id": bill["Id"], "SyncToken": bill["SyncToken"]}
        response = await qbo.post("/bill", params={"operation": "delete"}, json=removal)
    assert response.status_code == 200

    await harness.log.reconcile_action(kept.action_id)
    await harness.log.reconcile_action(deleted.action_id)

    kept_row, deleted_row = await harness.row(kept.action_id), await harness.row(deleted.action_id)
    assert kept_row.drift is None
    assert kept_row.verified_at is not None
    assert deleted_row.drift == {"problem": "deleted in QuickBooks", "qbo_id": deleted.qbo_id}
    assert deleted_row.verified_at is not None
    assert deleted_row.next_check_at is None
    assert deleted_row.status is ActionStatus.SUCCEEDED  # drift is reported, not undone
    async with harness.database.sessionmaker() as session:
        drifts = (
            (
                await session.execute(
                    select(Activity).where(
                        Activity.business_id == harness.tenant.business_id, Activity.kind == "action.drift"
                    )
                )
            )
            .scalars()
            .all()
        )
    assert [a.subject for a in drifts] == [f"Bill {deleted.qbo_id}"]


class RecordingScheduler:
    """Stands in for the app's JobQueue: the prompts the action log sends it."""

    def __init__(self) -> None:
        self.prompts: list[tuple[uuid.UUID, float]] = []

    def schedule(self, session: AsyncSession, kind: str, payload: dict[str, Any], *, delay_seconds: float) -> None:
        assert kind == RECONCILE_JOB
        self.prompts.append((uuid.UUID(payload["action_id"]), delay_seconds))


async def test_outcomes_to_check_prompt_the_attached_queue_and_none_once_detached(harness: Harness) -> None:
    scheduler = RecordingScheduler()
    harness.log.use_scheduler(scheduler)
    harness.inject("lost_response")
    unclear = await harness.execute(key())
    done = await harness.execute(key())
    refused = await harness.execute(key(), vendor_id="999999")
    harness.log.use_scheduler(None)
    unattached = await harness.execute(key())

    assert (unclear.status, done.status, refused.status) == (
        ActionStatus.PENDING_VERIFICATION,
        ActionStatus.SUCCEEDED,
        ActionStatus.FAILED,
    )
    policy = ReconcilePolicy()
    # The unclear one is checked soon, the success's drift check later; a final failure needs no check.
    assert scheduler.prompts == [
        (unclear.action_id, policy.first_check_delay_seconds),
        (done.action_id, policy.drift_check_delay_seconds),
    ]
    assert unattached.status is ActionStatus.SUCCEEDED
    row = await harness.row(unattached.action_id)
    assert row.next_check_at is not None  # without a queue the sweep still finds it when due


async def test_an_unregistered_kind_is_refused_before_anything_is_recorded(harness: Harness) -> None:
    with pytest.raises(UnknownActionKind):
        await harness.log.execute_action(
            business_id=harness.tenant.business_id,
            realm_id=harness.sandbox.realm_id,
            kind="test.nobody-handles-this",
            idempotency_key=key(),
            payload={},
            user_id=None,
        )


async def test_float_amounts_are_refused(harness: Harness) -> None:
    with pytest.raises(TypeError, match="Decimal"):
        await harness.log.execute_action(
            business_id=harness.tenant.business_id,
            realm_id=harness.sandbox.realm_id,
            kind=harness.kind,
            idempotency_key=key(),
            payload={"amount": 12.5},
            user_id=None,
        )


# ------------------------------------------------------------------------------------------------------ leases
@dataclass
class HeldHandler:
    """``BillHandler`` whose send waits until the test lets it go: an attempt that is slow but alive."""

    inner: BillHandler
    started: asyncio.Event
    release: asyncio.Event

    async def perform(self, ctx: ActionContext) -> ActionResult:
        self.started.set()
        await self.release.wait()
        return await self.inner.perform(ctx)

    async def find(self, ctx: ActionContext) -> ActionResult | None:
        return await self.inner.find(ctx)

    async def check(self, ctx: ActionContext, done: ActionResult) -> dict[str, Any] | None:
        return await self.inner.check(ctx, done)


async def _until(condition: Any, what: str, within: float = 20.0) -> None:
    give_up = asyncio.get_running_loop().time() + within
    while not await condition():
        assert asyncio.get_running_loop().time() < give_up, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_a_live_sender_renews_its_lease_and_is_not_taken_over(
    sync: SmartSyncService, sandbox: RunningSandbox, database: Database, tenant: Tenant, bill_refs: dict[str, str]
) -> None:
    short_lease = ReconcilePolicy(lease_seconds=1.0)
    harness = make_harness(sync, sandbox, database, tenant, bill_refs, policy=short_lease)
    started, release = asyncio.Event(), asyncio.Event()
    credentials = MintedCredentials(sandbox.base_url, sandbox.realm_id)

    async def held(business_id: uuid.UUID, realm_id: str) -> HeldHandler:
        return HeldHandler(BillHandler(sync, credentials, realm_id), started, release)

    harness.kind = f"test.bill.held.{uuid.uuid4().hex[:8]}"
    harness.log.register_action(harness.kind, held)
    # Another process's log, able to run the kind too: it must leave the live sender's action alone.
    other = ActionLog(sessionmaker=database.sessionmaker, activity=activity_recorder(), policy=short_lease)
    other.register_action(harness.kind, held)

    sending = asyncio.create_task(harness.execute(key()))
    try:
        await asyncio.wait_for(started.wait(), timeout=20)
        async with database.sessionmaker() as session:
            row = (await session.execute(select(QBOAction).where(QBOAction.kind == harness.kind))).scalars().one()
        action_id, owner, first_expiry = row.id, row.lease_owner, row.lease_expires_at
        assert row.status is ActionStatus.IN_FLIGHT
        assert owner is not None
        assert first_expiry is not None

        async def lease_outlived_and_renewed() -> bool:
            current = await harness.row(action_id)
            assert current.lease_expires_at is not None
            return utcnow() > first_expiry and current.lease_expires_at > utcnow()

        # The first lease has run out by the clock, yet the row's lease is current: the sender renewed it.
        await _until(lease_outlived_and_renewed, "the lease to be renewed past its first expiry")
        assert await other.sweep() == 0
        assert (await other.reconcile_action(action_id)).status is ActionStatus.IN_FLIGHT
        row = await harness.row(action_id)
        assert (row.status, row.attempts, row.lease_owner) == (ActionStatus.IN_FLIGHT, 1, owner)
    finally:
        release.set()
        outcome = await asyncio.wait_for(sending, timeout=30)

    assert outcome.status is ActionStatus.SUCCEEDED
    assert outcome.repeated is False
    row = await harness.row(outcome.action_id)
    assert (row.attempts, row.lease_owner, row.lease_expires_at) == (1, None, None)  # settled: the lease is released
    assert [bill["Id"] for bill in harness.bills_marked(outcome.action_id)] == [outcome.qbo_id]


async def test_a_dead_senders_action_is_taken_over_once_its_lease_runs_out(
    sync: SmartSyncService, sandbox: RunningSandbox, database: Database, tenant: Tenant, bill_refs: dict[str, str]
) -> None:
    # The default policy: no staleness shortcut, only the lease says the sender is gone.
    harness = make_harness(sync, sandbox, database, tenant, bill_refs, lookup=False)
    leased, expired = await harness.execute(key()), await harness.execute(key())
    assert (leased.status, expired.status) == (ActionStatus.SUCCEEDED, ActionStatus.SUCCEEDED)
    now = utcnow()
    # As if another process crashed right after QBO wrote each Bill: touched a moment ago, one lease still running.
    for done, lease_end in ((leased, now + timedelta(seconds=30)), (expired, now - timedelta(seconds=1))):
        async with unit_of_work(database.sessionmaker) as session:
            await session.execute(
                update(QBOAction)
                .where(QBOAction.id == done.action_id)
                .values(
                    status=ActionStatus.IN_FLIGHT,
                    qbo_id=None,
                    qbo_entity=None,
                    result=None,
                    updated_at=now,
                    lease_owner="crashed-host:4242:deadbeef",
                    lease_expires_at=lease_end,
                )
            )

    assert await harness.log.sweep() >= 1

    still_leased, taken_over = await harness.row(leased.action_id), await harness.row(expired.action_id)
    assert (still_leased.status, still_leased.attempts) == (ActionStatus.IN_FLIGHT, 1)
    assert (taken_over.status, taken_over.qbo_id, taken_over.attempts) == (ActionStatus.SUCCEEDED, expired.qbo_id, 2)
    assert [bill["Id"] for bill in harness.bills_marked(expired.action_id)] == [expired.qbo_id]
