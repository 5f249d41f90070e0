"""Vendors with the business's settings for them (critical, grace days, late fees, a note) and what each is owed:
``GET /api/businesses/{business_id}/vendors`` (any member), ``PATCH .../vendors/{vendor_id}`` (owners and advisors)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path

from oodaloo.domains.ap.payables import PayablesService
from oodaloo.domains.ap.schemas import QBO_ID_MAX_LENGTH, VendorOut, VendorSettingsPatch
from oodaloo.runway.deps import BusinessProposer
from oodaloo.runway.routes.bills import MIRROR_NOT_SYNCED, payables_of

router = APIRouter(tags=["vendors"])

PayablesDep = Annotated[PayablesService, Depends(payables_of)]
VendorId = Annotated[str, Path(min_length=1, max_length=QBO_ID_MAX_LENGTH)]


@router.get("/api/businesses/{business_id}/vendors", responses=MIRROR_NOT_SYNCED)
async def list_vendors(business_id: uuid.UUID, payables: PayablesDep) -> list[VendorOut]:
    """Active vendors, and any other owed something or with settings, the most owed first (money as decimal
    strings): the open balance and what of it is overdue, from the business's mirror of QuickBooks."""
    return await payables.vendors()


@router.patch(
    "/api/businesses/{business_id}/vendors/{vendor_id}",
    responses={**MIRROR_NOT_SYNCED, 404: {"description": "No such vendor"}},
)
async def update_vendor(
    business_id: uuid.UUID,
    vendor_id: VendorId,
    body: VendorSettingsPatch,
    access: BusinessProposer,
    payables: PayablesDep,
) -> VendorOut:
    """Change a vendor's settings: ``critical`` (its bills are Must Pay), ``grace_days`` (days past due it tolerates:
    a bill that can wait is safe until its due date plus these), ``late_fees`` (its bills are Must Pay), ``note``."""
    return await payables.update_vendor(vendor_id, body, access.user.id)
