"""The sync status of a business read at a chosen moment: calls are counted for the calendar month in the business's
own timezone (failed runs and action attempts included), the lag runs from the last successful sync, and a run left
"running" for too long is not reported as in progress."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from oodaloo.domains.core.models import Business
from oodaloo.domains.qbo.mirror_models import SyncKind, SyncOutcome, SyncRun
from oodaloo.domains.qbo.sync_status import SyncStatus, SyncStatusService
from oodaloo.infra.db.engine import Database
from oodaloo.infra.db.session import unit_of_work
from oodaloo.infra.jobs.models import ActionStatus, QBOAction

# 00:30 on 1 March in Auckland (UTC+13 in summer) is still 28 February in UTC.
NOW = datetime(2026, 2, 28, 11, 30, tzinfo=UTC)
LOCAL_MONTH_START = datetime(2026, 2, 28, 11, 0, tzinfo=UTC)


def run(business_id: uuid.UUID, started: datetime, outcome: SyncOutcome, calls: int, **fields: Any) -> SyncRun:
    finished = None if outcome is SyncOutcome.RUNNING else started + timedelta(seconds=2)
    return SyncRun(
        business_id=business_id,
        realm_id="1",
        kind=fields.pop("kind", SyncKind.CDC),
        outcome=outcome,
        counts={"Bill": 2},
        calls=calls,
        started_at=started,
        finished_at=finished,
        **fields,
    )


def action(business_id: uuid.UUID, created: datetime, attempts: int) -> QBOAction:
    action_id = uuid.uuid4()
    return QBOAction(
        id=action_id,
        business_id=business_id,
        realm_id="1",
        kind="bill.pay",
        idempotency_key=action_id.hex,
        payload_digest="0" * 64,
        payload={},
        requestid=action_id.hex,
        marker=action_id.hex,
        status=ActionStatus.SUCCEEDED,
        attempts=attempts,
        created_at=created,
    )


def status_at(database_url: str, now: datetime, *, in_progress: bool = False) -> SyncStatus:
    async def go() -> SyncStatus:
        database = Database(database_url)
        try:
            async with unit_of_work(database.sessionmaker) as session:
                business = Business(name="Kiwi Books", timezone="Pacific/Auckland")
                session.add(business)
                await session.flush()
                minute = timedelta(minutes=1)
                session.add_all(
                    [
                        run(business.id, LOCAL_MONTH_START - minute, SyncOutcome.SUCCEEDED, 7),  # last month locally
                        run(business.id, LOCAL_MONTH_START + minute, SyncOutcome.SUCCEEDED, 5),
                        run(business.id, LOCAL_MONTH_START + 2 * minute, SyncOutcome.FAILED, 3, error="Boom: no"),
                        # Left "running" by a process that died: later runs have ended since.
                        run(business.id, LOCAL_MONTH_START - 2 * minute, SyncOutcome.RUNNING, 1, kind=SyncKind.FULL),
                        action(business.id, LOCAL_MONTH_START - minute, 4),  # last month locally
                        action(business.id, LOCAL_MONTH_START + minute, 2),
                    ]
                )
                if in_progress:
                    session.add(run(business.id, now - minute, SyncOutcome.RUNNING, 2, kind=SyncKind.CDC))
                await session.flush()
                return await SyncStatusService(session).status(business, now)
        finally:
            await database.dispose()

    return asyncio.run(go())


def test_calls_are_counted_for_the_month_in_the_business_timezone(database_url: str) -> None:
    status = status_at(database_url, NOW)

    calls = status.calls_this_month
    assert calls.month == "2026-03"
    assert calls.since == LOCAL_MONTH_START
    assert calls.sync == 5 + 3  # this month's runs, the failed one too: its calls were made
    assert calls.actions == 2
    assert calls.total == 10


def test_lag_runs_from_the_last_success_and_a_dead_run_is_not_in_progress(database_url: str) -> None:
    status = status_at(database_url, NOW)

    assert status.last_success is not None
    assert status.last_success.calls == 5
    assert status.lag == NOW - (LOCAL_MONTH_START + timedelta(minutes=1, seconds=2))
    assert status.last_error is not None
    assert status.last_error.message == "Boom: no"
    assert status.running is None


def test_a_run_started_after_the_last_ended_one_is_in_progress(database_url: str) -> None:
    status = status_at(database_url, NOW, in_progress=True)

    assert status.running is not None
    assert status.running.kind is SyncKind.CDC
    assert status.running.started_at == NOW - timedelta(minutes=1)
    assert status.running.finished_at is None
