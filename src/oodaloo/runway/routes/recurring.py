"""Recurring outflows (payroll, rent, subscriptions, taxes, ...), found in the business's history or added by hand:
``GET /api/businesses/{business_id}/recurring-items`` (any member); adding one, changing one (a detected one too:
its amount, cadence, next date, or switching it off) and removing one (owners and advisors)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from oodaloo.domains.ap.recurring import KEEP, KEY_MAX_LENGTH, RecurringChanges, RecurringService
from oodaloo.runway.core.schemas import RecurringItemIn, RecurringItemOut, RecurringItemPatch, recurring_item_out
from oodaloo.runway.deps import BusinessAccess, BusinessProposer, SessionDep

router = APIRouter(tags=["recurring items"])

ItemId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=KEY_MAX_LENGTH,
        pattern=r"^[A-Za-z0-9+_-]+$",
        description="A detected series' key (e.g. bill-56) or the id of an item added by hand.",
    ),
]
ITEM_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such recurring item (`recurring_item_not_found`)"}
}


@router.get("/api/businesses/{business_id}/recurring-items")
async def list_recurring_items(
    business_id: uuid.UUID, access: BusinessAccess, session: SessionDep
) -> list[RecurringItemOut]:
    """Detected series (largest first, with people's changes), then items added by hand; each with its occurrences
    over the 13 weeks and why. One charged to a card whose payment is forecast is listed but counted in that payment."""
    items = await RecurringService(session, access.business.id).items(access.business.today())
    return [recurring_item_out(item) for item in items]


@router.post("/api/businesses/{business_id}/recurring-items", status_code=201)
async def add_recurring_item(
    business_id: uuid.UUID, body: RecurringItemIn, access: BusinessProposer, session: SessionDep
) -> RecurringItemOut:
    """A recurring outflow the history does not show (a new lease, a loan repayment), from ``next_date`` on."""
    item = await RecurringService(session, access.business.id).add(
        name=body.name,
        category=body.category,
        cadence=body.cadence,
        amount=body.amount,
        next_date=body.next_date,
        today=access.business.today(),
        actor_id=access.user.id,
    )
    return recurring_item_out(item)


@router.patch("/api/businesses/{business_id}/recurring-items/{item_id}", responses=ITEM_NOT_FOUND)
async def change_recurring_item(
    business_id: uuid.UUID, item_id: ItemId, body: RecurringItemPatch, access: BusinessProposer, session: SessionDep
) -> RecurringItemOut:
    """Change the fields sent (see the body's description)."""
    sent = body.model_fields_set
    changes = RecurringChanges(
        **{name: getattr(body, name) if name in sent else KEEP for name in RecurringItemPatch.model_fields}
    )
    item = await RecurringService(session, access.business.id).change(
        item_id, changes, today=access.business.today(), actor_id=access.user.id
    )
    return recurring_item_out(item)


@router.delete("/api/businesses/{business_id}/recurring-items/{item_id}", status_code=204, responses=ITEM_NOT_FOUND)
async def remove_recurring_item(
    business_id: uuid.UUID, item_id: ItemId, access: BusinessProposer, session: SessionDep
) -> Response:
    """An item added by hand is deleted; a detected one is switched off (``PATCH`` with ``"disabled": false`` puts
    it back)."""
    await RecurringService(session, access.business.id).remove(
        item_id, today=access.business.today(), actor_id=access.user.id
    )
    return Response(status_code=204)
