"""Invoice reminders: ``POST /api/businesses/{business_id}/invoices/{invoice_id}/reminders`` emails the invoice through
QuickBooks, never for a paid invoice (checked on a mirror synced moments before) and at most once per customer within
the cool-down (owners, and advisors allowed to act)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from oodaloo.domains.ar.reminders import ReminderOut, ReminderService
from oodaloo.runway.deps import BusinessActor, SessionDep
from oodaloo.runway.routes.action_deps import (
    ACTION_KEY_PARAMETER,
    ACTION_RESPONSES,
    FreshnessDep,
    IdempotencyKey,
    InvoiceId,
    RunnerDep,
    action_reply,
    begin_action,
)

router = APIRouter(tags=["reminders"])


@router.post(
    "/api/businesses/{business_id}/invoices/{invoice_id}/reminders",
    response_model=ReminderOut,
    openapi_extra={"parameters": [ACTION_KEY_PARAMETER]},
    responses={**ACTION_RESPONSES, 404: {"description": "No such invoice (`invoice_not_found`)"}},
)
async def send_reminder(
    business_id: uuid.UUID,
    invoice_id: InvoiceId,
    access: BusinessActor,
    session: SessionDep,
    runner: RunnerDep,
    freshness: FreshnessDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Email the invoice to its customer through QuickBooks. Refused (409) for a paid invoice (`invoice_paid`) and
    when the customer had a reminder within the cool-down, 3 days (`reminder_cooling_down`)."""
    actor, key = await begin_action(access, session, idempotency_key)
    out, status = await ReminderService(runner, freshness).send(actor, invoice_id, key)
    return action_reply(out, status)
