"""Onboarding: sign up, create a business, connect QuickBooks (and reconnect or disconnect it), the first sync's
progress, and where a signed-in person lands (``landing``). Forms post with their CSRF token; each page calls the same
services as the JSON API (``AccountService``, ``BusinessService``, ``ConnectionService``, the mirror's sync jobs)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Annotated, Any, Protocol, TypeVar
from urllib.parse import urlsplit
from zoneinfo import available_timezones

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.core.access import Capability
from oodaloo.domains.core.currencies import ISO_4217_CODES
from oodaloo.domains.core.errors import EmailTaken, WeakPassword
from oodaloo.domains.core.models import Business, Role, User
from oodaloo.domains.core.schemas import BusinessIn, SignUpIn
from oodaloo.domains.core.service import AccountService, BusinessService, BusinessWithRole
from oodaloo.domains.qbo.auth import ConnectionState
from oodaloo.domains.qbo.mirror_models import MIRRORED, SINGLETONS, FullSyncProgress
from oodaloo.domains.qbo.mirror_repository import FullSyncProgressRepository, SyncStateRepository
from oodaloo.domains.qbo.models import ConnectionStatus
from oodaloo.domains.qbo.repository import QBOConnectionRepository
from oodaloo.domains.qbo.sync_status import SyncStatus, SyncStatusService
from oodaloo.infra.auth.passwords import password_problem
from oodaloo.infra.db.base import utcnow
from oodaloo.infra.web.errors import PermissionDenied
from oodaloo.runway.cookies import set_session_cookie
from oodaloo.runway.deps import SESSION_COOKIE, OptionalCaller, SessionDep, SettingsDep
from oodaloo.runway.experiences.web import PageBusiness, SignInRequired, csrf_ok, render, require
from oodaloo.runway.routes.qbo import ConnectionsDep

router = APIRouter(include_in_schema=False)

# Most of Oodaloo's first users keep US books; anyone else picks their zone from the list.
DEFAULT_TIMEZONE = "America/New_York"
DEFAULT_CURRENCY = "USD"
CREATE_BUSINESS_PATH = "/onboarding/business"
# IANA's regional areas: the zones people live in (``available_timezones`` also holds legacy aliases such as
# "US/Eastern" and "EST5EDT", which only duplicate these).
_REGIONS = ("Africa", "America", "Antarctica", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific")
# What the forms call each field in their messages ("Enter your name.").
_FIELD_NAMES = {
    "display_name": "your name",
    "email": "your email address",
    "password": "a password",
    "name": "the business's name",
    "timezone": "a time zone",
    "currency": "a currency",
}
# The mirror's entity types as people call them, for the first sync's progress.
ENTITY_LABELS = {
    "CompanyInfo": "Company details",
    "Preferences": "Company settings",
    "Account": "Accounts",
    "Vendor": "Vendors",
    "Customer": "Customers",
    "Term": "Payment terms",
    "Item": "Products and services",
    "Bill": "Bills",
    "BillPayment": "Bill payments",
    "VendorCredit": "Vendor credits",
    "Purchase": "Expenses",
    "Invoice": "Invoices",
    "Payment": "Customer payments",
    "CreditMemo": "Credit memos",
    "SalesReceipt": "Sales receipts",
    "Deposit": "Deposits",
    "Transfer": "Transfers",
    "JournalEntry": "Journal entries",
}


# The exception's name a sync run puts before its error's text ("QBOUnavailable: QBO is having trouble…").
_EXCEPTION_NAME = re.compile(r"^[A-Za-z_][\w.]*: ")
# A form shown again because its CSRF token did not match (it was open too long, or cookies were cleared).
FORM_EXPIRED = "Your form expired. Please try again."
ModelT = TypeVar("ModelT", bound=BaseModel)


class FormExpired(PermissionDenied):
    code = "form_expired"
    message = "Your form expired. Please go back, reload the page and try again."


class SyncJobs(Protocol):
    """What the first sync needs of the mirror's sync jobs (``MirrorSyncJobs``, on ``app.state.sync_requester``)."""

    async def request(self, business_id: uuid.UUID) -> bool: ...


# --------------------------------------------------------------------------------------------- paths and landing
def console_path(business_id: uuid.UUID) -> str:
    return f"/businesses/{business_id}"


def connection_path(business_id: uuid.UUID) -> str:
    return f"/businesses/{business_id}/connection"


def first_sync_path(business_id: uuid.UUID) -> str:
    return f"/businesses/{business_id}/first-sync"


