"""Request dependencies as ``Annotated`` aliases, so routes read as plain typed parameters.

Every ``/api/businesses/{business_id}/...`` route takes ``BusinessAccess`` (or a role alias): unauthenticated
callers get 401, non-members 404 (existence is not revealed), members without the role 403.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.core.errors import BusinessNotFound
from oodaloo.domains.core.models import Business, Role, User
from oodaloo.domains.core.service import AccountService, BusinessService
from oodaloo.infra.db.engine import Database
from oodaloo.infra.db.session import unit_of_work
from oodaloo.infra.web.errors import NotAuthenticated, PermissionDenied
from oodaloo.settings import Settings

SESSION_COOKIE = "oodaloo_session"


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def get_session(database: Annotated[Database, Depends(get_database)]) -> AsyncIterator[AsyncSession]:
    async with unit_of_work(database.sessionmaker) as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
# scope="function": commit (or roll back) before the response is sent, so a 2xx means the data is saved.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]

AuthMethod = Literal["session", "token"]


@dataclass(frozen=True)
class Caller:
    user: User
    method: AuthMethod


async def optional_caller(request: Request, session: SessionDep) -> Caller | None:
    """Who is calling: a bearer API token wins over the session cookie; a bad token is an error, not anonymity."""
    authorization = request.headers.get("authorization")
    accounts = AccountService(session)
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise NotAuthenticated("Send the API token as 'Authorization: Bearer oodaloo_...'.")
        user = await accounts.user_for_api_token(credentials.strip())
        if user is None:
            raise NotAuthenticated("The API token is invalid or has been revoked.")
        return Caller(user, "token")
    session_token = request.cookies.get(SESSION_COOKIE)
    if session_token:
        user = await accounts.user_for_session(session_token)
        if user is not None:
            return Caller(user, "session")
    return None


OptionalCaller = Annotated[Caller | None, Depends(optional_caller)]


async def current_user(caller: OptionalCaller) -> User:
    if caller is None:
        raise NotAuthenticated()
    return caller.user


async def signed_in_user(caller: OptionalCaller) -> User:
    """A browser sign-in, not an API token: a leaked token must not be able to mint more tokens."""
    if caller is None or caller.method != "session":
        raise NotAuthenticated("Sign in to manage API tokens.")
    return caller.user


CurrentUser = Annotated[User, Depends(current_user)]
SignedInUser = Annotated[User, Depends(signed_in_user)]


@dataclass(frozen=True)
class BusinessContext:
    business: Business
    role: Role
    user: User


async def business_access(business_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> BusinessContext:
    membership = await BusinessService(session).membership(business_id, user)
    if membership is None:
        raise BusinessNotFound()
    return BusinessContext(membership.business, membership.role, user)


BusinessAccess = Annotated[BusinessContext, Depends(business_access)]


def require_role(required: Role) -> Any:
    """A dependency admitting members whose role is ``required`` or higher."""

    async def check_role(access: BusinessAccess) -> BusinessContext:
        if not access.role.allows(required):
            raise PermissionDenied(f"This needs the {required.value} role; yours is {access.role.value}.")
        return access

    return Depends(check_role)


BusinessWriter = Annotated[BusinessContext, require_role(Role.ADVISOR)]
BusinessOwner = Annotated[BusinessContext, require_role(Role.OWNER)]
