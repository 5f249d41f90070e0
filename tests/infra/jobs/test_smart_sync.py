"""SmartSyncService over real HTTP against the QBO sandbox: retries, idempotent re-sends, Retry-After, 401 refresh,
the circuit breaker, deadlines, user priority, and the cache / freshness / activity helpers — in-process and on Redis.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.routing import Mount

from oodaloo.domains.core.models import Business
from oodaloo.infra.db.engine import Database
from oodaloo.infra.db.session import unit_of_work
from oodaloo.infra.http import HttpRequest, HttpTransport
from oodaloo.infra.jobs.models import Activity
from oodaloo.infra.jobs.rate_limit import Budget
from oodaloo.infra.jobs.smart_sync import (
    BreakerSettings,
    BreakerState,
    DeadlineExceeded,
    Priority,
    QBOCall,
    QBOUnavailable,
    RateLimits,
    RetriesExhausted,
    RetryPolicy,
    SmartSyncService,
    SyncStrategy,
)
from oodaloo.sandbox.app import SandboxState, create_sandbox_app
from oodaloo.sandbox.config import LimitsConfig, SandboxConfig
from oodaloo.sandbox.gate import V3Gate
from tests.support.credentials import MintedCredentials
from tests.support.servers import serve

pytestmark = pytest.mark.timeout(60)

REDIS_URL = os.environ.get("OODALOO_TEST_REDIS_URL")
BACKENDS = ["memory", pytest.param("redis", marks=pytest.mark.skipif(REDIS_URL is None, reason="no Redis"))]
# Fast policies: the numbers under test are the behaviours (what is retried, how often), not production waits.
FAST_USER = RetryPolicy(max_attempts=3, base_delay_seconds=0.01, max_backoff_seconds=0.05, throttled_wait_seconds=0.05)
FAST_BACKGROUND = RetryPolicy(
    max_attempts=5, base_delay_seconds=0.01, max_backoff_seconds=0.05, throttled_wait_seconds=0.05
)
# The cooldown is long enough that a busy machine (-n 8 on 2 cores) cannot stall past it between opening the circuit
# and checking that it refuses; the tests that need it over wait for the half-open state (bounded).
BREAKER = BreakerSettings(failure_threshold=3, failure_window_seconds=30.0, cooldown_seconds=1.5)
# Services answer within this (no test depends on how fast the machine is)...
REQUEST_TIMEOUT_SECONDS = 30.0
# ...except where the sandbox's injected "timeout" is under test: it hangs SANDBOX_HANG_SECONDS before its 504, and the
# client gives up at CLIENT_TIMEOUT_SECONDS, still ample for the sandbox's ordinary answers.
SANDBOX_HANG_SECONDS = 5.0
CLIENT_TIMEOUT_SECONDS = 2.0


# ---------------------------------------------------------------------------------------------------------- sandbox
class Sandbox:
    def __init__(self, base_url: str, app: Starlette, gate: V3Gate) -> None:
        self.base_url = base_url
        self.state: SandboxState = app.state.sandbox
        self.gate = gate
        self.admin = httpx.Client(base_url=base_url, timeout=30)

    def fresh_realm(self) -> str:
        """The demo realm with its counters zeroed (creating a realm per test would cost a third of a second)."""
        response = self.admin.get("/_sandbox/realms")
        response.raise_for_status()
        realm_id: str = response.json()["default_realm_id"]
        self.state.chaos.clear_injections(realm_id)  # one a failed test left unconsumed
        # A request an earlier test timed out on is still hanging in the sandbox; it would be counted when it ends.
        limit = time.monotonic() + SANDBOX_HANG_SECONDS + 5
        while self.stats(realm_id).get("in_flight", 0) > 0:
            assert time.monotonic() < limit, "the sandbox never finished an earlier request"
            time.sleep(0.02)
        self.admin.post("/_sandbox/stats/reset", json={"realm_id": realm_id}).raise_for_status()
        return realm_id

    def inject(self, realm_id: str, kind: str, count: int = 1) -> None:
        self.admin.post(
            "/_sandbox/faults/inject", json={"realm_id": realm_id, "kind": kind, "count": count}
        ).raise_for_status()

    def stats(self, realm_id: str) -> dict[str, Any]:
        response = self.admin.get("/_sandbox/stats", params={"realm_id": realm_id})
        response.raise_for_status()
        stats: dict[str, Any] = response.json()
        return stats

    def requests_seen(self, realm_id: str) -> int:
        return int(self.stats(realm_id).get("requests_total", 0))

    def set_faults(self, **settings: Any) -> None:
        self.admin.post("/_sandbox/faults", json=settings).raise_for_status()

    def set_limits(self, **settings: Any) -> None:
        self.admin.post("/_sandbox/limits", json=settings).raise_for_status()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    app = create_sandbox_app(SandboxConfig(limits=LimitsConfig(enabled=False)))
    gate = next(route.app for route in app.routes if isinstance(route, Mount) and route.path == "/v3")
    assert isinstance(gate, V3Gate)
    with serve(app) as base_url:
        box = Sandbox(base_url, app, gate)
        box.set_faults(timeout_seconds=SANDBOX_HANG_SECONDS)
        try:
            yield box
        finally:
            box.admin.close()


@pytest.fixture
def realm(sandbox: Sandbox) -> str:
    """Each test's service has its own key prefix (circuits, limiter) and consumes every fault it injects."""
    return sandbox.fresh_realm()


