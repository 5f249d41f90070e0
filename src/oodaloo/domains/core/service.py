"""Core domain services: accounts (sign-up, sign-in sessions, API tokens), businesses with their members, and advisor
firms with their engagements. ``BusinessService.access`` is the one place a user's access to a business is decided.

Services only ``flush()``; the boundary that opened the session commits or rolls back.
"""

from __future__ import annotations

import dataclasses
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.core import errors
from oodaloo.domains.core.access import Grant, direct_grant, firm_grant
from oodaloo.domains.core.audit import AuditLog
from oodaloo.domains.core.models import (
    NAME_MAX_LENGTH,
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
from oodaloo.domains.core.read_only import read_only_reason, read_only_reasons
from oodaloo.domains.core.repository import (
    ApiTokenRepository,
    BusinessRepository,
    EngagementsOfFirm,
    FirmEngagementRepository,
    FirmMemberRepository,
    FirmRepository,
    MembershipRepository,
    UserRepository,
    UserSessionRepository,
)
from oodaloo.domains.core.schemas import (
    BusinessIn,
    BusinessPatch,
    EngagementOut,
    FirmClientOut,
    FirmIn,
    FirmMemberOut,
    MemberOut,
    MemberPatch,
)
from oodaloo.infra.auth import passwords, tokens
from oodaloo.infra.db.base import utcnow
from oodaloo.infra.throttle import AttemptLimit, AttemptThrottle

SESSION_LIFETIME = timedelta(days=14)
# Failed sign-ins allowed before the next one waits. Per account: ten guesses per quarter hour stop an online guesser
# while a person who mistypes a few times never notices; unknown emails count too, so refusals reveal nothing.
# Per client address: enough for an office behind one NAT, few enough that spraying many accounts stays slow.
# Each refusal costs no argon2 (~100 ms of CPU), which is the point: it is checked before the password is.
SIGN_IN_PER_ACCOUNT = AttemptLimit(attempts=10, window_seconds=15 * 60)
SIGN_IN_PER_ADDRESS = AttemptLimit(attempts=50, window_seconds=15 * 60)


@cache
def _dummy_password_hash() -> str:
    """Checked against when the email is unknown, so a failed sign-in takes as long either way."""
    return passwords.hash_password(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class StartedSession:
    token: str  # goes into the cookie; only its digest is stored
    expires_at: datetime


class AccountService:
    def __init__(self, session: AsyncSession) -> None:
        self.users = UserRepository(session)
        self.sessions = UserSessionRepository(session)
        self.api_tokens = ApiTokenRepository(session)

    async def sign_up(self, email: str, password: str, display_name: str | None) -> User:
        if problem := passwords.password_problem(password, email=email):
            raise errors.WeakPassword(problem)
        if await self.users.by_email(email) is not None:
            raise errors.EmailTaken()
        user = User(email=email, password_hash=passwords.hash_password(password), display_name=display_name or email)
        try:
            return await self.users.add(user)
        except IntegrityError:  # a concurrent sign-up with the same email won the race
            raise errors.EmailTaken() from None

    async def sign_in(self, email: str, password: str, *, throttle: AttemptThrottle, client_address: str) -> User:
        """``authenticate`` within the sign-in limits: each attempt is counted against the client's address and the
        account before the password is checked (so parallel guesses cannot outrun the count), and uncounted when it
        succeeds, so only failures use up the limits."""
        admitted: list[tuple[str, str]] = []
        for key, limit in (
            (f"sign-in:address:{client_address}", SIGN_IN_PER_ADDRESS),
            (f"sign-in:account:{email}", SIGN_IN_PER_ACCOUNT),
        ):
            admission = await throttle.admit(key, limit)
            if not admission.granted:
                await _forgive(throttle, admitted)
                raise errors.SignInThrottled(admission.retry_after_seconds)
            admitted.append((key, admission.ticket))
        user = await self.authenticate(email, password)
        await _forgive(throttle, admitted)
        return user

    async def authenticate(self, email: str, password: str) -> User:
        """Check the credentials, with no limit on attempts: requests from outside go through ``sign_in``."""
        user = await self.users.by_email(email)
        if user is None:
            passwords.verify_password(_dummy_password_hash(), password)
            raise errors.InvalidCredentials()
        if not passwords.verify_password(user.password_hash, password):
            raise errors.InvalidCredentials()
        if passwords.needs_rehash(user.password_hash):
            user.password_hash = passwords.hash_password(password)
            await self.users.session.flush()
        return user

    async def start_session(self, user: User) -> StartedSession:
        token = tokens.new_session_token()
        expires_at = utcnow() + SESSION_LIFETIME
        await self.sessions.add(UserSession(user_id=user.id, token_digest=tokens.digest(token), expires_at=expires_at))
        return StartedSession(token=token, expires_at=expires_at)

    async def user_for_session(self, token: str) -> User | None:
        user_session = await self.sessions.active_by_digest(tokens.digest(token), utcnow())
        return user_session.user if user_session else None

    async def end_session(self, token: str) -> None:
        user_session = await self.sessions.active_by_digest(tokens.digest(token), utcnow())
        if user_session is not None:
            user_session.revoked_at = utcnow()
            await self.sessions.session.flush()

    async def create_api_token(self, user: User, name: str) -> tuple[ApiToken, str]:
        """The new token and its secret, which is returned this once and never stored."""
        issued = tokens.new_api_token()
        api_token = ApiToken(user_id=user.id, name=name, prefix=issued.prefix, token_digest=issued.digest)
        return await self.api_tokens.add(api_token), issued.secret

    async def list_api_tokens(self, user: User) -> Sequence[ApiToken]:
        return await self.api_tokens.of_user(user.id)

    async def revoke_api_token(self, user: User, token_id: uuid.UUID) -> None:
        api_token = await self.api_tokens.of_user_by_id(user.id, token_id)
        if api_token is None:
            raise errors.TokenNotFound()
        if api_token.revoked_at is None:
            api_token.revoked_at = utcnow()
            await self.api_tokens.session.flush()

    async def user_for_api_token(self, secret: str) -> User | None:
        api_token = await self.api_tokens.active_by_digest(tokens.digest(secret))
        if api_token is None:
            return None
        api_token.last_used_at = utcnow()
        await self.api_tokens.session.flush()
        return api_token.user


async def _forgive(throttle: AttemptThrottle, admitted: list[tuple[str, str]]) -> None:
    for key, ticket in admitted:
        await throttle.forgive(key, ticket)


@dataclass(frozen=True)
class BusinessWithRole:
    """A business and what one user may do in it."""

    business: Business
    grant: Grant

    @property
    def role(self) -> Role:
        return self.grant.role

    @property
    def may_act(self) -> bool:
        return self.grant.can_act


class BusinessService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.businesses = BusinessRepository(session)
        self.users = UserRepository(session)
        self.audit = AuditLog(session)

    def members_of(self, business_id: uuid.UUID) -> MembershipRepository:
        return MembershipRepository(self.session, business_id)

    async def create(self, owner: User, data: BusinessIn, *, qbo_realm_id: str | None = None) -> Business:
        business = await self.businesses.add(
            Business(name=data.name, timezone=data.timezone, currency=data.currency, qbo_realm_id=qbo_realm_id)
        )
        await self.members_of(business.id).add(Membership(user_id=owner.id, role=Role.OWNER))
        await self.audit.record(
            business.id, owner.id, "business.created", subject=("business", business.id), detail={"name": data.name}
        )
        return business

    async def list_for(self, user: User) -> list[BusinessWithRole]:
        """Every business the user reaches, directly or through a firm, with the user's grant in each, oldest first."""
        reached: dict[uuid.UUID, BusinessWithRole] = {}
        for business, membership in await self.businesses.memberships_of(user.id):
            reached[business.id] = BusinessWithRole(business, direct_grant(membership.role, membership.may_act))
        for business, engagement in await self.businesses.engaged_for(user.id):
            earlier = reached.get(business.id)
            grant = firm_grant(engagement.firm_id, engagement.advisors_may_act)
            reached[business.id] = BusinessWithRole(business, grant.strongest(earlier.grant if earlier else None))
        refused = await read_only_reasons(self.session, (entry.business for entry in reached.values()))
        for business_id, reason in refused.items():
            entry = reached[business_id]
            reached[business_id] = BusinessWithRole(entry.business, dataclasses.replace(entry.grant, read_only=reason))
        return sorted(reached.values(), key=lambda entry: (entry.business.created_at, entry.business.id))

    async def access(self, business_id: uuid.UUID, user: User) -> BusinessWithRole | None:
        """The tenancy check of every route: what ``user`` may do in the business, from a direct membership and any
        firm of theirs the business engaged (the strongest wins); None when neither reaches it."""
        membership = await self.members_of(business_id).of_user(user.id)
        engagements = await FirmEngagementRepository(self.session, business_id).reaching(user.id)
        grant = direct_grant(membership.role, membership.may_act) if membership is not None else None
        for engagement in engagements:
            grant = firm_grant(engagement.firm_id, engagement.advisors_may_act).strongest(grant)
        if grant is None:
            return None
        business = membership.business if membership is not None else engagements[0].business
        if (reason := await read_only_reason(self.session, business)) is not None:
            grant = dataclasses.replace(grant, read_only=reason)
        return BusinessWithRole(business, grant)

    async def update(self, business: Business, patch: BusinessPatch, actor: User) -> Business:
        changes: dict[str, dict[str, str]] = {}
        for field, value in patch.model_dump(exclude_unset=True, exclude_none=True).items():
            if getattr(business, field) != value:
                changes[field] = {"from": getattr(business, field), "to": value}
                setattr(business, field, value)
        await self.session.flush()
        if changes:
            await self.audit.record(
                business.id, actor.id, "business.updated", subject=("business", business.id), detail=changes
            )
        return business

    async def take_company_name(self, business_id: uuid.UUID, company_name: str, *, unless_renamed_from: str) -> bool:
        """Name the business after its QuickBooks company, unless its name is no longer ``unless_renamed_from`` (a
        person renamed it meanwhile). Returns whether the name was taken."""
        name = " ".join(company_name.split())[:NAME_MAX_LENGTH]
        business = await self.businesses.get(business_id)
        if business is None or not name or business.name != unless_renamed_from:
            return False
        business.name = name
        await self.session.flush()
        return True

    async def list_members(self, business_id: uuid.UUID) -> list[MemberOut]:
        return [_member_out(membership) for membership in await self.members_of(business_id).with_users()]

    async def add_member(
        self, business_id: uuid.UUID, email: str, role: Role, *, may_act: bool = False, actor: User
    ) -> MemberOut:
        if may_act and role is not Role.ADVISOR:
            raise errors.ActPermissionForAdvisorsOnly()
        user = await self.users.by_email(email)
        if user is None:
            raise errors.UnknownUser()
        members = self.members_of(business_id)
        if await members.of_user(user.id) is not None:
            raise errors.AlreadyMember()
        await members.add(Membership(user_id=user.id, role=role, may_act=may_act))
        added = _member_out(await self._existing_member(members, user.id))
        await self.audit.record(
            business_id,
            actor.id,
            "member.added",
            subject=("user", user.id),
            detail={"email": user.email, "role": role.value, "may_act": added.may_act},
        )
        return added

    async def change_member(
        self, business_id: uuid.UUID, user_id: uuid.UUID, patch: MemberPatch, actor: User
    ) -> MemberOut:
        """A new role, or an advisor's permission to act, or both. A role change withdraws the permission to act
        unless the same request grants it: promoting someone back to advisor must not silently restore it."""
        members = self.members_of(business_id)
        membership = await self._existing_member(members, user_id)
        role = patch.role or membership.role
        may_act = patch.may_act if patch.may_act is not None else membership.may_act and role is membership.role
        if patch.may_act and role is not Role.ADVISOR:
            raise errors.ActPermissionForAdvisorsOnly()
        if membership.role is Role.OWNER and role is not Role.OWNER:
            await self._keep_an_owner(members)
        before = _member_out(membership)
        membership.role, membership.may_act = role, may_act and role is Role.ADVISOR
        await self.session.flush()
        after = _member_out(membership)
        subject = ("user", user_id)
        if after.role is not before.role:
            roles = {"email": after.email, "from": before.role.value, "to": after.role.value}
            await self.audit.record(business_id, actor.id, "member.role_changed", subject=subject, detail=roles)
        if after.may_act != before.may_act:
            permission = {"email": after.email, "may_act": after.may_act}
            await self.audit.record(
                business_id, actor.id, "member.permission_changed", subject=subject, detail=permission
            )
        return after

    async def remove_member(self, business_id: uuid.UUID, user_id: uuid.UUID, actor: User) -> None:
        members = self.members_of(business_id)
        membership = await self._existing_member(members, user_id)
        if membership.role is Role.OWNER:
            await self._keep_an_owner(members)
        detail = {"email": membership.user.email, "role": membership.role.value}
        await members.delete(membership)
        await self.audit.record(business_id, actor.id, "member.removed", subject=("user", user_id), detail=detail)

    @staticmethod
    async def _existing_member(members: MembershipRepository, user_id: uuid.UUID) -> Membership:
        membership = await members.of_user(user_id)
        if membership is None:
            raise errors.MemberNotFound()
        return membership

    @staticmethod
    async def _keep_an_owner(members: MembershipRepository) -> None:
        if len(await members.owners_for_update()) <= 1:
            raise errors.LastOwner()


def _member_out(membership: Membership) -> MemberOut:
    return MemberOut(
        user_id=membership.user_id,
        email=membership.user.email,
        display_name=membership.user.display_name,
        role=membership.role,
        may_act=direct_grant(membership.role, membership.may_act).can_act,
        joined_at=membership.created_at,
    )


@dataclass(frozen=True)
class FirmWithRole:
    firm: Firm
    role: FirmRole


class FirmService:
    """Advisor firms: their members (admins manage them), their client businesses, and the owners' side: engaging a
    firm, letting its advisors act, ending the engagement. Changes that widen or narrow who reaches a business are
    written to that business's audit log."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.firms = FirmRepository(session)
        self.users = UserRepository(session)
        self.audit = AuditLog(session)

    def members_of(self, firm_id: uuid.UUID) -> FirmMemberRepository:
        return FirmMemberRepository(self.session, firm_id)

    async def create(self, creator: User, data: FirmIn) -> FirmWithRole:
        firm = await self.firms.add(Firm(name=data.name))
        await self.members_of(firm.id).add(FirmMember(user_id=creator.id, role=FirmRole.ADMIN))
        return FirmWithRole(firm, FirmRole.ADMIN)

    async def list_for(self, user: User) -> list[FirmWithRole]:
        return [FirmWithRole(firm, role) for firm, role in await self.firms.with_role_for(user.id)]

    async def membership(self, firm_id: uuid.UUID, user: User) -> FirmWithRole | None:
        """The firm routes' check: the user's role in the firm, or None when they are not a member."""
        member = await self.members_of(firm_id).of_user(user.id)
        return FirmWithRole(member.firm, member.role) if member is not None else None

    async def list_members(self, firm_id: uuid.UUID) -> list[FirmMemberOut]:
        return [_firm_member_out(member) for member in await self.members_of(firm_id).with_users()]

    async def add_member(self, firm: Firm, email: str, role: FirmRole, actor: User) -> FirmMemberOut:
        user = await self.users.by_email(email)
        if user is None:
            raise errors.UnknownUser()
        members = self.members_of(firm.id)
        if await members.of_user(user.id) is not None:
            raise errors.AlreadyFirmMember()
        await members.add(FirmMember(user_id=user.id, role=role))
        added = await self._existing_member(members, user.id)
        await self._record_in_clients(firm, actor, "firm.member_added", user, {"role": role.value})
        return _firm_member_out(added)

    async def change_member_role(self, firm: Firm, user_id: uuid.UUID, role: FirmRole) -> FirmMemberOut:
        members = self.members_of(firm.id)
        member = await self._existing_member(members, user_id)
        if member.role is FirmRole.ADMIN and role is not FirmRole.ADMIN:
            await self._keep_an_admin(members)
        member.role = role
        await self.session.flush()
        return _firm_member_out(member)

    async def remove_member(self, firm: Firm, user_id: uuid.UUID, actor: User) -> None:
        members = self.members_of(firm.id)
        member = await self._existing_member(members, user_id)
        if member.role is FirmRole.ADMIN:
            await self._keep_an_admin(members)
        removed = member.user
        await members.delete(member)
        await self._record_in_clients(firm, actor, "firm.member_removed", removed, {})

    async def clients(self, firm_id: uuid.UUID, user: User) -> list[FirmClientOut]:
        """The firm's client businesses, each with what ``user`` (a member of the firm) may do in it."""
        engagements = await EngagementsOfFirm(self.session, firm_id).with_businesses()
        reached = {entry.business.id: entry for entry in await BusinessService(self.session).list_for(user)}
        clients = []
        for engagement in engagements:
            entry = reached.get(engagement.business_id)
            if entry is None:  # the engagement ended between the two reads
                continue
            business = engagement.business
            clients.append(
                FirmClientOut(
                    business_id=business.id,
                    name=business.name,
                    timezone=business.timezone,
                    currency=business.currency,
                    role=entry.role,
                    may_act=entry.may_act,
                    engaged_at=engagement.created_at,
                )
            )
        return clients

    # -- the owner's side --------------------------------------------------------------------------------------------

    def engagements_of(self, business_id: uuid.UUID) -> FirmEngagementRepository:
        return FirmEngagementRepository(self.session, business_id)

    async def engagements(self, business_id: uuid.UUID) -> list[EngagementOut]:
        return [_engagement_out(engagement) for engagement in await self.engagements_of(business_id).with_firms()]

    async def engage(
        self, business_id: uuid.UUID, firm_id: uuid.UUID, advisors_may_act: bool, actor: User
    ) -> EngagementOut:
        firm = await self.firms.get(firm_id)
        if firm is None:
            raise errors.UnknownFirm()
        engagements = self.engagements_of(business_id)
        if await engagements.of_firm(firm_id) is not None:
            raise errors.AlreadyEngaged()
        engagement = FirmEngagement(firm_id=firm_id, advisors_may_act=advisors_may_act, engaged_by=actor.id)
        try:
            await engagements.add(engagement)
        except IntegrityError:  # the same engagement made concurrently won the race
            raise errors.AlreadyEngaged() from None
        detail = {"firm_name": firm.name, "advisors_may_act": advisors_may_act}
        await self.audit.record(business_id, actor.id, "firm.engaged", subject=("firm", firm_id), detail=detail)
        return EngagementOut(
            firm_id=firm_id, firm_name=firm.name, advisors_may_act=advisors_may_act, engaged_at=engagement.created_at
        )

    async def set_advisors_may_act(
        self, business_id: uuid.UUID, firm_id: uuid.UUID, advisors_may_act: bool, actor: User
    ) -> EngagementOut:
        engagement = await self._existing_engagement(business_id, firm_id, for_update=True)
        if engagement.advisors_may_act != advisors_may_act:
            engagement.advisors_may_act = advisors_may_act
            await self.session.flush()
            detail = {"firm_name": engagement.firm.name, "advisors_may_act": advisors_may_act}
            await self.audit.record(
                business_id, actor.id, "firm.permission_changed", subject=("firm", firm_id), detail=detail
            )
        return _engagement_out(engagement)

    async def disengage(self, business_id: uuid.UUID, firm_id: uuid.UUID, actor: User) -> None:
        engagement = await self._existing_engagement(business_id, firm_id, for_update=True)
        detail = {"firm_name": engagement.firm.name}
        await self.engagements_of(business_id).delete(engagement)
        await self.audit.record(business_id, actor.id, "firm.disengaged", subject=("firm", firm_id), detail=detail)

    async def _existing_engagement(
        self, business_id: uuid.UUID, firm_id: uuid.UUID, *, for_update: bool = False
    ) -> FirmEngagement:
        engagement = await self.engagements_of(business_id).of_firm(firm_id, for_update=for_update)
        if engagement is None:
            raise errors.EngagementNotFound()
        return engagement

    async def _record_in_clients(
        self, firm: Firm, actor: User, action: str, member: User, detail: dict[str, str]
    ) -> None:
        """Who reaches a client business changed: each client's log says so."""
        for engagement in await EngagementsOfFirm(self.session, firm.id).with_businesses():
            await self.audit.record(
                engagement.business_id,
                actor.id,
                action,
                subject=("user", member.id),
                detail={"firm_id": firm.id, "firm_name": firm.name, "email": member.email, **detail},
            )

    @staticmethod
    async def _existing_member(members: FirmMemberRepository, user_id: uuid.UUID) -> FirmMember:
        member = await members.of_user(user_id)
        if member is None:
            raise errors.FirmMemberNotFound()
        return member

    @staticmethod
    async def _keep_an_admin(members: FirmMemberRepository) -> None:
        if len(await members.admins_for_update()) <= 1:
            raise errors.LastFirmAdmin()


def _firm_member_out(member: FirmMember) -> FirmMemberOut:
    return FirmMemberOut(
        user_id=member.user_id,
        email=member.user.email,
        display_name=member.user.display_name,
        role=member.role,
        joined_at=member.created_at,
    )


def _engagement_out(engagement: FirmEngagement) -> EngagementOut:
    return EngagementOut(
        firm_id=engagement.firm_id,
        firm_name=engagement.firm.name,
        advisors_may_act=engagement.advisors_may_act,
        engaged_at=engagement.created_at,
    )
