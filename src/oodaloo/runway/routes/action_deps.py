"""What the action routes share: the action runner (SmartSync, the QBO connections, the runway impact), the mirror's
freshness, the ids of bills and invoices in their paths, the ``Idempotency-Key`` header (read as optional so its
absence is a 428 naming it, after the tenant check), the acting member and the reply."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.ap.errors import IDEMPOTENCY_KEY_HEADER
from oodaloo.domains.ap.schemas import QBO_ID_MAX_LENGTH
from oodaloo.domains.core.action_runner import ActionRunner, Actor, IdempotencyKeyRequired
from oodaloo.domains.core.freshness import MirrorFreshness
from oodaloo.domains.qbo.auth import ConnectionService
from oodaloo.domains.qbo.sync import MirrorSync
from oodaloo.infra.db.engine import Database
from oodaloo.infra.jobs.models import IDEMPOTENCY_KEY_MAX_LENGTH
from oodaloo.infra.jobs.smart_sync import SmartSyncService
from oodaloo.runway.core.action_impact import RunwayImpactEstimator
from oodaloo.runway.deps import BusinessContext, SettingsDep

BillId = Annotated[str, Path(min_length=1, max_length=QBO_ID_MAX_LENGTH)]
InvoiceId = Annotated[str, Path(min_length=1, max_length=QBO_ID_MAX_LENGTH)]
# Read as optional so that its absence is answered 428 naming it (not a generic 422); the OpenAPI says required.
IdempotencyKey = Annotated[
    str | None,
    Header(alias=IDEMPOTENCY_KEY_HEADER, min_length=1, max_length=IDEMPOTENCY_KEY_MAX_LENGTH, include_in_schema=False),
]
ACTION_KEY_DESCRIPTION = (
    "Required: a new random value for each action, repeated to retry it safely (the same key and body answer with the "
    "first outcome). Without it the answer is 428."
)
ACTION_KEY_PARAMETER: dict[str, Any] = {
    "name": IDEMPOTENCY_KEY_HEADER,
    "in": "header",
    "required": True,
    "description": ACTION_KEY_DESCRIPTION,
    "schema": {"type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH},
}
ACTION_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"description": "Sent; being confirmed with QuickBooks (follow /actions/{action_id})"},
    409: {"description": "The books do not allow it now (e.g. `mirror_not_synced`, `idempotency_conflict`)"},
    428: {"description": f"No {IDEMPOTENCY_KEY_HEADER} header: nothing was done"},
    503: {
        "description": "QuickBooks is not answering, so nothing was sent (`qbo_unavailable`); retry after Retry-After"
    },
}


def get_runner(request: Request, settings: SettingsDep) -> ActionRunner:
    database: Database = request.app.state.database
    sync: SmartSyncService = request.app.state.smart_sync
    connections: ConnectionService = request.app.state.qbo_connections
    return ActionRunner(
        sync=sync,
        connections=connections,
        sessionmaker=database.sessionmaker,
        deadline_seconds=settings.action_deadline_seconds,
        impacts=RunwayImpactEstimator(database.sessionmaker),
    )


def get_freshness(request: Request) -> MirrorFreshness:
    """One per app, made on first use: concurrent requests for one business then share one sync."""
    state = request.app.state
    freshness: MirrorFreshness | None = getattr(state, "mirror_freshness", None)
    if freshness is None:
        database: Database = state.database
        mirror = MirrorSync(
            sync=state.smart_sync, connections=state.qbo_connections, sessionmaker=database.sessionmaker
        )
        freshness = state.mirror_freshness = MirrorFreshness(mirror, database.sessionmaker)
    return freshness


RunnerDep = Annotated[ActionRunner, Depends(get_runner)]
FreshnessDep = Annotated[MirrorFreshness, Depends(get_freshness)]


async def acting_member(access: BusinessContext, session: AsyncSession) -> Actor:
    """The member acting, once the membership check is done: its transaction ends here rather than hold a
    connection while QuickBooks answers."""
    actor = Actor(access.business.id, access.business.timezone, access.user.id)
    await session.commit()
    return actor


async def begin_action(
    access: BusinessContext, session: AsyncSession, key: str | None, *, what: str = "action", doing: str = "act"
) -> tuple[Actor, str]:
    """The acting member and the action's key (428 without one, worded by ``what`` and ``doing``, see
    IdempotencyKeyRequired)."""
    if key is None:
        raise IdempotencyKeyRequired(what, doing)
    return await acting_member(access, session), key


def action_reply(body: BaseModel, status_code: int) -> JSONResponse:
    """An action's answer: 200 once settled, 202 while QuickBooks' answer is being confirmed."""
    return JSONResponse(body.model_dump(mode="json"), status_code=status_code)