class FixedCredentials:
    """Always the same (unusable) token, and a refresh that does not help."""

    def __init__(self) -> None:
        self.refreshes = 0

    async def access_token(self) -> str:
        return "not-a-valid-token-0123456789"

    async def refresh_after_unauthorized(self, rejected: str) -> str:
        self.refreshes += 1
        return rejected


ServiceFactory = Callable[..., SmartSyncService]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Where the limiter, breaker and cache keep their state; transport-only tests run on "memory" alone."""
    name: str = request.param
    return name


memory_only = pytest.mark.parametrize("backend", ["memory"])


@pytest.fixture
async def make_service(backend: str, sandbox: Sandbox, database_url: str) -> AsyncIterator[ServiceFactory]:
    database = Database(database_url)
    services: list[SmartSyncService] = []
    redis_url = REDIS_URL if backend == "redis" else None

    def make(**overrides: Any) -> SmartSyncService:
        options: dict[str, Any] = {
            "api_base_url": sandbox.base_url,
            "sessionmaker": database.sessionmaker,
            "redis_url": redis_url,
            "key_prefix": f"oodaloo-test:{uuid.uuid4().hex}:",
            "breaker_settings": BREAKER,
            "retry_policies": {Priority.USER: FAST_USER, Priority.BACKGROUND: FAST_BACKGROUND},
            "request_timeout": REQUEST_TIMEOUT_SECONDS,
            **overrides,
        }
        service = SmartSyncService.create(**options)
        services.append(service)
        return service

    yield make
    for service in services:
        await service.aclose()
    await database.dispose()


@pytest.fixture
def service(make_service: ServiceFactory) -> SmartSyncService:
    return make_service()


def company_info(realm_id: str) -> QBOCall:
    return QBOCall(realm_id, "GET", f"/v3/company/{realm_id}/companyinfo/{realm_id}", label="companyinfo")


def query(realm_id: str, sql: str) -> QBOCall:
    return QBOCall(realm_id, "GET", f"/v3/company/{realm_id}/query", params={"query": sql}, label="query")


def create_vendor(realm_id: str, name: str, requestid: str) -> QBOCall:
    return QBOCall(
        realm_id,
        "POST",
        f"/v3/company/{realm_id}/vendor",
        params={"requestid": requestid},
        body=json.dumps({"DisplayName": name}).encode(),
        content_type="application/json",
        is_write=True,
        label="vendor.create",
    )


def credentials_for(sandbox: Sandbox, realm_id: str) -> MintedCredentials:
    return MintedCredentials(sandbox.base_url, realm_id)


# ------------------------------------------------------------------------------------------------------ transport
async def test_a_plain_call_returns_qbo_json_with_decimal_amounts(
    service: SmartSyncService, sandbox: Sandbox, realm: str
) -> None:
    response = await service.execute_with_retry(
        query(realm, "SELECT * FROM Bill MAXRESULTS 3"), credentials=credentials_for(sandbox, realm)
    )
    assert response.status == 200
    bills = response.json()["QueryResponse"]["Bill"]
    assert bills
    assert all(isinstance(bill["TotalAmt"], Decimal | int) for bill in bills)
    assert sandbox.requests_seen(realm) == 1


@memory_only
@pytest.mark.parametrize("fault", ["500", "502", "503", "timeout"])
async def test_transient_faults_are_retried_until_success(
    make_service: ServiceFactory, sandbox: Sandbox, realm: str, fault: str
) -> None:
    service = make_service(request_timeout=CLIENT_TIMEOUT_SECONDS)
    sandbox.inject(realm, fault, count=2)
    response = await service.execute_with_retry(company_info(realm), credentials=credentials_for(sandbox, realm))
    assert response.status == 200
    assert response.json()["CompanyInfo"]["Id"]
    assert sandbox.requests_seen(realm) == 3 or fault == "timeout"  # a timed-out request is counted when it ends
    assert sandbox.stats(realm)["requests"]["companyinfo"]["200"] == 1
    reason = "timeout" if fault == "timeout" else fault
    assert service.metrics.registry.get_sample_value("oodaloo_qbo_retries_total", {"reason": reason}) == 2


@memory_only
async def test_a_write_retried_after_a_lost_response_is_made_exactly_once(
    service: SmartSyncService, sandbox: Sandbox, realm: str
) -> None:
    name = f"Vendor {uuid.uuid4().hex[:8]}"
    credentials = credentials_for(sandbox, realm)
    sandbox.inject(realm, "lost_response")
    response = await service.execute_with_retry(create_vendor(realm, name, uuid.uuid4().hex), credentials=credentials)
    assert response.status == 200
    assert response.json()["Vendor"]["DisplayName"] == name
    found = await service.execute_with_retry(
        query(realm, f"SELECT * FROM Vendor WHERE DisplayName = '{name}'"), credentials=credentials
    )
    assert len(found.json()["QueryResponse"]["Vendor"]) == 1
    stats = sandbox.stats(realm)
    assert (stats["writes"], stats["replayed_writes"]) == (1, 1)


@memory_only
async def test_validation_faults_are_returned_without_a_retry(
    service: SmartSyncService, sandbox: Sandbox, realm: str
) -> None:
    response = await service.execute_with_retry(
        query(realm, "SELECT * FROM NoSuchEntity"), credentials=credentials_for(sandbox, realm)
    )
    assert response.status == 400
    assert response.json()["Fault"]["type"] == "ValidationFault"
    assert sandbox.requests_seen(realm) == 1


@memory_only
async def test_retries_end_with_the_last_response(service: SmartSyncService, sandbox: Sandbox, realm: str) -> None:
    sandbox.inject(realm, "503", count=FAST_USER.max_attempts)
    with pytest.raises(RetriesExhausted) as raised:
        await service.execute_with_retry(company_info(realm), credentials=credentials_for(sandbox, realm))
    assert raised.value.last_response is not None
    assert raised.value.last_response.status == 503
    assert raised.value.may_have_reached_qbo is False  # a read
    assert sandbox.requests_seen(realm) == FAST_USER.max_attempts


async def test_retry_after_is_honoured(service: SmartSyncService, sandbox: Sandbox, realm: str) -> None:
    sandbox.gate.retry_after_seconds = 1
    sandbox.set_limits(enabled=True, per_second=1)
    try:
        credentials = credentials_for(sandbox, realm)
        first = await service.execute_with_retry(company_info(realm), credentials=credentials)
        second = await service.execute_with_retry(company_info(realm), credentials=credentials)
    finally:
        sandbox.set_limits(enabled=False, per_second=10, reset=True)
        sandbox.gate.retry_after_seconds = None
    assert (first.status, second.status) == (200, 200)
    # One 429 for the second call; a retry sooner than Retry-After would have met the same window and a second 429.
    assert sandbox.stats(realm)["throttled"] == 1
    assert service.metrics.registry.get_sample_value("oodaloo_qbo_throttled_total", {"priority": "user"}) == 1


@memory_only
async def test_an_expired_token_is_refreshed_once_and_the_call_succeeds(
    service: SmartSyncService, sandbox: Sandbox, realm: str
) -> None:
    credentials = credentials_for(sandbox, realm)
    await service.execute_with_retry(company_info(realm), credentials=credentials)
    sandbox.admin.post("/_sandbox/tokens/expire", json={"realm_id": realm}).raise_for_status()
    response = await service.execute_with_retry(company_info(realm), credentials=credentials)
    assert response.status == 200
    assert credentials.refreshes == 1


@memory_only
async def test_a_second_401_is_returned_to_the_caller(service: SmartSyncService, sandbox: Sandbox, realm: str) -> None:
    credentials = FixedCredentials()
    response = await service.execute_with_retry(company_info(realm), credentials=credentials)
    assert response.status == 401
    assert credentials.refreshes == 1
    assert sandbox.requests_seen(realm) == 2


# ------------------------------------------------------------------------------------------------ circuit breaker
async def test_the_circuit_opens_fails_fast_and_closes_after_a_good_probe(
    service: SmartSyncService, sandbox: Sandbox, realm: str
) -> None:
    credentials = credentials_for(sandbox, realm)
    sandbox.inject(realm, "503", count=BREAKER.failure_threshold)
    with pytest.raises(QBOUnavailable):
        await service.execute_with_retry(company_info(realm), credentials=credentials, priority=Priority.BACKGROUND)
    assert sandbox.requests_seen(realm) == BREAKER.failure_threshold
    assert await service.circuit_state(realm) is BreakerState.OPEN
    assert exported_circuit_state(service, realm) == 2

    with pytest.raises(QBOUnavailable, match="QBO is having trouble"):
        await service.execute_with_retry(company_info(realm), credentials=credentials)
    assert sandbox.requests_seen(realm) == BREAKER.failure_threshold  # refused without touching QBO

    await wait_for_state(service, realm, BreakerState.HALF_OPEN)
    response = await service.execute_with_retry(company_info(realm), credentials=credentials)
    assert response.status == 200
    assert await service.circuit_state(realm) is BreakerState.CLOSED
    assert exported_circuit_state(service, realm) == 0
    requests = service.metrics.registry.get_sample_value
    assert requests("oodaloo_qbo_requests_total", {"realm_id": realm, "label": "companyinfo", "outcome": "503"}) == (
        BREAKER.failure_threshold
    )
    assert requests("oodaloo_qbo_requests_total", {"realm_id": realm, "label": "companyinfo", "outcome": "200"}) == 1


async def test_a_failed_probe_reopens_the_circuit(service: SmartSyncService, sandbox: Sandbox, realm: str) -> None:
    credentials = credentials_for(sandbox, realm)
    sandbox.inject(realm, "500", count=BREAKER.failure_threshold + 1)
    with pytest.raises(QBOUnavailable):
        await service.execute_with_retry(company_info(realm), credentials=credentials, priority=Priority.BACKGROUND)
    await wait_for_state(service, realm, BreakerState.HALF_OPEN)
    with pytest.raises(QBOUnavailable):
        await service.execute_with_retry(company_info(realm), credentials=credentials, priority=Priority.BACKGROUND)
    assert sandbox.requests_seen(realm) == BREAKER.failure_threshold + 1  # exactly one probe went through
    assert await service.circuit_state(realm) is BreakerState.OPEN
    assert exported_circuit_state(service, realm) == 2  # re-opened by the failed probe


async def test_a_probe_cancelled_before_qbo_answered_lets_the_next_call_probe_at_once(
    service: SmartSyncService, sandbox: Sandbox, realm: str
) -> None:
    """A sync whose lanes are cancelled together (one refused by the half-open circuit cancels the one probing) must
    not leave the realm refused for the probe's whole lease: the next call probes and closes the circuit."""
    credentials = credentials_for(sandbox, realm)
    await credentials.access_token()
    sandbox.inject(realm, "503", count=BREAKER.failure_threshold)
    with pytest.raises(QBOUnavailable):
        await service.execute_with_retry(company_info(realm), credentials=credentials, priority=Priority.BACKGROUND)
    await wait_for_state(service, realm, BreakerState.HALF_OPEN)

    sandbox.set_faults(latency_ms=2000)
    try:
        probe = asyncio.create_task(service.execute_with_retry(company_info(realm), credentials=credentials))
        await _background_share_busy(sandbox, realm, 1)  # the probe is at QBO, no answer yet
        probe.cancel()
        with pytest.raises(asyncio.CancelledError):
            await probe
    finally:
        sandbox.set_faults(latency_ms=0)

    response = await service.execute_with_retry(company_info(realm), credentials=credentials)
    assert response.status == 200
    assert await service.circuit_state(realm) is BreakerState.CLOSED


