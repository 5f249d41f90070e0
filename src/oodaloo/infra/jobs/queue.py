"""Background jobs on taskiq: a ``JobQueue`` per app (or worker) that enqueues reconciliation prompts after commit, and
the periodic sweep — run in-process for the embedded default, from a Redis queue by ``oodaloo worker`` / ``oodaloo
scheduler`` in production. Nothing here is process-wide: several apps in one process each settle their own actions.

The database is the source of truth: a queued message is only a prompt to look at an action sooner. Every action
row carries ``next_check_at``, and the periodic sweep finds whatever a lost, dropped or delayed message left behind.
That is why the Redis broker is taskiq-redis's ``ListQueueBroker`` (LPUSH/BRPOP: simple, no consumer groups to set
up or reclaim) rather than ``RedisStreamBroker``: acknowledgements and redelivery buy nothing when losing a message
costs at most one sweep interval, and a reconciliation is safe to run twice anyway.

Delays: a prompt carries ``not_before`` (wall-clock seconds) and the task sleeps until then; only short delays are
prompted (``MAX_PROMPT_DELAY_SECONDS``) so sleeping tasks never crowd a worker — longer ones (the post-success drift
check) are left to the sweep. The sweep runs every ``SWEEP_INTERVAL_SECONDS`` from taskiq's ``TaskiqScheduler`` with
a ``LabelScheduleSource`` interval schedule (taskiq 0.13 supports whole-second intervals, so cron's one-minute
granularity is no limit) in ``oodaloo scheduler``, and from a plain asyncio loop in the embedded app. Two
schedulers would only sweep twice as often; reconciliation claims rows, so that is harmless.

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
from uuid import UUID

from redis.asyncio import Redis
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction
from taskiq import AsyncBroker, Context, InMemoryBroker, ScheduleSource, TaskiqDepends, TaskiqScheduler, TaskiqState
from taskiq.cli.scheduler.args import SchedulerArgs
from taskiq.cli.scheduler.run import run_scheduler as run_taskiq_scheduler
from taskiq.kicker import AsyncKicker
from taskiq.receiver import Receiver
from taskiq.schedule_sources import LabelScheduleSource
from taskiq.scheduler.scheduled_task import ScheduledTask
from taskiq_redis import ListQueueBroker

from oodaloo.infra.logging import get_logger
from oodaloo.infra.redis_client import REDIS_UNAVAILABLE, connection_options

logger = get_logger("oodaloo.jobs")

QUEUE_NAME = "oodaloo:jobs"
RECONCILE_TASK = "oodaloo.actions.reconcile"
SWEEP_TASK = "oodaloo.actions.sweep"
SWEEP_INTERVAL_SECONDS = 15
MAX_PROMPT_DELAY_SECONDS = 10.0
# Tasks one worker process runs at once; more processes scale it out.
WORKER_MAX_ASYNC_TASKS = 50
# How long shutdown waits for running tasks (an unfinished reconciliation is picked up again by the sweep).
SHUTDOWN_WAIT_SECONDS = 10.0
SCHEDULER_LOOP_SECONDS = 1
# The blocking pop asks Redis to answer (empty) after this long, well within the socket timeout: an idle worker's
# connection keeps answering, and a dead one is noticed within seconds.
BRPOP_WAIT_SECONDS = 5
# While Redis is unreachable the worker retries its pop after 0.5 s, 1 s, 2 s, ... capped at 15 s, jittered so that
# many workers do not reconnect in step: it is back within 15 s of Redis.
RECONNECT_FIRST_DELAY_SECONDS = 0.5
RECONNECT_MAX_DELAY_SECONDS = 15.0

_PENDING_KEY = "oodaloo.jobs.pending_reconciliations"
_LISTENING_KEY = "oodaloo.jobs.listening"


class Reconciler(Protocol):
    """What the jobs need: SmartSyncService (or anything settling actions the same way)."""

    async def reconcile_action(self, action_id: UUID) -> object: ...

    async def sweep(self) -> int: ...

    def use_job_queue(self, job_queue: JobQueue | None) -> None:
        """Send reconciliation prompts to ``job_queue`` from now on (None: send none; the sweep finds the rows)."""
        ...

    async def aclose(self) -> None: ...


# The hook `oodaloo worker` passes: builds the SmartSyncService with the domain handlers registered.
Startup = Callable[[], Awaitable[Reconciler]]


# ------------------------------------------------------------------------------------------------------- tasks
async def reconcile_action(
    action_id: str, context: Annotated[Context, TaskiqDepends()], not_before: float = 0.0
) -> None:
    """Settle one action, not before ``not_before`` (wall-clock seconds; a prompt may arrive early)."""
    state = context.state
    wait = min(not_before - time.time(), MAX_PROMPT_DELAY_SECONDS)
    if wait > 0:
        # Cut short by shutdown: the sweep will find the action when it is due.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.stopping.wait(), timeout=wait)
        if state.stopping.is_set():
            return
    reconciler: Reconciler = state.reconciler
    try:
        await reconciler.reconcile_action(UUID(action_id))
    except Exception:
        logger.exception("jobs.reconcile_failed", action_id=action_id)
        raise


async def sweep_actions(context: Annotated[Context, TaskiqDepends()]) -> int:
    """Reconcile every due action; one sweep at a time per queue (a slow sweep is not stacked upon)."""
    state = context.state
    lock: asyncio.Lock = state.sweep_lock
    if lock.locked():
        return 0
    reconciler: Reconciler = state.reconciler
    async with lock:
        try:
            return await reconciler.sweep()
        except Exception:
            logger.exception("jobs.sweep_failed")
            raise


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
    broker.register_task(reconcile_action, task_name=RECONCILE_TASK)
    broker.register_task(sweep_actions, task_name=SWEEP_TASK, schedule=[{"interval": SWEEP_INTERVAL_SECONDS}])
    return broker


def _attach(state: TaskiqState, reconciler: Reconciler) -> None:
    state.reconciler = reconciler
    state.sweep_lock = asyncio.Lock()
    state.stopping = asyncio.Event()


# ------------------------------------------------------------------------------------------------- the queue
@dataclass(frozen=True)
class _Prompt:
    job_queue: JobQueue
    action_id: UUID
    delay_seconds: float


class JobQueue:
    """One app's (or one worker's) queue: where its reconciliation prompts go and, when it runs the tasks itself, the
    reconciler that settles them. Each app starts its own, so several apps can share a process (tests serve many)."""

    def __init__(self, broker: AsyncBroker, reconciler: Reconciler, *, runs_tasks: bool) -> None:
        self.broker = broker
        self._reconciler = reconciler
        self._runs_tasks = runs_tasks  # this process executes the tasks (in-memory broker or worker)
        self._sweeper: asyncio.Task[None] | None = None
        self._enqueues: set[asyncio.Task[None]] = set()
        self._stopped = False
        if runs_tasks:
            _attach(broker.state, reconciler)

    @classmethod
    async def start_in_process(
        cls,
        reconciler: Reconciler,
        *,
        redis_url: str | None = None,
        queue_name: str = QUEUE_NAME,
        sweep_interval_seconds: float = SWEEP_INTERVAL_SECONDS,
    ) -> JobQueue:
        """For an app's lifespan. Without ``redis_url``: tasks run in this process and it sweeps every interval. With
        it: this process only enqueues; ``oodaloo worker`` runs the tasks and ``oodaloo scheduler`` the sweeps.

        ``reconciler`` sends its prompts to the new queue from now on, until ``stop``.
        """
        in_process = redis_url is None
        job_queue = cls(make_broker(redis_url, queue_name=queue_name), reconciler, runs_tasks=in_process)
        await job_queue.broker.startup()
        if in_process:
            job_queue._sweeper = asyncio.create_task(
                _sweep_every(job_queue.broker, sweep_interval_seconds), name="oodaloo-sweeper"
            )
        reconciler.use_job_queue(job_queue)
        logger.info("jobs.started", broker=type(job_queue.broker).__name__, in_process=in_process)
        return job_queue

    async def stop(self) -> None:
        """Detach the reconciler, stop the sweep loop, let queued prompts go out (waiting at most a few seconds)."""
        if self._stopped:
            return
        self._stopped = True
        # Prompts from here on are not sent: the sweep of the next start finds those actions when they are due.
        self._reconciler.use_job_queue(None)
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self._drain()
        await self.broker.shutdown()

    def schedule_reconciliation(self, session: AsyncSession, action_id: UUID, *, delay_seconds: float) -> None:
        """Prompt a reconciliation of ``action_id`` on this queue once ``session`` commits; a rollback drops it.

        A savepoint rolled back keeps prompts recorded inside it: a needless prompt costs one look at the row.
        """
        sync_session = session.sync_session
        sync_session.info.setdefault(_PENDING_KEY, []).append(_Prompt(self, action_id, delay_seconds))
        if not sync_session.info.get(_LISTENING_KEY):
            event.listen(sync_session, "after_commit", _after_commit)
            event.listen(sync_session, "after_soft_rollback", _after_soft_rollback)
            sync_session.info[_LISTENING_KEY] = True

    def _enqueue_soon(self, action_id: UUID, delay_seconds: float) -> None:
        if self._stopped or delay_seconds > MAX_PROMPT_DELAY_SECONDS:
            return  # stopping, or too far off: the sweep will find the action when it is due
        # after_commit runs inside the event loop (AsyncSession drives the sync session from it); kick without blocking.
        task = asyncio.get_running_loop().create_task(_kick_reconcile(self.broker, action_id, delay_seconds))
        self._enqueues.add(task)
        task.add_done_callback(self._enqueues.discard)

    async def _drain(self) -> None:
        """Let enqueues finish and (in-memory broker) running tasks end; prompts still sleeping return at once."""
        if self._runs_tasks:
            self.broker.state.stopping.set()
        await asyncio.gather(*self._enqueues, return_exceptions=True)
        if isinstance(self.broker, InMemoryBroker):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.broker.wait_all(), SHUTDOWN_WAIT_SECONDS)


def _after_commit(session: Session) -> None:
    prompt: _Prompt
    for prompt in session.info.pop(_PENDING_KEY, []):
        prompt.job_queue._enqueue_soon(prompt.action_id, prompt.delay_seconds)


def _after_soft_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.parent is None:  # the whole transaction, not a savepoint or a failed flush
        session.info.pop(_PENDING_KEY, None)


async def _kick_reconcile(broker: AsyncBroker, action_id: UUID, delay_seconds: float) -> None:
    try:
        kicker: AsyncKicker[..., Any] = AsyncKicker(RECONCILE_TASK, broker, {})
        await kicker.kiq(action_id=str(action_id), not_before=time.time() + delay_seconds)
    except Exception as error:
        logger.warning("jobs.enqueue_failed", action_id=str(action_id), error=repr(error))


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
    stop: asyncio.Event | None = None,
    max_async_tasks: int = WORKER_MAX_ASYNC_TASKS,
) -> None:
    """``oodaloo worker``: consume the Redis queue until ``stop`` is set (default: SIGTERM/SIGINT).

    ``startup`` builds the SmartSyncService with every action handler registered; it is closed on the way out.
    """
    stop = stop or _stop_on_signals()
    broker = make_broker(redis_url, queue_name=queue_name)
    broker.is_worker_process = True
    reconciler = await startup()
    job_queue = JobQueue(broker, reconciler, runs_tasks=True)
    reconciler.use_job_queue(job_queue)  # prompts scheduled by the tasks go back onto the queue
    # Prompts still sleeping toward their not_before return as soon as shutdown begins, not after their delay.
    relay = asyncio.create_task(_set_when(stop, broker.state.stopping))
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
        await reconciler.aclose()
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
