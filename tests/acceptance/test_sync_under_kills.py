"""Issue 7, acceptance 2: the mirror's sync as ``oodaloo worker`` runs it. A sync killed part-way (SIGKILL of the
worker) is found by the sweep and continued by another worker without fetching a stored page again; two workers asked
to sync one realm at the same moment produce one sync, and never two at once.

Real processes over a Redis of the test's own, the sandbox over real HTTP; its stats count every QBO call.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from oodaloo.domains.qbo.client import MAX_PAGE_SIZE
from oodaloo.domains.qbo.mirror_models import MIRRORED, SINGLETONS, FullSyncProgress, SyncKind, SyncOutcome, SyncRun
from oodaloo.domains.qbo.sync import FULL_SYNC_CONCURRENCY
from oodaloo.domains.qbo.sync_jobs import MIRROR_SYNC_JOB, serialization_key
from oodaloo.infra.db.engine import Database
from oodaloo.infra.jobs.queue import QUEUE_NAME, JobQueue
from oodaloo.migrations import upgrade_to_head
from oodaloo.settings import Settings
from oodaloo.wiring import build_runtime
from tests.acceptance.harness import Served, app_settings, oodaloo_process, sandbox_config, served_app, worker_env
from tests.conftest import TEST_REDIS_URL, new_database_url
from tests.domains.qbo.mirror_support import Harness, Realm
from tests.support.app_process import AppProcess, free_port, running
from tests.support.redis_server import REDIS_SERVER, RedisServer
from tests.support.waiting import until

T = TypeVar("T")

pytestmark = [
    pytest.mark.skipif(TEST_REDIS_URL is None, reason="OODALOO_TEST_REDIS_URL is not set"),
    pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed"),
    pytest.mark.slow,
    pytest.mark.timeout(300),
]

# More than 3000 invoices and 4000 card purchases, near 3000 payments: several pages of the big types.
LARGE_REALM = 12000
# A realm with a few pages of invoices and payments, for the two-worker tests.
REALM = 4500
# Each QBO answer takes this long, so the sync lasts seconds: long enough to kill a worker in the middle of it.
LATENCY_MS = 500
# The worker is killed once this many pages are stored (out of about 30).
KILL_AFTER_PAGES = 4
ENTITIES = tuple(MIRRORED)
# Bounds of the waits (generous: a busy 2-core machine runs the suite with -n 8).
START_SECONDS = 60.0
SYNC_SECONDS = 90.0
# A dead worker's realm lock and coalescing mark lapse within a minute (their leases); the sweep comes every 15 s.
RESUME_SECONDS = 150.0
POLL_SECONDS = 0.2


# ----------------------------------------------------------------------------------------------------- helpers
def _until(condition: Callable[[], T | None], what: str, *, within: float, watched: tuple[AppProcess, ...] = ()) -> T:
    return until(condition, what, within=within, poll_seconds=POLL_SECONDS, watched=watched)


def _worker(name: str, env: dict[str, str], tmp_path: Path, *, metrics_port: int | None = None) -> AppProcess:
    if metrics_port is not None:
        env = env | {"OODALOO_WORKER_METRICS_PORT": str(metrics_port)}
    return oodaloo_process(name, env, tmp_path)


def _qbo_requests_served(metrics_port: int, realm_id: str) -> float:
    """QBO requests for ``realm_id`` a worker counts on its own /metrics."""
    text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).raise_for_status().text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "oodaloo_qbo_requests"
        for sample in family.samples
        if sample.name == "oodaloo_qbo_requests_total" and sample.labels.get("realm_id") == realm_id
    )


def _listening(worker: AppProcess) -> bool:
    return "jobs.worker_started" in worker.output()


def _app_settings(base: Settings, served: Served, redis_url: str) -> Settings:
    return app_settings(base, served.sandbox.base_url, redis_url=redis_url)


async def _with_job_queue(settings: Settings, work: Callable[[Any, JobQueue], Any]) -> Any:
    """Run ``work(runtime, job_queue)`` with the QBO runtime and job queue an app with ``settings`` starts: with Redis
    its queue only enqueues, for the worker processes."""
    database = Database(settings.database_url)
    runtime = build_runtime(settings, database.sessionmaker)
    job_queue = await JobQueue.start_in_process(runtime.sync, redis_url=settings.redis_url)
    try:
        return await work(runtime, job_queue)
    finally:
        await job_queue.stop()
        await runtime.aclose()
        await database.dispose()


def _request_syncs(settings: Settings, business_id: uuid.UUID, times: int) -> list[bool]:
    """``times`` requests for the business's sync at the same moment, as the app asks (``MirrorSyncJobs.request``)."""

    async def work(runtime: Any, job_queue: JobQueue) -> list[bool]:
        return list(await asyncio.gather(*(runtime.mirror_jobs.request(business_id) for _ in range(times))))

    sent: list[bool] = asyncio.run(_with_job_queue(settings, work))
    return sent


