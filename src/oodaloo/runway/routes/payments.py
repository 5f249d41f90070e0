"""Customer payments: ``POST /api/businesses/{business_id}/invoices/{invoice_id}/payments`` records a payment received
against an invoice in QuickBooks (deposited to a bank account or Undeposited Funds), exactly once per
``Idempotency-Key`` (owners, and advisors allowed to act)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from oodaloo.domains.ar.payments import CustomerPaymentOut, CustomerPaymentService, RecordPaymentIn
from oodaloo.runway.deps import BusinessActor, SessionDep
from oodaloo.runway.routes.action_deps import (
    ACTION_KEY_PARAMETER,
    ACTION_RESPONSES,
    IdempotencyKey,
    InvoiceId,
    RunnerDep,
    action_reply,
    begin_action,
)

router = APIRouter(tags=["payments"])


@router.post(
    "/api/businesses/{business_id}/invoices/{invoice_id}/payments",
    response_model=CustomerPaymentOut,
    openapi_extra={"parameters": [ACTION_KEY_PARAMETER]},
    responses={**ACTION_RESPONSES, 404: {"description": "No such invoice (`invoice_not_found`)"}},
)
async def record_payment(
    business_id: uuid.UUID,
    invoice_id: InvoiceId,
    body: RecordPaymentIn,
    access: BusinessActor,
    session: SessionDep,
    runner: RunnerDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Record ``amount`` received from the invoice's customer, applied to it, checked against the business's mirror
    (the invoice open for the amount; the account a bank account or Undeposited Funds). 200 once QuickBooks confirmed
    it, 202 while it is being confirmed; the reply carries the receipt and the runway impact."""
    actor, key = await begin_action(access, session, idempotency_key)
    out, status = await CustomerPaymentService(runner).record(actor, invoice_id, body, key)
    return action_reply(out, status)
