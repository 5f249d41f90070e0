"""What became of an action (e.g. a bill payment): ``GET /api/businesses/{business_id}/actions/{action_id}``."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from oodaloo.domains.ap.schemas import ActionOut
from oodaloo.infra.web.errors import NotFound
from oodaloo.runway.deps import BusinessAccess
from oodaloo.runway.routes.bills import BillServiceDep

router = APIRouter(tags=["actions"])


class ActionNotFound(NotFound):
    code = "action_not_found"
    message = "No such action."


@router.get("/api/businesses/{business_id}/actions/{action_id}")
async def get_action(
    business_id: uuid.UUID, action_id: uuid.UUID, access: BusinessAccess, bills: BillServiceDep
) -> ActionOut:
    """Status, attempts, the QuickBooks object it made, why it failed, and any drift found afterwards."""
    action = await bills.action(access.business.id, action_id)
    if action is None:
        raise ActionNotFound()
    return action
