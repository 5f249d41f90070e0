"""SmartSync: the one way Oodaloo talks to QBO — rate limited, retried, circuit-broken — plus freshness and activity.

Construction: ``SmartSyncService.create(api_base_url=..., sessionmaker=..., redis_url=..., key_prefix=...)`` builds the
pooled transport, the realm limiter, the circuit breaker and the cache. With ``redis_url`` the limiter, breaker and
cache are shared by every process through Redis (under ``key_prefix``); without it they are in-process (the embedded
default). ``api_base_url`` is where each ``QBOCall.path`` is appended: the embedded sandbox's base or QBO's
(``https://quickbooks.api.intuit.com``). ``aclose()`` releases all of it.

The action log (exactly-once writes) lives in ``actions.py``; this service is its public face and delegates to it.
Its reconciliation prompts go to the app's own job queue (``queue.py``, re-exported here as ``JobQueue``,
``run_worker``, ``run_scheduler``): ``JobQueue.start_in_process(sync, ...)`` attaches it; until then none are sent
and the sweep settles actions when due.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

import redis.asyncio as redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oodaloo.infra.http import HttpRequest, HttpResponse, HttpTransport, TransportError
from oodaloo.infra.jobs._breaker import (
    COOLDOWN_SECONDS,
    Admission,
    BreakerSettings,
    BreakerState,
    CircuitBreaker,
    MemoryCircuitBreaker,
    RedisCircuitBreaker,
    Transition,
)
from oodaloo.infra.jobs._cache import Cache, MemoryCache, RedisCache
from oodaloo.infra.jobs._metrics import SyncMetrics
from oodaloo.infra.jobs._retry import (
    BACKGROUND_RETRY_POLICY,
    THROTTLED_STATUS,
    UNAUTHORIZED_STATUS,
    USER_RETRY_POLICY,
    RetryPolicy,
    is_retryable_status,
)
from oodaloo.infra.jobs.models import Activity
from oodaloo.infra.jobs.rate_limit import (
    DEFAULT_BACKGROUND_TIMEOUT_SECONDS,
    DEFAULT_USER_TIMEOUT_SECONDS,
    QBO_LIMITS,
    Priority,
    RateLimits,
    RealmLimiter,
    SlotTimeout,
    make_limiter,
)
from oodaloo.infra.logging import get_logger
from oodaloo.infra.redis_client import connect as redis_connect

if TYPE_CHECKING:
    from oodaloo.infra.jobs.actions import (
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

__all__ = [
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
    "JobQueue",
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
    "SyncReconciler",
    "SyncStrategy",
    "run_scheduler",
    "run_worker",
]

logger = get_logger("oodaloo.smart_sync")

DEFAULT_KEY_PREFIX = "oodaloo:"
# QBO cuts requests off at 120 s; reports on a large company can legitimately take most of a minute.
DEFAULT_REQUEST_TIMEOUT_SECONDS = 60.0
# Freshness policy (should_sync): a user action always reads QBO; a page the user opens re-reads data older than
# 5 minutes; the scheduler refreshes a business every 4 hours, or every 30 minutes while someone used it within the
# last hour (their numbers should not lag their work in QBO).
ON_DEMAND_STALE_SECONDS = 5 * 60.0
SCHEDULED_STALE_SECONDS = 4 * 3600.0
SCHEDULED_ACTIVE_STALE_SECONDS = 30 * 60.0
ACTIVE_WINDOW_SECONDS = 3600.0
# Answers refused by QBO's gateway before the request was processed: a write that got one of them did not happen.
_GATEWAY_REFUSALS = frozenset({UNAUTHORIZED_STATUS, THROTTLED_STATUS})


# ---------------------------------------------------------------------------------------------------------- errors
class SmartSyncError(Exception):
    """Base of the errors SmartSync raises."""


class ReconnectRequired(SmartSyncError):
    """QBO rejected the refresh token: the business must connect QuickBooks again."""


class NotConnected(ReconnectRequired):
    """The business has no connection to use (never connected, or disconnected): someone must connect it."""


class QBOUnavailable(SmartSyncError):
    """QBO cannot serve this company now; try again after ``retry_after_seconds``.

    SmartSync raises it while the realm's circuit is open (QBO has been failing, so calls are refused without reaching
    it); a domain service raises it when a read failed for a reason that passes (throttled, QBO's 5xx, no answer).
    It is the one "QuickBooks unavailable" error: it travels unchanged to the web layer, which answers 503 with
    ``Retry-After``.
    """

    def __init__(
        self,
        realm_id: str,
        *,
        retry_after_seconds: float,
        may_have_reached_qbo: bool = False,
        message: str | None = None,
    ) -> None:
        self.realm_id = realm_id
        self.retry_after_seconds = retry_after_seconds
        # True when an earlier attempt of this same write was sent before the circuit opened.
        self.may_have_reached_qbo = may_have_reached_qbo
        self.message = message or f"QBO is having trouble; try again in {math.ceil(retry_after_seconds)} s"
        super().__init__(self.message)


class RetriesExhausted(SmartSyncError):
    """Every attempt failed with a retryable error; the last response (or transport error kind) says how."""

    def __init__(
        self,
        *,
        attempts: int,
        last_response: HttpResponse | None,
        transport_error_kind: str | None,
        may_have_reached_qbo: bool,
    ) -> None:
        outcome = f"HTTP {last_response.status}" if last_response is not None else transport_error_kind
        super().__init__(f"QBO call failed after {attempts} attempts ({outcome})")
        self.attempts = attempts
        self.last_response = last_response
        self.transport_error_kind = transport_error_kind
        self.may_have_reached_qbo = may_have_reached_qbo


class DeadlineExceeded(SmartSyncError):
    """The call could not complete before its deadline. ``may_have_reached_qbo``: a write may have been applied."""

    def __init__(self, *, may_have_reached_qbo: bool) -> None:
        super().__init__("QBO did not answer in time")
        self.may_have_reached_qbo = may_have_reached_qbo


# ------------------------------------------------------------------------------------------------ call + credentials
@dataclass(frozen=True)
class QBOCall:
    realm_id: str
    method: str  # "GET" | "POST"
    path: str  # relative to the API base URL, e.g. "/v3/company/123/billpayment"
    params: Mapping[str, str] = field(default_factory=dict)  # the client adds minorversion; writes carry "requestid"
    body: bytes | None = None
    content_type: str | None = None
    accept: str = "application/json"
    is_write: bool = False
    label: str = ""  # e.g. "query", "billpayment.create" — logs and metrics
    cost: int = 1  # units charged in the limiter's request windows
    is_batch: bool = False  # a batch is one request to QBO's windows, and one to its batches-per-minute budget


class Credentials(Protocol):
    async def access_token(self) -> str:
        """A valid access token, refreshed ahead of expiry."""
        ...

    async def refresh_after_unauthorized(self, rejected: str) -> str:
        """QBO refused ``rejected``: refresh (single-flight) and return the new token; raises ReconnectRequired."""
        ...


class SyncStrategy(StrEnum):
    USER_ACTION = "user_action"  # the user is acting on this data: always read QBO
    ON_DEMAND = "on_demand"  # a page the user opened: stale after ON_DEMAND_STALE_SECONDS
    SCHEDULED = "scheduled"  # the background refresh: stale after 4 h, or 30 min for a business active lately


@dataclass
class _Run:
    """What one execute_with_retry call has learned so far."""

    call: QBOCall
    priority: Priority
    policy: RetryPolicy
    deadline: float | None
    attempt: int = 0
    refreshed: bool = False
    may_have_reached_qbo: bool = False


@dataclass(frozen=True)
class _Outcome:
    response: HttpResponse | None
    error: TransportError | None

    @property
    def is_server_failure(self) -> bool:
        return self.response is None or self.response.status >= 500

    @property
    def reason(self) -> str:
        """The HTTP status, or the transport error's kind: the label retries and requests are counted by."""
        if self.response is not None:
            return str(self.response.status)
        return self.error.kind if self.error is not None else "unknown"


# ----------------------------------------------------------------------------------------------------------- service
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
        self.api_base_url = api_base_url.rstrip("/")
        self.sessionmaker = sessionmaker
        self.metrics = metrics or SyncMetrics()
        self._transport = transport
        self._owns_transport = owns_transport
        self._limiter = limiter
        self._breaker = breaker
        # How long an open circuit refuses calls: what a refused caller is told to wait (Retry-After).
        self._circuit_cooldown_seconds = circuit_cooldown_seconds
        self._cache = cache
        self._redis = redis_client
        self._policies = {
            Priority.USER: USER_RETRY_POLICY,
            Priority.BACKGROUND: BACKGROUND_RETRY_POLICY,
            **(retry_policies or {}),
        }
        self._request_timeout = request_timeout
        self._wall_clock = wall_clock
        self._rng = rng or random.Random()
        self._action_log: ActionLog | None = None
        self._reconcile_policy = reconcile_policy
        self._job_queue: JobQueue | None = None

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
        if self._owns_transport:
            await self._transport.aclose()
        await self._limiter.aclose()
        await self._breaker.aclose()
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
        """Send ``call`` until QBO gives a final answer: a 2xx, or a 4xx that retrying cannot change.

        Per attempt: circuit breaker → access token → limiter slot (held only while the request is in flight) →
        transport. Retries 429/5xx/transport errors per the priority's RetryPolicy, re-sending the same request (a
        write keeps its requestid). A 401 gets one token refresh and a retry; a second 401 is returned. ``deadline``
        is a ``time.monotonic()`` value (user calls get a default); no wait runs past it — DeadlineExceeded instead.
        """
        policy = self._policies[priority]
        if deadline is None and policy.default_deadline_seconds is not None:
            deadline = time.monotonic() + policy.default_deadline_seconds
        run = _Run(call, priority, policy, deadline)
        while True:
            run.attempt += 1
            self._check_deadline(run)
            await self._pass_breaker(run)
            # Before the slot: a token refresh talks to Intuit's OAuth server and must not hold a QBO slot meanwhile.
            token = await credentials.access_token()
            outcome = await self._send_once(run, token)
            await self._record_health(call.realm_id, outcome)
            response = outcome.response
            if response is not None and response.status == UNAUTHORIZED_STATUS and not run.refreshed:
                run.refreshed = True
                self.metrics.retries.labels(reason="401").inc()
                await credentials.refresh_after_unauthorized(token)
                continue
            if response is not None and not is_retryable_status(response.status):
                return response
            await self._wait_before_retry(run, outcome)

    def _check_deadline(self, run: _Run) -> None:
        if run.deadline is not None and time.monotonic() >= run.deadline:
            raise DeadlineExceeded(may_have_reached_qbo=run.may_have_reached_qbo)

    async def _pass_breaker(self, run: _Run) -> None:
        admission = await self._breaker.admit(run.call.realm_id)
        if admission is Admission.REFUSED:
            self.metrics.circuit_refusals.inc()
            raise QBOUnavailable(
                run.call.realm_id,
                retry_after_seconds=self._circuit_cooldown_seconds,
                may_have_reached_qbo=run.may_have_reached_qbo,
            )
        if admission is Admission.PROBE:
            logger.info("qbo.circuit_probe", realm_id=run.call.realm_id, label=run.call.label)

    async def _send_once(self, run: _Run, token: str) -> _Outcome:
        call = run.call
        remaining = None if run.deadline is None else run.deadline - time.monotonic()
        slot_wait = (
            DEFAULT_USER_TIMEOUT_SECONDS if run.priority is Priority.USER else DEFAULT_BACKGROUND_TIMEOUT_SECONDS
        )
        deadline_binds = remaining is not None and remaining < slot_wait
        try:
            async with self._limiter.slot(
                call.realm_id,
                priority=run.priority,
                cost=call.cost,
                timeout=remaining if deadline_binds else slot_wait,
                batch=call.is_batch,
            ) as lease:
                self.metrics.slot_wait.labels(priority=run.priority.value).observe(lease.waited_seconds)
                timeout = (
                    self._request_timeout if remaining is None else max(0.0, min(self._request_timeout, remaining))
                )
                outcome = await self._transport_outcome(self._http_request(call, token, timeout))
        except SlotTimeout:
            if deadline_binds:
                raise DeadlineExceeded(may_have_reached_qbo=run.may_have_reached_qbo) from None
            raise
        if call.is_write and _may_have_been_processed(outcome):
            run.may_have_reached_qbo = True
        self._log_attempt(run, outcome, lease.waited_seconds)
        return outcome

    async def _transport_outcome(self, request: HttpRequest) -> _Outcome:
        try:
            return _Outcome(await self._transport.send(request), None)
        except TransportError as error:
            return _Outcome(None, error)

    def _http_request(self, call: QBOCall, token: str, timeout: float) -> HttpRequest:
        headers = {"Authorization": f"Bearer {token}", "Accept": call.accept}
        if call.content_type is not None:
            headers["Content-Type"] = call.content_type
        return HttpRequest(
            method=call.method,
            url=self.api_base_url + call.path,
            params=call.params,
            headers=headers,
            content=call.body,
            timeout=timeout,
        )

    async def _record_health(self, realm_id: str, outcome: _Outcome) -> None:
        """Server failures count towards opening the realm's circuit; any other answer shows QBO is up."""
        if outcome.is_server_failure:
            transition = await self._breaker.record_failure(realm_id)
        else:
            transition = await self._breaker.record_success(realm_id)
        if transition is not Transition.NONE:
            self.metrics.circuit_transitions.labels(transition=transition.value).inc()
            logger.warning("qbo.circuit_" + transition.value, realm_id=realm_id)

    async def _wait_before_retry(self, run: _Run, outcome: _Outcome) -> None:
        """Sleep before the next attempt, or raise when there is none (attempts used up, or past the deadline)."""
        if outcome.response is not None and outcome.response.status == THROTTLED_STATUS:
            self.metrics.throttled.labels(priority=run.priority.value).inc()
        if run.attempt >= run.policy.max_attempts:
            raise RetriesExhausted(
                attempts=run.attempt,
                last_response=outcome.response,
                transport_error_kind=outcome.error.kind if outcome.error is not None else None,
                may_have_reached_qbo=run.may_have_reached_qbo,
            )
        wait = run.policy.wait_before_retry(run.attempt, outcome.response, self._rng)
        if run.deadline is not None and time.monotonic() + wait >= run.deadline:
            raise DeadlineExceeded(may_have_reached_qbo=run.may_have_reached_qbo)
        self.metrics.retries.labels(reason=outcome.reason).inc()
        await asyncio.sleep(wait)

    def _log_attempt(self, run: _Run, outcome: _Outcome, waited: float) -> None:
        response = outcome.response
        self.metrics.requests.labels(label=run.call.label, outcome=outcome.reason).inc()
        log = logger.info if response is not None and response.status < 400 else logger.warning
        log(
            "qbo.attempt",
            realm_id=run.call.realm_id,
            label=run.call.label,
            priority=run.priority.value,
            attempt=run.attempt,
            status=response.status if response is not None else None,
            transport_error=outcome.error.kind if outcome.error is not None else None,
            waited=round(waited, 4),
            elapsed=round(response.elapsed_seconds, 4) if response is not None else None,
            intuit_tid=response.headers.get("intuit_tid") if response is not None else None,
        )

    # --------------------------------------------------------------------------------------- cache and freshness
    async def get_cache(self, key: str) -> Any | None:
        return await self._cache.get(_data_key(key))

    async def set_cache(self, key: str, value: Any, ttl_seconds: float) -> None:
        await self._cache.set(_data_key(key), value, ttl_seconds)

    async def delete_cache(self, key: str) -> None:
        await self._cache.delete(_data_key(key))

    async def should_sync(self, business_id: uuid.UUID, scope: str, strategy: SyncStrategy) -> bool:
        """Whether ``scope`` (e.g. "bills") of the business must be read from QBO again under ``strategy``."""
        if strategy is SyncStrategy.USER_ACTION:
            return True
        last_synced = await self._cache.get(_synced_key(business_id, scope))
        if last_synced is None:
            return True
        now = self._wall_clock()
        if strategy is SyncStrategy.ON_DEMAND:
            stale_after = ON_DEMAND_STALE_SECONDS
        else:
            last_active = await self._cache.get(_activity_key(business_id))
            recently_active = last_active is not None and now - float(last_active) < ACTIVE_WINDOW_SECONDS
            stale_after = SCHEDULED_ACTIVE_STALE_SECONDS if recently_active else SCHEDULED_STALE_SECONDS
        return now - float(last_synced) >= stale_after

    async def mark_synced(self, business_id: uuid.UUID, scope: str) -> None:
        # Kept as long as the longest staleness threshold; once gone, the scope is stale under every strategy.
        await self._cache.set(_synced_key(business_id, scope), self._wall_clock(), SCHEDULED_STALE_SECONDS)

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
        """Add an Activity row (flushed; the caller's boundary commits) and stamp the business as active.

        The stamp is set before the commit: if the caller rolls back, the business merely counts as active a little
        longer, which only makes the scheduler refresh it sooner.
        """
        await Activity.record(
            session, business_id=business_id, user_id=user_id, kind=kind, subject=subject, detail=detail
        )
        await self._cache.set(_activity_key(business_id), self._wall_clock(), ACTIVE_WINDOW_SECONDS)

    async def circuit_state(self, realm_id: str) -> BreakerState:
        return await self._breaker.state(realm_id)

    # ------------------------------------------------------------------------------- action log (see actions.py)
    @property
    def _actions(self) -> ActionLog:
        if self._action_log is None:
            # Imported here: actions.py builds on this module's types, so a module-level import would be circular.
            from oodaloo.infra.jobs.actions import ActionLog

            self._action_log = ActionLog(
                sessionmaker=self.sessionmaker, sync=self, policy=self._reconcile_policy, scheduler=self._job_queue
            )
        return self._action_log

    def use_job_queue(self, job_queue: JobQueue | None) -> None:
        """Send reconciliation prompts to this app's ``job_queue`` (``JobQueue.start_in_process`` attaches it, ``stop``
        detaches it). Without one none are sent: the sweep settles actions when their ``next_check_at`` comes."""
        self._job_queue = job_queue
        if self._action_log is not None:
            self._action_log.use_scheduler(job_queue)

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
    """The job queue's ``Reconciler`` made of a SmartSync ``sync`` and whatever a process builds around it: the work
    goes to ``sync``; a subclass that owns more closes it in ``aclose`` after ``super().aclose()``."""

    sync: SmartSyncService

    async def reconcile_action(self, action_id: uuid.UUID) -> ActionOutcome:
        return await self.sync.reconcile_action(action_id)

    async def sweep(self) -> int:
        return await self.sync.sweep()

    def use_job_queue(self, job_queue: JobQueue | None) -> None:
        self.sync.use_job_queue(job_queue)

    async def aclose(self) -> None:
        await self.sync.aclose()


def _may_have_been_processed(outcome: _Outcome) -> bool:
    """Whether QBO may have acted on the request: anything but a refused connection or a gateway refusal."""
    if outcome.response is not None:
        return outcome.response.status not in _GATEWAY_REFUSALS
    return outcome.error is not None and outcome.error.kind != "connect"


def _data_key(key: str) -> str:
    return f"data:{key}"


def _synced_key(business_id: uuid.UUID, scope: str) -> str:
    return f"synced:{business_id}:{scope}"


def _activity_key(business_id: uuid.UUID) -> str:
    return f"active:{business_id}"


_QUEUE_EXPORTS = frozenset({"JobQueue", "run_scheduler", "run_worker"})


def __getattr__(name: str) -> Any:
    """Re-export the action log's public types and the job queue without importing them up front: actions.py imports
    this module, and the queue (taskiq) is slow to load and needed only where jobs are started. A name in ``__all__``
    that this module does not define (the only kind that reaches here) is the queue's or else the action log's."""
    if name in _QUEUE_EXPORTS:
        from oodaloo.infra.jobs import queue

        return getattr(queue, name)
    if name in __all__:
        from oodaloo.infra.jobs import actions

        return getattr(actions, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
