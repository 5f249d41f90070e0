"""Redis clients that outlive a Redis restart or a dropped connection: every process's clients are built here."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# A command waits this long for its answer (a blocking pop asks Redis for less, see jobs/queue.py).
SOCKET_TIMEOUT_SECONDS = 15.0
SOCKET_CONNECT_TIMEOUT_SECONDS = 5.0
# A pooled connection idle this long is PINGed before use, so one Redis dropped (restart, failover) is replaced.
HEALTH_CHECK_INTERVAL_SECONDS = 30
# A command that meets a dead connection reconnects and is sent again, at most this often, after 0.1-1 s: a Redis
# restart between two commands costs a caller nothing. ``Redis.from_url`` alone would retry none (redis-py 8 applies
# its default retry only to clients it builds a pool for), so the first command after a restart would fail.
COMMAND_RETRIES = 3
COMMAND_RETRY_BASE_SECONDS = 0.1
COMMAND_RETRY_CAP_SECONDS = 1.0
# What a lost or refused Redis connection raises (redis-py wraps most; OSError covers what it lets through).
REDIS_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, OSError)


def connection_options() -> dict[str, Any]:
    """Keyword arguments for a redis-py connection pool (a fresh Retry each time: redis-py mutates it)."""
    return {
        "socket_timeout": SOCKET_TIMEOUT_SECONDS,
        "socket_connect_timeout": SOCKET_CONNECT_TIMEOUT_SECONDS,
        "socket_keepalive": True,
        "health_check_interval": HEALTH_CHECK_INTERVAL_SECONDS,
        "retry": Retry(
            ExponentialWithJitterBackoff(base=COMMAND_RETRY_BASE_SECONDS, cap=COMMAND_RETRY_CAP_SECONDS),
            COMMAND_RETRIES,
        ),
    }


def connect(url: str) -> Redis:
    """A client of the Redis at ``url`` (connections are opened on first use)."""
    return Redis.from_url(url, **connection_options())
