"""Plans over the JSON API, under ``/api/businesses/{business_id}/plans``: gather actions (advisors and owners), preview
their combined runway impact, propose, approve and execute (owners, and advisors allowed to act), and follow the
execution: its status (``GET .../plans/{plan_id}``) or a stream of server-sent events (``GET .../{plan_id}/events``)
with every item's result as it lands."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import JSONResponse, StreamingResponse

from oodaloo.domains.core.plan_models import PlanStatus
from oodaloo.domains.core.plan_schemas import (
    ApproveIn,
    PlanIn,
    PlanItemsIn,
    PlanOut,
    PlanPreviewOut,
    PlanSummaryOut,
    PlanTransitionOut,
)
from oodaloo.domains.core.plans import PlanService
from oodaloo.infra.db.engine import Database
from oodaloo.infra.jobs.smart_sync import SmartSyncService
from oodaloo.runway.core.action_impact import RunwayImpactEstimator
from oodaloo.runway.deps import BusinessAccess, BusinessActor, BusinessProposer, SessionDep
from oodaloo.runway.routes.action_deps import FreshnessDep, acting_member

router = APIRouter(prefix="/api/businesses/{business_id}/plans", tags=["plans"])

# How often the event stream looks at the plan, and how long one stream lasts (a client reconnects for more).
EVENT_POLL_SECONDS = 0.25
EVENT_STREAM_SECONDS = 600.0
# A comment line now and then keeps proxies from closing a quiet stream.
KEEPALIVE_SECONDS = 15.0
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such plan (`plan_not_found`)"}}
CONFLICT: dict[int | str, dict[str, Any]] = {409: {"description": "Not allowed in the plan's status, or it changed"}}


def get_plans(request: Request, freshness: FreshnessDep) -> PlanService:
    database: Database = request.app.state.database
    sync: SmartSyncService = request.app.state.smart_sync
    return PlanService(
        sessionmaker=database.sessionmaker,
        sync=sync,
        freshness=freshness,
        impacts=RunwayImpactEstimator(database.sessionmaker),
    )


Plans = Annotated[PlanService, Depends(get_plans)]


@router.post("", status_code=status.HTTP_201_CREATED, responses={409: {"description": "`mirror_not_synced`"}})
async def create_plan(
    business_id: uuid.UUID, body: PlanIn, access: BusinessProposer, session: SessionDep, plans: Plans
) -> PlanOut:
    """A draft plan, with items if given (each checked against the mirror, in order: an item that cannot be done is
    refused naming it, e.g. ``items.2.amount``)."""
    actor = await acting_member(access, session)
    return await plans.create(actor, body)


@router.get("")
async def list_plans(
    business_id: uuid.UUID,
    access: BusinessAccess,
    session: SessionDep,
    plans: Plans,
    plan_status: Annotated[PlanStatus | None, Query(alias="status")] = None,
) -> list[PlanSummaryOut]:
    """The business's plans, newest first."""
    await session.commit()
    return await plans.listed(access.business.id, plan_status)


@router.get("/{plan_id}", responses=NOT_FOUND)
async def get_plan(
    business_id: uuid.UUID, plan_id: uuid.UUID, access: BusinessAccess, session: SessionDep, plans: Plans
) -> PlanOut:
    """The plan and its items; while it executes, each item's status, and once done its result and receipt."""
    await session.commit()
    return await plans.get(access.business.id, plan_id)


@router.post("/{plan_id}/items", responses={**NOT_FOUND, **CONFLICT})
async def add_plan_items(
    business_id: uuid.UUID,
    plan_id: uuid.UUID,
    body: PlanItemsIn,
    access: BusinessProposer,
    session: SessionDep,
    plans: Plans,
) -> PlanOut:
    """Add items to a draft (checked with the plan's other items)."""
    actor = await acting_member(access, session)
    return await plans.add_items(actor, plan_id, body)


@router.delete("/{plan_id}/items/{item_id}", responses={**NOT_FOUND, **CONFLICT})
async def remove_plan_item(
    business_id: uuid.UUID,
    plan_id: uuid.UUID,
    item_id: uuid.UUID,
    access: BusinessProposer,
    session: SessionDep,
    plans: Plans,
) -> PlanOut:
    actor = await acting_member(access, session)
    return await plans.remove_item(actor, plan_id, item_id)


