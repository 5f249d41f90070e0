"""Rendering for the console's pages: one Jinja2 environment, CSRF tokens for every form, and the business a page is
about (signed-in members only; a visitor who is not signed in is sent to the sign-in page)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from oodaloo.domains.core.access import Capability
from oodaloo.domains.core.service import BusinessService
from oodaloo.infra.auth.csrf import CSRF_COOKIE, CsrfSigner
from oodaloo.infra.web.errors import AppError, NotFound, PermissionDenied, error_body
from oodaloo.runway.deps import BusinessContext, OptionalCaller, SessionDep
from oodaloo.runway.experiences.phrases import register_filters
from oodaloo.settings import Settings

templates = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")
register_filters(templates.env)


class SignInRequired(Exception):
    """A page asked for by a visitor who is not signed in: answered with a redirect to the sign-in page."""


class PageNotFound(NotFound):
    code = "page_not_found"
    message = "There is no such page, or it belongs to a business you are not a member of."


def csrf_pair(request: Request) -> tuple[CsrfSigner, str]:
    signer: CsrfSigner = request.app.state.csrf
    return signer, request.cookies.get(CSRF_COOKIE) or signer.new_browser_value()


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render with a CSRF token for the page's forms, setting the browser's CSRF cookie on first visit."""
    signer, browser_value = csrf_pair(request)
    response = templates.TemplateResponse(
        request,
        template,
        {**context, "csrf_token": signer.token_for(browser_value)},
        status_code=status_code,
        headers=headers,
    )
    if request.cookies.get(CSRF_COOKIE) != browser_value:
        settings: Settings = request.app.state.settings
        response.set_cookie(
            CSRF_COOKIE, browser_value, httponly=True, samesite="lax", secure=not settings.is_development
        )
    return response


def csrf_ok(request: Request, token: str) -> bool:
    """A form's token matches this browser's CSRF cookie (htmx sends it as the ``X-CSRF-Token`` header instead)."""
    signer: CsrfSigner = request.app.state.csrf
    return signer.is_valid(token or request.headers.get("x-csrf-token", ""), request.cookies.get(CSRF_COOKIE))


async def page_business(business_id: uuid.UUID, caller: OptionalCaller, session: SessionDep) -> BusinessContext:
    """The business a console page shows, for a signed-in member; others are sent to sign in, non-members get 404."""
    if caller is None:
        raise SignInRequired()
    reached = await BusinessService(session).access(business_id, caller.user)
    if reached is None:
        raise PageNotFound()
    return BusinessContext(reached.business, reached.grant, caller.user)


def require(context: BusinessContext, capability: Capability) -> None:
    """Refuse (403, naming what it needs) a page action the member's role does not allow."""
    if not context.grant.allows(capability):
        raise PermissionDenied(context.grant.refusal(capability))


PageBusiness = Annotated[BusinessContext, Depends(page_business)]


def _is_page_request(request: Request) -> bool:
    """A browser asking for a console page (or an htmx fragment of one), not an API client."""
    if request.url.path.startswith(("/api/", "/webhooks/", "/qbo/", "/metrics", "/health", "/static/")):
        return False
    return "text/html" in request.headers.get("accept", "") or request.headers.get("hx-request") == "true"


async def _page_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, SignInRequired):
        return RedirectResponse(f"/signin?next={quote(request.url.path)}", status_code=303)
    assert isinstance(exc, AppError)
    if not _is_page_request(request):
        return JSONResponse(error_body(exc.code, exc.message, exc.field), exc.status_code, headers=exc.headers)
    context = {"status_code": exc.status_code, "message": exc.message, "code": exc.code}
    return render(request, "console/error.html", context, status_code=exc.status_code, headers=exc.headers)


def install_page_errors(app: FastAPI) -> None:
    """Pages answer errors as pages (the API keeps its JSON): not signed in → the sign-in page; others → the error
    page naming the problem. Installed after ``install_error_handlers`` so it takes ``AppError`` over."""
    app.add_exception_handler(SignInRequired, _page_error)
    app.add_exception_handler(AppError, _page_error)
