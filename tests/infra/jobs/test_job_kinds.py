"""Kinds of job on the queue: requests with one coalescing key merge (50 while one is queued → one run; any number
during a run → exactly one more), jobs with one serialization key never overlap — in one process and across two worker
processes over Redis — and a kind's sweep hook finds the work a lost message left behind.

Run as ``python -m tests.infra.jobs.test_job_kinds '<json>'`` this module is a worker process.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis

from oodaloo.infra.db.engine import Database
from oodaloo.infra.jobs import queue
from oodaloo.infra.jobs._job_kinds import JobKinds, JobSender
from oodaloo.infra.jobs.queue import JobQueue
from oodaloo.infra.jobs.smart_sync import SmartSyncService
from oodaloo.infra.locks import LockUnavailable, RedisLocks
from tests.infra.jobs.test_actions import database
from tests.infra.jobs.test_queue import eventually

__all__ = ["database"]  # fixture shared with test_actions

pytestmark = pytest.mark.timeout(90)

REDIS_URL = os.environ.get("OODALOO_TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(REDIS_URL is None, reason="OODALOO_TEST_REDIS_URL is not set")
ROOT = Path(__file__).resolve().parents[3]
REQUESTS = 50
HOLD = "test.hold"
SYNC = "test.sync"
OVERLAP = "test.overlap"
# How long each job of the two-worker test stays inside its critical section: long enough that two unserialized
# jobs would overlap (the workers pop within milliseconds of each other), short enough to keep the test quick.
CRITICAL_SECTION_SECONDS = 0.05
JOBS_PER_WORKER = 10


class Host:
    """A job host whose kinds are the test's: HOLD runs until released; SYNC records each run's payload and, while
    ``block_sync`` is set, waits for it to be released too."""

    def __init__(self) -> None:
        self.job_kinds = JobKinds()
        self.job_queue: JobQueue | None = None
        self.release = asyncio.Event()
        self.started = asyncio.Event()
        self.block_sync = False
        self.syncs: list[dict[str, Any]] = []
        self.job_kinds.register(HOLD, self._hold)
        self.job_kinds.register(SYNC, self._sync)

    async def _hold(self, payload: dict[str, Any]) -> None:
        self.started.set()
        await self.release.wait()

    async def _sync(self, payload: dict[str, Any]) -> None:
        self.syncs.append(payload)
        self.started.set()
        if self.block_sync:
            await self.release.wait()

    def use_job_queue(self, job_queue: JobQueue | None) -> None:
        self.job_queue = job_queue

    async def aclose(self) -> None:
        return None


@pytest.fixture
async def host() -> AsyncIterator[tuple[Host, JobQueue]]:
    """A host with an in-process queue (in-memory broker), its sweeps off: only the jobs enqueued run."""
    host = Host()
    job_queue = await JobQueue.start_in_process(host, sweep_interval_seconds=3600)
    yield host, job_queue
    host.release.set()
    await job_queue.stop()


async def idle(job_queue: JobQueue) -> None:
    """Until the in-memory broker runs nothing (follow-ups included): every run the test caused has happened."""
    assert isinstance(job_queue.broker, queue.InMemoryBroker)
    await asyncio.wait_for(job_queue.broker.wait_all(), timeout=20)


async def request_sync(job_queue: JobQueue, number: int, *, realm: str = "realm-1") -> bool:
    return await job_queue.enqueue(SYNC, {"number": number}, serialize_on=realm, coalesce_on=f"sync:{realm}")


# --------------------------------------------------------------------------------------------------- coalescing
async def test_fifty_requests_while_one_is_queued_make_one_run(host: tuple[Host, JobQueue]) -> None:
    hosting, job_queue = host
    # The realm is busy with another job, so the first sync request waits, queued and not started.
    assert await job_queue.enqueue(HOLD, {}, serialize_on="realm-1")
    await asyncio.wait_for(hosting.started.wait(), timeout=20)

    sent = [await request_sync(job_queue, number) for number in range(REQUESTS)]
    hosting.release.set()
    await idle(job_queue)

    assert sent == [True] + [False] * (REQUESTS - 1)
    assert hosting.syncs == [{"number": 0}]


async def test_requests_during_a_run_lead_to_exactly_one_more_run(host: tuple[Host, JobQueue]) -> None:
    hosting, job_queue = host
    hosting.block_sync = True
    assert await request_sync(job_queue, 0)
    await asyncio.wait_for(hosting.started.wait(), timeout=20)

    sent = [await request_sync(job_queue, number) for number in range(1, REQUESTS + 1)]
    hosting.release.set()
    await idle(job_queue)

    # One more run, for the latest request; then the key is free again.
    assert sent == [False] * REQUESTS
    assert hosting.syncs == [{"number": 0}, {"number": REQUESTS}]
    assert await request_sync(job_queue, REQUESTS + 1)
    await idle(job_queue)
    assert len(hosting.syncs) == 3


async def test_other_coalescing_keys_are_not_merged(host: tuple[Host, JobQueue]) -> None:
    hosting, job_queue = host
    sent = [await request_sync(job_queue, number, realm=f"realm-{number}") for number in range(3)]
    await idle(job_queue)
    assert sent == [True] * 3
    assert sorted(sync["number"] for sync in hosting.syncs) == [0, 1, 2]


# ------------------------------------------------------------------------------------------------ serialization
async def test_jobs_with_one_serialization_key_run_one_at_a_time(host: tuple[Host, JobQueue]) -> None:
    hosting, job_queue = host
    running: dict[str, int] = {}
    most: dict[str, int] = {}

    async def overlap(payload: dict[str, Any]) -> None:
        key = payload["key"]
        running[key] = running.get(key, 0) + 1
        most[key] = max(most.get(key, 0), running[key])
        await asyncio.sleep(CRITICAL_SECTION_SECONDS)
        running[key] -= 1

    hosting.job_kinds.register(OVERLAP, overlap)
    for _ in range(5):
        for key in ("a", "b"):
            assert await job_queue.enqueue(OVERLAP, {"key": key}, serialize_on=key)
    await idle(job_queue)

    assert most == {"a": 1, "b": 1}


async def test_a_busy_key_does_not_hold_up_other_keys(host: tuple[Host, JobQueue]) -> None:
    hosting, job_queue = host
    assert await job_queue.enqueue(HOLD, {}, serialize_on="realm-1")
    await asyncio.wait_for(hosting.started.wait(), timeout=20)
    hosting.started.clear()

    assert await request_sync(job_queue, 7, realm="realm-2")
    await asyncio.wait_for(hosting.started.wait(), timeout=20)  # ran while realm-1 is still held
    assert hosting.syncs == [{"number": 7}]


# ------------------------------------------------------------------------------------------------------- sweeps
async def test_a_sweep_hook_finds_the_work_a_lost_message_left_behind(database: Database) -> None:
    sync = SmartSyncService.create(api_base_url="http://127.0.0.1:9", sessionmaker=database.sessionmaker)
    to_do = {"realm-1", "realm-2"}  # stands for rows in the database: the source of truth
    done: list[str] = []

    async def run(payload: dict[str, Any]) -> None:
        to_do.discard(payload["realm"])
        done.append(payload["realm"])

    async def find(jobs: JobSender) -> int:
        for realm in sorted(to_do):
            await jobs.enqueue(SYNC, {"realm": realm}, serialize_on=realm, coalesce_on=f"sync:{realm}")
        return len(to_do)

    sync.register_job(SYNC, run, sweep=find)
    try:
        # No queue yet (or a message lost on the way): the request goes nowhere...
        assert not await sync.enqueue_job(SYNC, {"realm": "realm-1"}, coalesce_on="sync:realm-1")
        job_queue = await JobQueue.start_in_process(sync, sweep_interval_seconds=0.05)
        try:

            async def all_done() -> bool:
                return not to_do

            # ...and the sweep finds the work anyway, each item once.
            await eventually(all_done)
            await idle(job_queue)
            assert sorted(done) == ["realm-1", "realm-2"]
        finally:
            await job_queue.stop()
    finally:
        await sync.aclose()


# ------------------------------------------------------------------------------------------------------- Redis
@pytest.fixture
def names() -> dict[str, str]:
    """The test's own queues and key prefix in the shared Redis."""
    run = uuid.uuid4().hex
    return {"queue_a": f"oodaloo:test-kinds:{run}:a", "queue_b": f"oodaloo:test-kinds:{run}:b", "prefix": f"t:{run}:"}


