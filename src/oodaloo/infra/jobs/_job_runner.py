"""Running jobs where the queue delivers them: one job at its time, under its serialization key, within its
coalescing key's run; and the periodic sweep, each kind's hook at most once at a time."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from oodaloo.infra.jobs._coalescing import RUNNING_LEASE_SECONDS, CoalescingMarks
from oodaloo.infra.jobs._job_kinds import Job, JobKind, JobKinds, JobSender, UnknownJobKind
from oodaloo.infra.locks import LockFactory, LockUnavailable
from oodaloo.infra.logging import get_logger

logger = get_logger("oodaloo.jobs")

# A job whose serialization key is busy waits this long for it (a realm's full sync can take minutes), then is
# dropped: its kind's sweep finds the work. Shorter than a queued coalescing mark lives, so the key frees up first.
SERIALIZE_WAIT_SECONDS = 600.0
# The serialization lock outlives a crashed holder by this much; a live holder renews it (keep_alive).
SERIALIZE_LEASE_SECONDS = 60.0
# Only short delays are waited out in the task (sleeping tasks must not crowd a worker); longer ones are the sweep's.
MAX_DELAY_SECONDS = 10.0


class JobRunner:
    """Runs the jobs of ``kinds`` that reach this process; follow-ups of coalesced runs go out through ``sender``."""

    def __init__(
        self, kinds: JobKinds, *, locks: LockFactory, marks: CoalescingMarks, sender: Callable[[Job], Awaitable[bool]]
    ) -> None:
        self._kinds = kinds
        self._locks = locks
        self._marks = marks
        self._send = sender
        self._sweeping: set[str] = set()
        self.stopping = asyncio.Event()

    async def run(self, job: Job) -> None:
        """Run ``job`` once it is due; dropped (freeing its coalescing key) when shutdown begins first."""
        if not await self._wait_until(job.not_before):
            await self._abandon(job)
            return
        try:
            kind = self._kinds.get(job.kind)
        except UnknownJobKind:
            logger.error("jobs.unknown_kind", kind=job.kind)
            await self._abandon(job)
            return
        try:
            async with self._serialized(job):
                await self._run_coalesced(kind, job)
        except LockUnavailable:
            logger.warning("jobs.serialization_busy", kind=job.kind, key=job.serialize_on)
            await self._abandon(job)

    async def _wait_until(self, not_before: float) -> bool:
        wait = min(not_before - time.time(), MAX_DELAY_SECONDS)
        if wait > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), timeout=wait)
        return not self.stopping.is_set()

    @contextlib.asynccontextmanager
    async def _serialized(self, job: Job) -> AsyncIterator[None]:
        if job.serialize_on is None:
            yield
            return
        async with self._locks.hold(
            f"serial:{job.serialize_on}",
            lease_seconds=SERIALIZE_LEASE_SECONDS,
            wait_seconds=SERIALIZE_WAIT_SECONDS,
            keep_alive=True,
        ):
            yield

    async def _run_coalesced(self, kind: JobKind, job: Job) -> None:
        key = job.coalesce_on
        if key is not None:
            await self._marks.start(key)
        renewing = asyncio.create_task(self._renew(key)) if key is not None else None
        try:
            await kind.handler(job.payload)
        except Exception:
            logger.exception("jobs.failed", kind=job.kind, serialize_on=job.serialize_on, coalesce_on=key)
        finally:
            if renewing is not None:
                renewing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renewing
            if key is not None:
                follow_up = await self._marks.finish(key)
                if follow_up is not None:
                    await self._send_follow_up(follow_up)

    async def _renew(self, key: str) -> None:
        while True:
            await asyncio.sleep(RUNNING_LEASE_SECONDS / 3)
            try:
                await self._marks.renew(key)
            except Exception as error:  # a missed renewal only risks one extra run; the next one may pass
                logger.warning("jobs.coalescing_renewal_failed", key=key, error=repr(error))

    async def _send_follow_up(self, job: Job) -> None:
        if not await self._send(job):
            await self._abandon(job)

    async def _abandon(self, job: Job) -> None:
        if job.coalesce_on is None:
            return
        try:
            await self._marks.abandon(job.coalesce_on)
        except Exception as error:  # the mark expires by itself
            logger.warning("jobs.coalescing_release_failed", key=job.coalesce_on, error=repr(error))

    async def sweep(self, sender: JobSender) -> int:
        """Run every kind's sweep hook, concurrently; a hook still running from the last sweep is not stacked upon."""
        kinds = [kind for kind in self._kinds.with_sweeps() if kind.name not in self._sweeping]
        found = await asyncio.gather(*(self._sweep_kind(kind, sender) for kind in kinds))
        return sum(found)

    async def _sweep_kind(self, kind: JobKind, sender: JobSender) -> int:
        assert kind.sweep is not None
        self._sweeping.add(kind.name)
        try:
            return await kind.sweep(sender)
        except Exception:
            logger.exception("jobs.sweep_failed", kind=kind.name)
            return 0
        finally:
            self._sweeping.discard(kind.name)
