"""Bills: the open ones, ``GET /api/businesses/{business_id}/bills`` (any member), and paying one,
``POST /api/businesses/{business_id}/bills/{bill_id}/pay`` (owners and advisors)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse

from oodaloo.domains.ap.schemas import QBO_ID_MAX_LENGTH, BillPaymentOut, OpenBillOut, PayBillIn
from oodaloo.domains.ap.service import BillService, Payer
from oodaloo.domains.qbo.auth import ConnectionService
from oodaloo.infra.db.engine import Database
from oodaloo.infra.jobs.models import IDEMPOTENCY_KEY_MAX_LENGTH
from oodaloo.infra.jobs.smart_sync import SmartSyncService
from oodaloo.runway.deps import BusinessAccess, BusinessWriter, SessionDep, SettingsDep

router = APIRouter(tags=["bills"])


def get_bill_service(request: Request, settings: SettingsDep) -> BillService:
    sync: SmartSyncService = request.app.state.smart_sync
    connections: ConnectionService = request.app.state.qbo_connections
    database: Database = request.app.state.database
    return BillService(
        sync=sync,
        connections=connections,
        sessionmaker=database.sessionmaker,
        deadline_seconds=settings.action_deadline_seconds,
    )


BillServiceDep = Annotated[BillService, Depends(get_bill_service)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=IDEMPOTENCY_KEY_MAX_LENGTH,
        description="Repeat it to retry safely: the same key and body answer with the first outcome.",
    ),
]
BillId = Annotated[str, Path(min_length=1, max_length=QBO_ID_MAX_LENGTH)]
BillStatus = Annotated[Literal["open"], Query(description="Which bills: those with a balance left to pay.")]


@router.get("/api/businesses/{business_id}/bills")
async def list_bills(
    business_id: uuid.UUID,
    access: BusinessAccess,
    session: SessionDep,
    bills: BillServiceDep,
    status: BillStatus = "open",
) -> list[OpenBillOut]:
    """The bills with a balance left to pay, read from QuickBooks, soonest due first (money as decimal strings)."""
    # The membership check is done: end its transaction rather than hold a connection while QuickBooks answers.
    await session.commit()
    return await bills.open_bills(access.business.id)


@router.post(
    "/api/businesses/{business_id}/bills/{bill_id}/pay",
    response_model=BillPaymentOut,
    responses={202: {"model": BillPaymentOut, "description": "Sent; being confirmed with QuickBooks"}},
)
async def pay_bill(
    business_id: uuid.UUID,
    bill_id: BillId,
    body: PayBillIn,
    access: BusinessWriter,
    session: SessionDep,
    bills: BillServiceDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Pay a bill in QuickBooks from a Bank (check) or Credit Card account: 200 when QuickBooks confirmed it, 202
    while the outcome is being confirmed (follow ``/actions/{action_id}``)."""
    payer = Payer(access.business.id, access.business.timezone, access.user.id)
    # The membership check is done: end its transaction rather than hold a connection while QuickBooks answers.
    await session.commit()
    answer = await bills.pay(payer, bill_id, body, idempotency_key)
    return JSONResponse(answer.body.model_dump(mode="json"), status_code=answer.http_status)
