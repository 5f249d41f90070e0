"""Generic repositories: statement builders over one session; tenant scoping lives here, once."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped


class HasId(Protocol):
    id: Mapped[uuid.UUID]


class HasBusiness(HasId, Protocol):
    business_id: Mapped[uuid.UUID]


ModelT = TypeVar("ModelT", bound=HasId)
TenantModelT = TypeVar("TenantModelT", bound=HasBusiness)


class Repository(Generic[ModelT]):
    """Reads and writes one model through the caller's session; writes only ``flush()``."""

    model: ClassVar[type[Any]]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def select(self) -> Select[ModelT]:
        return select(self.model)

    async def get(self, id_: uuid.UUID) -> ModelT | None:
        return await self.one_or_none(self.select().where(self.model.id == id_))

    async def one_or_none(self, statement: Select[ModelT]) -> ModelT | None:
        result = await self.session.execute(statement)
        return result.scalars().one_or_none()

    async def all(self, statement: Select[ModelT]) -> Sequence[ModelT]:
        result = await self.session.execute(statement)
        return result.scalars().all()

    async def add(self, instance: ModelT) -> ModelT:
        self.session.add(instance)
        await self.session.flush()
        return instance

    async def delete(self, instance: ModelT) -> None:
        await self.session.delete(instance)
        await self.session.flush()


class TenantRepository(Repository[TenantModelT]):
    """A repository bound to one business: every statement it builds is filtered by ``business_id``."""

    def __init__(self, session: AsyncSession, business_id: uuid.UUID) -> None:
        super().__init__(session)
        self.business_id = business_id

    def select(self) -> Select[TenantModelT]:
        return super().select().where(self.model.business_id == self.business_id)

    async def add(self, instance: TenantModelT) -> TenantModelT:
        if instance.business_id is None:
            instance.business_id = self.business_id
        elif instance.business_id != self.business_id:
            raise ValueError("instance belongs to another business")
        return await super().add(instance)

    async def delete(self, instance: TenantModelT) -> None:
        if instance.business_id != self.business_id:
            raise ValueError("instance belongs to another business")
        await super().delete(instance)
