"""Core domain services: accounts (sign-up, sign-in sessions, API tokens) and businesses with members.

Services only ``flush()``; the boundary that opened the session commits or rolls back.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.core import errors
from oodaloo.domains.core.models import (
    NAME_MAX_LENGTH,
    ApiToken,
    Business,
    Membership,
    Role,
    User,
    UserSession,
)
from oodaloo.domains.core.repository import (
    ApiTokenRepository,
    BusinessRepository,
    MembershipRepository,
    UserRepository,
    UserSessionRepository,
)
from oodaloo.domains.core.schemas import BusinessIn, BusinessPatch, MemberOut
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
    business: Business
    role: Role


class BusinessService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.businesses = BusinessRepository(session)
        self.users = UserRepository(session)

    def members_of(self, business_id: uuid.UUID) -> MembershipRepository:
        return MembershipRepository(self.session, business_id)

    async def create(self, owner: User, data: BusinessIn, *, qbo_realm_id: str | None = None) -> Business:
        business = await self.businesses.add(
            Business(name=data.name, timezone=data.timezone, currency=data.currency, qbo_realm_id=qbo_realm_id)
        )
        await self.members_of(business.id).add(Membership(user_id=owner.id, role=Role.OWNER))
        return business

    async def list_for(self, user: User) -> list[BusinessWithRole]:
        return [BusinessWithRole(business, role) for business, role in await self.businesses.with_role_for(user.id)]

    async def membership(self, business_id: uuid.UUID, user: User) -> Membership | None:
        """The user's membership (with its business loaded), or None: the tenancy check of every route."""
        return await self.members_of(business_id).of_user(user.id)

    async def update(self, business: Business, patch: BusinessPatch) -> Business:
        for field, value in patch.model_dump(exclude_unset=True, exclude_none=True).items():
            setattr(business, field, value)
        await self.session.flush()
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

    async def add_member(self, business_id: uuid.UUID, email: str, role: Role) -> MemberOut:
        user = await self.users.by_email(email)
        if user is None:
            raise errors.UnknownUser()
        members = self.members_of(business_id)
        if await members.of_user(user.id) is not None:
            raise errors.AlreadyMember()
        await members.add(Membership(user_id=user.id, role=role))
        return _member_out(await self._existing_member(members, user.id))

    async def change_role(self, business_id: uuid.UUID, user_id: uuid.UUID, role: Role) -> MemberOut:
        members = self.members_of(business_id)
        membership = await self._existing_member(members, user_id)
        if membership.role is Role.OWNER and role is not Role.OWNER:
            await self._keep_an_owner(members)
        membership.role = role
        await self.session.flush()
        return _member_out(membership)

    async def remove_member(self, business_id: uuid.UUID, user_id: uuid.UUID) -> None:
        members = self.members_of(business_id)
        membership = await self._existing_member(members, user_id)
        if membership.role is Role.OWNER:
            await self._keep_an_owner(members)
        await members.delete(membership)

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
        joined_at=membership.created_at,
    )