@memory_only
async def test_client_errors_do_not_open_the_circuit(service: SmartSyncService, sandbox: Sandbox, realm: str) -> None:
    credentials = credentials_for(sandbox, realm)
    for _ in range(BREAKER.failure_threshold + 1):
        response = await service.execute_with_retry(query(realm, "SELECT * FROM Nope"), credentials=credentials)
        assert response.status == 400
    assert await service.circuit_state(realm) is BreakerState.CLOSED


@pytest.mark.skipif(REDIS_URL is None, reason="no Redis")
@memory_only  # both services are given the Redis URL explicitly
async def test_the_circuit_is_shared_by_services_on_the_same_redis(
    make_service: ServiceFactory, sandbox: Sandbox, realm: str
) -> None:
    prefix = f"oodaloo-test:{uuid.uuid4().hex}:"
    first, second = (
        make_service(redis_url=REDIS_URL, key_prefix=prefix),
        make_service(redis_url=REDIS_URL, key_prefix=prefix),
    )
    sandbox.inject(realm, "502", count=BREAKER.failure_threshold)
    with pytest.raises(QBOUnavailable):
        await first.execute_with_retry(
            company_info(realm), credentials=credentials_for(sandbox, realm), priority=Priority.BACKGROUND
        )
    with pytest.raises(QBOUnavailable):
        await second.execute_with_retry(company_info(realm), credentials=credentials_for(sandbox, realm))
    assert sandbox.requests_seen(realm) == BREAKER.failure_threshold
    assert exported_circuit_state(second, realm) == 2  # opened by the first; the second learned it when refused


