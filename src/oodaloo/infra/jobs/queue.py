"""Background jobs on taskiq: named kinds of job with JSON payloads, registered by the layers above (infra knows no
domains), run in-process on the in-memory broker for the embedded default and from a Redis queue by ``oodaloo worker``
in production, with a periodic sweep (``oodaloo scheduler``, or a loop in the embedded app) running each kind's sweep
hook. Nothing here is process-wide: several apps in one process each run their own jobs.

The database is the source of truth: a queued message is only a prompt to do some work sooner. Every kind whose work
matters beyond one message has a sweep hook that finds, in the database, whatever a lost, dropped or delayed message
left behind. That is why the Redis broker is taskiq-redis's ``ListQueueBroker`` (LPUSH/BRPOP: simple, no consumer
groups to set up or reclaim) rather than ``RedisStreamBroker``: acknowledgements and redelivery buy nothing when losing
a message costs at most one sweep interval, and every job must be safe to run twice anyway.

Per-key guarantees, built in here so that no kind has to build them itself:
- **Serialization** (``serialize_on``, e.g. a realm): two jobs with the same key never run at once, in any process —
  a lock in Redis renewed while the job runs (``infra/locks.py``), an in-process lock embedded. A job waits for its
  key up to SERIALIZE_WAIT_SECONDS, then is dropped for the sweep to find.
- **Coalescing** (``coalesce_on``, e.g. "sync realm R"): while a job with the key is queued and not yet started, another
  request is a no-op; a request arriving while one runs leads to exactly one more run after it (``_coalescing.py``).
  A job waiting for its serialization key has not started: requests meanwhile merge into it.

Delays: a job may carry ``delay_seconds`` (wall clock) and its task sleeps until then; only short delays are queued
(MAX_DELAY_SECONDS) so sleeping tasks never crowd a worker — longer ones are left to the kind's sweep. The sweep runs
every SWEEP_INTERVAL_SECONDS from taskiq's ``TaskiqScheduler`` with a ``LabelScheduleSource`` interval schedule in
``oodaloo scheduler``, and from a plain asyncio loop in the embedded app. Two schedulers only sweep twice as often.

Staying up: a worker and a scheduler run for days, idle, through Redis restarts and dropped connections. The blocking
pop waits server-side for ``BRPOP_WAIT_SECONDS`` and the socket a while longer (redis-py's default 5 s socket timeout
used to end an idle pop with ``TimeoutError``, and the worker with it); the connections are ``redis_client``'s
(keepalive, health check, a command re-sent once reconnected); and a failed pop or enqueue is logged and retried with
capped exponential backoff, never raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from redis.asyncio import Redis
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction
from taskiq import AsyncBroker, Context, InMemoryBroker, ScheduleSource, TaskiqDepends, TaskiqScheduler
from taskiq.cli.scheduler.args import SchedulerArgs
from taskiq.cli.scheduler.run import run_scheduler as run_taskiq_scheduler
from taskiq.kicker import AsyncKicker
from taskiq.receiver import Receiver
from taskiq.schedule_sources import LabelScheduleSource
from taskiq.scheduler.scheduled_task import ScheduledTask
from taskiq_redis import ListQueueBroker

from oodaloo.infra.jobs._coalescing import CoalescingMarks, MemoryMarks, RedisMarks
from oodaloo.infra.jobs._job_kinds import Job, JobKinds
from oodaloo.infra.jobs._job_runner import MAX_DELAY_SECONDS, JobRunner
from oodaloo.infra.locks import LocalLocks, LockFactory, RedisLocks
from oodaloo.infra.logging import get_logger
from oodaloo.infra.redis_client import REDIS_UNAVAILABLE, connection_options
from oodaloo.infra.redis_client import connect as redis_connect

logger = get_logger("oodaloo.jobs")

QUEUE_NAME = "oodaloo:jobs"
RUN_TASK = "oodaloo.jobs.run"
SWEEP_TASK = "oodaloo.jobs.sweep"
SWEEP_INTERVAL_SECONDS = 15
# Tasks one worker process runs at once; more processes scale it out.
WORKER_MAX_ASYNC_TASKS = 50
# How long shutdown waits for running tasks (an unfinished job's work is found again by its kind's sweep).
SHUTDOWN_WAIT_SECONDS = 10.0
SCHEDULER_LOOP_SECONDS = 1
# The blocking pop asks Redis to answer (empty) after this long, well within the socket timeout: an idle worker's
# connection keeps answering, and a dead one is noticed within seconds.
BRPOP_WAIT_SECONDS = 5
# While Redis is unreachable the worker retries its pop after 0.5 s, 1 s, 2 s, ... capped at 15 s, jittered so that
# many workers do not reconnect in step: it is back within 15 s of Redis.
RECONNECT_FIRST_DELAY_SECONDS = 0.5
RECONNECT_MAX_DELAY_SECONDS = 15.0

_PENDING_KEY = "oodaloo.jobs.pending"
_LISTENING_KEY = "oodaloo.jobs.listening"


class JobHost(Protocol):
    """What a queue runs jobs for: SmartSyncService, or a runtime built around it (``SyncReconciler``)."""

    @property
    def job_kinds(self) -> JobKinds:
        """Every kind this process can run."""
        ...

    def use_job_queue(self, job_queue: JobQueue | None) -> None:
        """Send jobs to ``job_queue`` from now on (None: send none; the sweeps find the work)."""
        ...

    async def aclose(self) -> None: ...


# The hook `oodaloo worker` passes: builds the SmartSyncService with every kind of job and action registered.
Startup = Callable[[], Awaitable[JobHost]]


# ------------------------------------------------------------------------------------------------------- tasks
async def run_job(job: dict[str, Any], context: Annotated[Context, TaskiqDepends()]) -> None:
    runner: JobRunner = context.state.runner
    await runner.run(Job.from_message(job))


async def sweep_jobs(context: Annotated[Context, TaskiqDepends()]) -> int:
    runner: JobRunner = context.state.runner
    sender: JobQueue = context.state.job_queue
    return await runner.sweep(sender)


def reconnect_delay(failures: int, rng: random.Random | None = None) -> float:
    """Seconds to wait after the ``failures``-th failure in a row to reach Redis: exponential, capped, jittered."""
    ceiling = min(RECONNECT_MAX_DELAY_SECONDS, RECONNECT_FIRST_DELAY_SECONDS * 2.0 ** (max(failures, 1) - 1))
    return (rng or random).uniform(ceiling / 2, ceiling)


class RedisQueueBroker(ListQueueBroker):
    """taskiq-redis's ``ListQueueBroker`` that keeps listening: an idle queue, a restarted Redis or a dropped
    connection delays the next message; it never ends the worker."""

    def __init__(self, url: str, *, queue_name: str) -> None:
        super().__init__(url, queue_name=queue_name, **connection_options())

    async def listen(self) -> AsyncGenerator[bytes, None]:
        failures = 0
        while True:
            try:
                async with Redis(connection_pool=self.connection_pool) as connection:
                    popped = await connection.brpop([self.queue_name], timeout=BRPOP_WAIT_SECONDS)
            except REDIS_UNAVAILABLE as error:
                failures += 1
                delay = reconnect_delay(failures)
                logger.warning(
                    "jobs.redis_unavailable",
                    queue=self.queue_name,
                    failures=failures,
                    retry_in_seconds=round(delay, 2),
                    error=repr(error),
                )
                await asyncio.sleep(delay)
                continue
            if failures:
                logger.info("jobs.redis_reconnected", queue=self.queue_name, after_failures=failures)
                failures = 0
            if popped is not None:  # None: the wait ended with the queue still empty
                message = popped[1]
                yield message if isinstance(message, bytes) else message.encode()


class _Scheduler(TaskiqScheduler):
    """taskiq's scheduler, logging an enqueue Redis refused instead of losing it in a task's unread exception: the
    next tick (SWEEP_INTERVAL_SECONDS on) tries again, and the database keeps every due action meanwhile."""

    async def on_ready(self, source: ScheduleSource, task: ScheduledTask) -> None:
        try:
            await super().on_ready(source, task)
        except REDIS_UNAVAILABLE as error:
            logger.warning("jobs.schedule_enqueue_failed", task=task.task_name, error=repr(error))


def make_broker(redis_url: str | None, *, queue_name: str = QUEUE_NAME) -> AsyncBroker:
    """Redis (``RedisQueueBroker``) when ``redis_url`` is set; otherwise taskiq's in-memory broker (runs in-process)."""
    broker: AsyncBroker = (
        RedisQueueBroker(redis_url, queue_name=queue_name) if redis_url else InMemoryBroker(max_async_tasks=100)
    )
    broker.register_task(run_job, task_name=RUN_TASK)
    broker.register_task(sweep_jobs, task_name=SWEEP_TASK, schedule=[{"interval": SWEEP_INTERVAL_SECONDS}])
    return broker


