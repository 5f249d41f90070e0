"""Delaying a bill as an action: ``POST /api/businesses/{business_id}/bills/{bill_id}/delay`` moves its planned pay date
(our plan; QuickBooks' due date stays the vendor's), once per ``Idempotency-Key`` (owners and advisors)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from oodaloo.domains.ap.delay import DelayBillIn, DelayOut, DelayService
from oodaloo.runway.deps import BusinessProposer, SessionDep
from oodaloo.runway.routes.action_deps import (
    ACTION_KEY_PARAMETER,
    ACTION_RESPONSES,
    BillId,
    IdempotencyKey,
    RunnerDep,
    action_reply,
    begin_action,
)

router = APIRouter(tags=["bills"])


@router.post(
    "/api/businesses/{business_id}/bills/{bill_id}/delay",
    response_model=DelayOut,
    openapi_extra={"parameters": [ACTION_KEY_PARAMETER]},
    responses={**ACTION_RESPONSES, 404: {"description": "No such bill"}},
)
async def delay_bill(
    business_id: uuid.UUID,
    bill_id: BillId,
    body: DelayBillIn,
    access: BusinessProposer,
    session: SessionDep,
    runner: RunnerDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Plan to pay the bill on ``planned_pay_date``. Nothing is written to QuickBooks; the reply carries the action's
    status and the runway impact."""
    actor, key = await begin_action(access, session, idempotency_key)
    out, status = await DelayService(runner).delay(actor, bill_id, body, key)
    return action_reply(out, status)
