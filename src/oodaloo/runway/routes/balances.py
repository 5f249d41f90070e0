"""Cash on hand, ``GET /api/businesses/{business_id}/balances`` (any member): cash per bank account and in total, and
what is owed on each credit card, from the business's mirror of QuickBooks."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from oodaloo.domains.core.cash import CashService
from oodaloo.domains.core.schemas import BalancesOut
from oodaloo.runway.deps import BusinessAccess, SessionDep

router = APIRouter(tags=["balances"])


@router.get("/api/businesses/{business_id}/balances")
async def get_balances(business_id: uuid.UUID, access: BusinessAccess, session: SessionDep) -> BalancesOut:
    """Cash at the end of the business's today (transactions dated later are not counted yet), banks by name."""
    return await CashService(session).balances(access.business)
