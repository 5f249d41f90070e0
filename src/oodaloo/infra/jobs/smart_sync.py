"""SmartSync: the one way Oodaloo talks to QBO — rate limited, retried, circuit-broken — and the one door to the
machinery beside it: the action log (exactly-once writes), the freshness policy, activity, the cache and the job queue.

Construction: ``SmartSyncService.create(api_base_url=..., sessionmaker=..., redis_url=..., key_prefix=...)`` builds the
pooled transport, the realm limiter, the circuit breaker and the cache. With ``redis_url`` the limiter, breaker and
cache are shared by every process through Redis (under ``key_prefix``); without it they are in-process (the embedded
default). ``api_base_url`` is where each ``QBOCall.path`` is appended: the embedded sandbox's base or QBO's
(``https://quickbooks.api.intuit.com``). ``aclose()`` releases all of it.

Each concern lives in its own module beside this one, none importing this one: the retry loop
(``_transport_loop``), errors (``_errors``), the call (``_call``), freshness (``_freshness``), activity (``_activity``),
the action log (``actions``), jobs (``queue`` and its ``_job_*`` modules). This service composes them; the names the
layers above use are re-exported here, and nothing outside ``infra.jobs`` imports the others (import-linter contract 6).

Jobs: kinds are registered here (``register_job``; the reconciliation of actions registers itself) and sent with
``enqueue_job`` / ``schedule_job`` (after commit) to the app's job queue — ``JobQueue.start_in_process(sync, ...)``
attaches it; until then none are sent and the kinds' sweeps find the work.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import redis.asyncio as redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oodaloo.infra.http import HttpResponse, HttpTransport
from oodaloo.infra.jobs._activity import ActivityRecorder
from oodaloo.infra.jobs._breaker import (
    COOLDOWN_SECONDS,
    BreakerSettings,
    BreakerState,
    CircuitBreaker,
    MemoryCircuitBreaker,
    RedisCircuitBreaker,
)
from oodaloo.infra.jobs._cache import Cache, MemoryCache, RedisCache
from oodaloo.infra.jobs._call import Credentials, QBOCall
from oodaloo.infra.jobs._errors import (
    DeadlineExceeded,
    NotConnected,
    QBOUnavailable,
    ReconnectRequired,
    RetriesExhausted,
    SmartSyncError,
)
from oodaloo.infra.jobs._freshness import ON_DEMAND_STALE_SECONDS, FreshnessPolicy, SyncStrategy
from oodaloo.infra.jobs._job_kinds import JobHandler, JobKinds, JobSender, SweepHook
from oodaloo.infra.jobs._metrics import SyncMetrics
from oodaloo.infra.jobs._retry import BACKGROUND_RETRY_POLICY, USER_RETRY_POLICY, RetryPolicy
from oodaloo.infra.jobs._transport_loop import TransportLoop
from oodaloo.infra.jobs.actions import (
    RECONCILE_JOB,
    ActionContext,
    ActionHandler,
    ActionHandlerFactory,
    ActionLog,
    ActionOutcome,
    ActionRejected,
    ActionResult,
    IdempotencyConflict,
    ReconcilePolicy,
)
from oodaloo.infra.jobs.queue import JobQueue, run_scheduler, run_worker
from oodaloo.infra.jobs.rate_limit import QBO_LIMITS, Priority, RateLimits, RealmLimiter, SlotTimeout, make_limiter
from oodaloo.infra.redis_client import connect as redis_connect

__all__ = [
    "ON_DEMAND_STALE_SECONDS",
    "ActionContext",
    "ActionHandler",
    "ActionHandlerFactory",
    "ActionOutcome",
    "ActionRejected",
    "ActionResult",
    "BreakerSettings",
    "BreakerState",
    "Credentials",
    "DeadlineExceeded",
    "HttpResponse",
    "IdempotencyConflict",
    "JobHandler",
    "JobQueue",
    "JobSender",
    "NotConnected",
    "Priority",
    "QBOCall",
    "QBOUnavailable",
    "RateLimits",
    "ReconcilePolicy",
    "ReconnectRequired",
    "RetriesExhausted",
    "RetryPolicy",
    "SlotTimeout",
    "SmartSyncError",
    "SmartSyncService",
    "SweepHook",
    "SyncReconciler",
    "SyncStrategy",
    "run_scheduler",
    "run_worker",
]

DEFAULT_KEY_PREFIX = "oodaloo:"
# QBO cuts requests off at 120 s; reports on a large company can legitimately take most of a minute.
DEFAULT_REQUEST_TIMEOUT_SECONDS = 60.0


class SmartSyncService:
    def __init__(
        self,
        *,
        api_base_url: str,
        sessionmaker: async_sessionmaker[AsyncSession],
        transport: HttpTransport,
        limiter: RealmLimiter,
        breaker: CircuitBreaker,
        cache: Cache,
        redis_client: redis.Redis | None = None,
        owns_transport: bool = True,
        retry_policies: Mapping[Priority, RetryPolicy] | None = None,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT_SECONDS,
        metrics: SyncMetrics | None = None,
        wall_clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        reconcile_policy: ReconcilePolicy | None = None,
        circuit_cooldown_seconds: float = COOLDOWN_SECONDS,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.metrics = metrics or SyncMetrics()
        self._loop = TransportLoop(
            api_base_url=api_base_url,
            transport=transport,
            owns_transport=owns_transport,
            limiter=limiter,
            breaker=breaker,
            policies={Priority.USER: USER_RETRY_POLICY, Priority.BACKGROUND: BACKGROUND_RETRY_POLICY}
            | dict(retry_policies or {}),
            request_timeout=request_timeout,
            metrics=self.metrics,
            rng=rng or random.Random(),
            circuit_cooldown_seconds=circuit_cooldown_seconds,
        )
        self.api_base_url = self._loop.api_base_url
        self._cache = cache
        self._redis = redis_client
        self._freshness = FreshnessPolicy(cache, wall_clock)
        self._activity = ActivityRecorder(self._freshness)
        self._actions = ActionLog(sessionmaker=sessionmaker, activity=self._activity, policy=reconcile_policy)
        self._job_kinds = JobKinds()
        self._job_queue: JobQueue | None = None
        self._job_kinds.register(RECONCILE_JOB, self._reconcile_job, sweep=self._sweep_actions)

    @classmethod
    def create(
        cls,
        *,
        api_base_url: str,
        sessionmaker: async_sessionmaker[AsyncSession],
        redis_url: str | None = None,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        transport: HttpTransport | None = None,
        limits: RateLimits | None = None,
        breaker_settings: BreakerSettings | None = None,
        retry_policies: Mapping[Priority, RetryPolicy] | None = None,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT_SECONDS,
        wall_clock: Callable[[], float] = time.time,
        reconcile_policy: ReconcilePolicy | None = None,
    ) -> SmartSyncService:
        """Shared state in Redis under ``key_prefix`` when ``redis_url`` is set; in-process otherwise.

        A ``transport`` passed in stays the caller's (not closed by ``aclose``). ``reconcile_policy`` overrides the
        action log's timings (ReconcilePolicy's defaults otherwise).
        """
        settings = breaker_settings or BreakerSettings()
        limiter = make_limiter(redis_url, key_prefix=f"{key_prefix}rl:", limits=limits or QBO_LIMITS)
        redis_client: redis.Redis | None = None
        breaker: CircuitBreaker
        cache: Cache
        if redis_url:
            redis_client = redis_connect(redis_url)
            breaker = RedisCircuitBreaker(redis_client, settings, key_prefix=f"{key_prefix}cb:")
            cache = RedisCache(redis_client, key_prefix=f"{key_prefix}cache:")
        else:
            breaker = MemoryCircuitBreaker(settings)
            cache = MemoryCache()
        return cls(
            api_base_url=api_base_url,
            sessionmaker=sessionmaker,
            transport=transport or HttpTransport(),
            owns_transport=transport is None,
            limiter=limiter,
            breaker=breaker,
            cache=cache,
            redis_client=redis_client,
            retry_policies=retry_policies,
            request_timeout=request_timeout,
            wall_clock=wall_clock,
            reconcile_policy=reconcile_policy,
            circuit_cooldown_seconds=settings.cooldown_seconds,
        )

    async def aclose(self) -> None:
        await self._loop.aclose()
        await self._cache.aclose()
        if self._redis is not None:
            await self._redis.aclose()

    # ------------------------------------------------------------------------------------------------- QBO calls
    async def execute_with_retry(
        self,
        call: QBOCall,
        *,
        credentials: Credentials,
        priority: Priority = Priority.USER,
        deadline: float | None = None,
    ) -> HttpResponse:
        """Send ``call`` until QBO gives a final answer (a 2xx, or a 4xx that retrying cannot change); the retry loop
        and its order per attempt are ``_transport_loop.TransportLoop.execute``'s."""
        return await self._loop.execute(call, credentials=credentials, priority=priority, deadline=deadline)

    async def circuit_state(self, realm_id: str) -> BreakerState:
        return await self._loop.circuit_state(realm_id)

    def record_sync(self, business_id: uuid.UUID, succeeded_at: datetime) -> None:
        """Export when the business's mirror last finished a successful sync (``/metrics``; lag is now minus it)."""
        self.metrics.last_sync.labels(business_id=str(business_id)).set(succeeded_at.timestamp())

    # --------------------------------------------------------------------------------------- cache and freshness
    async def get_cache(self, key: str) -> Any | None:
        return await self._cache.get(_data_key(key))

    async def set_cache(self, key: str, value: Any, ttl_seconds: float) -> None:
        await self._cache.set(_data_key(key), value, ttl_seconds)

    async def delete_cache(self, key: str) -> None:
        await self._cache.delete(_data_key(key))

    async def should_sync(self, business_id: uuid.UUID, scope: str, strategy: SyncStrategy) -> bool:
        """Whether ``scope`` (e.g. "bills") of the business must be read from QBO again under ``strategy``."""
        return await self._freshness.should_sync(business_id, scope, strategy)

    async def mark_synced(self, business_id: uuid.UUID, scope: str) -> None:
        await self._freshness.mark_synced(business_id, scope)

    async def record_user_activity(
        self,
        session: AsyncSession,
        *,
        business_id: uuid.UUID,
        user_id: uuid.UUID | None,
        kind: str,
        subject: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Add an Activity row (flushed; the caller's boundary commits) and stamp the business as active."""
        await self._activity.record_user_activity(
            session, business_id=business_id, user_id=user_id, kind=kind, subject=subject, detail=detail
        )

    # ---------------------------------------------------------------------------------------------------- jobs
    @property
    def job_kinds(self) -> JobKinds:
        return self._job_kinds

    def register_job(self, kind: str, handler: JobHandler, *, sweep: SweepHook | None = None) -> None:
        """Register a kind of background job: ``handler`` runs one (JSON payload); ``sweep``, every sweep interval,
        finds in the database the work a lost message left behind. Every process that runs jobs registers them all."""
        self._job_kinds.register(kind, handler, sweep=sweep)

    def use_job_queue(self, job_queue: JobQueue | None) -> None:
        """Send jobs (and reconciliation prompts) to this app's ``job_queue`` (``JobQueue.start_in_process`` attaches
        it, ``stop`` detaches it). Without one none are sent: the sweeps find the work when it is due."""
        self._job_queue = job_queue
        self._actions.use_scheduler(job_queue)

    async def enqueue_job(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        serialize_on: str | None = None,
        coalesce_on: str | None = None,
        delay_seconds: float = 0.0,
    ) -> bool:
        """Send a ``kind`` job now; see ``queue.py`` for ``serialize_on`` and ``coalesce_on``. False when nothing was
        sent (merged into a queued or running job, no queue attached, or the queue unreachable)."""
        if self._job_queue is None:
            return False
        return await self._job_queue.enqueue(
            kind, payload, serialize_on=serialize_on, coalesce_on=coalesce_on, delay_seconds=delay_seconds
        )

    def schedule_job(
        self,
        session: AsyncSession,
        kind: str,
        payload: dict[str, Any],
        *,
        serialize_on: str | None = None,
        coalesce_on: str | None = None,
        delay_seconds: float = 0.0,
    ) -> None:
        """``enqueue_job`` once ``session`` commits; a rollback drops it."""
        if self._job_queue is not None:
            self._job_queue.schedule(
                session, kind, payload, serialize_on=serialize_on, coalesce_on=coalesce_on, delay_seconds=delay_seconds
            )

    async def _reconcile_job(self, payload: dict[str, Any]) -> None:
        await self.reconcile_action(uuid.UUID(payload["action_id"]))

    async def _sweep_actions(self, _jobs: JobSender) -> int:
        return await self.sweep()

    # ------------------------------------------------------------------------------- action log (see actions.py)
    def register_action(self, kind: str, factory: ActionHandlerFactory) -> None:
        self._actions.register_action(kind, factory)

    async def execute_action(
        self,
        *,
        business_id: uuid.UUID,
        realm_id: str,
        kind: str,
        idempotency_key: str,
        payload: dict[str, Any],
        user_id: uuid.UUID | None,
        deadline_seconds: float | None = None,
    ) -> ActionOutcome:
        return await self._actions.execute_action(
            business_id=business_id,
            realm_id=realm_id,
            kind=kind,
            idempotency_key=idempotency_key,
            payload=payload,
            user_id=user_id,
            deadline_seconds=deadline_seconds,
        )

    async def reconcile_action(self, action_id: uuid.UUID) -> ActionOutcome:
        return await self._actions.reconcile_action(action_id)

    async def sweep(self) -> int:
        return await self._actions.sweep()

    def schedule_reconciliation(self, session: AsyncSession, action_id: uuid.UUID, *, delay_seconds: float) -> None:
        self._actions.schedule_reconciliation(session, action_id, delay_seconds=delay_seconds)


class SyncReconciler:
    """The job queue's host made of a SmartSync ``sync`` and whatever a process builds around it: the jobs are
    ``sync``'s; a subclass that owns more closes it in ``aclose`` after ``super().aclose()``."""

    sync: SmartSyncService

    @property
    def job_kinds(self) -> JobKinds:
        return self.sync.job_kinds

    async def reconcile_action(self, action_id: uuid.UUID) -> ActionOutcome:
        return await self.sync.reconcile_action(action_id)

    async def sweep(self) -> int:
        return await self.sync.sweep()

    def use_job_queue(self, job_queue: JobQueue | None) -> None:
        self.sync.use_job_queue(job_queue)

    async def aclose(self) -> None:
        await self.sync.aclose()


def _data_key(key: str) -> str:
    return f"data:{key}"
