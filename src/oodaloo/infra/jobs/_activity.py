"""Recording what users did: an Activity row in the caller's transaction, and the freshness policy's activity stamp."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.infra.jobs._freshness import FreshnessPolicy
from oodaloo.infra.jobs.models import Activity


class ActivityRecorder:
    def __init__(self, freshness: FreshnessPolicy) -> None:
        self._freshness = freshness

    async def record_user_activity(
        self,
        session: AsyncSession,
        *,
        business_id: uuid.UUID,
        user_id: uuid.UUID | None,
        kind: str,
        subject: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Add an Activity row (flushed; the caller's boundary commits) and stamp the business as active.

        The stamp is set before the commit: if the caller rolls back, the business merely counts as active a little
        longer, which only makes the scheduler refresh it sooner.
        """
        await Activity.record(
            session, business_id=business_id, user_id=user_id, kind=kind, subject=subject, detail=detail
        )
        await self._freshness.mark_active(business_id)
