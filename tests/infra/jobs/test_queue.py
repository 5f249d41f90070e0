"""Background jobs: prompts enqueued only when the transaction commits and only on the queue of the app that made
them, the in-memory broker running reconciliations in-process, and on Redis a separate worker process consuming them
and the scheduler's sweeps.

Run as ``python -m tests.infra.jobs.test_queue '<json>'`` this module is that worker process.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.infra.db.base import utcnow
from oodaloo.infra.db.engine import Database
from oodaloo.infra.db.session import unit_of_work
from oodaloo.infra.jobs import queue
from oodaloo.infra.jobs._job_kinds import JobKinds, JobSender
from oodaloo.infra.jobs._job_runner import MAX_DELAY_SECONDS
from oodaloo.infra.jobs.actions import ActionOutcome, ReconcilePolicy
from oodaloo.infra.jobs.models import ActionStatus, QBOAction
from oodaloo.infra.jobs.queue import JobQueue
from oodaloo.infra.jobs.smart_sync import SmartSyncService, SyncReconciler
from tests.infra.jobs.test_actions import (
    SINGLE_ATTEMPT,
    BillHandler,
    Tenant,
    bill_refs,
    bills_marked,
    database,
    inject,
    key,
    qbo,
    sandbox,
    tenant,
)
from tests.sandbox.conftest import RunningSandbox
from tests.support.credentials import MintedCredentials

__all__ = ["bill_refs", "database", "qbo", "sandbox", "tenant"]  # fixtures shared with test_actions

pytestmark = pytest.mark.timeout(60)

REDIS_URL = os.environ.get("OODALOO_TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(REDIS_URL is None, reason="OODALOO_TEST_REDIS_URL is not set")
WORKER_KIND = "test.queue.bill"
RECORD = "test.record"
ROOT = Path(__file__).resolve().parents[3]


async def eventually(condition: Callable[[], Awaitable[bool]], *, within: float = 20.0) -> None:
    """Wait (bounded) until ``condition`` holds: the jobs under test run elsewhere, on their own time."""
    give_up = time.monotonic() + within
    while not await condition():
        assert time.monotonic() < give_up, "the job did not run in time"
        await asyncio.sleep(0.05)


class RecordingHost:
    """A job host with one kind, RECORD, whose jobs (and sweeps) it records: where only the queue is under test."""

    def __init__(self) -> None:
        self.ran: list[uuid.UUID] = []
        self.sweeps = 0
        self.job_queue: JobQueue | None = None
        self.job_kinds = JobKinds()
        self.job_kinds.register(RECORD, self._record, sweep=self._sweep)

    async def _record(self, payload: dict[str, Any]) -> None:
        self.ran.append(uuid.UUID(payload["id"]))

    async def _sweep(self, jobs: JobSender) -> int:
        self.sweeps += 1
        return 0

    def use_job_queue(self, job_queue: JobQueue | None) -> None:
        self.job_queue = job_queue

    async def aclose(self) -> None:
        return None


def schedule_record(job_queue: JobQueue, session: AsyncSession, item: uuid.UUID, *, delay_seconds: float) -> None:
    job_queue.schedule(session, RECORD, {"id": str(item)}, delay_seconds=delay_seconds)


StartQueue = Callable[..., Awaitable[JobQueue]]


@pytest.fixture
async def start_queue() -> AsyncIterator[StartQueue]:
    """``JobQueue.start_in_process``, with every queue the test started stopped at the end (stopping twice is fine)."""
    started: list[JobQueue] = []

    async def start(host: queue.JobHost, **options: Any) -> JobQueue:
        job_queue = await JobQueue.start_in_process(host, **options)
        started.append(job_queue)
        return job_queue

    yield start
    for job_queue in started:
        await job_queue.stop()


async def status_of(database: Database, action_id: uuid.UUID) -> QBOAction:
    async with database.sessionmaker() as session:
        row = await session.get(QBOAction, action_id)
        assert row is not None
        return row


def service_with_handler(
    sandbox_url: str, realm_id: str, database: Database, kind: str, policy: ReconcilePolicy | None = None
) -> SmartSyncService:
    """SmartSync with the test's Bill handler registered for ``kind``, as the app or a worker would build it."""
    sync = SmartSyncService.create(
        api_base_url=sandbox_url,
        sessionmaker=database.sessionmaker,
        retry_policies=SINGLE_ATTEMPT,
        reconcile_policy=policy,
    )
    credentials = MintedCredentials(sandbox_url, realm_id)

    async def factory(business_id: uuid.UUID, realm_id: str) -> BillHandler:
        return BillHandler(sync, credentials, realm_id)

    sync.register_action(kind, factory)
    return sync


