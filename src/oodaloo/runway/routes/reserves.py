"""Reserves (money set aside: payroll, taxes, a custom amount) and the reserve floor, which the runway subtracts from
cash: ``GET /api/businesses/{business_id}/reserves`` (any member); creating, changing and deleting reserves and
``PUT .../reserve-floor`` (owners and advisors)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Response

from oodaloo.domains.core.reserves import ReserveService
from oodaloo.runway.core.schemas import (
    ReserveFloorIn,
    ReserveFloorOut,
    ReserveIn,
    ReserveOut,
    ReservePatch,
    ReservesOut,
    reserve_out,
)
from oodaloo.runway.deps import BusinessAccess, BusinessProposer, SessionDep

router = APIRouter(tags=["reserves"])

RESERVE_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such reserve (`reserve_not_found`)"}}


@router.get("/api/businesses/{business_id}/reserves")
async def list_reserves(business_id: uuid.UUID, access: BusinessAccess, session: SessionDep) -> ReservesOut:
    """The reserves, oldest first, each saying whether it is held today, with the floor and what is held today."""
    today = access.business.today()
    reserves = ReserveService(session, access.business.id)
    earmarks = await reserves.earmarks()
    return ReservesOut(
        as_of=today,
        floor=earmarks.floor,
        held_today=earmarks.held_on(today),
        reserves=[reserve_out(reserve, today) for reserve in await reserves.listed()],
    )


@router.post("/api/businesses/{business_id}/reserves", status_code=201)
async def create_reserve(
    business_id: uuid.UUID, body: ReserveIn, access: BusinessProposer, session: SessionDep
) -> ReserveOut:
    """Set money aside: held until ``until`` (released on it), or until deleted."""
    today = access.business.today()
    reserve = await ReserveService(session, access.business.id).create(
        kind=body.kind, name=body.name, amount=body.amount, until=body.until, today=today, actor_id=access.user.id
    )
    return reserve_out(reserve, today)


@router.patch("/api/businesses/{business_id}/reserves/{reserve_id}", responses=RESERVE_NOT_FOUND)
async def update_reserve(
    business_id: uuid.UUID, reserve_id: uuid.UUID, body: ReservePatch, access: BusinessProposer, session: SessionDep
) -> ReserveOut:
    """Change the fields sent; ``"until": null`` holds it until deleted."""
    today = access.business.today()
    sent = body.model_fields_set
    changes: dict[str, Any] = {name: getattr(body, name) for name in ("kind", "name", "amount") if name in sent}
    if "until" in sent:
        changes["until"] = body.until
    reserve = await ReserveService(session, access.business.id).update(
        reserve_id, today=today, actor_id=access.user.id, **changes
    )
    return reserve_out(reserve, today)


@router.delete("/api/businesses/{business_id}/reserves/{reserve_id}", status_code=204, responses=RESERVE_NOT_FOUND)
async def delete_reserve(
    business_id: uuid.UUID, reserve_id: uuid.UUID, access: BusinessProposer, session: SessionDep
) -> Response:
    await ReserveService(session, access.business.id).delete(reserve_id, actor_id=access.user.id)
    return Response(status_code=204)


@router.put("/api/businesses/{business_id}/reserve-floor")
async def set_reserve_floor(
    business_id: uuid.UUID, body: ReserveFloorIn, access: BusinessProposer, session: SessionDep
) -> ReserveFloorOut:
    """The least free cash to keep: the runway ends on the first day free cash falls below it."""
    floor = await ReserveService(session, access.business.id).set_floor(body.amount, actor_id=access.user.id)
    return ReserveFloorOut(floor=floor)
