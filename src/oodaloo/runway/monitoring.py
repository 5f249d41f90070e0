"""What watches a business in the background — the drift check after each sync and the daily snapshot — given the
runway as the forecast computes it (the domains that hold them cannot import the runway core, so it is handed in)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oodaloo.domains.core.drift import DriftChecks
from oodaloo.domains.core.kpis import DailySnapshots, mirror_synced
from oodaloo.domains.core.models import Business
from oodaloo.domains.core.snapshots import RunwayReading
from oodaloo.domains.qbo.sync_jobs import MirrorSyncJobs
from oodaloo.infra.jobs.smart_sync import SmartSyncService
from oodaloo.runway.core.cache import runway_cache
from oodaloo.runway.core.forecast import HORIZON_DAYS


async def read_runway(session: AsyncSession, business: Business) -> RunwayReading | None:
    """The business's runway today, exactly as ``GET .../runway`` computes it; None before its mirror's first sync."""
    if not await mirror_synced(session, business):
        return None
    current = await runway_cache.current(session, business)
    return RunwayReading(current.forecast.runway.days, HORIZON_DAYS)


def register_monitoring(
    sync: SmartSyncService,
    sessionmaker: async_sessionmaker[AsyncSession],
    mirror_jobs: MirrorSyncJobs,
    *,
    sweep: bool,
) -> tuple[DriftChecks, DailySnapshots]:
    """Register the drift check (asked for after every successful sync) and the daily snapshot as job kinds, with
    their sweeps when ``sweep``."""
    drift = DriftChecks(smart_sync=sync, sessionmaker=sessionmaker, gauge=read_runway)
    drift.register(sweep=sweep)
    mirror_jobs.after_sync(drift.request)
    snapshots = DailySnapshots(smart_sync=sync, sessionmaker=sessionmaker, gauge=read_runway)
    snapshots.register(sweep=sweep)
    return drift, snapshots