@router.get("/{plan_id}/impact", responses=NOT_FOUND)
async def preview_plan(
    business_id: uuid.UUID, plan_id: uuid.UUID, access: BusinessAccess, session: SessionDep, plans: Plans
) -> PlanPreviewOut:
    """The runway before and after every item still to run, together (nothing is changed)."""
    actor = await acting_member(access, session)
    return await plans.preview(actor, plan_id)


@router.post("/{plan_id}/propose", responses={**NOT_FOUND, **CONFLICT})
async def propose_plan(
    business_id: uuid.UUID, plan_id: uuid.UUID, access: BusinessProposer, session: SessionDep, plans: Plans
) -> PlanTransitionOut:
    """Put a draft to the owner for approval (its items are fixed from then on)."""
    actor = await acting_member(access, session)
    return await plans.propose(actor, plan_id)


@router.post("/{plan_id}/approve", responses={**NOT_FOUND, **CONFLICT})
async def approve_plan(
    business_id: uuid.UUID,
    plan_id: uuid.UUID,
    access: BusinessActor,
    session: SessionDep,
    plans: Plans,
    body: ApproveIn | None = None,
) -> PlanTransitionOut:
    """Approve a draft or proposed plan (send ``revision`` to approve only the plan as you saw it). Every item is
    checked on QuickBooks' current books; an approved plan cannot be approved again (409)."""
    actor = await acting_member(access, session)
    return await plans.approve(actor, plan_id, body or ApproveIn())


@router.post(
    "/{plan_id}/execute",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=PlanTransitionOut,
    responses={**NOT_FOUND, **CONFLICT, 200: {"model": PlanTransitionOut, "description": "Already finished"}},
)
async def execute_plan(
    business_id: uuid.UUID, plan_id: uuid.UUID, access: BusinessActor, session: SessionDep, plans: Plans
) -> JSONResponse:
    """Execute an approved plan in the background (202); follow it with ``GET .../plans/{plan_id}`` or its events.
    Asked again, nothing runs twice."""
    actor = await acting_member(access, session)
    moved = await plans.execute(actor, plan_id)
    code = status.HTTP_200_OK if moved.plan.status is PlanStatus.FINISHED else status.HTTP_202_ACCEPTED
    return JSONResponse(moved.model_dump(mode="json"), status_code=code)


@router.post("/{plan_id}/cancel", responses={**NOT_FOUND, **CONFLICT})
async def cancel_plan(
    business_id: uuid.UUID, plan_id: uuid.UUID, access: BusinessProposer, session: SessionDep, plans: Plans
) -> PlanTransitionOut:
    """Give up a plan before it executes."""
    actor = await acting_member(access, session)
    return await plans.cancel(actor, plan_id)


@router.get(
    "/{plan_id}/events",
    responses={
        **NOT_FOUND,
        200: {"content": {"text/event-stream": {}}, "description": "`plan` and `item` events, then `end`"},
    },
)
async def plan_events(
    business_id: uuid.UUID, plan_id: uuid.UUID, access: BusinessAccess, session: SessionDep, plans: Plans
) -> StreamingResponse:
    """Server-sent events: ``plan`` (the whole plan, first and whenever its status changes), ``item`` (an item whose
    status changed, with its result), and ``end`` once the plan is finished or cancelled."""
    first = await plans.get(access.business.id, plan_id)  # a plan not there answers 404 before the stream starts
    await session.commit()
    return StreamingResponse(
        _events(plans, access.business.id, first),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _events(plans: PlanService, business_id: uuid.UUID, first: PlanOut) -> AsyncIterator[str]:
    yield _event("plan", first.model_dump(mode="json"))
    seen = {item.item_id: item.model_dump(mode="json") for item in first.items}
    plan_status = first.status
    started = last_sent = time.monotonic()
    while plan_status not in (PlanStatus.FINISHED, PlanStatus.CANCELLED):
        if time.monotonic() - started > EVENT_STREAM_SECONDS:
            return
        await asyncio.sleep(EVENT_POLL_SECONDS)
        current = await plans.get(business_id, first.plan_id)
        for item in current.items:
            shown = item.model_dump(mode="json")
            if seen.get(item.item_id) != shown:
                seen[item.item_id] = shown
                last_sent = time.monotonic()
                yield _event("item", shown)
        if current.status is not plan_status:
            plan_status = current.status
            last_sent = time.monotonic()
            yield _event("plan", current.model_dump(mode="json"))
        if time.monotonic() - last_sent > KEEPALIVE_SECONDS:
            last_sent = time.monotonic()
            yield ": keep-alive\n\n"
    yield _event("end", {"plan_id": str(first.plan_id), "status": plan_status.value})


def _event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
