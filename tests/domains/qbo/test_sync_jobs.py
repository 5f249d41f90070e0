"""MirrorSyncJobs on the in-process job queue, over real HTTP against the sandbox: a webhook leads to one sync that
brings the change into the mirror and marks the inbox rows it covered, a burst of webhooks coalesces into at most one
extra sync, and the freshness sweep asks for a stale business and leaves a fresh one alone (frozen clock)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from taskiq import InMemoryBroker

from oodaloo.domains.qbo.mirror_models import SyncKind, SyncRun
from oodaloo.domains.qbo.sync_jobs import MIRROR_SYNC_JOB
from oodaloo.domains.qbo.webhooks import Receipt, WebhookService, expected_signature
from oodaloo.domains.qbo.webhooks_models import QBOWebhookEvent
from oodaloo.infra.db.session import unit_of_work
from oodaloo.infra.jobs.smart_sync import JobQueue
from oodaloo.settings import Settings
from oodaloo.wiring import QBORuntime, worker_runtime
from tests.domains.qbo.bulk_support import Fleet, fleet
from tests.domains.qbo.mirror_support import Realm

# The queue's own sweep loop never fires during a test: each test sweeps when it means to.
NO_TIMED_SWEEPS_SECONDS = 24 * 3600.0
# A job's follow-up is sent before the job ends; a few rounds of waiting cover any chain a test can start.
SETTLE_ROUNDS = 5
BURST = 50


@pytest.fixture
def businesses(settings: Settings, tmp_path: Path, worker_id: str) -> Iterator[Fleet]:
    with fleet(settings, tmp_path, f"oodaloo_sync_jobs_{worker_id}") as found:
        yield found


@dataclass
class Jobs:
    """A worker's QBO runtime (the mirror's job kind and its sweep registered) with the in-process job queue."""

    runtime: QBORuntime
    queue: JobQueue
    verifier_token: str

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        assert self.runtime.database is not None
        return self.runtime.database.sessionmaker

    async def settle(self) -> None:
        """Until every job sent so far (and the follow-ups they sent) has run."""
        broker = self.queue.broker
        assert isinstance(broker, InMemoryBroker)
        for _ in range(SETTLE_ROUNDS):
            await broker.wait_all()

    async def webhook(self, realm_id: str, *changes: tuple[str, str]) -> Receipt:
        """A signed legacy delivery of ``changes`` (entity, id), received as ``POST /webhooks/qbo`` receives it."""
        at = f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%S}.000Z"
        entities = [{"name": name, "id": qbo_id, "operation": "Update", "lastUpdated": at} for name, qbo_id in changes]
        notifications = [{"realmId": realm_id, "dataChangeEvent": {"entities": entities}}]
        body = json.dumps({"eventNotifications": notifications}).encode()
        service = WebhookService(self.sessionmaker, self.runtime.mirror_jobs, verifier_token=self.verifier_token)
        return await service.receive(body, expected_signature(self.verifier_token, body))

    async def sweep(self) -> int:
        hook = self.runtime.job_kinds.get(MIRROR_SYNC_JOB).sweep
        assert hook is not None
        return await hook(self.queue)

    async def runs(self, business_id: uuid.UUID) -> list[SyncKind]:
        statement = select(SyncRun.kind).where(SyncRun.business_id == business_id).order_by(SyncRun.started_at)
        async with unit_of_work(self.sessionmaker) as session:
            return list((await session.scalars(statement)).all())

    async def inbox(self, realm_id: str) -> list[QBOWebhookEvent]:
        statement = select(QBOWebhookEvent).where(QBOWebhookEvent.realm_id == realm_id)
        async with unit_of_work(self.sessionmaker) as session:
            return list((await session.scalars(statement)).all())


@contextlib.asynccontextmanager
async def running_jobs(settings: Settings) -> AsyncIterator[Jobs]:
    runtime = await worker_runtime(settings.model_copy(update={"mirror_sweep": True}))
    queue = await JobQueue.start_in_process(runtime, sweep_interval_seconds=NO_TIMED_SWEEPS_SECONDS)
    try:
        yield Jobs(runtime, queue, settings.qbo_webhook_verifier_token.get_secret_value())
    finally:
        await queue.stop()
        await runtime.aclose()


def change_a_bill(realm: Realm, note: str) -> str:
    """A sparse update of a bill in QBO; returns its id."""
    bill = next(iter(realm.objects("Bill").values()))
    body = {"Id": bill["Id"], "SyncToken": bill["SyncToken"], "sparse": True, "PrivateNote": note}
    response = realm.post("/bill", body)
    assert response.status_code == 200, response.text
    return str(bill["Id"])


def test_a_webhook_leads_to_one_sync_that_brings_the_change_and_marks_the_inbox(businesses: Fleet) -> None:
    business_id = businesses.add_business()
    realm = businesses.realms[business_id]

    async def go() -> tuple[Receipt, list[SyncKind], list[QBOWebhookEvent]]:
        async with running_jobs(businesses.settings) as jobs:
            await jobs.runtime.mirror_jobs.request(business_id)
            await jobs.settle()  # the first sync: a full one
            bill_id = change_a_bill(realm, "changed in QBO")
            realm.reset_calls()
            receipt = await jobs.webhook(realm.realm_id, ("Bill", bill_id))
            await jobs.settle()
            return receipt, await jobs.runs(business_id), await jobs.inbox(realm.realm_id)

    receipt, runs, inbox = asyncio.run(go())

    assert receipt.sync_requested == (realm.realm_id,)
    assert runs == [SyncKind.FULL, SyncKind.CDC]
    assert sum(realm.calls().values()) == realm.calls()["cdc"] == 1
    [event] = inbox
    assert event.processed_at is not None
    businesses.harness(business_id).assert_mirror_equals_sandbox()


def test_a_burst_of_webhooks_costs_at_most_one_extra_sync(businesses: Fleet) -> None:
    business_id = businesses.add_business()
    realm = businesses.realms[business_id]

    async def go() -> tuple[list[Receipt], list[SyncKind], list[QBOWebhookEvent]]:
        async with running_jobs(businesses.settings) as jobs:
            await jobs.runtime.mirror_jobs.request(business_id)
            await jobs.settle()
            bill_id = change_a_bill(realm, "changed before a burst")
            realm.reset_calls()
            # Fifty deliveries at once, each with news (Intuit sends one per change when they come seconds apart).
            deliveries = [[("Bill", bill_id)]] + [[("Vendor", str(index))] for index in range(1, BURST)]
            receipts = await asyncio.gather(*(jobs.webhook(realm.realm_id, *changes) for changes in deliveries))
            await jobs.settle()
            return list(receipts), await jobs.runs(business_id), await jobs.inbox(realm.realm_id)

    receipts, runs, inbox = asyncio.run(go())

    # Every delivery stored its event and asked for a sync.
    assert all((receipt.stored, receipt.sync_requested) == (1, (realm.realm_id,)) for receipt in receipts)
    # After the full one: the sync the burst queued, plus at most a follow-up for events that came while it ran.
    first, *after_burst = runs
    assert first is SyncKind.FULL
    assert after_burst in ([SyncKind.CDC], [SyncKind.CDC, SyncKind.CDC])
    assert realm.calls()["cdc"] == len(after_burst)
    assert len(inbox) == BURST
    assert all(event.processed_at is not None for event in inbox)
    businesses.harness(business_id).assert_mirror_equals_sandbox()


def test_the_sweep_asks_for_a_stale_business_and_not_a_fresh_one(businesses: Fleet) -> None:
    stale, fresh = businesses.add_business(), businesses.add_business()

    async def go() -> tuple[int, list[SyncKind], list[SyncKind]]:
        with time_machine.travel(datetime.now(UTC), tick=False) as clock:
            async with running_jobs(businesses.settings) as jobs:
                await jobs.runtime.mirror_jobs.request(stale)
                await jobs.settle()
                clock.shift(timedelta(hours=3))
                await jobs.runtime.mirror_jobs.request(fresh)
                await jobs.settle()
                # Four hours and a minute after the stale one's sync (no one used it); an hour after the fresh one's.
                clock.shift(timedelta(hours=1, minutes=1))
                requested = await jobs.sweep()
                await jobs.settle()
                return requested, await jobs.runs(stale), await jobs.runs(fresh)

    requested, stale_runs, fresh_runs = asyncio.run(go())

    assert requested == 1
    assert stale_runs == [SyncKind.FULL, SyncKind.CDC]
    assert fresh_runs == [SyncKind.FULL]
