"""Attempt throttles: a moving window per key, refusals that say when room frees, forgiven attempts, the same
behaviour in memory and in Redis (where two clients, as two processes, share one count)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from oodaloo.infra.throttle import AttemptLimit, AttemptThrottle, LocalThrottle, RedisThrottle, make_throttle

REDIS_URL = os.environ.get("OODALOO_TEST_REDIS_URL")
BACKENDS = ["local", pytest.param("redis", marks=pytest.mark.skipif(not REDIS_URL, reason="needs a Redis"))]
THREE_PER_MINUTE = AttemptLimit(attempts=3, window_seconds=60)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def new_throttle(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Clock, Callable[[], AttemptThrottle]]]:
    """Throttles sharing one backend and one clock: for Redis each has its own client, as processes would."""
    clock = Clock()
    prefix = f"oodaloo-test:{uuid.uuid4().hex}:"
    shared_local = LocalThrottle(clock=clock)
    made: list[AttemptThrottle] = []

    def make() -> AttemptThrottle:
        if request.param == "local":
            return shared_local
        assert REDIS_URL is not None
        throttle = RedisThrottle(Redis.from_url(REDIS_URL), key_prefix=prefix, clock=clock, owns_client=True)
        made.append(throttle)
        return throttle

    yield clock, make
    for throttle in made:
        await throttle.aclose()


@pytest.mark.parametrize("new_throttle", BACKENDS, indirect=True)
async def test_a_key_admits_its_limit_per_window_then_says_when_room_frees(
    new_throttle: tuple[Clock, Callable[[], AttemptThrottle]],
) -> None:
    clock, make = new_throttle
    first, second = make(), make()
    admitted = []
    for throttle, advance in ((first, 0), (second, 10), (first, 10)):
        clock.now += advance
        admitted.append(await throttle.admit("alice", THREE_PER_MINUTE))
    assert all(admission.granted and admission.ticket for admission in admitted)

    clock.now += 5
    refused = await second.admit("alice", THREE_PER_MINUTE)
    assert not refused.granted
    assert refused.retry_after_seconds == pytest.approx(60 - 25)
    assert (await first.admit("bob", THREE_PER_MINUTE)).granted  # keys are counted apart

    clock.now += 35  # the first attempt ages out of the window: room for exactly one
    assert (await first.admit("alice", THREE_PER_MINUTE)).granted
    again = await second.admit("alice", THREE_PER_MINUTE)
    assert not again.granted
    assert again.retry_after_seconds == pytest.approx(10)


@pytest.mark.parametrize("new_throttle", BACKENDS, indirect=True)
async def test_a_forgiven_attempt_no_longer_counts(new_throttle: tuple[Clock, Callable[[], AttemptThrottle]]) -> None:
    _clock, make = new_throttle
    first, second = make(), make()
    tickets = [(await first.admit("alice", THREE_PER_MINUTE)).ticket for _ in range(3)]
    assert not (await second.admit("alice", THREE_PER_MINUTE)).granted

    await second.forgive("alice", tickets[1])
    await second.forgive("alice", tickets[1])  # idempotent

    assert (await first.admit("alice", THREE_PER_MINUTE)).granted
    assert not (await first.admit("alice", THREE_PER_MINUTE)).granted


@pytest.mark.parametrize("new_throttle", BACKENDS, indirect=True)
async def test_concurrent_attempts_never_exceed_the_limit(
    new_throttle: tuple[Clock, Callable[[], AttemptThrottle]],
) -> None:
    _clock, make = new_throttle
    throttles = [make() for _ in range(4)]
    outcomes = await asyncio.gather(*(throttles[i % 4].admit("alice", THREE_PER_MINUTE) for i in range(20)))
    assert sum(outcome.granted for outcome in outcomes) == 3


async def test_idle_keys_do_not_accumulate_in_memory() -> None:
    clock = Clock()
    throttle = LocalThrottle(clock=clock)
    for index in range(100):
        await throttle.admit(f"sprayed-{index}", THREE_PER_MINUTE)
    clock.now += 61
    await throttle.admit("latest", THREE_PER_MINUTE)
    assert len(throttle._windows) == 1


def test_make_throttle_picks_redis_only_when_the_app_has_it() -> None:
    assert isinstance(make_throttle(None), LocalThrottle)
    assert isinstance(make_throttle(Redis.from_url("redis://127.0.0.1:1/0")), RedisThrottle)
