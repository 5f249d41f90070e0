"""Drift alerts: ``GET /api/businesses/{business_id}/alerts`` (any member; open ones unless ``status`` says otherwise)
and ``POST .../alerts/{alert_id}/acknowledge`` (owners and advisors)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query

from oodaloo.domains.core.alerts import (
    DEFAULT_LIST_LIMIT,
    MAX_LIST_LIMIT,
    AlertKind,
    AlertOut,
    AlertService,
    AlertStatusFilter,
)
from oodaloo.runway.deps import BusinessAccess, BusinessProposer, SessionDep

router = APIRouter(tags=["alerts"])

ALERT_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such alert (`alert_not_found`)"}}
StatusQuery = Annotated[
    AlertStatusFilter,
    Query(description="open (neither acknowledged nor resolved), acknowledged, resolved, or all."),
]
KindQuery = Annotated[list[AlertKind] | None, Query(description="Only these kinds (repeat the parameter for several).")]
LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIST_LIMIT, description="At most this many, newest first.")]


@router.get("/api/businesses/{business_id}/alerts")
async def list_alerts(
    business_id: uuid.UUID,
    access: BusinessAccess,
    session: SessionDep,
    status: StatusQuery = "open",
    kind: KindQuery = None,
    limit: LimitQuery = DEFAULT_LIST_LIMIT,
) -> list[AlertOut]:
    """What the drift check found after syncs — a planned bill paid elsewhere, a payment voided, a large new bill, an
    invoice paid, the runway dropping — newest first, each with the reason, what to do and the API call to do it."""
    return await AlertService(session, access.business.id).listed(status, kind or (), limit)


@router.post("/api/businesses/{business_id}/alerts/{alert_id}/acknowledge", responses=ALERT_NOT_FOUND)
async def acknowledge_alert(
    business_id: uuid.UUID, alert_id: uuid.UUID, access: BusinessProposer, session: SessionDep
) -> AlertOut:
    """Mark the alert seen (it leaves the open list); acknowledging it again changes nothing."""
    return await AlertService(session, access.business.id).acknowledge(alert_id, access.user.id)
