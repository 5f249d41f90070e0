"""Statement builders for the core tables; membership queries are tenant-scoped by the base class."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from oodaloo.domains.core.models import ApiToken, Business, Membership, Role, User, UserSession
from oodaloo.infra.db.repository import Repository, TenantRepository


class UserRepository(Repository[User]):
    model = User

    async def by_email(self, email: str) -> User | None:
        return await self.one_or_none(self.select().where(User.email == email))


class BusinessRepository(Repository[Business]):
    model = Business

    async def with_role_for(self, user_id: uuid.UUID) -> Sequence[tuple[Business, Role]]:
        """The businesses ``user_id`` belongs to, with their role in each, oldest first."""
        statement = (
            select(Business, Membership.role)
            .join(Membership, Membership.business_id == Business.id)
            .where(Membership.user_id == user_id)
            .order_by(Business.created_at, Business.id)
        )
        result = await self.session.execute(statement)
        return [(business, role) for business, role in result.all()]


class MembershipRepository(TenantRepository[Membership]):
    model = Membership

    async def of_user(self, user_id: uuid.UUID) -> Membership | None:
        statement = (
            self.select()
            .where(Membership.user_id == user_id)
            .options(joinedload(Membership.business), joinedload(Membership.user))
        )
        return await self.one_or_none(statement)

    async def with_users(self) -> Sequence[Membership]:
        statement = self.select().options(joinedload(Membership.user)).order_by(Membership.created_at, Membership.id)
        return await self.all(statement)

    async def owners_for_update(self) -> Sequence[Membership]:
        """The owners, row-locked on PostgreSQL so two concurrent demotions cannot both leave zero owners."""
        return await self.all(self.select().where(Membership.role == Role.OWNER).with_for_update())


class UserSessionRepository(Repository[UserSession]):
    model = UserSession

    async def active_by_digest(self, token_digest: str, now: datetime) -> UserSession | None:
        statement = (
            self.select()
            .where(UserSession.token_digest == token_digest)
            .where(UserSession.revoked_at.is_(None), UserSession.expires_at > now)
            .options(joinedload(UserSession.user))
        )
        return await self.one_or_none(statement)


class ApiTokenRepository(Repository[ApiToken]):
    model = ApiToken

    async def active_by_digest(self, token_digest: str) -> ApiToken | None:
        statement = (
            self.select()
            .where(ApiToken.token_digest == token_digest, ApiToken.revoked_at.is_(None))
            .options(joinedload(ApiToken.user))
        )
        return await self.one_or_none(statement)

    async def of_user(self, user_id: uuid.UUID) -> Sequence[ApiToken]:
        statement = self.select().where(ApiToken.user_id == user_id).order_by(ApiToken.created_at, ApiToken.id)
        return await self.all(statement)

    async def of_user_by_id(self, user_id: uuid.UUID, token_id: uuid.UUID) -> ApiToken | None:
        return await self.one_or_none(self.select().where(ApiToken.user_id == user_id, ApiToken.id == token_id))
