"""What the console's action pages share: the request a page handles, a posted form's checks, and one way to
answer an action (a refusal in the form's message region, a redirect for a full-page form, or htmx's fragment)."""

# No ``from __future__ import annotations``: FastAPI reads the routes ``panel_routes`` makes from their annotations,
# and those name a dependency local to the call, which a string annotation could not be resolved to.
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.core.access import Capability
from oodaloo.domains.core.plans import PlanService
from oodaloo.infra.jobs.smart_sync import QBOUnavailable
from oodaloo.infra.web.errors import AppError, PermissionDenied
from oodaloo.runway.deps import BusinessContext, SessionDep
from oodaloo.runway.experiences.web import PageBusiness, csrf_ok, render, require
from oodaloo.runway.routes.plans import Plans

T = TypeVar("T")


class FormExpired(PermissionDenied):
    code = "form_expired"
    message = "This form has expired or came from another page: reload the page and try again."


class QuickBooksBusy(AppError):
    """QuickBooks not answering, said on a page (the API says it as its own 503)."""

    status_code = 503
    code = "qbo_unavailable"


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def check_form(request: Request, context: BusinessContext, csrf_token: str, capability: Capability) -> None:
    """The member may do this (403 naming what it needs) and the form is this browser's own (403 otherwise)."""
    require(context, capability)
    if not csrf_ok(request, csrf_token):
        raise FormExpired()


def page_refusal(error: Exception) -> AppError:
    """The error as a page shows it: QuickBooks' unavailability becomes an AppError like the others."""
    if isinstance(error, QBOUnavailable):
        seconds = max(1, round(error.retry_after_seconds))
        return QuickBooksBusy(f"QuickBooks is not answering right now; nothing was sent. Try again in {seconds} s.")
    assert isinstance(error, AppError)
    return error


def refused(request: Request, error: Exception, target: str) -> Response:
    """A refusal answered to htmx: 200 (htmx swaps no error answers) into ``target``, the form's message region.
    A full-page form gets the error page instead (the error is raised again)."""
    shown = page_refusal(error)
    if not is_htmx(request):
        if shown is error:
            raise shown
        raise shown from error
    headers = {"HX-Retarget": target, "HX-Reswap": "innerHTML"}
    return render(request, "console/plan_refusal.html", {"error": shown}, headers=headers)


@dataclass(frozen=True)
class PageCall:
    """A console page's request: the browser's, the member's business and the database session."""

    request: Request
    context: BusinessContext
    session: AsyncSession

    @property
    def business_id(self) -> uuid.UUID:
        return self.context.business.id

    @property
    def htmx(self) -> bool:
        return is_htmx(self.request)

    def url(self, page: str, suffix: str = "") -> str:
        """The address of one of the business's console pages (``bills``, ``chase``, ``plan``, ``alerts``)."""
        return f"/businesses/{self.business_id}/{page}{suffix}"


@dataclass(frozen=True)
class PostedForm(PageCall):
    """A form posted from a console page, with the plans it may add to and the CSRF token it came with."""

    plans: PlanService
    csrf_token: str

    def check(self, capability: Capability) -> None:
        check_form(self.request, self.context, self.csrf_token, capability)


async def page_call(request: Request, context: PageBusiness, session: SessionDep) -> PageCall:
    return PageCall(request, context, session)


async def posted_form(
    request: Request,
    context: PageBusiness,
    session: SessionDep,
    plans: Plans,
    csrf_token: Annotated[str, Form()] = "",
) -> PostedForm:
    return PostedForm(request, context, session, plans, csrf_token)


OnPage = Annotated[PageCall, Depends(page_call)]
Posted = Annotated[PostedForm, Depends(posted_form)]


async def answered(
    form: PageCall,
    target: str,
    acting: Awaitable[T],
    redirect: Callable[[T], str],
    answer: Callable[[T], Awaitable[Response]],
) -> Response:
    """Await ``acting``; refused, htmx gets the refusal in ``target`` (a full-page form, the error page). Done, a
    full-page form goes to ``redirect(done)`` and htmx gets ``answer(done)``."""
    try:
        done = await acting
    except (AppError, QBOUnavailable) as error:
        return refused(form.request, error, target)
    if not form.htmx:
        return RedirectResponse(redirect(done), status_code=303)
    return await answer(done)


Panel = Callable[..., Awaitable[dict[str, Any]]]


def panel_routes(router: APIRouter, path: str, *, whole: str, row: str) -> Callable[[Panel], Panel]:
    """Serve the decorated panel context (a dependency: one bill's or invoice's forms) at ``path`` as the ``whole``
    page a browser without scripts opens, and at ``path/panel`` as the table ``row`` htmx opens under the item."""

    def register(panel: Panel) -> Panel:
        async def whole_page(page: OnPage, context: Annotated[dict[str, Any], Depends(panel)]) -> HTMLResponse:
            return render(page.request, whole, context)

        async def panel_row(page: OnPage, context: Annotated[dict[str, Any], Depends(panel)]) -> HTMLResponse:
            return render(page.request, row, context)

        router.add_api_route(path, whole_page, methods=["GET"], response_class=HTMLResponse)
        router.add_api_route(f"{path}/panel", panel_row, methods=["GET"], response_class=HTMLResponse)
        return panel

    return register
