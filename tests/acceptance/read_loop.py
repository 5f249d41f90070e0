"""A background full-realm reader for the limits acceptance test, run as its own OS process.

``python -m tests.acceptance.read_loop`` pages every entity of one realm (all entities at once, as a full sync would)
through QBOClient and SmartSync at BACKGROUND priority, over and over for ``READ_LOOP_SECONDS``, sharing SmartSync's
limiter with every other process through Redis. Configured by environment: ``READ_LOOP_SANDBOX_URL``,
``READ_LOOP_REALM_ID``, ``READ_LOOP_REDIS_URL``, ``READ_LOOP_SECONDS``. Its last stdout line is a JSON summary.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

from prometheus_client.samples import Sample
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from oodaloo.domains.qbo.client import QBOClient
from oodaloo.domains.qbo.schemas import ENTITY_TYPES, QBOEntity
from oodaloo.infra.jobs.smart_sync import Priority, SmartSyncService
from tests.support.credentials import MintedCredentials

READY_LINE = "read-loop: reading"


async def read_realm_repeatedly(sandbox_url: str, realm_id: str, redis_url: str, seconds: float) -> dict[str, float]:
    # SmartSync needs a session factory for its action log; a reader records no actions, so an unused one will do.
    engine = create_async_engine("sqlite+aiosqlite://")
    sync = SmartSyncService.create(
        api_base_url=sandbox_url, sessionmaker=async_sessionmaker(engine), redis_url=redis_url
    )
    client = QBOClient(
        sync, MintedCredentials(sandbox_url, realm_id, timeout_seconds=30), realm_id, priority=Priority.BACKGROUND
    )
    rows = passes = 0
    started = time.monotonic()
    try:
        print(READY_LINE, flush=True)
        while time.monotonic() - started < seconds:
            # Every entity at once, as a full sync would: far more requests than the realm's slots.
            counts = await asyncio.gather(*(_count_rows(client, entity_type) for entity_type in ENTITY_TYPES.values()))
            rows += sum(counts)
            passes += 1
        throttled = sum(sample.value for sample in _samples(sync, "oodaloo_qbo_throttled_total"))
        requests = sum(sample.value for sample in _samples(sync, "oodaloo_qbo_requests_total"))
    finally:
        await sync.aclose()
        await engine.dispose()
    return {"rows": rows, "passes": passes, "requests": requests, "throttled": throttled}


async def _count_rows(client: QBOClient, entity_type: type[QBOEntity]) -> int:
    return sum([1 async for _ in client.query(entity_type)])


def _samples(sync: SmartSyncService, name: str) -> list[Sample]:
    return [sample for metric in sync.metrics.registry.collect() for sample in metric.samples if sample.name == name]


def main() -> None:
    summary = asyncio.run(
        read_realm_repeatedly(
            os.environ["READ_LOOP_SANDBOX_URL"],
            os.environ["READ_LOOP_REALM_ID"],
            os.environ["READ_LOOP_REDIS_URL"],
            float(os.environ["READ_LOOP_SECONDS"]),
        )
    )
    sys.stdout.write(json.dumps(summary) + "\n")


if __name__ == "__main__":
    main()
