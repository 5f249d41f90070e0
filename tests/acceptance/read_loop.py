"""A background reader for the limits acceptance test, run as its own OS process: far more QBO requests at once than
the realm allows, through QBOClient and SmartSync at BACKGROUND priority, sharing SmartSync's limiter through Redis.

``python -m tests.acceptance.read_loop`` runs ``READ_LOOP_WORKERS`` loops at once for ``READ_LOOP_SECONDS``, each
counting every entity of one realm in turn (as a sync's first pass does). A count is a cheap request for the sandbox,
so what paces the readers is the limiter, not the machine's speed. Configured by environment: ``READ_LOOP_SANDBOX_URL``,
``READ_LOOP_REALM_ID``, ``READ_LOOP_REDIS_URL``, ``READ_LOOP_SECONDS``, ``READ_LOOP_WORKERS``. Its last stdout line is a
JSON summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys

from prometheus_client.samples import Sample
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from oodaloo.domains.qbo.client import QBOClient
from oodaloo.domains.qbo.schemas import ENTITY_TYPES
from oodaloo.infra.jobs.smart_sync import Priority, SmartSyncService
from tests.support.credentials import MintedCredentials

READY_LINE = "read-loop: reading"
# The entities every loop counts, in turn (each loop starts at a different one).
ENTITY_NAMES = sorted(ENTITY_TYPES)


async def read_realm_repeatedly(
    sandbox_url: str, realm_id: str, redis_url: str, seconds: float, workers: int
) -> dict[str, float]:
    # SmartSync needs a session factory for its action log; a reader records no actions, so an unused one will do.
    engine = create_async_engine("sqlite+aiosqlite://")
    sync = SmartSyncService.create(
        api_base_url=sandbox_url, sessionmaker=async_sessionmaker(engine), redis_url=redis_url
    )
    client = QBOClient(
        sync, MintedCredentials(sandbox_url, realm_id, timeout_seconds=30), realm_id, priority=Priority.BACKGROUND
    )
    try:
        print(READY_LINE, flush=True)
        stop_at = asyncio.get_running_loop().time() + seconds
        counted = await asyncio.gather(*(_count_until(client, first, stop_at) for first in range(workers)))
        throttled = sum(sample.value for sample in _samples(sync, "oodaloo_qbo_throttled_total"))
        requests = sum(sample.value for sample in _samples(sync, "oodaloo_qbo_requests_total"))
    finally:
        await sync.aclose()
        await engine.dispose()
    return {"counts": sum(counted), "requests": requests, "throttled": throttled}


async def _count_until(client: QBOClient, first: int, stop_at: float) -> int:
    """Count entities one after another until ``stop_at``; a call still waiting for a slot then is abandoned."""
    done = 0
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout_at(stop_at):
            while True:
                await client.count(ENTITY_TYPES[ENTITY_NAMES[(first + done) % len(ENTITY_NAMES)]])
                done += 1
    return done


def _samples(sync: SmartSyncService, name: str) -> list[Sample]:
    return [sample for metric in sync.metrics.registry.collect() for sample in metric.samples if sample.name == name]


def main() -> None:
    summary = asyncio.run(
        read_realm_repeatedly(
            os.environ["READ_LOOP_SANDBOX_URL"],
            os.environ["READ_LOOP_REALM_ID"],
            os.environ["READ_LOOP_REDIS_URL"],
            float(os.environ["READ_LOOP_SECONDS"]),
            int(os.environ["READ_LOOP_WORKERS"]),
        )
    )
    sys.stdout.write(json.dumps(summary) + "\n")


if __name__ == "__main__":
    main()
