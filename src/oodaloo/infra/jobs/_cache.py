"""SmartSync's small key/value cache with expiry: JSON values in Redis under a key prefix, or an in-process map.

Values are stored as JSON in both, so a value reads back the same whichever store is configured: Decimal, UUID and
datetime values come back as strings (callers convert), and non-integral numbers come back as Decimal.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

import redis.asyncio as redis

DEFAULT_KEY_PREFIX = "oodaloo:cache:"
# The in-process map drops expired entries when it grows past this, so abandoned keys do not accumulate.
MEMORY_PURGE_THRESHOLD = 10_000


class Cache(Protocol):
    async def get(self, key: str) -> Any | None: ...

    async def set(self, key: str, value: Any, ttl_seconds: float) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def aclose(self) -> None: ...


def encode(value: Any) -> str:
    return json.dumps(value, default=_to_json, separators=(",", ":"))


def decode(raw: str | bytes) -> Any:
    return json.loads(raw, parse_float=Decimal)


def _to_json(value: Any) -> Any:
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _check_ttl(ttl_seconds: float) -> None:
    if ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be positive")


class MemoryCache:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[str, tuple[float, str]] = {}

    async def get(self, key: str) -> Any | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, raw = entry
        if self._clock() >= expires_at:
            del self._entries[key]
            return None
        return decode(raw)

    async def set(self, key: str, value: Any, ttl_seconds: float) -> None:
        _check_ttl(ttl_seconds)
        raw = encode(value)  # encode first: an unserialisable value must fail here, as it would with Redis
        if len(self._entries) >= MEMORY_PURGE_THRESHOLD:
            self._purge_expired()
        self._entries[key] = (self._clock() + ttl_seconds, raw)

    async def delete(self, key: str) -> None:
        self._entries.pop(key, None)

    async def aclose(self) -> None:
        self._entries.clear()

    def _purge_expired(self) -> None:
        now = self._clock()
        for key in [key for key, (expires_at, _) in self._entries.items() if expires_at <= now]:
            del self._entries[key]


class RedisCache:
    def __init__(self, client: redis.Redis, *, key_prefix: str = DEFAULT_KEY_PREFIX) -> None:
        self._client = client
        self._key_prefix = key_prefix

    async def get(self, key: str) -> Any | None:
        raw = await self._client.get(self._key_prefix + key)
        return None if raw is None else decode(raw)

    async def set(self, key: str, value: Any, ttl_seconds: float) -> None:
        _check_ttl(ttl_seconds)
        await self._client.set(self._key_prefix + key, encode(value), px=max(1, round(ttl_seconds * 1000)))

    async def delete(self, key: str) -> None:
        await self._client.delete(self._key_prefix + key)

    async def aclose(self) -> None:
        """The Redis client is the service's; it closes it."""