def exported_circuit_state(service: SmartSyncService, realm: str) -> float | None:
    """The realm's circuit as ``/metrics`` shows it: 0 closed, 1 half-open, 2 open."""
    return service.metrics.registry.get_sample_value("oodaloo_qbo_circuit_state", {"realm_id": realm})


async def wait_for_state(service: SmartSyncService, realm: str, state: BreakerState) -> None:
    limit = time.monotonic() + 5 * BREAKER.cooldown_seconds + 1
    while await service.circuit_state(realm) is not state:
        assert time.monotonic() < limit, f"circuit never became {state}"
        await asyncio.sleep(0.02)


# ------------------------------------------------------------------------------------------------------- deadline
@memory_only
async def test_a_deadline_during_a_hanging_write_says_it_may_have_reached_qbo(
    service: SmartSyncService, sandbox: Sandbox, realm: str
) -> None:
    credentials = credentials_for(sandbox, realm)
    await service.execute_with_retry(company_info(realm), credentials=credentials)  # connected: the write is sent
    sandbox.inject(realm, "timeout")
    with pytest.raises(DeadlineExceeded) as raised:
        await service.execute_with_retry(
            create_vendor(realm, f"V {uuid.uuid4().hex[:8]}", uuid.uuid4().hex),
            credentials=credentials,
            deadline=time.monotonic() + CLIENT_TIMEOUT_SECONDS / 2,
        )
    assert raised.value.may_have_reached_qbo is True


@memory_only
async def test_a_deadline_on_a_read_or_an_unsent_write_says_it_did_not_reach_qbo(
    make_service: ServiceFactory, sandbox: Sandbox, realm: str
) -> None:
    service = make_service(
        retry_policies={Priority.USER: RetryPolicy(max_attempts=10, base_delay_seconds=0.05)},
        breaker_settings=BreakerSettings(failure_threshold=100),  # the deadline, not the circuit, ends this call
    )
    credentials = credentials_for(sandbox, realm)
    await credentials.access_token()  # minted before the clock starts: the deadline is the retries' alone
    sandbox.inject(realm, "503", count=10)
    with pytest.raises(DeadlineExceeded) as raised:
        await service.execute_with_retry(company_info(realm), credentials=credentials, deadline=time.monotonic() + 1.0)
    assert raised.value.may_have_reached_qbo is False
    assert 1 <= sandbox.requests_seen(realm) < 10

    nowhere = make_service(api_base_url="http://127.0.0.1:9", retry_policies={Priority.USER: FAST_USER})
    with pytest.raises((DeadlineExceeded, RetriesExhausted)) as unsent:
        await nowhere.execute_with_retry(
            create_vendor(realm, "Never", uuid.uuid4().hex),
            credentials=FixedCredentials(),
            deadline=time.monotonic() + 0.5,
        )
    error = unsent.value
    assert isinstance(error, DeadlineExceeded | RetriesExhausted)
    assert error.may_have_reached_qbo is False


# ------------------------------------------------------------------------------------------------------- priority
async def test_a_user_call_proceeds_while_background_calls_saturate_their_share(
    make_service: ServiceFactory, sandbox: Sandbox, realm: str
) -> None:
    limits = RateLimits(user=Budget(500, 100, 3), background=Budget(300, 100, 2))
    service = make_service(limits=limits)
    credentials = credentials_for(sandbox, realm)
    await credentials.access_token()
    # Six background calls, two at a time, keep the background share busy for ~1.5 s; the user's call takes ~0.5 s.
    sandbox.set_faults(latency_ms=500)
    background_done = 0

    async def background() -> None:
        nonlocal background_done
        await service.execute_with_retry(company_info(realm), credentials=credentials, priority=Priority.BACKGROUND)
        background_done += 1

    try:
        tasks = [asyncio.create_task(background()) for _ in range(6)]
        await _background_share_busy(sandbox, realm, limits.background.in_flight)
        user = await service.execute_with_retry(company_info(realm), credentials=credentials)
        done_when_user_finished = background_done
        await asyncio.gather(*tasks)
    finally:
        sandbox.set_faults(latency_ms=0)
    assert user.status == 200
    assert done_when_user_finished < 6
    assert background_done == 6
    assert sandbox.stats(realm)["max_in_flight"] <= limits.user.in_flight


async def _background_share_busy(sandbox: Sandbox, realm: str, in_flight: int) -> None:
    """Until the sandbox is serving ``in_flight`` calls of the realm at once (bounded)."""
    limit = time.monotonic() + 10
    while (await asyncio.to_thread(sandbox.stats, realm)).get("in_flight", 0) < in_flight:
        assert time.monotonic() < limit, "the background calls never took their slots"
        await asyncio.sleep(0.02)


# ------------------------------------------------------------------------------------------- cache and freshness
async def test_cache_values_round_trip_and_expire(service: SmartSyncService) -> None:
    await service.set_cache("balances", {"cash": Decimal("1234.56"), "rate": 0.5, "count": 3}, ttl_seconds=30)
    # Stored as JSON in both stores: Decimal comes back as its exact string, fractions as Decimal, never float.
    assert await service.get_cache("balances") == {"cash": "1234.56", "rate": Decimal("0.5"), "count": 3}
    assert await service.get_cache("missing") is None
    await service.set_cache("brief", [1, 2], ttl_seconds=0.05)
    limit = time.monotonic() + 2
    while await service.get_cache("brief") is not None:
        assert time.monotonic() < limit, "cache entry never expired"
        await asyncio.sleep(0.02)
    with pytest.raises(ValueError, match="ttl_seconds"):
        await service.set_cache("never", 1, ttl_seconds=0)


class FakeWallClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_should_sync_follows_the_freshness_policy(make_service: ServiceFactory) -> None:
    clock = FakeWallClock()
    service = make_service(wall_clock=clock)
    business_id = uuid.uuid4()
    for strategy in SyncStrategy:
        assert await service.should_sync(business_id, "bills", strategy) is True  # never synced
    await service.mark_synced(business_id, "bills")
    assert await service.should_sync(business_id, "bills", SyncStrategy.USER_ACTION) is True
    assert await service.should_sync(business_id, "bills", SyncStrategy.ON_DEMAND) is False
    assert await service.should_sync(business_id, "invoices", SyncStrategy.ON_DEMAND) is True  # scopes are separate
    clock.now += 5 * 60
    assert await service.should_sync(business_id, "bills", SyncStrategy.ON_DEMAND) is True
    assert await service.should_sync(business_id, "bills", SyncStrategy.SCHEDULED) is False
    clock.now += 4 * 3600
    assert await service.should_sync(business_id, "bills", SyncStrategy.SCHEDULED) is True


async def test_recorded_activity_is_stored_and_makes_scheduled_syncs_more_frequent(
    make_service: ServiceFactory, database_url: str
) -> None:
    clock = FakeWallClock()
    service = make_service(wall_clock=clock)
    async with unit_of_work(service.sessionmaker) as session:
        business = Business(name="Activity Co", timezone="UTC")
        session.add(business)
        await session.flush()
        business_id = business.id
    await service.mark_synced(business_id, "bills")
    clock.now += 31 * 60
    assert await service.should_sync(business_id, "bills", SyncStrategy.SCHEDULED) is False  # idle: 4 h

    async with unit_of_work(service.sessionmaker) as session:
        await service.record_user_activity(
            session, business_id=business_id, user_id=None, kind="bill.pay", subject="Bill 148", detail={"n": 1}
        )
    assert await service.should_sync(business_id, "bills", SyncStrategy.SCHEDULED) is True  # active: 30 min
    async with service.sessionmaker() as session:
        rows = (await session.execute(select(Activity).where(Activity.business_id == business_id))).scalars().all()
    assert [(row.kind, row.subject, row.detail) for row in rows] == [("bill.pay", "Bill 148", {"n": 1})]

    clock.now += 61 * 60  # the activity is over an hour old: back to the idle interval
    await service.mark_synced(business_id, "bills")
    clock.now += 31 * 60
    assert await service.should_sync(business_id, "bills", SyncStrategy.SCHEDULED) is False


@memory_only
async def test_activity_is_not_kept_when_the_caller_rolls_back(make_service: ServiceFactory) -> None:
    service = make_service()
    async with unit_of_work(service.sessionmaker) as session:
        business = Business(name="Rollback Co", timezone="UTC")
        session.add(business)
        await session.flush()
        business_id = business.id

    async def record_then_fail() -> None:
        async with unit_of_work(service.sessionmaker) as session:
            await service.record_user_activity(session, business_id=business_id, user_id=None, kind="bill.pay")
            raise RuntimeError("the request failed")

    with pytest.raises(RuntimeError):
        await record_then_fail()
    async with service.sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).select_from(Activity).where(Activity.business_id == business_id)
        )
    assert count == 0


async def test_an_injected_transport_is_left_open_for_its_owner(sandbox: Sandbox, database_url: str) -> None:
    database = Database(database_url)
    transport = HttpTransport()
    try:
        service = SmartSyncService.create(
            api_base_url=sandbox.base_url, sessionmaker=database.sessionmaker, transport=transport
        )
        await service.aclose()
        response = await transport.send(HttpRequest("GET", sandbox.base_url + "/_sandbox/stats"))
        assert response.status == 200
    finally:
        await transport.aclose()
        await database.dispose()