async def execute(
    sync: SmartSyncService, tenant: Tenant, sandbox: RunningSandbox, kind: str, refs: dict[str, str]
) -> ActionOutcome:
    return await sync.execute_action(
        business_id=tenant.business_id,
        realm_id=sandbox.realm_id,
        kind=kind,
        idempotency_key=key(),
        payload={**refs, "amount": Decimal("64.00")},
        user_id=tenant.user_id,
    )


async def settles_a_lost_response(
    sync: SmartSyncService,
    kind: str,
    sandbox: RunningSandbox,
    database: Database,
    tenant: Tenant,
    refs: dict[str, str],
    *,
    check: Callable[[], None] = lambda: None,
) -> None:
    """A write whose answer QBO loses is left unclear, then settled by the queue (``check`` runs at every look):
    one Bill in QBO."""
    inject(sandbox, "lost_response")
    unclear = await execute(sync, tenant, sandbox, kind, refs)
    assert unclear.status is ActionStatus.PENDING_VERIFICATION

    async def settled() -> bool:
        check()
        return (await status_of(database, unclear.action_id)).status is ActionStatus.SUCCEEDED

    await eventually(settled)
    assert len(bills_marked(sandbox, unclear.action_id)) == 1


# ------------------------------------------------------------------------------------------------ in-process
async def test_prompts_are_enqueued_only_when_the_transaction_commits(
    database: Database, start_queue: StartQueue
) -> None:
    host = RecordingHost()
    job_queue = await start_queue(host)
    assert host.job_queue is job_queue  # starting the queue attaches it to the app's host
    committed, rolled_back, far_off = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    async with unit_of_work(database.sessionmaker) as session:
        await session.execute(text("SELECT 1"))
        schedule_record(job_queue, session, committed, delay_seconds=0)
        schedule_record(job_queue, session, far_off, delay_seconds=MAX_DELAY_SECONDS + 1)
        assert host.ran == []  # nothing before the commit

    async def failing_request() -> None:
        async with unit_of_work(database.sessionmaker) as session:
            await session.execute(text("SELECT 1"))
            schedule_record(job_queue, session, rolled_back, delay_seconds=0)
            raise RuntimeError("the request failed")

    with pytest.raises(RuntimeError):
        await failing_request()
    await eventually(lambda: _has(host.ran, committed))
    await job_queue.stop()  # drains whatever else was enqueued

    # The far-off job is left to the sweep; the rolled-back one never existed.
    assert host.ran == [committed]
    assert host.job_queue is None  # a stopped queue sends nothing more


async def _has(items: list[uuid.UUID], item: uuid.UUID) -> bool:
    return item in items


async def test_each_queue_in_a_process_gets_only_its_own_prompts(database: Database, start_queue: StartQueue) -> None:
    first, second = RecordingHost(), RecordingHost()
    first_queue, second_queue = await start_queue(first), await start_queue(second)
    for_first, for_second = uuid.uuid4(), uuid.uuid4()

    async with unit_of_work(database.sessionmaker) as session:  # one transaction prompting both queues
        await session.execute(text("SELECT 1"))
        schedule_record(first_queue, session, for_first, delay_seconds=0)
        schedule_record(second_queue, session, for_second, delay_seconds=0)
    await eventually(lambda: _has(first.ran, for_first))
    await eventually(lambda: _has(second.ran, for_second))
    await first_queue.stop()
    await second_queue.stop()

    assert (first.ran, second.ran) == ([for_first], [for_second])


