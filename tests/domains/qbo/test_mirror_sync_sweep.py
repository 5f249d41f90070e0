"""The mirror sync's sweep (``MirrorSyncJobs``, the safety net behind lost messages): a full sync whose worker died
part-way is asked for again even when the freshness policy finds the business fresh, and a full sync still storing
pages is left alone."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine

from oodaloo.domains.qbo.sync_jobs import MIRROR_SCOPE, MIRROR_SYNC_JOB, STALLED_FULL_SYNC, serialization_key
from oodaloo.settings import Settings
from oodaloo.wiring import worker_runtime
from tests.domains.qbo.bulk_support import Fleet, fleet


class Interrupted(Exception):
    """Raised from the page hook: a full sync stops as a killed worker would, after a page was stored."""


class SentJobs:
    """Where the sweep sends the syncs it finds (the queue running the sweep, in production)."""

    def __init__(self) -> None:
        self.jobs: list[tuple[str, dict[str, Any], str | None]] = []

    async def enqueue(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        serialize_on: str | None = None,
        coalesce_on: str | None = None,
        delay_seconds: float = 0.0,
    ) -> bool:
        self.jobs.append((kind, payload, serialize_on))
        return True


@pytest.fixture
def businesses(settings: Settings, tmp_path: Path, worker_id: str) -> Iterator[Fleet]:
    # A database of its own: the sweep looks at every connected business.
    with fleet(settings, tmp_path, f"oodaloo_sweep_{worker_id}") as found:
        yield found


def sweep_after(
    businesses: Fleet, fresh: list[uuid.UUID], elapsed: timedelta
) -> list[tuple[str, dict[str, Any], str | None]]:
    """The jobs the worker's sweep sends ``elapsed`` from now, the ``fresh`` businesses having been synced just then
    (by the freshness policy, none of them is due)."""

    async def go() -> list[tuple[str, dict[str, Any], str | None]]:
        runtime = await worker_runtime(businesses.settings.model_copy(update={"mirror_sweep": True}))
        try:
            for business_id in fresh:
                await runtime.sync.mark_synced(business_id, MIRROR_SCOPE)
            hook = runtime.sync.job_kinds.get(MIRROR_SYNC_JOB).sweep
            assert hook is not None
            sent = SentJobs()
            await hook(sent)
            return sent.jobs
        finally:
            await runtime.aclose()

    with time_machine.travel(datetime.now(UTC) + elapsed, tick=True):
        return asyncio.run(go())


def test_a_full_sync_that_stalled_is_asked_for_again_though_the_business_looks_fresh(businesses: Fleet) -> None:
    stalled, finished = businesses.add_business(), businesses.add_business()
    businesses.with_bulk(lambda bulk: bulk.sync_all())  # both synced once

    async def crash_after_a_page(entity: str, rows: int) -> None:
        raise Interrupted

    # A second full sync of one (e.g. after a reconnect) dies after its first page: its progress is unfinished.
    with pytest.raises(Interrupted):
        businesses.with_mirror(lambda mirror, _: mirror.full(stalled), after_page=crash_after_a_page, page_size=20)

    # Just after the page, its sync may still be running: nothing is asked for.
    assert sweep_after(businesses, [stalled, finished], timedelta(0)) == []
    # Once its progress stood still past the threshold, its worker is gone: the sweep asks for the rest of it.
    jobs = sweep_after(businesses, [stalled, finished], STALLED_FULL_SYNC + timedelta(seconds=30))
    realm_id = businesses.realms[stalled].realm_id
    assert jobs == [(MIRROR_SYNC_JOB, {"business_id": str(stalled)}, serialization_key(realm_id))]
