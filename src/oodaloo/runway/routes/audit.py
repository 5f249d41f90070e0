"""The audit log of a business, ``GET /api/businesses/{business_id}/audit`` (any member): who proposed, approved,
executed or changed what, newest first, a page at a time."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from oodaloo.domains.core.audit import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, AuditLog
from oodaloo.domains.core.schemas import AuditActorOut, AuditEventOut, AuditPageOut
from oodaloo.runway.deps import BusinessAccess, SessionDep

router = APIRouter(tags=["audit"])

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Events per page.")]
Cursor = Annotated[str | None, Query(min_length=1, max_length=64, description="``next_cursor`` of the previous page.")]


@router.get("/api/businesses/{business_id}/audit")
async def list_audit_events(
    business_id: uuid.UUID,
    access: BusinessAccess,
    session: SessionDep,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> AuditPageOut:
    """Events newest first; follow ``next_cursor`` for older ones until it is null."""
    page = await AuditLog(session).page(access.business.id, limit=limit, cursor=cursor)
    return AuditPageOut(
        events=[
            AuditEventOut(
                id=event.id,
                at=event.at,
                action=event.action,
                actor=None
                if actor is None
                else AuditActorOut(user_id=actor.id, display_name=actor.display_name, email=actor.email),
                subject_type=event.subject_type,
                subject_id=event.subject_id,
                detail=event.detail,
            )
            for event, actor in page.events
        ],
        next_cursor=page.next_cursor,
    )
