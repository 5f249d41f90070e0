"""The one business rule of a read-only test drive: no one changes its books. ``BusinessService.access`` (and
``list_for``) ask here for the reason to put in the grant, so every action route refuses with it (403)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.core.models import Business
from oodaloo.domains.core.trial_models import Trial, TrialKind

READ_ONLY_REFUSAL = (
    "This is a read-only test drive of your QuickBooks company: Oodaloo reads its books and changes nothing in them. "
    "Create an account and connect the company there to pay, approve or execute."
)


async def read_only_reason(session: AsyncSession, business: Business) -> str | None:
    """Why no one may change this business's books, or None: a read-only trial, once its company is connected.
    Connecting is the one change a read-only trial makes, so it is allowed until then."""
    return (await read_only_reasons(session, (business,))).get(business.id)


async def read_only_reasons(session: AsyncSession, businesses: Iterable[Business]) -> dict[uuid.UUID, str]:
    """``read_only_reason`` of many businesses in one query: those refused, with the reason."""
    connected = [business.id for business in businesses if business.qbo_realm_id is not None]
    if not connected:
        return {}
    statement = select(Trial.business_id).where(Trial.business_id.in_(connected), Trial.kind == TrialKind.READ_ONLY)
    return dict.fromkeys(await session.scalars(statement), READ_ONLY_REFUSAL)