async def test_the_embedded_queue_sweeps_periodically(start_queue: StartQueue) -> None:
    host = RecordingHost()
    await start_queue(host, sweep_interval_seconds=0.05)

    async def swept_twice() -> bool:
        return host.sweeps >= 2

    await eventually(swept_twice)


async def test_the_in_memory_broker_settles_an_unclear_action(
    sandbox: RunningSandbox,
    database: Database,
    tenant: Tenant,
    bill_refs: dict[str, str],
    start_queue: StartQueue,
) -> None:
    kind = f"test.queue.{uuid.uuid4().hex[:8]}"
    sync = service_with_handler(sandbox.base_url, sandbox.realm_id, database, kind)
    job_queue = await start_queue(sync)
    try:
        await settles_a_lost_response(sync, kind, sandbox, database, tenant, bill_refs)
    finally:
        await job_queue.stop()
        await sync.aclose()


async def test_two_apps_in_one_process_each_settle_their_own_actions(
    sandbox: RunningSandbox,
    database: Database,
    tenant: Tenant,
    bill_refs: dict[str, str],
    start_queue: StartQueue,
) -> None:
    # Each service knows only its own kind: a prompt reaching the other app's queue would find no handler there and
    # be put off for minutes. No sweep runs during the test, so only the prompts can settle the actions.
    # The checks wait a little, so that neither takes the lost response injected for the other write.
    quick_check = ReconcilePolicy(first_check_delay_seconds=0.5)
    kinds = [f"test.queue.{app}.{uuid.uuid4().hex[:8]}" for app in ("one", "two")]
    services = [service_with_handler(sandbox.base_url, sandbox.realm_id, database, kind, quick_check) for kind in kinds]
    queues = [await start_queue(sync, sweep_interval_seconds=3600) for sync in services]
    try:
        inject(sandbox, "lost_response", count=2)
        unclear = await asyncio.gather(
            *(execute(sync, tenant, sandbox, kind, bill_refs) for sync, kind in zip(services, kinds, strict=True))
        )
        assert [outcome.status for outcome in unclear] == [ActionStatus.PENDING_VERIFICATION] * 2

        async def both_settled() -> bool:
            rows = [await status_of(database, outcome.action_id) for outcome in unclear]
            return all(row.status is ActionStatus.SUCCEEDED for row in rows)

        await eventually(both_settled)
        assert [len(bills_marked(sandbox, outcome.action_id)) for outcome in unclear] == [1, 1]
    finally:
        for job_queue, sync in zip(queues, services, strict=True):
            await job_queue.stop()
            await sync.aclose()


# ----------------------------------------------------------------------------------------------------- Redis
def test_reconnecting_backs_off_exponentially_up_to_a_cap() -> None:
    rng = random.Random(7)
    ceilings = [queue.reconnect_delay(failures, _Ceiling()) for failures in range(1, 9)]
    assert ceilings == [0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0, 15.0]
    for failures in range(1, 30):  # jittered within the upper half of its ceiling, never past the cap
        delay = queue.reconnect_delay(failures, rng)
        assert queue.RECONNECT_FIRST_DELAY_SECONDS / 2 <= delay <= queue.RECONNECT_MAX_DELAY_SECONDS


class _Ceiling(random.Random):
    """Always the top of the jitter range."""

    def uniform(self, a: float, b: float) -> float:
        return b


@needs_redis
async def test_an_idle_redis_broker_keeps_listening_past_the_socket_timeout(queue_name: str) -> None:
    assert REDIS_URL is not None
    broker = queue.make_broker(REDIS_URL, queue_name=f"{queue_name}:idle")
    messages = broker.listen()
    try:
        # Nothing arrives for longer than one blocking pop and redis-py's default 5 s socket timeout together...
        waiting = asyncio.ensure_future(anext(messages))
        done, _ = await asyncio.wait({waiting}, timeout=queue.BRPOP_WAIT_SECONDS + 6)
        assert not done, f"the listener ended while idle: {waiting.result() if done else ''!r}"
        # ...and the listener is still there for the next message.
        client = redis.Redis.from_url(REDIS_URL)
        try:
            await client.lpush(f"{queue_name}:idle", b"prompt")
        finally:
            await client.aclose()
        assert await asyncio.wait_for(waiting, timeout=30) == b"prompt"
    finally:
        await messages.aclose()
        await broker.shutdown()