# ------------------------------------------------------------------------------------------------- the queue
@dataclass(frozen=True)
class _Pending:
    job_queue: JobQueue
    job: Job
    delay_seconds: float


class JobQueue:
    """One app's (or one worker's) queue: where its jobs go and, when it runs them itself, the runner of its host's
    kinds. Each app starts its own, so several apps can share a process (tests serve many).

    Coalescing marks and serialization locks are in Redis under ``key_prefix`` when the queue is (every process shares
    them), in-process otherwise.
    """

    def __init__(
        self,
        broker: AsyncBroker,
        host: JobHost,
        *,
        runs_tasks: bool,
        redis_url: str | None = None,
        key_prefix: str = QUEUE_NAME + ":",
    ) -> None:
        self.broker = broker
        self._host = host
        self._runs_tasks = runs_tasks  # this process executes the tasks (in-memory broker or worker)
        self._redis: Redis | None = redis_connect(redis_url) if redis_url else None
        self._marks: CoalescingMarks
        locks: LockFactory
        if self._redis is not None:
            self._marks = RedisMarks(self._redis, key_prefix=f"{key_prefix}coalesce:")
            locks = RedisLocks(self._redis, key_prefix=f"{key_prefix}lock:")
        else:
            self._marks = MemoryMarks()
            locks = LocalLocks()
        self._runner = JobRunner(host.job_kinds, locks=locks, marks=self._marks, sender=self._send)
        self._sweeper: asyncio.Task[None] | None = None
        self._enqueues: set[asyncio.Task[bool]] = set()
        self._stopped = False
        if runs_tasks:
            broker.state.runner = self._runner
            broker.state.job_queue = self

    @classmethod
    async def start_in_process(
        cls,
        host: JobHost,
        *,
        redis_url: str | None = None,
        queue_name: str = QUEUE_NAME,
        key_prefix: str | None = None,
        sweep_interval_seconds: float = SWEEP_INTERVAL_SECONDS,
    ) -> JobQueue:
        """For an app's lifespan. Without ``redis_url``: jobs run in this process and it sweeps every interval. With
        it: this process only enqueues; ``oodaloo worker`` runs the jobs and ``oodaloo scheduler`` the sweeps.

        ``host`` sends its jobs to the new queue from now on, until ``stop``.
        """
        in_process = redis_url is None
        job_queue = cls(
            make_broker(redis_url, queue_name=queue_name),
            host,
            runs_tasks=in_process,
            redis_url=redis_url,
            key_prefix=key_prefix or f"{queue_name}:",
        )
        await job_queue.broker.startup()
        if in_process:
            job_queue._sweeper = asyncio.create_task(
                _sweep_every(job_queue.broker, sweep_interval_seconds), name="oodaloo-sweeper"
            )
        host.use_job_queue(job_queue)
        logger.info("jobs.started", broker=type(job_queue.broker).__name__, in_process=in_process)
        return job_queue

    async def stop(self) -> None:
        """Detach the host, stop the sweep loop, let queued jobs go out (waiting at most a few seconds)."""
        if self._stopped:
            return
        self._stopped = True
        # Jobs from here on are not sent: the sweeps of the next start find their work.
        self._host.use_job_queue(None)
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self._drain()
        await self.broker.shutdown()
        if self._redis is not None:
            await self._redis.aclose()

    async def enqueue(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        serialize_on: str | None = None,
        coalesce_on: str | None = None,
        delay_seconds: float = 0.0,
    ) -> bool:
        """Send a ``kind`` job now. False when nothing was sent: merged into a queued or running job of
        ``coalesce_on``, too far off (the sweep's), the queue stopped, or the broker unreachable (logged)."""
        if self._stopped or delay_seconds > MAX_DELAY_SECONDS:
            return False
        job = Job(kind, payload, serialize_on, coalesce_on, time.time() + delay_seconds if delay_seconds > 0 else 0.0)
        if coalesce_on is not None:
            try:
                if not await self._marks.request(coalesce_on, job):
                    return False
            except REDIS_UNAVAILABLE as error:
                logger.warning("jobs.enqueue_failed", kind=kind, error=repr(error))
                return False
        if await self._send(job):
            return True
        if coalesce_on is not None:
            with contextlib.suppress(*REDIS_UNAVAILABLE):
                await self._marks.abandon(coalesce_on)
        return False

    def schedule(
        self,
        session: AsyncSession,
        kind: str,
        payload: dict[str, Any],
        *,
        serialize_on: str | None = None,
        coalesce_on: str | None = None,
        delay_seconds: float = 0.0,
    ) -> None:
        """``enqueue`` once ``session`` commits; a rollback drops it. A savepoint rolled back keeps the jobs recorded
        inside it: a needless job costs one look at the database."""
        job = Job(kind, payload, serialize_on, coalesce_on)
        sync_session = session.sync_session
        sync_session.info.setdefault(_PENDING_KEY, []).append(_Pending(self, job, delay_seconds))
        if not sync_session.info.get(_LISTENING_KEY):
            event.listen(sync_session, "after_commit", _after_commit)
            event.listen(sync_session, "after_soft_rollback", _after_soft_rollback)
            sync_session.info[_LISTENING_KEY] = True

    def _enqueue_soon(self, job: Job, delay_seconds: float) -> None:
        if self._stopped or delay_seconds > MAX_DELAY_SECONDS:
            return  # stopping, or too far off: the kind's sweep finds the work when it is due
        # after_commit runs inside the event loop (AsyncSession drives the sync session from it); send without blocking.
        enqueue = self.enqueue(
            job.kind,
            job.payload,
            serialize_on=job.serialize_on,
            coalesce_on=job.coalesce_on,
            delay_seconds=delay_seconds,
        )
        task = asyncio.get_running_loop().create_task(enqueue)
        self._enqueues.add(task)
        task.add_done_callback(self._enqueues.discard)

    async def _send(self, job: Job) -> bool:
        try:
            kicker: AsyncKicker[..., Any] = AsyncKicker(RUN_TASK, self.broker, {})
            await kicker.kiq(job=job.to_message())
        except Exception as error:
            logger.warning("jobs.enqueue_failed", kind=job.kind, error=repr(error))
            return False
        return True

    async def _drain(self) -> None:
        """Let enqueues finish and (in-memory broker) running jobs end; jobs still sleeping return at once."""
        if self._runs_tasks:
            self._runner.stopping.set()
        await asyncio.gather(*self._enqueues, return_exceptions=True)
        if isinstance(self.broker, InMemoryBroker):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.broker.wait_all(), SHUTDOWN_WAIT_SECONDS)


