"""Request dependencies as ``Annotated`` aliases, so routes read as plain typed parameters.

Every ``/api/businesses/{business_id}/...`` route takes one of these, by what it does (``domains/core/access.py``):

- ``BusinessAccess``: any member reads (owners, advisors, viewers; firm advisors of an engaged firm).
- ``BusinessProposer``: advisors and owners prepare work for the owner (plans, proposals, a sync).
- ``BusinessActor``: owners, and advisors the owner allowed to act, change the books (pay, approve, execute).
- ``BusinessOwner``: owners manage members and firms.

Unauthenticated callers get 401, those the business does not reach 404 (existence is not revealed), members without
the capability 403 naming what it needs and what they are. ``/api/firms/{firm_id}/...`` routes take ``FirmAccess``
(any member of the firm, else 404) or ``FirmAdmin``. A write that a session cookie authenticates must come from this
site's own pages (403 otherwise); bearer-token calls may come from anywhere.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.core.access import Capability
from oodaloo.domains.core.errors import BusinessNotFound, FirmNotFound
from oodaloo.domains.core.models import Firm, FirmRole, User
from oodaloo.domains.core.service import AccountService, BusinessService, BusinessWithRole, FirmService
from oodaloo.infra.db.engine import Database
from oodaloo.infra.db.session import unit_of_work
from oodaloo.infra.throttle import AttemptThrottle
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


def get_throttle(request: Request) -> AttemptThrottle:
    throttle: AttemptThrottle = request.app.state.throttle
    return throttle


def client_address(request: Request) -> str:
    """The client's IP address. Behind a reverse proxy, uvicorn takes it from ``X-Forwarded-For`` when the proxy is
    trusted (``--forwarded-allow-ips``); otherwise every visitor would share the proxy's address."""
    return request.client.host if request.client else "unknown"


SettingsDep = Annotated[Settings, Depends(get_settings)]
ThrottleDep = Annotated[AttemptThrottle, Depends(get_throttle)]
ClientAddress = Annotated[str, Depends(client_address)]
# scope="function": commit (or roll back) before the response is sent, so a 2xx means the data is saved.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]

AuthMethod = Literal["session", "token"]


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


class CrossSiteWrite(PermissionDenied):
    code = "cross_site_request"
    message = (
        "This request changes data with a session cookie but comes from another site (its Origin or Referer is not "
        "this server's), so it is refused. Use the console here, or call the API with a bearer token."
    )


def _origin_of(url: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) with the scheme's default port filled in; None for an opaque origin such as "null"."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    scheme = parts.scheme.lower()
    return scheme, parts.hostname.lower(), port if port is not None else _DEFAULT_PORTS.get(scheme)


def refuse_cross_site_write(request: Request) -> None:
    """OWASP's origin check for cookie-authenticated writes: the ``Origin`` header, else the ``Referer``'s origin,
    must be this server's own. Browsers send ``Origin`` with every cross-origin write, so a request with neither
    header does not come from a page on another site; it is a program holding the cookie, and is let through."""
    if request.method in _SAFE_METHODS:
        return
    claimed = request.headers.get("origin") or request.headers.get("referer")
    if claimed is None:
        return
    if _origin_of(claimed) != _origin_of(str(request.base_url)):
        raise CrossSiteWrite()


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
            refuse_cross_site_write(request)
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
class BusinessContext(BusinessWithRole):
    """The business a route works on, what the caller may do in it, and the caller."""

    user: User


async def business_access(business_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> BusinessContext:
    reached = await BusinessService(session).access(business_id, user)
    if reached is None:
        raise BusinessNotFound()
    return BusinessContext(reached.business, reached.grant, user)


BusinessAccess = Annotated[BusinessContext, Depends(business_access)]


async def business_proposer(access: BusinessAccess) -> BusinessContext:
    return _require(access, Capability.PROPOSE)


async def business_actor(access: BusinessAccess) -> BusinessContext:
    return _require(access, Capability.ACT)


async def business_owner(access: BusinessAccess) -> BusinessContext:
    return _require(access, Capability.MANAGE)


def _require(access: BusinessContext, capability: Capability) -> BusinessContext:
    if not access.grant.allows(capability):
        raise PermissionDenied(access.grant.refusal(capability))
    return access


BusinessProposer = Annotated[BusinessContext, Depends(business_proposer)]
BusinessActor = Annotated[BusinessContext, Depends(business_actor)]
BusinessOwner = Annotated[BusinessContext, Depends(business_owner)]
# Deprecated: the name routes used before roles were split into proposing and acting. It means acting; new code
# names BusinessActor (or BusinessProposer when advisors without the permission to act must get through).
BusinessWriter = BusinessActor


@dataclass(frozen=True)
class FirmContext:
    firm: Firm
    role: FirmRole
    user: User


async def firm_access(firm_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> FirmContext:
    membership = await FirmService(session).membership(firm_id, user)
    if membership is None:
        raise FirmNotFound()
    return FirmContext(membership.firm, membership.role, user)


FirmAccess = Annotated[FirmContext, Depends(firm_access)]


async def firm_admin(access: FirmAccess) -> FirmContext:
    if access.role is not FirmRole.ADMIN:
        raise PermissionDenied(f"This needs the firm's admin role; yours is {access.role.value}.")
    return access


FirmAdmin = Annotated[FirmContext, Depends(firm_admin)]

# OpenAPI marker of a POST that computes without changing anything (a what-if): any member may call it, viewers too.
READS_ONLY: dict[str, Any] = {"x-oodaloo-reads-only": True}