def local_path(value: str | None) -> str | None:
    """``value`` when it is a path on this site ("/businesses/…"), else None: a sign-in's ``next`` must never send
    the browser to another site ("//evil.example", "https://…", "/\\evil.example", or a tab browsers drop)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    if any(ord(character) < 0x20 or ord(character) == 0x7F for character in value):
        return None
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else None


def is_advisor(entries: list[BusinessWithRole]) -> bool:
    return any(entry.role is Role.ADVISOR for entry in entries)


async def first_sync_pending(session: AsyncSession, business: Business) -> bool:
    """Connected to QuickBooks, and its mirror has not completed a first sync of that company yet."""
    connection = await QBOConnectionRepository(session, business.id).current()
    if connection is None or connection.status is not ConnectionStatus.CONNECTED:
        return False
    return not await SyncStateRepository(session, business.id).synced(connection.realm_id)


async def landing(session: AsyncSession, user: User) -> str:
    """Where ``/`` takes a signed-in person: no business yet → create one; one → its console (its first sync's
    progress while that runs); several → the portfolio for an advisor, else the list of businesses."""
    entries = await BusinessService(session).list_for(user)
    if not entries:
        return CREATE_BUSINESS_PATH
    if len(entries) == 1:
        business = entries[0].business
        return (
            first_sync_path(business.id) if await first_sync_pending(session, business) else console_path(business.id)
        )
    return "/portfolio" if is_advisor(entries) else "/businesses"


# --------------------------------------------------------------------------------------------------- forms
def check_csrf(request: Request, token: str) -> None:
    if not csrf_ok(request, token):
        raise FormExpired()


def _problem_text(error: Any) -> str:
    """One pydantic error as a sentence for the form."""
    field = str(error["loc"][0]) if error.get("loc") else ""
    kind = error.get("type", "")
    if kind in ("string_too_short", "missing"):
        return f"Enter {_FIELD_NAMES.get(field, 'a value')}."
    if kind == "string_too_long":
        return f"Use at most {error.get('ctx', {}).get('max_length')} characters."
    reason = str(error.get("msg", "This value is not valid")).removeprefix("Value error, ")
    return reason[:1].upper() + reason[1:].rstrip(".") + "."


def validated(model: type[ModelT], data: dict[str, Any]) -> tuple[ModelT | None, dict[str, str]]:
    """``model`` built from a form's ``data`` with the API's own rules, or None and each field's first problem."""
    try:
        return model.model_validate(data), {}
    except ValidationError as invalid:
        problems: dict[str, str] = {}
        for error in invalid.errors():
            field = str(error["loc"][0]) if error["loc"] else "form"
            problems.setdefault(field, _problem_text(error))
        return None, problems


def _form_page(
    request: Request, template: str, context: dict[str, Any], problems: dict[str, str], status_code: int
) -> HTMLResponse:
    return render(request, template, {**context, "problems": problems}, status_code=status_code)


# ------------------------------------------------------------------------------------------------- sign up
@router.get("/signup", response_class=HTMLResponse)
async def signup_form(request: Request, caller: OptionalCaller) -> Response:
    if caller is not None:
        return RedirectResponse("/", status_code=303)
    return render(request, "signup.html", {"form": {}, "problems": {}})


