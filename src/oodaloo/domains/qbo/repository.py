"""Queries for QBO connections (one per business)."""

from __future__ import annotations

from collections.abc import Sequence

from oodaloo.domains.qbo.models import QBOConnection
from oodaloo.infra.db.repository import Repository, TenantRepository


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