@needs_redis
async def test_on_redis_requests_merge_while_queued_and_make_one_more_run_while_running(names: dict[str, str]) -> None:
    assert REDIS_URL is not None
    hosting = Host()
    hosting.block_sync = True
    # As the web app in production: it only enqueues; nothing consumes the queue yet.
    job_queue = await JobQueue.start_in_process(
        hosting, redis_url=REDIS_URL, queue_name=names["queue_a"], key_prefix=names["prefix"]
    )
    client = redis.Redis.from_url(REDIS_URL)
    stop = asyncio.Event()
    try:
        queued = [await request_sync(job_queue, number) for number in range(REQUESTS)]
        assert queued == [True] + [False] * (REQUESTS - 1)
        assert await client.llen(names["queue_a"]) == 1

        worker = asyncio.create_task(
            queue.run_worker(
                redis_url=REDIS_URL,
                startup=_started(hosting),
                queue_name=names["queue_a"],
                key_prefix=names["prefix"],
                stop=stop,
            )
        )

        async def runs(count: int) -> bool:
            assert not worker.done(), "the worker stopped"
            return len(hosting.syncs) >= count

        await eventually(lambda: runs(1))
        during = [await request_sync(job_queue, number) for number in range(REQUESTS, 2 * REQUESTS)]
        hosting.release.set()
        await eventually(lambda: runs(2))

        async def key_free() -> bool:
            return not await client.exists(f"{names['prefix']}coalesce:sync:realm-1")

        await eventually(key_free)
        stop.set()
        await asyncio.wait_for(worker, timeout=20)
        assert during == [False] * REQUESTS
        assert hosting.syncs == [{"number": 0}, {"number": 2 * REQUESTS - 1}]
        assert await client.llen(names["queue_a"]) == 0
    finally:
        stop.set()
        hosting.release.set()
        await job_queue.stop()
        await client.delete(names["queue_a"])
        await client.aclose()


