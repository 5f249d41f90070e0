"""Businesses, their members and the advisor firms they engage, over the JSON API; every route under a business checks
the caller's access first (``runway/deps.py``)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from oodaloo.domains.core.models import Business
from oodaloo.domains.core.schemas import (
    BusinessIn,
    BusinessOut,
    BusinessPatch,
    EngagementIn,
    EngagementOut,
    EngagementPatch,
    MemberIn,
    MemberOut,
    MemberPatch,
)
from oodaloo.domains.core.service import BusinessService, BusinessWithRole, FirmService
from oodaloo.runway.deps import BusinessAccess, BusinessActor, BusinessContext, BusinessOwner, CurrentUser, SessionDep

router = APIRouter(prefix="/api/businesses", tags=["businesses"])


def _business_out(business: Business, reached: BusinessWithRole | BusinessContext) -> BusinessOut:
    return BusinessOut(
        id=business.id,
        name=business.name,
        timezone=business.timezone,
        currency=business.currency,
        qbo_realm_id=business.qbo_realm_id,
        created_at=business.created_at,
        role=reached.grant.role,
        may_act=reached.grant.can_act,
        firm_id=reached.grant.firm_id,
    )


@router.get("")
async def list_businesses(user: CurrentUser, session: SessionDep) -> list[BusinessOut]:
    """The businesses the caller reaches (as a member, or as an advisor of a firm they engaged), with the caller's
    role in each."""
    return [_business_out(entry.business, entry) for entry in await BusinessService(session).list_for(user)]


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_business(body: BusinessIn, user: CurrentUser, session: SessionDep) -> BusinessOut:
    """The creator becomes the business's owner."""
    service = BusinessService(session)
    business = await service.create(user, body)
    reached = await service.access(business.id, user)
    assert reached is not None  # just made its owner
    return _business_out(business, reached)


@router.get("/{business_id}")
async def get_business(access: BusinessAccess) -> BusinessOut:
    return _business_out(access.business, access)


@router.patch("/{business_id}")
async def update_business(body: BusinessPatch, access: BusinessActor, session: SessionDep) -> BusinessOut:
    """Rename the business or change its time zone or currency (owners, and advisors allowed to act)."""
    business = await BusinessService(session).update(access.business, body, access.user)
    return _business_out(business, access)


@router.get("/{business_id}/members")
async def list_members(access: BusinessAccess, session: SessionDep) -> list[MemberOut]:
    return await BusinessService(session).list_members(access.business.id)


@router.post("/{business_id}/members", status_code=status.HTTP_201_CREATED)
async def add_member(body: MemberIn, access: BusinessOwner, session: SessionDep) -> MemberOut:
    """Add an existing account to the business with a role (owners only); an advisor may be allowed to act."""
    return await BusinessService(session).add_member(
        access.business.id, body.email, body.role, may_act=body.may_act, actor=access.user
    )


@router.patch("/{business_id}/members/{user_id}")
async def change_member(user_id: uuid.UUID, body: MemberPatch, access: BusinessOwner, session: SessionDep) -> MemberOut:
    """Change a member's role, or whether an advisor may act (owners only); the last owner cannot be demoted. A role
    change withdraws the permission to act unless the same request grants it."""
    return await BusinessService(session).change_member(access.business.id, user_id, body, access.user)


@router.delete("/{business_id}/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_member(user_id: uuid.UUID, access: BusinessOwner, session: SessionDep) -> None:
    """Remove a member; the last owner cannot be removed."""
    await BusinessService(session).remove_member(access.business.id, user_id, access.user)


@router.get("/{business_id}/firms")
async def list_engaged_firms(access: BusinessAccess, session: SessionDep) -> list[EngagementOut]:
    """The advisor firms this business engages: their members see it as advisors."""
    return await FirmService(session).engagements(access.business.id)


@router.post("/{business_id}/firms", status_code=status.HTTP_201_CREATED)
async def engage_firm(body: EngagementIn, access: BusinessOwner, session: SessionDep) -> EngagementOut:
    """Engage an advisor firm by its id (owners only): its members then see this business as advisors, and act in it
    only if ``advisors_may_act``."""
    return await FirmService(session).engage(access.business.id, body.firm_id, body.advisors_may_act, access.user)


@router.patch("/{business_id}/firms/{firm_id}")
async def change_engagement(
    firm_id: uuid.UUID, body: EngagementPatch, access: BusinessOwner, session: SessionDep
) -> EngagementOut:
    """Let the firm's advisors act in this business, or withdraw it (owners only)."""
    return await FirmService(session).set_advisors_may_act(
        access.business.id, firm_id, body.advisors_may_act, access.user
    )


@router.delete("/{business_id}/firms/{firm_id}", status_code=status.HTTP_204_NO_CONTENT)
async def end_engagement(firm_id: uuid.UUID, access: BusinessOwner, session: SessionDep) -> None:
    """End the engagement (owners only): the firm's members no longer reach this business through it."""
    await FirmService(session).disengage(access.business.id, firm_id, access.user)
