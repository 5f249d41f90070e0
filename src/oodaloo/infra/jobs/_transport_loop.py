"""The loop that sends one QBO call until QBO gives a final answer: circuit breaker, access token, a slot from the
realm's limiter, the transport, and retries by the priority's RetryPolicy — each attempt logged and counted."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass

from oodaloo.infra.http import HttpRequest, HttpResponse, HttpTransport, TransportError
from oodaloo.infra.jobs._breaker import Admission, BreakerState, CircuitBreaker, Transition
from oodaloo.infra.jobs._call import Credentials, QBOCall
from oodaloo.infra.jobs._errors import DeadlineExceeded, QBOUnavailable, RetriesExhausted
from oodaloo.infra.jobs._metrics import SyncMetrics
from oodaloo.infra.jobs._retry import THROTTLED_STATUS, UNAUTHORIZED_STATUS, RetryPolicy, is_retryable_status
from oodaloo.infra.jobs.rate_limit import (
    DEFAULT_BACKGROUND_TIMEOUT_SECONDS,
    DEFAULT_USER_TIMEOUT_SECONDS,
    Priority,
    RealmLimiter,
    SlotTimeout,
)
from oodaloo.infra.logging import get_logger

logger = get_logger("oodaloo.smart_sync")

# Answers refused by QBO's gateway before the request was processed: a write that got one of them did not happen.
_GATEWAY_REFUSALS = frozenset({UNAUTHORIZED_STATUS, THROTTLED_STATUS})


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


class TransportLoop:
    """Sends QBOCalls to ``api_base_url``; owns the transport (when ``owns_transport``), the limiter and the breaker."""

    def __init__(
        self,
        *,
        api_base_url: str,
        transport: HttpTransport,
        owns_transport: bool,
        limiter: RealmLimiter,
        breaker: CircuitBreaker,
        policies: Mapping[Priority, RetryPolicy],
        request_timeout: float,
        metrics: SyncMetrics,
        rng: random.Random,
        circuit_cooldown_seconds: float,
    ) -> None:
        self.api_base_url = api_base_url.rstrip("/")
        self._transport = transport
        self._owns_transport = owns_transport
        self._limiter = limiter
        self._breaker = breaker
        self._policies = policies
        self._request_timeout = request_timeout
        self.metrics = metrics
        self._rng = rng
        # How long an open circuit refuses calls: what a refused caller is told to wait (Retry-After).
        self._circuit_cooldown_seconds = circuit_cooldown_seconds

    async def aclose(self) -> None:
        if self._owns_transport:
            await self._transport.aclose()
        await self._limiter.aclose()
        await self._breaker.aclose()

    async def circuit_state(self, realm_id: str) -> BreakerState:
        return await self._breaker.state(realm_id)

    async def execute(
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
            probing = await self._pass_breaker(run)
            try:
                # Before the slot: a token refresh talks to Intuit's OAuth server and must not hold a QBO slot.
                token = await credentials.access_token()
                outcome = await self._send_once(run, token)
            except BaseException:
                if probing:  # no answer to judge QBO by: let the next caller probe at once, not after the lease
                    await self._breaker.release_probe(call.realm_id)
                raise
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

    async def _pass_breaker(self, run: _Run) -> bool:
        """Refuse the call while the realm's circuit is open; True when this call is the half-open circuit's probe."""
        admission = await self._breaker.admit(run.call.realm_id)
        if admission is Admission.REFUSED:
            self.metrics.circuit_refusals.inc()
            # With the breaker in Redis another process may have opened it: this one learns it here.
            self.metrics.set_circuit_state(run.call.realm_id, BreakerState.OPEN)
            raise QBOUnavailable(
                run.call.realm_id,
                retry_after_seconds=self._circuit_cooldown_seconds,
                may_have_reached_qbo=run.may_have_reached_qbo,
            )
        if admission is Admission.PROBE:
            self.metrics.set_circuit_state(run.call.realm_id, BreakerState.HALF_OPEN)
            logger.info("qbo.circuit_probe", realm_id=run.call.realm_id, label=run.call.label)
            return True
        return False

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
            self.metrics.set_circuit_state(realm_id, BreakerState.CLOSED)  # a success always leaves it closed
        if transition in (Transition.OPENED, Transition.REOPENED):
            self.metrics.set_circuit_state(realm_id, BreakerState.OPEN)
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
        self.metrics.requests.labels(realm_id=run.call.realm_id, label=run.call.label, outcome=outcome.reason).inc()
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


def _may_have_been_processed(outcome: _Outcome) -> bool:
    """Whether QBO may have acted on the request: anything but a refused connection or a gateway refusal."""
    if outcome.response is not None:
        return outcome.response.status not in _GATEWAY_REFUSALS
    return outcome.error is not None and outcome.error.kind != "connect"
