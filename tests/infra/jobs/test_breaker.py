"""The per-realm circuit breaker, in-process and on Redis: opening, fail-fast, the single half-open probe, closing."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
import redis.asyncio as redis

from oodaloo.infra.jobs._breaker import (
    Admission,
    BreakerSettings,
    BreakerState,
    CircuitBreaker,
    MemoryCircuitBreaker,
    RedisCircuitBreaker,
    Transition,
)

pytestmark = pytest.mark.timeout(30)

REDIS_URL = os.environ.get("OODALOO_TEST_REDIS_URL")
REALM = "9130357000001"
# The in-memory breaker runs on a fake clock, so its timings cost nothing. The Redis one is timed by Redis's own clock,
# so the test waits them out: long enough that a busy machine (-n 8 on 2 cores) cannot stall past one between two
# steps that must fall inside it, short enough to keep the tests to seconds.
SETTINGS = BreakerSettings(
    failure_threshold=3, failure_window_seconds=5.0, cooldown_seconds=1.5, probe_lease_seconds=3.0
)
MARGIN = 0.1


@dataclass
class Subject:
    breaker: CircuitBreaker
    advance: Callable[[float], Awaitable[None]]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def advance(self, seconds: float) -> None:
        self.now += seconds


async def _sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


@pytest.fixture(
    params=["memory", pytest.param("redis", marks=pytest.mark.skipif(REDIS_URL is None, reason="no Redis"))]
)
async def subject(request: pytest.FixtureRequest) -> AsyncIterator[Subject]:
    if request.param == "memory":
        clock = FakeClock()
        yield Subject(MemoryCircuitBreaker(SETTINGS, clock=clock), clock.advance)
        return
    assert REDIS_URL is not None
    client = redis.Redis.from_url(REDIS_URL)
    try:
        yield Subject(RedisCircuitBreaker(client, SETTINGS, key_prefix=f"oodaloo-test:{uuid.uuid4().hex}:cb:"), _sleep)
    finally:
        await client.aclose()


async def fail(breaker: CircuitBreaker, times: int) -> list[Transition]:
    return [await breaker.record_failure(REALM) for _ in range(times)]


async def test_a_closed_circuit_lets_calls_through(subject: Subject) -> None:
    assert await subject.breaker.admit(REALM) is Admission.ALLOWED
    assert await subject.breaker.state(REALM) is BreakerState.CLOSED


async def test_it_opens_after_the_threshold_of_consecutive_failures(subject: Subject) -> None:
    transitions = await fail(subject.breaker, SETTINGS.failure_threshold)
    assert transitions == [Transition.NONE] * (SETTINGS.failure_threshold - 1) + [Transition.OPENED]
    assert await subject.breaker.state(REALM) is BreakerState.OPEN
    assert await subject.breaker.admit(REALM) is Admission.REFUSED
    assert await subject.breaker.admit("another-realm") is Admission.ALLOWED


async def test_a_success_resets_the_count_of_consecutive_failures(subject: Subject) -> None:
    await fail(subject.breaker, SETTINGS.failure_threshold - 1)
    assert await subject.breaker.record_success(REALM) is Transition.NONE
    await fail(subject.breaker, SETTINGS.failure_threshold - 1)
    assert await subject.breaker.state(REALM) is BreakerState.CLOSED


async def test_failures_spread_beyond_the_window_do_not_open_it(subject: Subject) -> None:
    await fail(subject.breaker, SETTINGS.failure_threshold - 1)
    await subject.advance(SETTINGS.failure_window_seconds + MARGIN)
    await fail(subject.breaker, SETTINGS.failure_threshold - 1)
    assert await subject.breaker.state(REALM) is BreakerState.CLOSED


async def test_after_the_cooldown_one_probe_is_let_through_and_its_success_closes(subject: Subject) -> None:
    await fail(subject.breaker, SETTINGS.failure_threshold)
    await subject.advance(SETTINGS.cooldown_seconds + MARGIN)
    assert await subject.breaker.state(REALM) is BreakerState.HALF_OPEN
    assert await subject.breaker.admit(REALM) is Admission.PROBE
    assert await subject.breaker.admit(REALM) is Admission.REFUSED  # only one probe at a time
    assert await subject.breaker.record_success(REALM) is Transition.CLOSED
    assert await subject.breaker.admit(REALM) is Admission.ALLOWED


async def test_a_failed_probe_reopens_for_another_cooldown(subject: Subject) -> None:
    await fail(subject.breaker, SETTINGS.failure_threshold)
    await subject.advance(SETTINGS.cooldown_seconds + MARGIN)
    assert await subject.breaker.admit(REALM) is Admission.PROBE
    assert await subject.breaker.record_failure(REALM) is Transition.REOPENED
    assert await subject.breaker.state(REALM) is BreakerState.OPEN
    assert await subject.breaker.admit(REALM) is Admission.REFUSED


async def test_an_abandoned_probe_is_handed_to_another_caller_after_its_lease(subject: Subject) -> None:
    await fail(subject.breaker, SETTINGS.failure_threshold)
    await subject.advance(SETTINGS.cooldown_seconds + MARGIN)
    assert await subject.breaker.admit(REALM) is Admission.PROBE
    await subject.advance(SETTINGS.probe_lease_seconds + MARGIN)
    assert await subject.breaker.admit(REALM) is Admission.PROBE


async def test_a_released_probe_is_handed_to_the_next_caller_at_once(subject: Subject) -> None:
    await fail(subject.breaker, SETTINGS.failure_threshold)
    await subject.advance(SETTINGS.cooldown_seconds + MARGIN)
    assert await subject.breaker.admit(REALM) is Admission.PROBE
    await subject.breaker.release_probe(REALM)  # its call was cancelled before QBO answered
    assert await subject.breaker.admit(REALM) is Admission.PROBE
    assert await subject.breaker.admit(REALM) is Admission.REFUSED  # still one probe at a time


async def test_releasing_a_probe_of_a_closed_circuit_changes_nothing(subject: Subject) -> None:
    await subject.breaker.release_probe(REALM)
    assert await subject.breaker.state(REALM) is BreakerState.CLOSED
    assert await subject.breaker.admit(REALM) is Admission.ALLOWED


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="failure_threshold"):
        BreakerSettings(failure_threshold=0)
    with pytest.raises(ValueError, match="positive"):
        BreakerSettings(cooldown_seconds=0)
