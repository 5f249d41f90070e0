"""Scheduled bill payments: ``POST /api/businesses/{business_id}/bills/{bill_id}/scheduled-payments`` stores a payment
for a day (its amount earmarked from now; made on its day, once), ``GET .../scheduled-payments`` and
``GET .../scheduled-payments/{id}`` show them, ``POST .../scheduled-payments/{id}/cancel`` cancels one still waiting
(its earmark released). Scheduling and cancelling: owners, and advisors allowed to act."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from oodaloo.domains.ap.scheduled import (
    CancelledOut,
    ScheduledAnswerOut,
    ScheduledPaymentOut,
    ScheduledPaymentService,
    SchedulePaymentIn,
)
from oodaloo.domains.ap.scheduled_models import ScheduledStatus
from oodaloo.runway.deps import BusinessAccess, BusinessActor, SessionDep
from oodaloo.runway.routes.action_deps import (
    ACTION_KEY_PARAMETER,
    ACTION_RESPONSES,
    BillId,
    IdempotencyKey,
    RunnerDep,
    acting_member,
    action_reply,
    begin_action,
)

router = APIRouter(tags=["scheduled payments"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such scheduled payment (`scheduled_payment_not_found`)"}
}


@router.post(
    "/api/businesses/{business_id}/bills/{bill_id}/scheduled-payments",
    response_model=ScheduledAnswerOut,
    openapi_extra={"parameters": [ACTION_KEY_PARAMETER]},
    responses={**ACTION_RESPONSES, 404: {"description": "No such bill"}},
)
async def schedule_payment(
    business_id: uuid.UUID,
    bill_id: BillId,
    body: SchedulePaymentIn,
    access: BusinessActor,
    session: SessionDep,
    runner: RunnerDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Pay ``amount`` of the bill on ``pay_on`` (the business's date): from now its amount is out of free cash; on its
    day it is paid in QuickBooks once. The amounts scheduled for a bill may not exceed its open balance."""
    actor, key = await begin_action(access, session, idempotency_key)
    out, status = await ScheduledPaymentService(runner).schedule(actor, bill_id, body, key)
    return action_reply(out, status)


@router.get("/api/businesses/{business_id}/scheduled-payments")
async def list_scheduled_payments(
    business_id: uuid.UUID,
    access: BusinessAccess,
    session: SessionDep,
    runner: RunnerDep,
    status: Annotated[ScheduledStatus | None, Query(description="Only those in this status.")] = None,
) -> list[ScheduledPaymentOut]:
    """The business's scheduled payments, latest day first."""
    await session.commit()
    return await ScheduledPaymentService(runner).listed(access.business.id, status)


@router.get("/api/businesses/{business_id}/scheduled-payments/{scheduled_payment_id}", responses=NOT_FOUND)
async def get_scheduled_payment(
    business_id: uuid.UUID,
    scheduled_payment_id: uuid.UUID,
    access: BusinessAccess,
    session: SessionDep,
    runner: RunnerDep,
) -> ScheduledPaymentOut:
    await session.commit()
    return await ScheduledPaymentService(runner).get(access.business.id, scheduled_payment_id)


@router.post(
    "/api/businesses/{business_id}/scheduled-payments/{scheduled_payment_id}/cancel",
    responses={**NOT_FOUND, 409: {"description": "Already running, paid or failed"}},
)
async def cancel_scheduled_payment(
    business_id: uuid.UUID,
    scheduled_payment_id: uuid.UUID,
    access: BusinessActor,
    session: SessionDep,
    runner: RunnerDep,
) -> CancelledOut:
    """Cancel a payment still waiting for its day: its earmark is released (the reply's impact shows by how much).
    Cancelling it again answers the same (``already_cancelled``)."""
    actor = await acting_member(access, session)
    return await ScheduledPaymentService(runner).cancel(actor, scheduled_payment_id)
