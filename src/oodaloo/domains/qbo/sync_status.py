"""Where a business's mirror stands, as its members see it: the last successful sync and the lag since, the last
error, the QBO calls used this calendar month, and a run in progress. Read from ``sync_runs`` and the action log."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.core.models import Business
from oodaloo.domains.qbo.mirror_models import SyncKind, SyncOutcome, SyncRun
from oodaloo.domains.qbo.mirror_repository import SyncRunRepository
from oodaloo.infra.jobs.models import QBOAction
from oodaloo.infra.logging import redact_text

# A run still marked running after this long died with its process (a full sync of a large company takes minutes);
# it is not reported as in progress.
RUN_PRESUMED_DEAD = timedelta(hours=1)
# What "calls used" counts, said once for the API's readers.
CALLS_COUNTED = (
    "sync: every QBO request made by this business's syncs (each page, CDC call or read; failed ones too); "
    "actions: send attempts of writes through SmartSync's action log (retries within an attempt and reads made "
    "outside syncs, e.g. a live bill listing, are not counted)"
)


@dataclass(frozen=True)
class RunSummary:
    run_id: uuid.UUID
    kind: SyncKind
    started_at: datetime
    finished_at: datetime | None
    calls: int
    objects: int


@dataclass(frozen=True)
class SyncError:
    message: str
    at: datetime
    kind: SyncKind


@dataclass(frozen=True)
class CallsThisMonth:
    month: str  # YYYY-MM in the business's timezone
    timezone: str
    since: datetime  # the month's start, as an aware UTC time
    sync: int
    actions: int

    @property
    def total(self) -> int:
        return self.sync + self.actions


@dataclass(frozen=True)
class SyncStatus:
    business_id: uuid.UUID
    last_success: RunSummary | None
    lag: timedelta | None
    last_error: SyncError | None
    calls_this_month: CallsThisMonth
    running: RunSummary | None


class SyncStatusService:
    """Read-only: no QBO call, one short unit of work (the caller's)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def status(self, business: Business, now: datetime) -> SyncStatus:
        runs = SyncRunRepository(self._session, business.id)
        succeeded = await runs.latest(outcome=SyncOutcome.SUCCEEDED)
        failed = await runs.latest(outcome=SyncOutcome.FAILED)
        running = await runs.latest(outcome=SyncOutcome.RUNNING)
        if running is not None and _presumed_dead(running, now, [succeeded, failed]):
            running = None
        last_success = _summary(succeeded) if succeeded is not None else None
        finished = succeeded.finished_at if succeeded is not None else None
        return SyncStatus(
            business_id=business.id,
            last_success=last_success,
            lag=now - finished if finished is not None else None,
            last_error=_error(failed) if failed is not None else None,
            calls_this_month=await self._calls_this_month(business, now),
            running=_summary(running) if running is not None else None,
        )

    async def _calls_this_month(self, business: Business, now: datetime) -> CallsThisMonth:
        zone = ZoneInfo(business.timezone)
        local = now.astimezone(zone)
        since = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(ZoneInfo("UTC"))
        sync_calls = select(func.coalesce(func.sum(SyncRun.calls), 0)).where(
            SyncRun.business_id == business.id, SyncRun.started_at >= since
        )
        action_calls = select(func.coalesce(func.sum(QBOAction.attempts), 0)).where(
            QBOAction.business_id == business.id, QBOAction.created_at >= since
        )
        return CallsThisMonth(
            month=local.strftime("%Y-%m"),
            timezone=business.timezone,
            since=since,
            sync=int(await self._session.scalar(sync_calls) or 0),
            actions=int(await self._session.scalar(action_calls) or 0),
        )


def _presumed_dead(running: SyncRun, now: datetime, ended: list[SyncRun | None]) -> bool:
    """Left "running" by a process that died: too old, or a run started after it has already ended."""
    later_ended = any(run is not None and run.started_at > running.started_at for run in ended)
    return later_ended or now - running.started_at > RUN_PRESUMED_DEAD


def _summary(run: SyncRun) -> RunSummary:
    return RunSummary(run.id, run.kind, run.started_at, run.finished_at, run.calls, sum((run.counts or {}).values()))


def _error(run: SyncRun) -> SyncError:
    # The recorded error is an exception's text; a bearer token or a secret query parameter in it is hidden, as in logs.
    message = redact_text(run.error) if run.error else "The sync failed."
    return SyncError(message=message, at=run.finished_at or run.started_at, kind=run.kind)
