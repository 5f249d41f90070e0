"""Reads of the action log for one business: an action by id (the status route) and by idempotency key (repeats)."""

from __future__ import annotations

import uuid

from oodaloo.infra.db.repository import TenantRepository
from oodaloo.infra.jobs.models import QBOAction


class ActionRepository(TenantRepository[QBOAction]):
    """Tenant-scoped: another business's action is simply not found."""

    model = QBOAction

    async def by_id(self, action_id: uuid.UUID) -> QBOAction | None:
        return await self.one_or_none(self.select().where(QBOAction.id == action_id))

    async def by_key(self, idempotency_key: str) -> QBOAction | None:
        return await self.one_or_none(self.select().where(QBOAction.idempotency_key == idempotency_key))
