"""Coalescing marks: per coalescing key, whether a job is queued or running, and the one follow-up asked for while it
runs — in Redis (every process shares them) or in-process (the embedded default).

The states of a key: free → ``queued`` (a request sent a message) → ``running`` (a worker began it) → free, or back to
``queued`` when a request arrived during the run (its job is the follow-up, sent as the run ends). A request while
queued merges into the queued job; a request while running becomes (or replaces) the follow-up. Marks expire — a queued
mark after QUEUED_MARK_SECONDS (its message may be lost), a running mark after RUNNING_LEASE_SECONDS unless renewed
(its worker may have died) — so a lost message or a dead worker delays a key's next run; it never blocks it for good.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as redis

from oodaloo.infra.jobs._job_kinds import Job

# A queued job starts within seconds unless its message was lost (then the kind's sweep finds the work); a job may
# also wait this long for its serialization key (SERIALIZE_WAIT_SECONDS in queue.py is shorter).
QUEUED_MARK_SECONDS = 900.0
# A running job renews its mark every third of this; a worker that died stops renewing and the key frees up.
RUNNING_LEASE_SECONDS = 60.0

_QUEUED = "queued"
_RUNNING = "running"


class CoalescingMarks(Protocol):
    async def request(self, key: str, job: Job) -> bool:
        """Record a request for ``key``: True when the caller must send ``job`` (nothing was queued or running)."""
        ...

    async def start(self, key: str) -> None:
        """The queued job of ``key`` begins: later requests become its follow-up."""
        ...

    async def renew(self, key: str) -> None: ...

    async def finish(self, key: str) -> Job | None:
        """The run of ``key`` ended: the follow-up to send now (the key is queued again), or None (the key is free)."""
        ...

    async def abandon(self, key: str) -> None:
        """The job of ``key`` will not run (dropped at shutdown, or its send failed): free the key."""
        ...

    async def aclose(self) -> None: ...


@dataclass
class _Mark:
    state: str
    expires_at: float
    follow_up: Job | None = None


class MemoryMarks:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._marks: dict[str, _Mark] = {}
        self._clock = clock

    def _live(self, key: str) -> _Mark | None:
        mark = self._marks.get(key)
        if mark is not None and mark.expires_at <= self._clock():
            del self._marks[key]
            return None
        return mark

    async def request(self, key: str, job: Job) -> bool:
        mark = self._live(key)
        if mark is None:
            self._marks[key] = _Mark(_QUEUED, self._clock() + QUEUED_MARK_SECONDS)
            return True
        if mark.state == _RUNNING:
            mark.follow_up = job
        return False

    async def start(self, key: str) -> None:
        mark = self._live(key)
        follow_up = mark.follow_up if mark is not None else None
        self._marks[key] = _Mark(_RUNNING, self._clock() + RUNNING_LEASE_SECONDS, follow_up)

    async def renew(self, key: str) -> None:
        mark = self._live(key)
        if mark is not None and mark.state == _RUNNING:
            mark.expires_at = self._clock() + RUNNING_LEASE_SECONDS

    async def finish(self, key: str) -> Job | None:
        mark = self._marks.pop(key, None)
        if mark is None or mark.follow_up is None:
            return None
        self._marks[key] = _Mark(_QUEUED, self._clock() + QUEUED_MARK_SECONDS)
        return mark.follow_up

    async def abandon(self, key: str) -> None:
        self._marks.pop(key, None)

    async def aclose(self) -> None:
        return None


# Each script reads and writes one hash atomically: two processes never both decide to send, or both miss a request.
_REQUEST = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  redis.call('HSET', KEYS[1], 'state', 'queued')
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if state == 'running' then
  redis.call('HSET', KEYS[1], 'follow_up', ARGV[1])
end
return 0
"""
_START = """
redis.call('HSET', KEYS[1], 'state', 'running')
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
"""
_RENEW = """
if redis.call('HGET', KEYS[1], 'state') == 'running' then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return 1
"""
_FINISH = """
local follow_up = redis.call('HGET', KEYS[1], 'follow_up')
if follow_up then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'state', 'queued')
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  return follow_up
end
redis.call('DEL', KEYS[1])
return false
"""


class RedisMarks:
    def __init__(self, client: redis.Redis, *, key_prefix: str) -> None:
        self._redis = client
        self._key_prefix = key_prefix
        self._request = client.register_script(_REQUEST)
        self._start = client.register_script(_START)
        self._renew = client.register_script(_RENEW)
        self._finish = client.register_script(_FINISH)

    def _key(self, key: str) -> str:
        return self._key_prefix + key

    async def request(self, key: str, job: Job) -> bool:
        sent = await self._request(
            keys=[self._key(key)], args=[json.dumps(job.to_message()), _millis(QUEUED_MARK_SECONDS)]
        )
        return bool(sent)

    async def start(self, key: str) -> None:
        await self._start(keys=[self._key(key)], args=[_millis(RUNNING_LEASE_SECONDS)])

    async def renew(self, key: str) -> None:
        await self._renew(keys=[self._key(key)], args=[_millis(RUNNING_LEASE_SECONDS)])

    async def finish(self, key: str) -> Job | None:
        follow_up = await self._finish(keys=[self._key(key)], args=[_millis(QUEUED_MARK_SECONDS)])
        if not follow_up:
            return None
        return Job.from_message(json.loads(follow_up))

    async def abandon(self, key: str) -> None:
        await self._redis.delete(self._key(key))

    async def aclose(self) -> None:
        return None  # the client is the queue's


def _millis(seconds: float) -> int:
    return int(seconds * 1000)
