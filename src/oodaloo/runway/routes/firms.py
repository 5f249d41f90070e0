"""Advisor firms over the JSON API: create one (the creator is its admin), manage its members (admins), and list its
client businesses. Non-members get 404 for a firm, as for a business."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from oodaloo.domains.core.schemas import FirmClientOut, FirmIn, FirmMemberIn, FirmMemberOut, FirmMemberPatch, FirmOut
from oodaloo.domains.core.service import FirmService, FirmWithRole
from oodaloo.runway.deps import CurrentUser, FirmAccess, FirmAdmin, FirmContext, SessionDep

router = APIRouter(prefix="/api/firms", tags=["firms"])


def _firm_out(found: FirmWithRole | FirmContext) -> FirmOut:
    return FirmOut(id=found.firm.id, name=found.firm.name, created_at=found.firm.created_at, role=found.role)


@router.get("")
async def list_firms(user: CurrentUser, session: SessionDep) -> list[FirmOut]:
    """The firms the caller is a member of, with the caller's role in each."""
    return [_firm_out(found) for found in await FirmService(session).list_for(user)]


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_firm(body: FirmIn, user: CurrentUser, session: SessionDep) -> FirmOut:
    """The creator becomes the firm's admin. Owners engage the firm by the id in the reply."""
    return _firm_out(await FirmService(session).create(user, body))


@router.get("/{firm_id}")
async def get_firm(access: FirmAccess) -> FirmOut:
    return _firm_out(access)


@router.get("/{firm_id}/members")
async def list_firm_members(access: FirmAccess, session: SessionDep) -> list[FirmMemberOut]:
    return await FirmService(session).list_members(access.firm.id)


@router.post("/{firm_id}/members", status_code=status.HTTP_201_CREATED)
async def add_firm_member(body: FirmMemberIn, access: FirmAdmin, session: SessionDep) -> FirmMemberOut:
    """Add an existing account to the firm (admins only): it reaches every client business as an advisor."""
    return await FirmService(session).add_member(access.firm, body.email, body.role, access.user)


@router.patch("/{firm_id}/members/{user_id}")
async def change_firm_member(
    user_id: uuid.UUID, body: FirmMemberPatch, access: FirmAdmin, session: SessionDep
) -> FirmMemberOut:
    """Make a member admin or advisor (admins only); the last admin cannot be demoted."""
    return await FirmService(session).change_member_role(access.firm, user_id, body.role)


@router.delete("/{firm_id}/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_firm_member(user_id: uuid.UUID, access: FirmAdmin, session: SessionDep) -> None:
    """Remove a member (admins only); the last admin cannot be removed."""
    await FirmService(session).remove_member(access.firm, user_id, access.user)


@router.get("/{firm_id}/clients")
async def list_firm_clients(access: FirmAccess, session: SessionDep) -> list[FirmClientOut]:
    """The businesses that engage this firm, by name, with the caller's role and whether the caller may act."""
    return await FirmService(session).clients(access.firm.id, access.user)
