"""Console pages: ``/`` (where a signed-in person lands: ``onboarding.landing``), the list of the user's businesses, the
sign-in form (with "Continue as the demo user" for a visitor on this machine in the embedded default; ``?next=`` a
path on this site to go back to), sign-out. Forms are CSRF-protected."""

from __future__ import annotations

import functools
import ipaddress
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from oodaloo.domains.core.demo import DEMO_EMAIL
from oodaloo.domains.core.errors import InvalidCredentials, SignInThrottled
from oodaloo.domains.core.models import User
from oodaloo.domains.core.repository import UserRepository
from oodaloo.domains.core.schemas import normalize_email
from oodaloo.domains.core.service import AccountService, BusinessService
from oodaloo.runway.cookies import clear_session_cookie, set_session_cookie
from oodaloo.runway.deps import SESSION_COOKIE, OptionalCaller, SessionDep, SettingsDep, ThrottleDep, client_address
from oodaloo.runway.experiences.onboarding import is_advisor, landing, local_path
from oodaloo.runway.experiences.web import SignInRequired, csrf_ok, render
from oodaloo.settings import EMBEDDED_SANDBOX_PATH, Settings

router = APIRouter(include_in_schema=False)

# Set at sign-out so autologin does not sign the same browser straight back in.
NO_AUTOLOGIN_COOKIE = "oodaloo_no_autologin"
FORM_EXPIRED = "Your form expired. Please try again."
DEMO_UNAVAILABLE = "The demo user is available only on this machine, in the development set-up."
# Headers a reverse proxy adds: behind one, the peer address is the proxy's, not the visitor's.
_PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


def is_loopback_request(request: Request) -> bool:
    if request.client is None or any(header in request.headers for header in _PROXY_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False


def _render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    return render(request, template, context, status_code)


def _csrf_ok(request: Request, token: str) -> bool:
    return csrf_ok(request, token)


async def _demo_user(request: Request, session: SessionDep, settings: Settings) -> User | None:
    """The demo user, when this visitor may enter as them: the demo is on (development only, refused in production)
    and the request comes from this machine, not through a proxy. The demo user has no usable password."""
    if not settings.demo_autologin or not is_loopback_request(request):
        return None
    return await UserRepository(session).by_email(DEMO_EMAIL)


async def _autologin_user(request: Request, session: SessionDep, settings: Settings) -> User | None:
    if NO_AUTOLOGIN_COOKIE in request.cookies:
        return None
    return await _demo_user(request, session, settings)


async def _signin_page(
    request: Request,
    session: SessionDep,
    settings: Settings,
    *,
    email: str = "",
    error: str | None = None,
    status_code: int = 200,
    next_path: str | None = None,
) -> HTMLResponse:
    demo_offered = await _demo_user(request, session, settings) is not None
    context = {"email": email, "error": error, "demo_offered": demo_offered, "next": next_path or ""}
    return _render(request, "signin.html", context, status_code=status_code)


def _signed_in(token: str, expires_at: datetime, settings: Settings, next_path: str | None = None) -> Response:
    """Back where the visitor was going (a path on this site) or home, with the new session's cookie; a browser that
    signs in again may be autologged in again."""
    response = RedirectResponse(next_path or "/", status_code=303)
    set_session_cookie(response, token, expires_at, settings)
    response.delete_cookie(NO_AUTOLOGIN_COOKIE)
    return response


@router.get("/", response_class=HTMLResponse)
async def index(request: Request, caller: OptionalCaller, session: SessionDep, settings: SettingsDep) -> Response:
    """Signed out: the sign-in page (or, on this machine in the embedded default, signed in as the demo user).
    Signed in: where ``landing`` says — a business's console, the portfolio, the list, or creating a business."""
    user = caller.user if caller else await _autologin_user(request, session, settings)
    if user is None:
        return RedirectResponse("/signin", status_code=303)
    response = RedirectResponse(await landing(session, user), status_code=303)
    if caller is None:
        started = await AccountService(session).start_session(user)
        set_session_cookie(response, started.token, started.expires_at, settings)
    return response


@router.get("/businesses", response_class=HTMLResponse)
async def business_list(
    request: Request, caller: OptionalCaller, session: SessionDep, settings: SettingsDep
) -> Response:
    """Every business the user reaches, with their role and its QuickBooks company, each opening its console."""
    if caller is None:
        raise SignInRequired()
    entries = await BusinessService(session).list_for(caller.user)
    sandbox_path = EMBEDDED_SANDBOX_PATH if settings.embedded_sandbox else None
    context = {"user": caller.user, "entries": entries, "sandbox_path": sandbox_path, "advisor": is_advisor(entries)}
    return _render(request, "index.html", context)


@router.get("/signin", response_class=HTMLResponse)
async def signin_form(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    next_param: Annotated[str | None, Query(alias="next")] = None,
) -> Response:
    return await _signin_page(request, session, settings, next_path=local_path(next_param))


@router.post("/signin", response_class=HTMLResponse)
async def signin(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    throttle: ThrottleDep,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next_param: Annotated[str, Form(alias="next")] = "",
) -> Response:
    next_path = local_path(next_param)
    page = functools.partial(_signin_page, request, session, settings, email=email, next_path=next_path)
    if not _csrf_ok(request, csrf_token):
        return await page(error=FORM_EXPIRED, status_code=403)
    try:
        user = await AccountService(session).sign_in(
            normalize_email(email), password, throttle=throttle, client_address=client_address(request)
        )
    except (ValueError, InvalidCredentials):
        return await page(error=InvalidCredentials.message, status_code=401)
    except SignInThrottled as refused:
        throttled = await page(error=refused.message, status_code=429)
        throttled.headers.update(refused.headers or {})
        return throttled
    started = await AccountService(session).start_session(user)
    return _signed_in(started.token, started.expires_at, settings, next_path)


@router.post("/signin/demo", response_class=HTMLResponse)
async def signin_as_demo(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    csrf_token: Annotated[str, Form()] = "",
    next_param: Annotated[str, Form(alias="next")] = "",
) -> Response:
    """The sign-in page's "Continue as the demo user": the demo user's way back in after signing out (no password)."""
    next_path = local_path(next_param)
    if not _csrf_ok(request, csrf_token):
        return await _signin_page(request, session, settings, error=FORM_EXPIRED, status_code=403, next_path=next_path)
    user = await _demo_user(request, session, settings)
    if user is None:
        return await _signin_page(
            request, session, settings, error=DEMO_UNAVAILABLE, status_code=403, next_path=next_path
        )
    started = await AccountService(session).start_session(user)
    return _signed_in(started.token, started.expires_at, settings, next_path)


@router.post("/signout")
async def signout(
    request: Request, session: SessionDep, settings: SettingsDep, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    if not _csrf_ok(request, csrf_token):
        return RedirectResponse("/", status_code=303)
    if token := request.cookies.get(SESSION_COOKIE):
        await AccountService(session).end_session(token)
    response = RedirectResponse("/signin", status_code=303)
    clear_session_cookie(response, settings)
    response.set_cookie(NO_AUTOLOGIN_COOKIE, "1", httponly=True, samesite="lax")
    return response
