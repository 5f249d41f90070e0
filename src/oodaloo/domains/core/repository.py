"""Statement builders for the core tables; membership and engagement queries are tenant-scoped by the base class,
firm-member queries by the firm they are built for."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from oodaloo.domains.core.models import (
    ApiToken,
    Business,
    Firm,
    FirmEngagement,
    FirmMember,
    FirmRole,
    Membership,
    Role,
    User,
    UserSession,
)
from oodaloo.infra.db.repository import Repository, TenantRepository


class UserRepository(Repository[User]):
    model = User

    async def by_email(self, email: str) -> User | None:
        return await self.one_or_none(self.select().where(User.email == email))

    async def many(self, user_ids: Collection[uuid.UUID]) -> Sequence[User]:
        if not user_ids:
            return []
        return await self.all(self.select().where(User.id.in_(user_ids)))


class BusinessRepository(Repository[Business]):
    model = Business

    async def memberships_of(self, user_id: uuid.UUID) -> Sequence[tuple[Business, Membership]]:
        """The businesses ``user_id`` is a direct member of, with the membership, oldest first."""
        statement = (
            select(Business, Membership)
            .join(Membership, Membership.business_id == Business.id)
            .where(Membership.user_id == user_id)
            .order_by(Business.created_at, Business.id)
        )
        result = await self.session.execute(statement)
        return [(business, membership) for business, membership in result.all()]

    async def engaged_for(self, user_id: uuid.UUID) -> Sequence[tuple[Business, FirmEngagement]]:
        """The businesses that engaged a firm ``user_id`` belongs to, with the engagement, oldest first."""
        statement = (
            select(Business, FirmEngagement)
            .join(FirmEngagement, FirmEngagement.business_id == Business.id)
            .join(FirmMember, FirmMember.firm_id == FirmEngagement.firm_id)
            .where(FirmMember.user_id == user_id)
            .order_by(Business.created_at, Business.id)
        )
        result = await self.session.execute(statement)
        return [(business, engagement) for business, engagement in result.all()]


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


class FirmRepository(Repository[Firm]):
    model = Firm

    async def with_role_for(self, user_id: uuid.UUID) -> Sequence[tuple[Firm, FirmRole]]:
        """The firms ``user_id`` belongs to, with their role in each, oldest first."""
        statement = (
            select(Firm, FirmMember.role)
            .join(FirmMember, FirmMember.firm_id == Firm.id)
            .where(FirmMember.user_id == user_id)
            .order_by(Firm.created_at, Firm.id)
        )
        result = await self.session.execute(statement)
        return [(firm, role) for firm, role in result.all()]


class FirmMemberRepository(Repository[FirmMember]):
    """The members of one firm: every statement is filtered by its ``firm_id``."""

    model = FirmMember

    def __init__(self, session: AsyncSession, firm_id: uuid.UUID) -> None:
        super().__init__(session)
        self.firm_id = firm_id

    def select(self) -> Select[FirmMember]:
        return super().select().where(FirmMember.firm_id == self.firm_id)

    async def add(self, instance: FirmMember) -> FirmMember:
        if instance.firm_id is None:
            instance.firm_id = self.firm_id
        elif instance.firm_id != self.firm_id:
            raise ValueError("member belongs to another firm")
        return await super().add(instance)

    async def of_user(self, user_id: uuid.UUID) -> FirmMember | None:
        statement = (
            self.select()
            .where(FirmMember.user_id == user_id)
            .options(joinedload(FirmMember.firm), joinedload(FirmMember.user))
        )
        return await self.one_or_none(statement)

    async def with_users(self) -> Sequence[FirmMember]:
        statement = self.select().options(joinedload(FirmMember.user)).order_by(FirmMember.created_at, FirmMember.id)
        return await self.all(statement)

    async def admins_for_update(self) -> Sequence[FirmMember]:
        """The admins, row-locked on PostgreSQL so two concurrent removals cannot both leave the firm without one."""
        return await self.all(self.select().where(FirmMember.role == FirmRole.ADMIN).with_for_update())


class FirmEngagementRepository(TenantRepository[FirmEngagement]):
    model = FirmEngagement

    async def of_firm(self, firm_id: uuid.UUID, *, for_update: bool = False) -> FirmEngagement | None:
        # An inner join: PostgreSQL cannot lock the nullable side of the outer join a plain joinedload makes.
        statement = (
            self.select()
            .where(FirmEngagement.firm_id == firm_id)
            .options(joinedload(FirmEngagement.firm, innerjoin=True))
        )
        return await self.one_or_none(statement.with_for_update(of=FirmEngagement) if for_update else statement)

    async def with_firms(self) -> Sequence[FirmEngagement]:
        statement = (
            self.select()
            .options(joinedload(FirmEngagement.firm))
            .order_by(FirmEngagement.created_at, FirmEngagement.id)
        )
        return await self.all(statement)

    async def reaching(self, user_id: uuid.UUID) -> Sequence[FirmEngagement]:
        """This business's engagements of firms ``user_id`` is a member of (with the business loaded)."""
        statement = (
            self.select()
            .join(FirmMember, FirmMember.firm_id == FirmEngagement.firm_id)
            .where(FirmMember.user_id == user_id)
            .options(joinedload(FirmEngagement.business))
        )
        return await self.all(statement)


class EngagementsOfFirm(Repository[FirmEngagement]):
    """One firm's engagements across its client businesses (firm-scoped, for the firm's own views)."""

    model = FirmEngagement

    def __init__(self, session: AsyncSession, firm_id: uuid.UUID) -> None:
        super().__init__(session)
        self.firm_id = firm_id

    def select(self) -> Select[FirmEngagement]:
        return super().select().where(FirmEngagement.firm_id == self.firm_id)

    async def with_businesses(self) -> Sequence[FirmEngagement]:
        statement = (
            self.select()
            .join(Business, Business.id == FirmEngagement.business_id)
            .options(joinedload(FirmEngagement.business))
            .order_by(Business.name, Business.id)
        )
        return await self.all(statement)


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