def _send_uncoalesced_syncs(settings: Settings, business_id: uuid.UUID, realm_id: str, times: int) -> list[bool]:
    """``times`` sync jobs of the business at the same moment, with no coalescing key: only serialization is left."""

    async def work(runtime: Any, job_queue: JobQueue) -> list[bool]:
        payload = {"business_id": str(business_id)}
        sends = (
            job_queue.enqueue(MIRROR_SYNC_JOB, payload, serialize_on=serialization_key(realm_id)) for _ in range(times)
        )
        return list(await asyncio.gather(*sends))

    sent: list[bool] = asyncio.run(_with_job_queue(settings, work))
    return sent


def _pages(entity: str, count: int) -> int:
    """Pages a full sync fetches of ``entity``: one per 1000 and the short last one (the read of a singleton)."""
    return 1 if entity in SINGLETONS else count // MAX_PAGE_SIZE + 1


def _stored_pages(harness: Harness, counts: dict[str, int]) -> int:
    """Pages the business's full sync has stored so far, by its progress rows."""
    rows = harness.query(lambda: select(FullSyncProgress).where(FullSyncProgress.business_id == harness.business_id))
    stored = 0
    for row in rows:
        if row.done:
            stored += _pages(row.entity, counts[row.entity])
        elif row.entity not in SINGLETONS:
            stored += (row.next_position - 1) // MAX_PAGE_SIZE
    return stored


def _runs(harness: Harness) -> list[SyncRun]:
    statement = select(SyncRun).where(SyncRun.business_id == harness.business_id).order_by(SyncRun.started_at)
    runs: list[SyncRun] = harness.query(lambda: statement)
    return runs


def _succeeded_full_run(harness: Harness) -> SyncRun | None:
    runs = _runs(harness)
    return next((run for run in runs if run.kind is SyncKind.FULL and run.outcome is SyncOutcome.SUCCEEDED), None)


def _idle(redis_server: RedisServer) -> bool:
    """Nothing queued and no coalescing mark left: no further sync can start."""
    with redis_server.client() as client:
        return client.llen(QUEUE_NAME) == 0 and not client.keys(f"{QUEUE_NAME}:coalesce:*")


def _assert_never_overlapping(runs: list[SyncRun]) -> None:
    for earlier, later in itertools.pairwise(runs):
        assert earlier.finished_at is not None
        assert earlier.finished_at <= later.started_at, f"runs overlap: {earlier.id} and {later.id}"


def _paged_calls(realm: Realm) -> tuple[dict[str, int], int]:
    counts = {entity: len(realm.objects(entity)) for entity in ENTITIES}
    return counts, sum(_pages(entity, count) for entity, count in counts.items())


def _fetches(realm: Realm) -> int:
    """QBO calls that fetched objects: pages and singleton reads (a CDC follow-up is counted apart)."""
    calls = realm.calls()
    return sum(calls.values()) - calls["cdc"]


# ------------------------------------------------------------------------------------------------------- tests
def test_a_sync_killed_part_way_resumes_in_another_worker_without_fetching_stored_pages_again(
    settings: Settings, redis_server: RedisServer, tmp_path: Path, worker_id: str
) -> None:
    # A database of its own: the sweep below syncs every connected business it finds.
    database_url = new_database_url(tmp_path, f"oodaloo_test_sync_kill_{worker_id}")
    upgrade_to_head(database_url)
    base = settings.model_copy(update={"database_url": database_url})
    config = sandbox_config(limits=False)
    with served_app(base, config, seed=71, size=LARGE_REALM, redis_url=redis_server.url) as served:
        realm = Realm(served.sandbox.base_url, served.realm.realm_id)
        harness = Harness(database_url, realm, uuid.UUID(served.customer.business_id), ENTITIES)
        counts, fewest = _paged_calls(realm)
        assert counts["Invoice"] > 3 * MAX_PAGE_SIZE
        env = worker_env(database_url, served, redis_server.url, mirror_sweep=True)
        served.sandbox.configure_faults(latency_ms=LATENCY_MS)
        realm.reset_calls()

        first = _worker("worker", env, tmp_path)
        with running(first):
            _until(lambda: _listening(first), "the first worker to listen", within=START_SECONDS, watched=(first,))
            assert _request_syncs(_app_settings(base, served, redis_server.url), harness.business_id, 1) == [True]
            _until(
                lambda: _stored_pages(harness, counts) >= KILL_AFTER_PAGES,
                "some pages to be stored",
                within=SYNC_SECONDS,
                watched=(first,),
            )
            first.kill()
        stored_at_kill = _stored_pages(harness, counts)
        assert KILL_AFTER_PAGES <= stored_at_kill < fewest, "the sync ended before the kill: make the realm larger"
        [killed] = _runs(harness)
        assert (killed.kind, killed.outcome, killed.finished_at) == (SyncKind.FULL, SyncOutcome.RUNNING, None)

        # Nobody asks again: the message died with the worker. The sweep finds the unfinished sync.
        second, scheduler = _worker("worker", env, tmp_path), _worker("scheduler", env, tmp_path)
        with running(second), running(scheduler):
            resumed = _until(
                lambda: _succeeded_full_run(harness),
                "another worker to finish the sync",
                within=RESUME_SECONDS,
                watched=(second, scheduler),
            )
            second.terminate()
        served.sandbox.calm()

        # The new run fetched exactly the pages not stored before the kill; the only pages fetched twice in all were
        # those in hand when the worker died: per type paged at once, the page being stored and the next one, already
        # asked for (ADR 0008).
        assert resumed.calls == fewest - stored_at_kill
        assert fewest <= _fetches(realm) <= fewest + 2 * FULL_SYNC_CONCURRENCY
        assert sum(resumed.counts.values()) < sum(counts.values())
        harness.assert_mirror_equals_sandbox()
        _assert_never_overlapping([run for run in _runs(harness) if run.id != killed.id])


