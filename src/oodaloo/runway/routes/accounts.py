"""The accounts bills can be paid from, ``GET /api/businesses/{business_id}/accounts`` (any member): what a client
passes as ``pay_from_account_id`` without looking up QuickBooks ids elsewhere."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from oodaloo.domains.ap.schemas import PayFromAccountOut
from oodaloo.runway.deps import BusinessAccess, SessionDep
from oodaloo.runway.routes.bills import BillServiceDep

router = APIRouter(tags=["accounts"])


@router.get(
    "/api/businesses/{business_id}/accounts",
    responses={
        409: {"description": "QuickBooks is not connected, or must be connected again"},
        503: {
            "description": "QuickBooks is not answering (error code ``qbo_unavailable``); retry after Retry-After",
            "headers": {
                "Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}
            },
        },
    },
)
async def list_pay_from_accounts(
    business_id: uuid.UUID, access: BusinessAccess, session: SessionDep, bills: BillServiceDep
) -> list[PayFromAccountOut]:
    """The active Bank and Credit Card accounts with their current balances (money as decimal strings), banks first,
    then by name: from the business's mirror of QuickBooks once synced, from QuickBooks before. Pay a bill from one by
    its ``account_id``."""
    # The membership check is done: end its transaction rather than hold a connection while QuickBooks answers.
    await session.commit()
    return await bills.pay_from_accounts(access.business.id)
