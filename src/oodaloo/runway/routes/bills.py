"""Bills: the open ones, ``GET /api/businesses/{business_id}/bills``, and the Must Pay / Can Delay board,
``GET .../bills/board`` (any member); a bill's plan, ``PATCH .../bills/{bill_id}/plan`` (owners and advisors); and
paying one, ``POST .../bills/{bill_id}/pay`` (owners, and advisors allowed to act)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from oodaloo.domains.ap.errors import IDEMPOTENCY_KEY_HEADER
from oodaloo.domains.ap.payables import PayablesService
from oodaloo.domains.ap.schemas import (
    BillBoardOut,
    BillPaymentOut,
    BillPlanPatch,
    BoardBillOut,
    OpenBillOut,
    PayBillIn,
)
from oodaloo.domains.ap.service import BillService
from oodaloo.runway.deps import BusinessAccess, BusinessActor, BusinessProposer, SessionDep
from oodaloo.runway.routes.action_deps import (
    ACTION_KEY_PARAMETER,
    BillId,
    IdempotencyKey,
    RunnerDep,
    action_reply,
    begin_action,
)

router = APIRouter(tags=["bills"])


def get_bill_service(runner: RunnerDep) -> BillService:
    return BillService(runner)


BillServiceDep = Annotated[BillService, Depends(get_bill_service)]
BillStatus = Annotated[Literal["open"], Query(description="Which bills: those with a balance left to pay.")]


@router.get("/api/businesses/{business_id}/bills")
async def list_bills(
    business_id: uuid.UUID,
    access: BusinessAccess,
    session: SessionDep,
    bills: BillServiceDep,
    status: BillStatus = "open",
) -> list[OpenBillOut]:
    """The bills with a balance left to pay, soonest due first (money as decimal strings): from the business's mirror
    of QuickBooks once it has been synced, each with its ``decision`` (Must Pay or Can Delay, the reason, its planned
    and latest safe pay dates); from QuickBooks itself before that, without decisions."""
    # The membership check is done: end its transaction rather than hold a connection while QuickBooks answers.
    await session.commit()
    return await bills.open_bills(access.business.id, access.business.timezone)


MIRROR_NOT_SYNCED: dict[int | str, dict[str, Any]] = {
    409: {"description": "The business's first sync has not completed (`mirror_not_synced`)"}
}


def payables_of(access: BusinessAccess, session: SessionDep) -> PayablesService:
    business = access.business
    return PayablesService(session, business_id=business.id, timezone=business.timezone, realm_id=business.qbo_realm_id)


@router.get("/api/businesses/{business_id}/bills/board", responses=MIRROR_NOT_SYNCED)
async def bill_board(
    business_id: uuid.UUID, access: BusinessAccess, payables: Annotated[PayablesService, Depends(payables_of)]
) -> BillBoardOut:
    """The open bills in two columns, Must Pay and Can Delay, each by due window (overdue, this week, next week,
    later; weeks Monday to Sunday in the business's time zone) and vendor; each bill with its reason and dates. Read
    from the business's mirror of QuickBooks."""
    return await payables.board()


@router.patch(
    "/api/businesses/{business_id}/bills/{bill_id}/plan",
    responses={**MIRROR_NOT_SYNCED, 404: {"description": "No such bill"}},
)
async def plan_bill(
    business_id: uuid.UUID,
    bill_id: BillId,
    body: BillPlanPatch,
    access: BusinessProposer,
    payables: Annotated[PayablesService, Depends(payables_of)],
) -> BoardBillOut:
    """Set or clear (``null``) a bill's class override (Must Pay / Can Delay, over the rules), its note and the day
    we plan to pay it (our plan: the due date in QuickBooks stays the vendor's). The bill must be open (409
    ``bill_not_open`` otherwise). Answers the bill with its new decision."""
    return await payables.plan_bill(bill_id, body, access.user.id)


@router.post(
    "/api/businesses/{business_id}/bills/{bill_id}/pay",
    response_model=BillPaymentOut,
    openapi_extra={"parameters": [ACTION_KEY_PARAMETER]},
    responses={
        202: {"model": BillPaymentOut, "description": "Sent; being confirmed with QuickBooks"},
        428: {"description": f"No {IDEMPOTENCY_KEY_HEADER} header: nothing was paid"},
        503: {
            "description": "QuickBooks is not answering, so nothing was sent (error code `qbo_unavailable`); "
            "retry after Retry-After seconds with the same Idempotency-Key",
            "headers": {
                "Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}
            },
        },
    },
)
async def pay_bill(
    business_id: uuid.UUID,
    bill_id: BillId,
    body: PayBillIn,
    access: BusinessActor,
    session: SessionDep,
    bills: BillServiceDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Pay a bill in QuickBooks, in full or in part (``amount`` up to its open balance), from a Bank (check) or Credit
    Card account: 200 when QuickBooks confirmed it, 202 while the outcome is being confirmed (follow
    ``/actions/{action_id}``). The reply carries the receipt and the runway impact, estimated before paying."""
    payer, key = await begin_action(access, session, idempotency_key, what="payment", doing="pay")
    answer = await bills.pay(payer, bill_id, body, key)
    return action_reply(answer.body, answer.http_status)
