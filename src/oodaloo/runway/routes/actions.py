"""Every action of a business, whatever its kind: ``GET /api/businesses/{business_id}/actions`` (newest first, filtered
by kind and status, a page at a time) and ``GET .../actions/{action_id}`` (status, attempts, the QuickBooks object it
made with its receipt, why it failed, drift found afterwards, and the runway impact its request was answered with)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from oodaloo.domains.core.actions import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    ActionFilter,
    ActionLogReader,
    ActionOut,
    ActionPageOut,
)
from oodaloo.infra.jobs.models import ActionStatus
from oodaloo.runway.deps import BusinessAccess, SessionDep

router = APIRouter(tags=["actions"])

KindFilter = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=64,
        description="Only this kind: bill.pay, bill.delay, bill.schedule_payment, invoice.record_payment, "
        "invoice.send_reminder.",
    ),
]
StatusFilter = Annotated[ActionStatus | None, Query(description="Only actions in this status.")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
Cursor = Annotated[str | None, Query(min_length=1, max_length=200, description="From the previous page's next_cursor.")]


@router.get("/api/businesses/{business_id}/actions")
async def list_actions(
    business_id: uuid.UUID,
    access: BusinessAccess,
    session: SessionDep,
    kind: KindFilter = None,
    status: StatusFilter = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> ActionPageOut:
    """The business's actions, newest first, ``limit`` per page; follow ``next_cursor`` for the next page."""
    return await ActionLogReader(session, access.business.id).page(
        ActionFilter(kind=kind, status=status), limit=limit, cursor=cursor
    )


@router.get("/api/businesses/{business_id}/actions/{action_id}", responses={404: {"description": "No such action"}})
async def get_action(
    business_id: uuid.UUID, action_id: uuid.UUID, access: BusinessAccess, session: SessionDep
) -> ActionOut:
    """Status, attempts, the QuickBooks object it made (with its receipt), why it failed, and any drift found
    afterwards."""
    return await ActionLogReader(session, access.business.id).get(action_id)
