"""Console pages: the signed-in user's businesses, the sign-in form, sign-out. Forms are CSRF-protected."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from oodaloo.domains.core.demo import DEMO_EMAIL
from oodaloo.domains.core.errors import InvalidCredentials
from oodaloo.domains.core.models import User
from oodaloo.domains.core.repository import UserRepository
from oodaloo.domains.core.schemas import normalize_email
from oodaloo.domains.core.service import AccountService, BusinessService
from oodaloo.infra.auth.csrf import CSRF_COOKIE, CsrfSigner
from oodaloo.runway.cookies import clear_session_cookie, set_session_cookie
from oodaloo.runway.deps import SESSION_COOKIE, OptionalCaller, SessionDep, SettingsDep
from oodaloo.settings import EMBEDDED_SANDBOX_PATH, Settings

templates = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")
router = APIRouter(include_in_schema=False)

# Set at sign-out so autologin does not sign the same browser straight back in.
NO_AUTOLOGIN_COOKIE = "oodaloo_no_autologin"
# Headers a reverse proxy adds: behind one, the peer address is the proxy's, not the visitor's.
_PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


def is_loopback_request(request: Request) -> bool:
    if request.client is None or any(header in request.headers for header in _PROXY_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False


def _csrf(request: Request) -> tuple[CsrfSigner, str]:
    signer: CsrfSigner = request.app.state.csrf
    return signer, request.cookies.get(CSRF_COOKIE) or signer.new_browser_value()


def _render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    """Render with a CSRF token for the page's forms, setting the browser's CSRF cookie on first visit."""
    signer, browser_value = _csrf(request)
    response = templates.TemplateResponse(
        request, template, {**context, "csrf_token": signer.token_for(browser_value)}, status_code=status_code
    )
    if request.cookies.get(CSRF_COOKIE) != browser_value:
        settings: Settings = request.app.state.settings
        response.set_cookie(
            CSRF_COOKIE, browser_value, httponly=True, samesite="lax", secure=not settings.is_development
        )
    return response


def _csrf_ok(request: Request, token: str) -> bool:
    signer: CsrfSigner = request.app.state.csrf
    return signer.is_valid(token, request.cookies.get(CSRF_COOKIE))


async def _autologin_user(request: Request, session: SessionDep, settings: Settings) -> User | None:
    if not settings.demo_autologin or NO_AUTOLOGIN_COOKIE in request.cookies or not is_loopback_request(request):
        return None
    return await UserRepository(session).by_email(DEMO_EMAIL)


@router.get("/", response_class=HTMLResponse)
async def index(request: Request, caller: OptionalCaller, session: SessionDep, settings: SettingsDep) -> Response:
    user = caller.user if caller else await _autologin_user(request, session, settings)
    if user is None:
        return RedirectResponse("/signin", status_code=303)
    entries = await BusinessService(session).list_for(user)
    sandbox_path = EMBEDDED_SANDBOX_PATH if settings.embedded_sandbox else None
    response = _render(request, "index.html", {"user": user, "entries": entries, "sandbox_path": sandbox_path})
    if caller is None:
        started = await AccountService(session).start_session(user)
        set_session_cookie(response, started.token, started.expires_at, settings)
    return response


@router.get("/signin", response_class=HTMLResponse)
async def signin_form(request: Request) -> Response:
    return _render(request, "signin.html", {"email": "", "error": None})


@router.post("/signin", response_class=HTMLResponse)
async def signin(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    if not _csrf_ok(request, csrf_token):
        error = "Your form expired. Please try again."
        return _render(request, "signin.html", {"email": email, "error": error}, status_code=403)
    try:
        user = await AccountService(session).authenticate(normalize_email(email), password)
    except (ValueError, InvalidCredentials):
        error = InvalidCredentials.message
        return _render(request, "signin.html", {"email": email, "error": error}, status_code=401)
    started = await AccountService(session).start_session(user)
    response = RedirectResponse("/", status_code=303)
    set_session_cookie(response, started.token, started.expires_at, settings)
    response.delete_cookie(NO_AUTOLOGIN_COOKIE)
    return response


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
