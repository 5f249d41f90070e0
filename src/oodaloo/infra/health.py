"""Readiness probes of the services the app depends on; each answers "ok" or why it is down."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from redis.asyncio import Redis

from oodaloo.infra.db.engine import Database
from oodaloo.infra.logging import get_logger

PROBE_TIMEOUT_SECONDS = 2.0

logger = get_logger("oodaloo.health")


async def _probe(name: str, check: Awaitable[Any]) -> str:
    try:
        await asyncio.wait_for(check, PROBE_TIMEOUT_SECONDS)
    except Exception as exc:
        logger.warning("readiness_probe_failed", dependency=name, error=type(exc).__name__)
        return "unavailable"
    return "ok"


async def _ping_redis(redis: Redis) -> None:
    await redis.ping()


async def readiness(database: Database, redis: Redis | None) -> dict[str, str]:
    """Status per dependency, e.g. ``{"database": "ok", "redis": "unavailable"}``."""
    checks = {"database": _probe("database", database.ping())}
    if redis is not None:
        checks["redis"] = _probe("redis", _ping_redis(redis))
    results = await asyncio.gather(*checks.values())
    return dict(zip(checks, results, strict=True))
