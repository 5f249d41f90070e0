"""Queries for QBO connections (one per business) and the activity rows connection changes leave behind."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.qbo.models import QBOConnection
from oodaloo.infra.db.repository import Repository, TenantRepository
from oodaloo.infra.jobs.models import Activity


class QBOConnectionRepository(TenantRepository[QBOConnection]):
    model = QBOConnection

    async def current(self, *, for_update: bool = False) -> QBOConnection | None:
        """The business's connection row; ``for_update`` locks it until commit (PostgreSQL; SQLite locks the file)."""
        statement = self.select()
        if for_update:
            statement = statement.with_for_update()
        return await self.one_or_none(statement)


class AllConnections(Repository[QBOConnection]):
    """Across businesses, for maintenance only (re-encrypting every row after a key rotation)."""

    model = QBOConnection

    async def with_tokens(self) -> Sequence[QBOConnection]:
        return await self.all(self.select().where(QBOConnection.refresh_token_encrypted.is_not(None)))


async def record_activity(
    session: AsyncSession,
    *,
    business_id: uuid.UUID,
    user_id: uuid.UUID | None,
    kind: str,
    subject: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(Activity(business_id=business_id, user_id=user_id, kind=kind, subject=subject, detail=detail))
    await session.flush()
