"""Named mutual-exclusion locks for single-flight work: Redis-backed across processes, or in-process (embedded)."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, LockNotOwnedError

from oodaloo.infra.logging import get_logger
from oodaloo.infra.redis_client import REDIS_UNAVAILABLE
from oodaloo.infra.redis_client import connect as redis_connect

logger = get_logger("oodaloo.locks")

DEFAULT_KEY_PREFIX = "oodaloo:lock:"
LEASE_RENEWALS_PER_LEASE = 3


class LockUnavailable(Exception):
    """The lock stayed held by someone else for longer than the caller was willing to wait."""


class LockFactory(Protocol):
    def hold(
        self, name: str, *, lease_seconds: float, wait_seconds: float, keep_alive: bool = False
    ) -> AbstractAsyncContextManager[None]:
        """Hold ``name`` for the block. ``lease_seconds``: how long the lock outlives a crashed holder (Redis);
        ``wait_seconds``: how long to wait for it before ``LockUnavailable``; ``keep_alive``: renew the lease while
        the block runs (for work that may outlast any fixed lease, e.g. a long sync)."""
        ...

    async def aclose(self) -> None: ...


class RedisLocks:
    """redis-py's ``Lock`` (a token under SET NX PX, released by a Lua compare-and-delete) shared by all processes."""

    def __init__(self, redis: Redis, *, key_prefix: str = DEFAULT_KEY_PREFIX, owns_client: bool = False) -> None:
        self._redis = redis
        self._key_prefix = key_prefix
        self._owns_client = owns_client

    @asynccontextmanager
    async def hold(
        self, name: str, *, lease_seconds: float, wait_seconds: float, keep_alive: bool = False
    ) -> AsyncIterator[None]:
        lock = self._redis.lock(self._key_prefix + name, timeout=lease_seconds, blocking_timeout=wait_seconds)
        if not await lock.acquire():
            raise LockUnavailable(f"lock {name!r} is busy; gave up after {wait_seconds:g}s")
        renewing = asyncio.create_task(self._renew(lock, name, lease_seconds)) if keep_alive else None
        try:
            yield
        finally:
            if renewing is not None:
                renewing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renewing
            await self._release(lock, name)

    @staticmethod
    async def _renew(lock: Lock, name: str, lease_seconds: float) -> None:
        """Reset the lease every third of it, so that two renewals may fail before the lock lapses."""
        while True:
            await asyncio.sleep(lease_seconds / LEASE_RENEWALS_PER_LEASE)
            try:
                await lock.reacquire()
            except (LockError, *REDIS_UNAVAILABLE) as error:
                logger.warning("lock_renewal_failed", lock=name, error=repr(error))

    @staticmethod
    async def _release(lock: Lock, name: str) -> None:
        try:
            await lock.release()
        except LockNotOwnedError:
            # Held past its timeout: another process may have taken it meanwhile. Worth knowing, not fatal here.
            logger.warning("lock_expired_while_held", lock=name)
        except LockError:
            logger.warning("lock_release_failed", lock=name)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._redis.aclose()


class LocalLocks:
    """One ``asyncio.Lock`` per name, for a single process. A lock disappears once nobody holds or awaits it."""

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    @asynccontextmanager
    async def hold(
        self, name: str, *, lease_seconds: float, wait_seconds: float, keep_alive: bool = False
    ) -> AsyncIterator[None]:
        # ``lease_seconds`` and ``keep_alive`` guard against crashed holders in other processes; in one process the
        # holder cannot vanish.
        lock = self._locks.get(name)
        if lock is None:
            lock = self._locks[name] = asyncio.Lock()
        try:
            async with asyncio.timeout(wait_seconds):
                await lock.acquire()
        except TimeoutError:
            raise LockUnavailable(f"lock {name!r} is busy; gave up after {wait_seconds:g}s") from None
        try:
            yield
        finally:
            lock.release()

    async def aclose(self) -> None:
        return None


def make_locks(redis_url: str | None, *, key_prefix: str = DEFAULT_KEY_PREFIX) -> LockFactory:
    """Redis locks when ``redis_url`` is set (every process shares them), in-process ones otherwise."""
    if redis_url:
        return RedisLocks(redis_connect(redis_url), key_prefix=key_prefix, owns_client=True)
    return LocalLocks()
