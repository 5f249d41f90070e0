"""Businesses and their members over the JSON API; every route under a business checks membership first."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from oodaloo.domains.core.models import Business, Role
from oodaloo.domains.core.schemas import BusinessIn, BusinessOut, BusinessPatch, MemberIn, MemberOut, MemberPatch
from oodaloo.domains.core.service import BusinessService
from oodaloo.runway.deps import BusinessAccess, BusinessOwner, BusinessWriter, CurrentUser, SessionDep

router = APIRouter(prefix="/api/businesses", tags=["businesses"])


def _business_out(business: Business, role: Role) -> BusinessOut:
    return BusinessOut(
        id=business.id,
        name=business.name,
        timezone=business.timezone,
        currency=business.currency,
        qbo_realm_id=business.qbo_realm_id,
        created_at=business.created_at,
        role=role,
    )


@router.get("")
async def list_businesses(user: CurrentUser, session: SessionDep) -> list[BusinessOut]:
    """The caller's businesses, with the caller's role in each."""
    return [_business_out(entry.business, entry.role) for entry in await BusinessService(session).list_for(user)]


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_business(body: BusinessIn, user: CurrentUser, session: SessionDep) -> BusinessOut:
    """The creator becomes the business's owner."""
    business = await BusinessService(session).create(user, body)
    return _business_out(business, Role.OWNER)


@router.get("/{business_id}")
async def get_business(access: BusinessAccess) -> BusinessOut:
    return _business_out(access.business, access.role)


@router.patch("/{business_id}")
async def update_business(body: BusinessPatch, access: BusinessWriter, session: SessionDep) -> BusinessOut:
    business = await BusinessService(session).update(access.business, body)
    return _business_out(business, access.role)


@router.get("/{business_id}/members")
async def list_members(access: BusinessAccess, session: SessionDep) -> list[MemberOut]:
    return await BusinessService(session).list_members(access.business.id)


@router.post("/{business_id}/members", status_code=status.HTTP_201_CREATED)
async def add_member(body: MemberIn, access: BusinessOwner, session: SessionDep) -> MemberOut:
    """Add an existing account to the business with a role (owners only)."""
    return await BusinessService(session).add_member(access.business.id, body.email, body.role)


@router.patch("/{business_id}/members/{user_id}")
async def change_member_role(
    user_id: uuid.UUID, body: MemberPatch, access: BusinessOwner, session: SessionDep
) -> MemberOut:
    """Change a member's role; the last owner cannot be demoted."""
    return await BusinessService(session).change_role(access.business.id, user_id, body.role)


@router.delete("/{business_id}/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_member(user_id: uuid.UUID, access: BusinessOwner, session: SessionDep) -> None:
    """Remove a member; the last owner cannot be removed."""
    await BusinessService(session).remove_member(access.business.id, user_id)