@pytest.fixture(scope="module")
def queue_name() -> str:
    return f"oodaloo:test-jobs:{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def worker(
    sandbox: RunningSandbox, database_url: str, queue_name: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[subprocess.Popen[bytes]]:
    """``run_worker`` in a process of its own, as ``oodaloo worker`` runs it."""
    assert REDIS_URL is not None
    config = {
        "database_url": database_url,
        "sandbox_url": sandbox.base_url,
        "realm_id": sandbox.realm_id,
        "redis_url": REDIS_URL,
        "queue_name": queue_name,
    }
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.infra.jobs.test_queue", json.dumps(config)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            exit_code = process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
        finally:
            print(log_path.read_text())
        assert exit_code == 0, "the worker did not shut down cleanly"


@needs_redis
async def test_a_worker_process_consumes_the_reconciliation(
    worker: subprocess.Popen[bytes],
    queue_name: str,
    sandbox: RunningSandbox,
    database: Database,
    tenant: Tenant,
    bill_refs: dict[str, str],
    start_queue: StartQueue,
) -> None:
    assert REDIS_URL is not None
    # This process (like the web app in production) only enqueues; the worker process settles the action.
    sync = service_with_handler(sandbox.base_url, sandbox.realm_id, database, WORKER_KIND)
    job_queue = await start_queue(sync, redis_url=REDIS_URL, queue_name=queue_name)
    try:

        def worker_alive() -> None:
            assert worker.poll() is None, "the worker process exited"

        await settles_a_lost_response(sync, WORKER_KIND, sandbox, database, tenant, bill_refs, check=worker_alive)
    finally:
        await job_queue.stop()
        await sync.aclose()


@needs_redis
async def test_the_scheduler_has_a_worker_sweep_up_an_abandoned_action(
    worker: subprocess.Popen[bytes],
    queue_name: str,
    sandbox: RunningSandbox,
    database: Database,
    tenant: Tenant,
    bill_refs: dict[str, str],
) -> None:
    assert REDIS_URL is not None
    sync = service_with_handler(sandbox.base_url, sandbox.realm_id, database, WORKER_KIND)
    try:
        done = await execute(sync, tenant, sandbox, WORKER_KIND, bill_refs)
    finally:
        await sync.aclose()
    async with unit_of_work(database.sessionmaker) as session:  # as if its process died mid-send
        await session.execute(
            update(QBOAction)
            .where(QBOAction.id == done.action_id)
            .values(status=ActionStatus.IN_FLIGHT, qbo_id=None, updated_at=utcnow() - timedelta(hours=1))
        )
    stop = asyncio.Event()
    scheduler = asyncio.create_task(queue.run_scheduler(redis_url=REDIS_URL, queue_name=queue_name, stop=stop))
    try:

        async def swept() -> bool:
            assert not scheduler.done(), "the scheduler stopped"
            row = await status_of(database, done.action_id)
            return row.status is ActionStatus.SUCCEEDED and row.qbo_id == done.qbo_id

        await eventually(swept)
    finally:
        stop.set()
        await asyncio.wait_for(scheduler, timeout=10)
    client = redis.Redis.from_url(REDIS_URL)
    try:
        await client.delete(queue_name)
    finally:
        await client.aclose()


# --------------------------------------------------------------------------------------------- the worker process
class _WorkerServices(SyncReconciler):
    """What the worker's startup hook returns: SmartSync with the test's handler, closing its database too."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.database = Database(config["database_url"])
        self.sync = service_with_handler(config["sandbox_url"], config["realm_id"], self.database, WORKER_KIND)

    async def aclose(self) -> None:
        await super().aclose()
        await self.database.dispose()


async def _work(config: dict[str, Any]) -> None:
    async def startup() -> queue.JobHost:
        return _WorkerServices(config)

    await queue.run_worker(redis_url=config["redis_url"], startup=startup, queue_name=config["queue_name"])


if __name__ == "__main__":
    asyncio.run(_work(json.loads(sys.argv[1])))
