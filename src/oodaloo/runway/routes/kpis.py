"""KPIs, read by any member: ``GET /api/businesses/{business_id}/kpis`` — DSO, DPO, receivables and payables aging,
burn, and the runway trend of the daily snapshots."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from oodaloo.domains.core.kpis import DEFAULT_TREND_DAYS, MAX_TREND_DAYS, KpiService, KpisOut
from oodaloo.runway.deps import BusinessAccess, SessionDep
from oodaloo.runway.routes.bills import MIRROR_NOT_SYNCED

router = APIRouter(tags=["kpis"])

TrendDays = Annotated[
    int, Query(ge=1, le=MAX_TREND_DAYS, description="The runway trend covers the snapshots of this many days.")
]


@router.get("/api/businesses/{business_id}/kpis", responses=MIRROR_NOT_SYNCED)
async def get_kpis(
    business_id: uuid.UUID, access: BusinessAccess, session: SessionDep, trend_days: TrendDays = DEFAULT_TREND_DAYS
) -> KpisOut:
    """Today's KPIs (the business's date), each with its formula, and the runway of each daily snapshot."""
    return await KpiService(session, access.business).kpis(trend_days)
