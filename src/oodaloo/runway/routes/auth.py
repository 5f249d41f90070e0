"""Accounts over the JSON API: sign-up, sign-in/out with a session cookie, the caller, API tokens."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response, status

from oodaloo.domains.core.schemas import ApiTokenCreatedOut, ApiTokenIn, ApiTokenOut, SignInIn, SignUpIn, UserOut
from oodaloo.domains.core.service import AccountService
from oodaloo.domains.core.trials import is_guest
from oodaloo.infra.web.errors import PermissionDenied
from oodaloo.runway.cookies import clear_session_cookie, set_session_cookie
from oodaloo.runway.deps import (
    SESSION_COOKIE,
    ClientAddress,
    CurrentUser,
    SessionDep,
    SettingsDep,
    SignedInUser,
    ThrottleDep,
    refuse_cross_site_write,
)

router = APIRouter(prefix="/api", tags=["accounts"])


@router.post("/auth/signup", status_code=status.HTTP_201_CREATED)
async def sign_up(body: SignUpIn, response: Response, session: SessionDep, settings: SettingsDep) -> UserOut:
    """Create an account and sign it in (sets the session cookie)."""
    accounts = AccountService(session)
    user = await accounts.sign_up(body.email, body.password, body.display_name)
    started = await accounts.start_session(user)
    set_session_cookie(response, started.token, started.expires_at, settings)
    return UserOut.model_validate(user)


@router.post(
    "/auth/signin",
    responses={429: {"description": "Too many failed sign-ins for this account or address; see Retry-After"}},
)
async def sign_in(
    body: SignInIn,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    throttle: ThrottleDep,
    client_address: ClientAddress,
) -> UserOut:
    """Sign in (sets the session cookie). Failed attempts are limited per account and per client address."""
    accounts = AccountService(session)
    user = await accounts.sign_in(body.email, body.password, throttle=throttle, client_address=client_address)
    started = await accounts.start_session(user)
    set_session_cookie(response, started.token, started.expires_at, settings)
    return UserOut.model_validate(user)


@router.post("/auth/signout", status_code=status.HTTP_204_NO_CONTENT)
async def sign_out(request: Request, response: Response, session: SessionDep, settings: SettingsDep) -> None:
    """Revoke the current session (the cookie stops working everywhere, not only in this browser)."""
    if token := request.cookies.get(SESSION_COOKIE):
        refuse_cross_site_write(request)
        await AccountService(session).end_session(token)
    clear_session_cookie(response, settings)


@router.get("/me")
async def me(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user)


@router.post("/auth/tokens", status_code=status.HTTP_201_CREATED)
async def create_token(body: ApiTokenIn, user: SignedInUser, session: SessionDep) -> ApiTokenCreatedOut:
    """The token's secret is in this response only; Oodaloo keeps just a digest and its visible prefix. A test
    drive's guest gets none: their access ends with the trial, and a token would outlive its session."""
    if is_guest(user):
        raise PermissionDenied("A test drive cannot create API tokens: sign up to use the API.")
    api_token, secret = await AccountService(session).create_api_token(user, body.name)
    return ApiTokenCreatedOut(**ApiTokenOut.model_validate(api_token).model_dump(), token=secret)


@router.get("/auth/tokens")
async def list_tokens(user: CurrentUser, session: SessionDep) -> list[ApiTokenOut]:
    return [ApiTokenOut.model_validate(token) for token in await AccountService(session).list_api_tokens(user)]


@router.delete("/auth/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_token(token_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> None:
    await AccountService(session).revoke_api_token(user, token_id)