def _after_commit(session: Session) -> None:
    pending: _Pending
    for pending in session.info.pop(_PENDING_KEY, []):
        pending.job_queue._enqueue_soon(pending.job, pending.delay_seconds)


def _after_soft_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.parent is None:  # the whole transaction, not a savepoint or a failed flush
        session.info.pop(_PENDING_KEY, None)


async def _kick_sweep(broker: AsyncBroker) -> None:
    kicker: AsyncKicker[..., Any] = AsyncKicker(SWEEP_TASK, broker, {})
    await kicker.kiq()


async def _sweep_every(broker: AsyncBroker, interval_seconds: float) -> None:
    while True:
        await asyncio.sleep(interval_seconds)
        try:
            await _kick_sweep(broker)
        except Exception as error:
            logger.warning("jobs.sweep_enqueue_failed", error=repr(error))


# -------------------------------------------------------------------------------------------- separate processes
async def run_worker(
    *,
    redis_url: str,
    startup: Startup,
    queue_name: str = QUEUE_NAME,
    key_prefix: str | None = None,
    stop: asyncio.Event | None = None,
    max_async_tasks: int = WORKER_MAX_ASYNC_TASKS,
) -> None:
    """``oodaloo worker``: consume the Redis queue until ``stop`` is set (default: SIGTERM/SIGINT).

    ``startup`` builds the host (SmartSyncService) with every kind registered; it is closed on the way out.
    """
    stop = stop or _stop_on_signals()
    broker = make_broker(redis_url, queue_name=queue_name)
    broker.is_worker_process = True
    host = await startup()
    job_queue = JobQueue(broker, host, runs_tasks=True, redis_url=redis_url, key_prefix=key_prefix or f"{queue_name}:")
    host.use_job_queue(job_queue)  # jobs enqueued by the jobs go back onto the queue
    # Jobs still sleeping toward their not_before return as soon as shutdown begins, not after their delay.
    relay = asyncio.create_task(_set_when(stop, job_queue._runner.stopping))
    try:
        receiver = Receiver(
            broker,
            max_async_tasks=max_async_tasks,
            propagate_exceptions=False,
            wait_tasks_timeout=SHUTDOWN_WAIT_SECONDS,
        )
        logger.info("jobs.worker_started", queue=queue_name)
        await receiver.listen(stop)
    finally:
        relay.cancel()
        await job_queue.stop()
        await host.aclose()
        logger.info("jobs.worker_stopped")


async def run_scheduler(*, redis_url: str, queue_name: str = QUEUE_NAME, stop: asyncio.Event | None = None) -> None:
    """``oodaloo scheduler``: enqueue the sweep every SWEEP_INTERVAL_SECONDS until ``stop`` is set."""
    stop = stop or _stop_on_signals()
    broker = make_broker(redis_url, queue_name=queue_name)
    scheduler = _Scheduler(broker, sources=[LabelScheduleSource(broker)])
    args = SchedulerArgs(
        scheduler=scheduler,
        modules=[],
        configure_logging=False,
        loop_interval=SCHEDULER_LOOP_SECONDS,
        # A send stuck on a half-open connection must not hold the schedule: it is cut off, the next tick re-sends.
        send_timeout=SWEEP_INTERVAL_SECONDS,
    )
    running = asyncio.create_task(run_taskiq_scheduler(args), name="oodaloo-scheduler")
    logger.info("jobs.scheduler_started", queue=queue_name, interval_seconds=SWEEP_INTERVAL_SECONDS)
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running  # taskiq shuts the broker down when cancelled
        logger.info("jobs.scheduler_stopped")


async def _set_when(trigger: asyncio.Event, target: asyncio.Event) -> None:
    await trigger.wait()
    target.set()


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop
