"""The realm limiter, in-process and on Redis: in-flight cap, moving windows, priorities, timeouts, batch cost, and
slots coming back from holders that never release them."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as redis

from oodaloo.infra.jobs.rate_limit import (
    Budget,
    Priority,
    RateLimits,
    RealmLimiter,
    SlotTimeout,
    make_limiter,
)

pytestmark = pytest.mark.timeout(60)

REDIS_URL = os.environ.get("OODALOO_TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(REDIS_URL is None, reason="OODALOO_TEST_REDIS_URL is not set")
REALM = "9130357992"
# Windows so long that nothing ages out during a test, for tests about counts rather than time.
NEVER_EXPIRES = 600.0
PLENTY = 100_000


def in_flight_limits(user: int, background: int) -> RateLimits:
    """Only the in-flight cap binds."""
    return RateLimits(user=Budget(PLENTY, PLENTY, user), background=Budget(PLENTY, PLENTY, background))


def window_limits(per_minute: int, per_second: int, **windows: float) -> RateLimits:
    """Only the windows bind, for users and background alike."""
    budget = Budget(per_minute, per_second, 10)
    return RateLimits(user=budget, background=budget, **windows)


@dataclasses.dataclass
class LimiterFactory:
    redis_url: str | None
    key_prefix: str
    made: list[RealmLimiter] = dataclasses.field(default_factory=list)

    def __call__(self, limits: RateLimits) -> RealmLimiter:
        limiter = make_limiter(self.redis_url, key_prefix=self.key_prefix, limits=limits)
        self.made.append(limiter)
        return limiter


async def _delete_keys(redis_url: str, key_prefix: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        async for key in client.scan_iter(match=f"{key_prefix}*"):
            await client.delete(key)
    finally:
        await client.aclose()


@pytest.fixture(params=["memory", pytest.param("redis", marks=needs_redis)])
async def make(request: pytest.FixtureRequest) -> AsyncIterator[LimiterFactory]:
    factory = LimiterFactory(
        redis_url=REDIS_URL if request.param == "redis" else None,
        key_prefix=f"oodaloo:rl:test:{uuid.uuid4().hex}:",
    )
    yield factory
    for limiter in factory.made:
        await limiter.aclose()
    if factory.redis_url is not None:
        await _delete_keys(factory.redis_url, factory.key_prefix)


@pytest.fixture
async def make_on_redis() -> AsyncIterator[LimiterFactory]:
    if REDIS_URL is None:
        pytest.skip("OODALOO_TEST_REDIS_URL is not set")
    factory = LimiterFactory(redis_url=REDIS_URL, key_prefix=f"oodaloo:rl:test:{uuid.uuid4().hex}:")
    yield factory
    for limiter in factory.made:
        await limiter.aclose()
    await _delete_keys(REDIS_URL, factory.key_prefix)


async def eventually(condition: Callable[[], bool], within: float = 10.0) -> None:
    # Polls state that the limiter changes in its own tasks, where there is no event to wait on.
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


@pytest.mark.parametrize(("priority", "cap"), [(Priority.USER, 10), (Priority.BACKGROUND, 7)])
async def test_50_concurrent_requests_never_hold_more_than_the_cap(
    make: LimiterFactory, priority: Priority, cap: int
) -> None:
    limiter = make(in_flight_limits(user=10, background=7))
    held = peak = done = 0
    cap_reached = asyncio.Event()

    async def request() -> None:
        nonlocal held, peak, done
        async with limiter.slot(REALM, priority=priority, timeout=30):
            held += 1
            peak = max(peak, held)
            if held == cap:
                cap_reached.set()
            # The first holders stay until the cap is reached, so an extra admission would show in the peak.
            await asyncio.wait_for(cap_reached.wait(), 10)
            await asyncio.sleep(0.002)
            held -= 1
        done += 1

    await asyncio.gather(*(request() for _ in range(50)))

    assert peak == cap
    assert done == 50
    assert await limiter.in_flight(REALM) == 0


@pytest.mark.parametrize(
    "limits",
    [
        pytest.param(window_limits(PLENTY, 5, second_seconds=1.0), id="per-second"),
        pytest.param(window_limits(5, PLENTY, minute_seconds=1.0), id="per-minute"),
    ],
)
async def test_a_window_admits_its_budget_then_waits_until_the_oldest_request_ages_out(
    make: LimiterFactory, limits: RateLimits
) -> None:
    limiter = make(limits)
    window = min(limits.second_seconds, limits.minute_seconds)
    loop = asyncio.get_running_loop()
    first_requested_at = loop.time()
    for _ in range(5):
        async with limiter.slot(REALM, timeout=0.5) as lease:
            assert lease.attempts == 1

    with pytest.raises(SlotTimeout):
        async with limiter.slot(REALM, timeout=0.05):
            pytest.fail("a sixth request was admitted inside the window")

    sixth_requested_at = loop.time()
    async with limiter.slot(REALM, timeout=5) as lease:
        # It cannot be admitted before the first request is a full window old.
        assert lease.waited_seconds >= window - (sixth_requested_at - first_requested_at) - 0.05
        assert lease.attempts >= 2


async def test_a_refusal_by_one_window_spends_nothing_from_the_other(make: LimiterFactory) -> None:
    # 6 per 3 s overall but 2 per 0.5 s: the six requests need three short windows. Had the waiting requests' refused
    # attempts been charged to the long window, it would be exhausted and they would time out.
    limiter = make(window_limits(6, 2, minute_seconds=3.0, second_seconds=0.5))

    async def request() -> float:
        async with limiter.slot(REALM, timeout=2.5) as lease:
            return lease.waited_seconds

    waits = await asyncio.gather(*(request() for _ in range(6)))

    assert len(waits) == 6
    assert sorted(waits)[-1] > 0
    with pytest.raises(SlotTimeout):
        async with limiter.slot(REALM, timeout=0.1):
            pytest.fail("a seventh request was admitted inside the long window")


async def test_background_at_its_in_flight_share_leaves_slots_for_user_actions(make: LimiterFactory) -> None:
    limiter = make(in_flight_limits(user=10, background=7))
    async with contextlib.AsyncExitStack() as held:
        for _ in range(7):
            await held.enter_async_context(limiter.slot(REALM, priority=Priority.BACKGROUND, timeout=1))
        with pytest.raises(SlotTimeout):
            async with limiter.slot(REALM, priority=Priority.BACKGROUND, timeout=0.1):
                pytest.fail("background work went past its share")

        for _ in range(3):
            await held.enter_async_context(limiter.slot(REALM, priority=Priority.USER, timeout=2))
        assert await limiter.in_flight(REALM) == 10
        with pytest.raises(SlotTimeout):
            async with limiter.slot(REALM, priority=Priority.USER, timeout=0.1):
                pytest.fail("an eleventh slot was handed out")


@pytest.mark.parametrize(
    "limits",
    [
        pytest.param(
            RateLimits(user=Budget(PLENTY, 10, 10), background=Budget(PLENTY, 7, 7), second_seconds=NEVER_EXPIRES),
            id="per-second",
        ),
        pytest.param(
            RateLimits(user=Budget(10, PLENTY, 10), background=Budget(7, PLENTY, 7), minute_seconds=NEVER_EXPIRES),
            id="per-minute",
        ),
    ],
)
async def test_background_at_its_window_share_leaves_requests_for_user_actions(
    make: LimiterFactory, limits: RateLimits
) -> None:
    limiter = make(limits)
    for _ in range(7):
        async with limiter.slot(REALM, priority=Priority.BACKGROUND, timeout=1):
            pass
    with pytest.raises(SlotTimeout):
        async with limiter.slot(REALM, priority=Priority.BACKGROUND, timeout=1):
            pytest.fail("background work went past its share of the window")

    for _ in range(3):
        async with limiter.slot(REALM, priority=Priority.USER, timeout=1):
            pass
    with pytest.raises(SlotTimeout):
        async with limiter.slot(REALM, priority=Priority.USER, timeout=0.1):
            pytest.fail("the window admitted more than the realm's budget")


async def test_user_actions_get_a_slot_promptly_while_background_work_saturates_its_share(
    make: LimiterFactory,
) -> None:
    limiter = make(in_flight_limits(user=10, background=7))
    held = {Priority.USER: 0, Priority.BACKGROUND: 0}
    peaks = {"total": 0, Priority.BACKGROUND: 0}
    stop = asyncio.Event()

    async def hold(priority: Priority, seconds: float) -> float:
        async with limiter.slot(
            REALM, priority=priority, timeout=30 if priority is Priority.BACKGROUND else 2
        ) as lease:
            held[priority] += 1
            peaks["total"] = max(peaks["total"], sum(held.values()))
            peaks[Priority.BACKGROUND] = max(peaks[Priority.BACKGROUND], held[Priority.BACKGROUND])
            await asyncio.sleep(seconds)
            held[priority] -= 1
        return lease.waited_seconds

    async def background_loop() -> None:
        while not stop.is_set():
            await hold(Priority.BACKGROUND, 0.01)

    workers = [asyncio.create_task(background_loop()) for _ in range(20)]
    try:
        await eventually(lambda: held[Priority.BACKGROUND] == 7)
        user_waits = [await hold(Priority.USER, 0.005) for _ in range(20)]
    finally:
        stop.set()
        await asyncio.gather(*workers)

    assert len(user_waits) == 20  # every user action got its slot; none timed out
    assert peaks[Priority.BACKGROUND] == 7
    assert peaks["total"] <= 10


async def test_a_timeout_raises_slot_timeout_and_takes_nothing(make: LimiterFactory) -> None:
    limiter = make(in_flight_limits(user=2, background=1))
    async with limiter.slot(REALM), limiter.slot(REALM):
        with pytest.raises(SlotTimeout) as raised:
            async with limiter.slot(REALM, timeout=0.2):
                pytest.fail("a third slot was handed out")
        assert raised.value.realm_id == REALM
        assert raised.value.priority is Priority.USER
        assert raised.value.waited_seconds >= 0.2
        assert await limiter.in_flight(REALM) == 2
    assert await limiter.in_flight(REALM) == 0
    async with limiter.slot(REALM, timeout=0.5) as lease:
        assert lease.attempts == 1


# Background work at 7 of 10 per second, or 9 of 10 while no user request has been seen (windows that never age).
QUIET_BOOST = RateLimits(
    user=Budget(PLENTY, 10, 10),
    background=Budget(PLENTY, 7, 7),
    quiet_background=Budget(PLENTY, 9, 9),
    second_seconds=NEVER_EXPIRES,
)


async def test_background_uses_all_but_one_slot_while_no_user_is_there_and_a_user_still_gets_one_at_once(
    make: LimiterFactory,
) -> None:
    limiter = make(QUIET_BOOST)
    for _ in range(9):
        async with limiter.slot(REALM, priority=Priority.BACKGROUND, timeout=1):
            pass
    with pytest.raises(SlotTimeout):
        async with limiter.slot(REALM, priority=Priority.BACKGROUND, timeout=1):
            pytest.fail("background work took the slot kept for a user")
    async with limiter.slot(REALM, timeout=0.5) as lease:
        assert lease.attempts == 1


async def test_a_user_request_takes_the_quiet_share_back_from_background_work_at_once(make: LimiterFactory) -> None:
    limiter = make(QUIET_BOOST)
    for _ in range(7):
        async with limiter.slot(REALM, priority=Priority.BACKGROUND, timeout=1):
            pass
    async with limiter.slot(REALM, timeout=0.5):
        pass
    with pytest.raises(SlotTimeout):
        async with limiter.slot(REALM, priority=Priority.BACKGROUND, timeout=1):
            pytest.fail("background work went past its share with a user present")
    for _ in range(2):
        async with limiter.slot(REALM, timeout=0.5) as lease:
            assert lease.attempts == 1


async def test_background_keeps_its_share_of_slots_in_flight_while_a_user_is_present(make: LimiterFactory) -> None:
    limits = RateLimits(
        user=Budget(PLENTY, PLENTY, 10),
        background=Budget(PLENTY, PLENTY, 7),
        quiet_background=Budget(PLENTY, PLENTY, 9),
    )
    limiter = make(limits)
    async with contextlib.AsyncExitStack() as held:
        for _ in range(9):
            await held.enter_async_context(limiter.slot(REALM, priority=Priority.BACKGROUND, timeout=1))
        async with limiter.slot(REALM, timeout=0.5) as lease:
            assert lease.attempts == 1
            assert await limiter.in_flight(REALM) == 10
    async with contextlib.AsyncExitStack() as held:
        for _ in range(7):
            await held.enter_async_context(limiter.slot(REALM, priority=Priority.BACKGROUND, timeout=1))
        with pytest.raises(SlotTimeout):
            async with limiter.slot(REALM, priority=Priority.BACKGROUND, timeout=0.2):
                pytest.fail("an eighth background slot with a user present")


def test_a_quiet_share_outside_the_background_and_user_budgets_is_refused() -> None:
    with pytest.raises(ValueError, match="quiet background per_second"):
        RateLimits(user=Budget(500, 10, 10), background=Budget(300, 7, 7), quiet_background=Budget(300, 11, 9))


async def test_a_batch_counts_each_item_against_the_window_but_takes_one_slot(make: LimiterFactory) -> None:
    limiter = make(
        RateLimits(user=Budget(PLENTY, 10, 10), background=Budget(PLENTY, 7, 7), second_seconds=NEVER_EXPIRES)
    )
    async with limiter.slot(REALM, cost=6) as batch:
        assert batch.cost == 6
        assert await limiter.in_flight(REALM) == 1
        with pytest.raises(SlotTimeout):
            async with limiter.slot(REALM, cost=5, timeout=1):
                pytest.fail("11 requests admitted in a window of 10")
        async with limiter.slot(REALM, cost=4, timeout=1):
            assert await limiter.in_flight(REALM) == 2
    with pytest.raises(SlotTimeout):
        async with limiter.slot(REALM, timeout=0.1):
            pytest.fail("the window admitted more than 10")


async def test_batch_requests_have_their_own_minute_budget_with_a_background_share(make: LimiterFactory) -> None:
    limiter = make(
        RateLimits(
            user=Budget(PLENTY, PLENTY, 10, batches_per_minute=3),
            background=Budget(PLENTY, PLENTY, 10, batches_per_minute=2),
            minute_seconds=NEVER_EXPIRES,
        )
    )
    for _ in range(2):
        async with limiter.slot(REALM, priority=Priority.BACKGROUND, batch=True, timeout=1):
            pass
    with pytest.raises(SlotTimeout):
        async with limiter.slot(REALM, priority=Priority.BACKGROUND, batch=True, timeout=1):
            pytest.fail("background work went past its share of the batch budget")
    async with limiter.slot(REALM, batch=True, timeout=1):
        pass
    with pytest.raises(SlotTimeout):
        async with limiter.slot(REALM, batch=True, timeout=1):
            pytest.fail("a fourth batch request admitted in a minute of three")
    async with limiter.slot(REALM, timeout=1):  # plain requests are not batch requests
        pass


@pytest.mark.parametrize(("priority", "cost"), [(Priority.USER, 11), (Priority.BACKGROUND, 8), (Priority.USER, 0)])
async def test_a_cost_the_budget_can_never_admit_is_refused_at_once(
    make: LimiterFactory, priority: Priority, cost: int
) -> None:
    limiter = make(RateLimits())
    with pytest.raises(ValueError, match="cost"):
        async with limiter.slot(REALM, priority=priority, cost=cost):
            pytest.fail("an impossible batch was admitted")
    assert await limiter.in_flight(REALM) == 0


async def test_a_held_lease_is_renewed_past_its_ttl(make: LimiterFactory) -> None:
    limiter = make(dataclasses.replace(in_flight_limits(user=1, background=1), lease_ttl_seconds=1.0))
    async with limiter.slot(REALM) as lease:
        with pytest.raises(SlotTimeout):
            async with limiter.slot(REALM, timeout=2.0):
                pytest.fail("a held slot was handed out again")
        assert lease.lost is False


async def test_a_slot_never_released_comes_back_after_the_maximum_hold(make: LimiterFactory) -> None:
    # A holder stuck past QBO's request cutoff stops renewing; its lease expires as a crashed process's would.
    limits = dataclasses.replace(in_flight_limits(user=1, background=1), lease_ttl_seconds=0.3, max_hold_seconds=0.6)
    limiter = make(limits)
    never = asyncio.Event()
    stuck_lease: list[Any] = []

    async def stuck_holder() -> None:
        async with limiter.slot(REALM) as lease:
            stuck_lease.append(lease)
            await never.wait()

    stuck = asyncio.create_task(stuck_holder())
    try:
        await eventually(lambda: bool(stuck_lease))
        async with limiter.slot(REALM, timeout=10) as lease:
            assert lease.waited_seconds > 0
            assert await limiter.in_flight(REALM) == 1
            await eventually(lambda: stuck_lease[0].lost)
    finally:
        never.set()
        await stuck
    assert await limiter.in_flight(REALM) == 0


# Worker processes for the Redis tests: argv is the Redis URL, the key prefix, the realm and the limits as JSON.
_WORKER_PRELUDE = """
import asyncio, contextlib, json, sys
import redis.asyncio as redis
from oodaloo.infra.jobs.rate_limit import Budget, Priority, RateLimits, make_limiter

redis_url, prefix, realm, raw = sys.argv[1:5]
spec = json.loads(raw)
limits = RateLimits(user=Budget(**spec.pop("user")), background=Budget(**spec.pop("background")), **spec)
limiter = make_limiter(redis_url, key_prefix=prefix, limits=limits)
"""

_HOLD_THEN_HANG = (
    _WORKER_PRELUDE
    + """
async def main():
    async with contextlib.AsyncExitStack() as held:
        for _ in range(limits.user.in_flight):
            await held.enter_async_context(limiter.slot(realm, timeout=5))
        print("held", flush=True)
        await asyncio.sleep(60)

asyncio.run(main())
"""
)

# Both processes start together (a barrier in Redis), then run requests whose held section increments a shared
# counter: the counter never exceeds what is really held, so its peak shows a combined overshoot.
_HAMMER = (
    _WORKER_PRELUDE
    + """
async def main():
    client = redis.Redis.from_url(redis_url)
    await client.incr(prefix + "ready")
    async with asyncio.timeout(20):
        while int(await client.get(prefix + "ready")) < 2:
            await asyncio.sleep(0.01)
    peak = done = 0

    async def request(number):
        nonlocal peak, done
        priority = Priority.USER if number % 3 == 0 else Priority.BACKGROUND
        async with limiter.slot(realm, priority=priority, timeout=30):
            peak = max(peak, await client.incr(prefix + "holding"))
            await asyncio.sleep(0.01)
            await client.decr(prefix + "holding")
        done += 1

    await asyncio.gather(*(request(number) for number in range(60)))
    print(json.dumps({"peak": peak, "done": done}), flush=True)
    await limiter.aclose()
    await client.aclose()

asyncio.run(main())
"""
)


def _limits_json(limits: RateLimits) -> str:
    return json.dumps(dataclasses.asdict(limits))


@contextlib.asynccontextmanager
async def worker_process(script: str, factory: LimiterFactory, limits: RateLimits) -> AsyncIterator[Any]:
    assert factory.redis_url is not None
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        factory.redis_url,
        factory.key_prefix,
        REALM,
        _limits_json(limits),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def read_line(process: Any, within: float = 30.0) -> str:
    line: bytes = await asyncio.wait_for(process.stdout.readline(), within)
    return line.decode().strip()


async def test_a_crashed_process_slots_come_back_within_the_lease_ttl(make_on_redis: LimiterFactory) -> None:
    limits = dataclasses.replace(in_flight_limits(user=3, background=3), lease_ttl_seconds=3.0)
    limiter = make_on_redis(limits)
    async with worker_process(_HOLD_THEN_HANG, make_on_redis, limits) as worker:
        assert await read_line(worker) == "held"
        worker.kill()
        await worker.wait()

    assert await limiter.in_flight(REALM) == 3  # the killed process never released them
    async with limiter.slot(REALM, timeout=10) as lease:
        assert lease.waited_seconds > 0
    # The dead process took its slots a moment apart, so they lapse a moment apart: all within the lease ttl of the
    # first to go (a bounded poll, not a sleep: how far apart depends on the machine's load).
    deadline = asyncio.get_running_loop().time() + limits.lease_ttl_seconds
    while (still_held := await limiter.in_flight(REALM)) > 0:
        assert asyncio.get_running_loop().time() < deadline, f"{still_held} slots outlived their lease"
        await asyncio.sleep(0.05)


async def test_two_processes_sharing_redis_never_exceed_the_cap_together(make_on_redis: LimiterFactory) -> None:
    limits = in_flight_limits(user=10, background=7)
    async with (
        worker_process(_HAMMER, make_on_redis, limits) as first,
        worker_process(_HAMMER, make_on_redis, limits) as second,
    ):
        reports = [json.loads(await read_line(first)), json.loads(await read_line(second))]

    assert [report["done"] for report in reports] == [60, 60]
    assert max(report["peak"] for report in reports) <= 10