@needs_redis
async def test_a_job_outlasting_its_serialization_lease_keeps_its_key(names: dict[str, str]) -> None:
    """A realm's sync may run longer than any fixed lease: the running job renews it, so no other takes the key."""
    assert REDIS_URL is not None
    lease = 1.0
    running, other = (
        RedisLocks(redis.Redis.from_url(REDIS_URL), key_prefix=names["prefix"], owns_client=True) for _ in "ab"
    )
    try:
        async with running.hold("realm-1", lease_seconds=lease, wait_seconds=1, keep_alive=True):
            for _ in range(3):  # three leases long, renewed every third of one
                with pytest.raises(LockUnavailable):
                    async with other.hold("realm-1", lease_seconds=lease, wait_seconds=lease):
                        pytest.fail("took a key its live holder keeps")
        async with other.hold("realm-1", lease_seconds=lease, wait_seconds=1):
            pass  # released on exit
    finally:
        await running.aclose()
        await other.aclose()


def _started(host: Host) -> queue.Startup:
    async def startup() -> queue.JobHost:
        return host

    return startup


@pytest.fixture
def two_workers(names: dict[str, str], tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Two worker processes, each on a queue of its own (so both surely work at once), sharing one key prefix."""
    assert REDIS_URL is not None
    processes: list[tuple[subprocess.Popen[bytes], Path]] = []
    for name in ("queue_a", "queue_b"):
        config = {"redis_url": REDIS_URL, "queue_name": names[name], "prefix": names["prefix"]}
        log_path = tmp_path / f"{name}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "tests.infra.jobs.test_job_kinds", json.dumps(config)],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        processes.append((process, log_path))
    try:
        yield [process for process, _ in processes]
    finally:
        exit_codes = []
        for process, log_path in processes:
            process.send_signal(signal.SIGTERM)
            try:
                exit_codes.append(process.wait(timeout=20))
            except subprocess.TimeoutExpired:
                process.kill()
                exit_codes.append(process.wait())
            print(log_path.read_text())
        assert exit_codes == [0, 0], "a worker did not shut down cleanly"


@needs_redis
async def test_two_worker_processes_never_run_jobs_of_one_key_at_once(
    two_workers: list[subprocess.Popen[bytes]], names: dict[str, str]
) -> None:
    assert REDIS_URL is not None
    queues = [
        await JobQueue.start_in_process(Host(), redis_url=REDIS_URL, queue_name=names[name], key_prefix=names["prefix"])
        for name in ("queue_a", "queue_b")
    ]
    client = redis.Redis.from_url(REDIS_URL)
    try:
        for _ in range(JOBS_PER_WORKER):
            for job_queue in queues:
                assert await job_queue.enqueue(OVERLAP, {}, serialize_on="realm-1")

        async def all_ran() -> bool:
            assert all(process.poll() is None for process in two_workers), "a worker process exited"
            return int(await client.llen(names["prefix"] + "done")) == 2 * JOBS_PER_WORKER

        await eventually(all_ran, within=60)
        ran_in = {pid.decode() for pid in await client.lrange(names["prefix"] + "done", 0, -1)}
        assert ran_in == {str(process.pid) for process in two_workers}  # both workers worked
        assert int(await client.get(names["prefix"] + "most") or 0) == 1  # and never at once
    finally:
        for job_queue in queues:
            await job_queue.stop()
        await client.delete(*(names[name] for name in ("queue_a", "queue_b")))
        for suffix in ("done", "running", "most"):
            await client.delete(names["prefix"] + suffix)
        await client.aclose()


# --------------------------------------------------------------------------------------------- the worker process
# Counts the jobs inside the critical section and keeps the highest count seen, atomically.
_ENTER = """
local running = redis.call('INCR', KEYS[1])
local most = tonumber(redis.call('GET', KEYS[2]) or '0')
if running > most then redis.call('SET', KEYS[2], running) end
return running
"""


class _OverlapHost:
    """The worker's kinds: OVERLAP, which records in Redis how many of its jobs are running at once."""

    def __init__(self, config: dict[str, Any]) -> None:
        self._redis = redis.Redis.from_url(config["redis_url"])
        self._prefix = config["prefix"]
        self._enter = self._redis.register_script(_ENTER)
        self.job_kinds = JobKinds()
        self.job_kinds.register(OVERLAP, self._overlap)

    async def _overlap(self, payload: dict[str, Any]) -> None:
        await self._enter(keys=[self._prefix + "running", self._prefix + "most"])
        await asyncio.sleep(CRITICAL_SECTION_SECONDS)
        await self._redis.decr(self._prefix + "running")
        await self._redis.rpush(self._prefix + "done", str(os.getpid()))

    def use_job_queue(self, job_queue: JobQueue | None) -> None:
        return None

    async def aclose(self) -> None:
        await self._redis.aclose()


async def _work(config: dict[str, Any]) -> None:
    async def startup() -> queue.JobHost:
        return _OverlapHost(config)

    await queue.run_worker(
        redis_url=config["redis_url"], startup=startup, queue_name=config["queue_name"], key_prefix=config["prefix"]
    )


if __name__ == "__main__":
    asyncio.run(_work(json.loads(sys.argv[1])))