@router.post("/signup", response_class=HTMLResponse)
async def signup(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    display_name: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Create the account and sign it in, then on to creating a business. Errors are shown on the form, by field."""
    form = {"display_name": display_name, "email": email}
    if not csrf_ok(request, csrf_token):
        return _form_page(request, "signup.html", {"form": form}, {"form": FORM_EXPIRED}, 403)
    body, problems = validated(SignUpIn, {"email": email, "password": password, "display_name": display_name})
    if body is None:
        if "password" not in problems and (weak := password_problem(password)):
            problems["password"] = weak  # every problem at once, not one per attempt
        return _form_page(request, "signup.html", {"form": form}, problems, 422)
    accounts = AccountService(session)
    try:
        user = await accounts.sign_up(body.email, body.password, body.display_name)
    except (WeakPassword, EmailTaken) as refused:
        status = refused.status_code
        return _form_page(request, "signup.html", {"form": form}, {refused.field or "form": refused.message}, status)
    started = await accounts.start_session(user)
    response = RedirectResponse(CREATE_BUSINESS_PATH, status_code=303)
    set_session_cookie(response, started.token, started.expires_at, settings)
    return response


# ------------------------------------------------------------------------------------------- create a business
@cache
def timezone_groups() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The IANA zones a business may be in, by region, for the form's select (UTC on its own at the end)."""
    zones = available_timezones()
    groups = [(region, tuple(sorted(z for z in zones if z.startswith(region + "/")))) for region in _REGIONS]
    return (*((region, found) for region, found in groups if found), ("Other", ("UTC",)))


@cache
def currency_codes() -> tuple[str, ...]:
    return tuple(sorted(ISO_4217_CODES))


def _business_form(
    request: Request, user: User, form: dict[str, str], problems: dict[str, str], status_code: int = 200
) -> HTMLResponse:
    context = {"user": user, "form": form, "timezones": timezone_groups(), "currencies": currency_codes()}
    return _form_page(request, "console/onboarding_business.html", context, problems, status_code)


def _signed_in(caller: OptionalCaller) -> User:
    if caller is None:
        raise SignInRequired()
    return caller.user


@router.get(CREATE_BUSINESS_PATH, response_class=HTMLResponse)
async def business_form(request: Request, caller: OptionalCaller) -> Response:
    form = {"name": "", "timezone": DEFAULT_TIMEZONE, "currency": DEFAULT_CURRENCY}
    return _business_form(request, _signed_in(caller), form, {})


@router.post(CREATE_BUSINESS_PATH, response_class=HTMLResponse)
async def create_business(
    request: Request,
    caller: OptionalCaller,
    session: SessionDep,
    name: Annotated[str, Form()] = "",
    timezone: Annotated[str, Form()] = "",
    currency: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """The creator becomes its owner; next, connecting QuickBooks."""
    user = _signed_in(caller)
    form = {"name": name, "timezone": timezone, "currency": currency}
    if not csrf_ok(request, csrf_token):
        return _business_form(request, user, form, {"form": FORM_EXPIRED}, 403)
    body, problems = validated(BusinessIn, form)
    if body is None:
        return _business_form(request, user, form, problems, 422)
    business = await BusinessService(session).create(user, body)
    return RedirectResponse(connection_path(business.id), status_code=303)


# ------------------------------------------------------------------------------------- the QuickBooks connection
def needs_attention(state: ConnectionState, now: datetime) -> bool:
    """The connection cannot be used until someone connects again: never made, disconnected, refused by QuickBooks,
    or its refresh token has run out (QuickBooks would refuse it at the next call)."""
    if state.status != "connected":
        return True
    expires = state.refresh_token_expires_at
    return expires is not None and expires <= now


def banner_context(state: ConnectionState) -> dict[str, Any]:
    """What ``console/_connection_banner.html`` needs besides the page's own ``business`` and ``grant``."""
    return {"connection": state, "connection_needs_attention": needs_attention(state, utcnow())}


def _page(context: PageBusiness, **extra: Any) -> dict[str, Any]:
    """The console layout's context, and what the member may do here."""
    return {
        "business": context.business,
        "grant": context.grant,
        "user": context.user,
        "active": "",
        "may_propose": context.grant.allows(Capability.PROPOSE),
        "may_manage": context.grant.allows(Capability.MANAGE),
        "now": utcnow(),
        **extra,
    }


@router.get("/businesses/{business_id}/connection", response_class=HTMLResponse)
async def connection_page(
    request: Request, context: PageBusiness, connections: ConnectionsDep, session: SessionDep
) -> Response:
    """The business's QuickBooks connection: connect or reconnect (those who act), disconnect (owners)."""
    state = await connections.status(context.business.id)
    pending = await first_sync_pending(session, context.business)
    page = _page(context, first_sync_pending=pending, **banner_context(state))
    return render(request, "console/onboarding_connection.html", page)


@router.get("/businesses/{business_id}/connection/banner", response_class=HTMLResponse)
async def connection_banner(request: Request, context: PageBusiness, connections: ConnectionsDep) -> Response:
    """The "needs reconnect" banner alone, for a page that loads it with htmx (empty while the connection works)."""
    state = await connections.status(context.business.id)
    page = _page(context, **banner_context(state))
    return render(request, "console/_connection_banner.html", page)


@router.post("/businesses/{business_id}/connection/connect")
async def connect(
    request: Request, context: PageBusiness, connections: ConnectionsDep, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    """Off to QuickBooks to consent; its callback (``runway/routes/qbo.py``) stores the connection."""
    check_csrf(request, csrf_token)
    require(context, Capability.ACT)
    session_token = request.cookies.get(SESSION_COOKIE)
    if not session_token:  # the callback is bound to this browser's sign-in
        raise SignInRequired()
    url = await connections.start(context.business.id, context.user.id, session_token)
    return RedirectResponse(url, status_code=303)


@router.get("/businesses/{business_id}/connection/disconnect", response_class=HTMLResponse)
async def disconnect_confirm(request: Request, context: PageBusiness, connections: ConnectionsDep) -> Response:
    """Disconnecting asks first: it stops syncing and executing until someone connects again."""
    require(context, Capability.MANAGE)
    state = await connections.status(context.business.id)
    return render(request, "console/onboarding_disconnect.html", _page(context, connection=state))


@router.post("/businesses/{business_id}/connection/disconnect")
async def disconnect(
    request: Request, context: PageBusiness, connections: ConnectionsDep, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    """Revoke at QuickBooks and erase the tokens (owners only), then back to the connection page."""
    check_csrf(request, csrf_token)
    require(context, Capability.MANAGE)
    await connections.disconnect(context.business.id, context.user.id)
    return RedirectResponse(connection_path(context.business.id), status_code=303)


# ------------------------------------------------------------------------------------------------ first sync
@dataclass(frozen=True)
class EntityProgress:
    entity: str
    label: str
    copied: int
    done: bool


@dataclass(frozen=True)
class FirstSync:
    """How far the first sync has got: the run in progress or the last error, and each entity type's progress
    (empty until the sync starts)."""

    status: SyncStatus
    entities: tuple[EntityProgress, ...]

    @property
    def done_count(self) -> int:
        return sum(1 for entity in self.entities if entity.done)

    @property
    def copied(self) -> int:
        return sum(entity.copied for entity in self.entities)

    @property
    def error_text(self) -> str | None:
        """Why the last attempt stopped, for a person: a run records its error as "<ExceptionName>: <text>"."""
        error = self.status.last_error
        return _EXCEPTION_NAME.sub("", error.message, count=1) if error is not None else None


def _entity_progress(row: FullSyncProgress) -> EntityProgress:
    # ``next_position`` is the next page's first position: everything before it is stored (singletons: one object).
    copied = 1 if row.entity in SINGLETONS and row.done else row.next_position - 1
    return EntityProgress(row.entity, ENTITY_LABELS.get(row.entity, row.entity), max(copied, 0), row.done)


async def first_sync_of(session: AsyncSession, business: Business) -> FirstSync:
    status = await SyncStatusService(session).status(business, utcnow())
    rows = await FullSyncProgressRepository(session, business.id).by_entity()
    order = list(MIRRORED)
    entities = sorted(
        (_entity_progress(row) for row in rows.values()),
        key=lambda e: order.index(e.entity) if e.entity in order else len(order),
    )
    return FirstSync(status, tuple(entities))


def _sync_jobs(request: Request) -> SyncJobs:
    jobs: SyncJobs = request.app.state.sync_requester
    return jobs


async def _after_first_sync(session: AsyncSession, business: Business) -> str | None:
    """Where the first-sync page sends the browser instead: the console once synced, the connection page when
    QuickBooks is not connected; None while the sync is due or running."""
    if await first_sync_pending(session, business):
        return None
    connection = await QBOConnectionRepository(session, business.id).current()
    connected = connection is not None and connection.status is ConnectionStatus.CONNECTED
    return console_path(business.id) if connected else connection_path(business.id)


@router.get("/businesses/{business_id}/first-sync", response_class=HTMLResponse)
async def first_sync_page(request: Request, context: PageBusiness, session: SessionDep) -> Response:
    """The first copy of the books, with its progress (the partial below, polled every second); asks for the sync
    when nothing has tried it yet (the sync job coalesces, so a second request merges into the first)."""
    if (elsewhere := await _after_first_sync(session, context.business)) is not None:
        return RedirectResponse(elsewhere, status_code=303)
    progress = await first_sync_of(session, context.business)
    status = progress.status
    if status.running is None and status.last_error is None and status.last_success is None:
        await _sync_jobs(request).request(context.business.id)
    return render(request, "console/onboarding_first_sync.html", _page(context, progress=progress))


@router.get("/businesses/{business_id}/first-sync/progress", response_class=HTMLResponse)
async def first_sync_progress(request: Request, context: PageBusiness, session: SessionDep) -> Response:
    """The progress partial; once the sync is done, htmx is told to go to the console (``HX-Redirect``)."""
    if (elsewhere := await _after_first_sync(session, context.business)) is not None:
        return Response(status_code=200, headers={"HX-Redirect": elsewhere})
    progress = await first_sync_of(session, context.business)
    return render(request, "console/onboarding_first_sync_progress.html", _page(context, progress=progress))


@router.post("/businesses/{business_id}/first-sync")
async def retry_first_sync(
    request: Request, context: PageBusiness, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    """Ask for the first sync again after it failed (the page's "Try again": advisors and owners, as "sync now")."""
    check_csrf(request, csrf_token)
    require(context, Capability.PROPOSE)
    await _sync_jobs(request).request(context.business.id)
    return RedirectResponse(first_sync_path(context.business.id), status_code=303)
