"""Named locks: one holder at a time per name, bounded waits, and (Redis) a crashed holder's lock expires."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from oodaloo.infra.locks import LocalLocks, LockFactory, LockUnavailable, RedisLocks, make_locks

REDIS_URL = os.environ.get("OODALOO_TEST_REDIS_URL")
BACKENDS = ["local", pytest.param("redis", marks=pytest.mark.skipif(not REDIS_URL, reason="needs a Redis"))]


@pytest.fixture
async def new_locks(request: pytest.FixtureRequest) -> AsyncIterator[Callable[[], LockFactory]]:
    """Factories sharing one backend: for Redis each is a separate client, as separate processes would have."""
    backend = request.param
    prefix = f"oodaloo-test:{uuid.uuid4().hex}:"
    shared_local = LocalLocks()
    made: list[LockFactory] = []

    def make() -> LockFactory:
        locks = make_locks(REDIS_URL, key_prefix=prefix) if backend == "redis" else shared_local
        made.append(locks)
        return locks

    yield make
    for locks in made:
        await locks.aclose()


@pytest.mark.parametrize("new_locks", BACKENDS, indirect=True)
async def test_only_one_holder_at_a_time_per_name(new_locks: Callable[[], LockFactory]) -> None:
    holders: list[int] = []
    most_at_once = 0

    async def work(locks: LockFactory, worker: int) -> None:
        nonlocal most_at_once
        async with locks.hold("realm-1", lease_seconds=10, wait_seconds=10):
            holders.append(worker)
            most_at_once = max(most_at_once, len(holders))
            await asyncio.sleep(0.02)
            holders.remove(worker)

    await asyncio.gather(*(work(new_locks(), worker) for worker in range(5)))
    assert most_at_once == 1


@pytest.mark.parametrize("new_locks", BACKENDS, indirect=True)
async def test_a_busy_lock_gives_up_after_the_wait_but_other_names_are_free(
    new_locks: Callable[[], LockFactory],
) -> None:
    first, second = new_locks(), new_locks()
    async with first.hold("realm-1", lease_seconds=10, wait_seconds=1):
        with pytest.raises(LockUnavailable, match="realm-1"):
            async with second.hold("realm-1", lease_seconds=10, wait_seconds=0.2):
                pytest.fail("acquired a lock that is held")
        async with second.hold("realm-2", lease_seconds=10, wait_seconds=0.2):
            pass
    async with second.hold("realm-1", lease_seconds=10, wait_seconds=0.2):
        pass  # released on exit, so it is free again


@pytest.mark.skipif(not REDIS_URL, reason="needs a Redis")
async def test_a_redis_lock_left_by_a_crashed_holder_expires_after_its_lease() -> None:
    assert REDIS_URL is not None
    prefix = f"oodaloo-test:{uuid.uuid4().hex}:"
    crashed = Redis.from_url(REDIS_URL)
    # A holder that takes the lock and never releases it, as a killed process would.
    assert await crashed.lock(prefix + "realm-1", timeout=0.3).acquire(blocking=False)
    locks = RedisLocks(Redis.from_url(REDIS_URL), key_prefix=prefix, owns_client=True)
    try:
        with pytest.raises(LockUnavailable):
            async with locks.hold("realm-1", lease_seconds=5, wait_seconds=0.05):
                pass
        async with locks.hold("realm-1", lease_seconds=5, wait_seconds=3):
            assert await crashed.exists(prefix + "realm-1") == 1  # now ours
        assert await crashed.exists(prefix + "realm-1") == 0
    finally:
        await locks.aclose()
        await crashed.aclose()


def test_make_locks_picks_redis_only_when_a_url_is_given() -> None:
    assert isinstance(make_locks(None), LocalLocks)
    if REDIS_URL:
        assert isinstance(make_locks(REDIS_URL), RedisLocks)
