"""A business's mirror over the JSON API: its sync status (any member) and "sync now" (owners and advisors).

"Sync now" is rate-limited per business through the shared attempt throttle (every process counts together with
Redis) and runs an incremental sync as an asyncio task of this app, tracked on ``app.state`` and cancelled at
shutdown; a sync already running for the business is not started twice. The request answers 202 at once: the sync's
progress and outcome show in the status.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, Request, status
from pydantic import BaseModel

from oodaloo.domains.qbo.mirror_models import SyncKind
from oodaloo.domains.qbo.sync import MirrorSync
from oodaloo.domains.qbo.sync_status import CALLS_COUNTED, RunSummary, SyncStatus, SyncStatusService
from oodaloo.infra.db.base import utcnow
from oodaloo.infra.logging import get_logger
from oodaloo.infra.throttle import AttemptLimit
from oodaloo.infra.web.errors import Conflict, TooManyRequests
from oodaloo.runway.deps import BusinessAccess, BusinessWriter, SessionDep, ThrottleDep

logger = get_logger("oodaloo.sync")

# One manual sync per business per minute: a CDC call is cheap, but a button held down must not become a stream of
# them (QBO meters calls per app, and the webhooks and periodic sweep already keep the mirror fresh).
SYNC_NOW_LIMIT = AttemptLimit(attempts=1, window_seconds=60)


class BackgroundSyncs:
    """This app's "sync now" tasks, one per business at most; cancelled when the app stops."""

    def __init__(self) -> None:
        self._tasks: dict[uuid.UUID, asyncio.Task[None]] = {}

    def running(self, business_id: uuid.UUID) -> bool:
        task = self._tasks.get(business_id)
        return task is not None and not task.done()

    def start(self, business_id: uuid.UUID, mirror: MirrorSync) -> bool:
        """Start an incremental sync unless one runs for the business; returns whether it started one."""
        if self.running(business_id):
            return False
        task = asyncio.create_task(_sync(mirror, business_id), name=f"sync-now-{business_id}")
        self._tasks[business_id] = task
        task.add_done_callback(lambda done: self._forget(business_id, done))
        return True

    async def aclose(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _forget(self, business_id: uuid.UUID, task: asyncio.Task[None]) -> None:
        if self._tasks.get(business_id) is task:
            del self._tasks[business_id]


async def _sync(mirror: MirrorSync, business_id: uuid.UUID) -> None:
    try:
        await mirror.incremental(business_id)
    except Exception:  # recorded in sync_runs by the mirror and shown in the status; nothing else to do here
        logger.warning("sync_now.failed", business_id=str(business_id), exc_info=True)


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.background_syncs = syncs = BackgroundSyncs()
    try:
        yield
    finally:
        await syncs.aclose()


router = APIRouter(prefix="/api/businesses", tags=["sync"], lifespan=_lifespan)


class RunOut(BaseModel):
    run_id: uuid.UUID
    kind: SyncKind
    started_at: datetime
    finished_at: datetime | None
    calls: int
    objects: int


class SyncErrorOut(BaseModel):
    message: str
    at: datetime
    kind: SyncKind


class CallsOut(BaseModel):
    month: str
    timezone: str
    since: datetime
    sync: int
    actions: int
    total: int
    counted: str = CALLS_COUNTED


class SyncStatusOut(BaseModel):
    business_id: uuid.UUID
    last_success: RunOut | None
    lag_seconds: float | None
    last_error: SyncErrorOut | None
    calls_this_month: CallsOut
    running: RunOut | None


class SyncStartedOut(BaseModel):
    business_id: uuid.UUID
    status: Literal["started", "already_running"]
    kind: Literal["incremental"] = "incremental"


class NotConnected(Conflict):
    code = "qbo_not_connected"
    message = "This business is not connected to QuickBooks; connect it before syncing."


def background_syncs(request: Request) -> BackgroundSyncs:
    syncs: BackgroundSyncs = request.app.state.background_syncs
    return syncs


def mirror_sync(request: Request) -> MirrorSync:
    state = request.app.state
    return MirrorSync(
        sync=state.smart_sync, connections=state.qbo_connections, sessionmaker=state.database.sessionmaker
    )


@router.get("/{business_id}/sync")
async def sync_status(access: BusinessAccess, session: SessionDep) -> SyncStatusOut:
    """The mirror's last successful sync and lag, its last error, QBO calls used this month, and a run in progress."""
    return _status_out(await SyncStatusService(session).status(access.business, utcnow()))


@router.post("/{business_id}/sync", status_code=status.HTTP_202_ACCEPTED)
async def sync_now(
    access: BusinessWriter,
    request: Request,
    throttle: ThrottleDep,
    syncs: Annotated[BackgroundSyncs, Depends(background_syncs)],
    mirror: Annotated[MirrorSync, Depends(mirror_sync)],
) -> SyncStartedOut:
    """Start an incremental sync now (owners and advisors), at most once a minute per business; answers at once."""
    business_id = access.business.id
    connection = await request.app.state.qbo_connections.status(business_id)
    if connection.status != "connected":
        raise NotConnected()
    admission = await throttle.admit(f"sync-now:{business_id}", SYNC_NOW_LIMIT)
    if not admission.granted:
        raise TooManyRequests(
            "This business was synced moments ago; try again in a minute.",
            retry_after_seconds=admission.retry_after_seconds,
        )
    started = syncs.start(business_id, mirror)
    logger.info("sync_now.requested", business_id=str(business_id), started=started)
    return SyncStartedOut(business_id=business_id, status="started" if started else "already_running")


def _run_out(run: RunSummary | None) -> RunOut | None:
    if run is None:
        return None
    return RunOut(
        run_id=run.run_id,
        kind=run.kind,
        started_at=run.started_at,
        finished_at=run.finished_at,
        calls=run.calls,
        objects=run.objects,
    )


def _status_out(found: SyncStatus) -> SyncStatusOut:
    calls = found.calls_this_month
    error = found.last_error
    return SyncStatusOut(
        business_id=found.business_id,
        last_success=_run_out(found.last_success),
        lag_seconds=found.lag.total_seconds() if found.lag is not None else None,
        last_error=SyncErrorOut(message=error.message, at=error.at, kind=error.kind) if error is not None else None,
        calls_this_month=CallsOut(
            month=calls.month,
            timezone=calls.timezone,
            since=calls.since,
            sync=calls.sync,
            actions=calls.actions,
            total=calls.total,
        ),
        running=_run_out(found.running),
    )