def test_two_workers_asked_at_the_same_moment_to_sync_one_realm_run_one_sync(
    settings: Settings, redis_server: RedisServer, tmp_path: Path
) -> None:
    with served_app(settings, sandbox_config(limits=False), seed=72, size=REALM, redis_url=redis_server.url) as served:
        realm = Realm(served.sandbox.base_url, served.realm.realm_id)
        harness = Harness(settings.database_url, realm, uuid.UUID(served.customer.business_id), ENTITIES)
        _, fewest = _paged_calls(realm)
        env = worker_env(settings.database_url, served, redis_server.url, mirror_sweep=False)
        served.sandbox.configure_faults(latency_ms=LATENCY_MS)
        realm.reset_calls()

        metrics_ports = (free_port(), free_port())
        workers = tuple(_worker("worker", env, tmp_path, metrics_port=port) for port in metrics_ports)
        with ExitStack() as stack:
            for worker in workers:
                stack.enter_context(running(worker))
            _until(lambda: all(map(_listening, workers)), "both workers to listen", within=START_SECONDS)
            sent = _request_syncs(_app_settings(settings, served, redis_server.url), harness.business_id, 2)
            assert sorted(sent) == [False, True]  # the second request merged into the queued first
            _until(lambda: _succeeded_full_run(harness), "the sync", within=SYNC_SECONDS, watched=workers)
            _until(lambda: _idle(redis_server), "the queue to empty", within=SYNC_SECONDS, watched=workers)
            # Each worker serves its own SmartSync metrics: together they count every call the one sync made.
            served_counts = [_qbo_requests_served(port, realm.realm_id) for port in metrics_ports]
        served.sandbox.calm()

        runs = _runs(harness)
        assert len(runs) == 1, [(run.kind, run.outcome, run.calls, run.started_at, run.error) for run in runs]
        [run] = runs
        assert (run.kind, run.outcome) == (SyncKind.FULL, SyncOutcome.SUCCEEDED)
        assert realm.calls()["cdc"] == 0
        assert _fetches(realm) == fewest == run.calls
        assert sorted(served_counts) == [0, run.calls]
        harness.assert_mirror_equals_sandbox()


def test_two_workers_never_sync_one_realm_at_once_even_when_the_requests_are_not_merged(
    settings: Settings, redis_server: RedisServer, tmp_path: Path
) -> None:
    with served_app(settings, sandbox_config(limits=False), seed=73, size=REALM, redis_url=redis_server.url) as served:
        realm = Realm(served.sandbox.base_url, served.realm.realm_id)
        harness = Harness(settings.database_url, realm, uuid.UUID(served.customer.business_id), ENTITIES)
        _, fewest = _paged_calls(realm)
        env = worker_env(settings.database_url, served, redis_server.url, mirror_sweep=False)
        served.sandbox.configure_faults(latency_ms=LATENCY_MS)
        realm.reset_calls()

        workers = (_worker("worker", env, tmp_path), _worker("worker", env, tmp_path))
        with ExitStack() as stack:
            for worker in workers:
                stack.enter_context(running(worker))
            _until(lambda: all(map(_listening, workers)), "both workers to listen", within=START_SECONDS)
            app = _app_settings(settings, served, redis_server.url)
            assert _send_uncoalesced_syncs(app, harness.business_id, realm.realm_id, 2) == [True, True]
            _until(
                lambda: [run.outcome for run in _runs(harness)] == [SyncOutcome.SUCCEEDED] * 2,
                "both jobs' syncs",
                within=SYNC_SECONDS,
                watched=workers,
            )
            _until(lambda: _idle(redis_server), "the queue to empty", within=SYNC_SECONDS, watched=workers)
        served.sandbox.calm()

        # One after the other: the second found the mirror full and only asked QBO what changed since.
        full, incremental = runs = _runs(harness)
        _assert_never_overlapping(runs)
        assert (full.kind, incremental.kind) == (SyncKind.FULL, SyncKind.CDC)
        assert _fetches(realm) == fewest == full.calls
        assert realm.calls()["cdc"] == incremental.calls == 1
        harness.assert_mirror_equals_sandbox()
