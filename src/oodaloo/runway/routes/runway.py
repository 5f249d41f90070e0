"""The runway, read by any member: ``GET /api/businesses/{business_id}/runway`` (the 13-week forecast: summary and
weeks), ``GET .../runway/weeks/{n}`` (a week's items, each with why it is dated there) and
``POST .../runway/impact`` (the runway before and after what-if changes; nothing is changed)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path

from oodaloo.runway.core.schemas import ImpactIn, ImpactOut, RunwayOut, WeekDetailOut
from oodaloo.runway.core.service import RunwayService
from oodaloo.runway.deps import READS_ONLY, BusinessAccess, SessionDep
from oodaloo.runway.routes.bills import MIRROR_NOT_SYNCED

router = APIRouter(tags=["runway"])

WeekNumber = Annotated[int, Path(description="The week, 1 to 13 (week 1 starts today).")]
WEEK_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such week (`week_not_found`)"}}


@router.get("/api/businesses/{business_id}/runway", responses=MIRROR_NOT_SYNCED)
async def get_runway(business_id: uuid.UUID, access: BusinessAccess, session: SessionDep) -> RunwayOut:
    """Cash now, the 13 weekly buckets from today (the business's date) with their band, free cash after reserves,
    and the runway: the days until free cash falls below the reserve floor (null: beyond the 13 weeks)."""
    return await RunwayService(session, access.business).summary()


@router.get("/api/businesses/{business_id}/runway/weeks/{n}", responses={**MIRROR_NOT_SYNCED, **WEEK_NOT_FOUND})
async def get_runway_week(
    business_id: uuid.UUID, n: WeekNumber, access: BusinessAccess, session: SessionDep
) -> WeekDetailOut:
    """Week ``n``'s figures and every item in it, in date order, with why each is dated there."""
    return await RunwayService(session, access.business).week(n)


@router.post("/api/businesses/{business_id}/runway/impact", responses=MIRROR_NOT_SYNCED, openapi_extra=READS_ONLY)
async def runway_impact(
    business_id: uuid.UUID, body: ImpactIn, access: BusinessAccess, session: SessionDep
) -> ImpactOut:
    """The runway before and after ``changes`` (pay or collect now, in full or in part; delay to a date; add or
    remove a payment), applied in order to a copy of the forecast: nothing is changed in the books."""
    return await RunwayService(session, access.business).impact(body)
