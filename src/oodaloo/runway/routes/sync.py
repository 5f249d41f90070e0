"""A business's mirror over the JSON API: its sync status (any member) and "sync now" (owners and advisors).

"Sync now" is rate-limited per business through the shared attempt throttle (every process counts together with
Redis) and asks for the business's sync job, the same one webhooks and the freshness sweep ask for: it runs where
jobs run (this process embedded, ``oodaloo worker`` in production), never at the same time as another sync of the
realm, and merges into one already queued. The request answers 202 at once: progress and outcome show in the status.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal, Protocol

from fastapi import APIRouter, Request, status
from pydantic import BaseModel

from oodaloo.domains.qbo.mirror_models import SyncKind
from oodaloo.domains.qbo.sync_status import CALLS_COUNTED, RunSummary, SyncStatus, SyncStatusService
from oodaloo.infra.db.base import utcnow
from oodaloo.infra.logging import get_logger
from oodaloo.infra.throttle import AttemptLimit
from oodaloo.infra.web.errors import Conflict, TooManyRequests
from oodaloo.runway.deps import BusinessAccess, BusinessProposer, SessionDep, ThrottleDep

logger = get_logger("oodaloo.sync")

# One manual sync per business per minute: a CDC call is cheap, but a button held down must not become a stream of
# them (QBO meters calls per app, and the webhooks and periodic sweep already keep the mirror fresh).
SYNC_NOW_LIMIT = AttemptLimit(attempts=1, window_seconds=60)

router = APIRouter(prefix="/api/businesses", tags=["sync"])


class SyncJobs(Protocol):
    """What "sync now" needs of the mirror's sync jobs (``domains.qbo.sync_jobs.MirrorSyncJobs``, on app.state)."""

    async def request(self, business_id: uuid.UUID) -> bool: ...


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
    # queued: a sync job was queued; already_queued: one was waiting to run, and this request merged into it.
    status: Literal["queued", "already_queued"]
    kind: Literal["incremental"] = "incremental"


class NotConnected(Conflict):
    code = "qbo_not_connected"
    message = "This business is not connected to QuickBooks; connect it before syncing."


@router.get("/{business_id}/sync")
async def sync_status(access: BusinessAccess, session: SessionDep) -> SyncStatusOut:
    """The mirror's last successful sync and lag, its last error, QBO calls used this month, and a run in progress."""
    return _status_out(await SyncStatusService(session).status(access.business, utcnow()))


@router.post("/{business_id}/sync", status_code=status.HTTP_202_ACCEPTED)
async def sync_now(
    access: BusinessProposer,
    request: Request,
    throttle: ThrottleDep,
) -> SyncStartedOut:
    """Queue an incremental sync now (owners and advisors), at most once a minute per business; answers at once."""
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
    jobs: SyncJobs = request.app.state.sync_requester
    queued = await jobs.request(business_id)
    logger.info("sync_now.requested", business_id=str(business_id), queued=queued)
    return SyncStartedOut(business_id=business_id, status="queued" if queued else "already_queued")


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
