"""The test drive: without an account, pick a demo scenario and land on its console — a sandbox company of the
visitor's own, where approve → execute really writes — or connect your own QuickBooks company read-only and see its
first runway. Everything of a trial is removed when it ends (``domains/core/trial_flows.py`` does the work).

Routes: ``GET /test-drive`` (the choice, and the visitor's current trial), ``POST /test-drive`` (a scenario),
``POST /test-drive/connect`` (read-only, on to QuickBooks' consent), ``POST /test-drive/start-over``.
``register_test_drive`` is the wiring's: the pool's job kind and the sweep that removes ended trials.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oodaloo.domains.core.models import Business, User
from oodaloo.domains.core.repository import BusinessRepository
from oodaloo.domains.core.schemas import CurrencyCode, StrictBody, TimeZoneName
from oodaloo.domains.core.trial_flows import SCENARIOS, SyncRequester, TrialConfig, TrialFlows
from oodaloo.domains.core.trial_models import Trial
from oodaloo.domains.core.trials import is_guest, trial_of_user
from oodaloo.domains.qbo.auth import ConnectionService
from oodaloo.domains.qbo.data_service import QBODataService
from oodaloo.domains.qbo.test_drive_data import TestDriveData
from oodaloo.infra.db.session import unit_of_work
from oodaloo.infra.jobs.smart_sync import SmartSyncService
from oodaloo.infra.logging import get_logger
from oodaloo.infra.throttle import AttemptLimit, AttemptThrottle
from oodaloo.infra.web.errors import TooManyRequests
from oodaloo.runway.cookies import clear_session_cookie, set_session_cookie
from oodaloo.runway.core.service import RunwayService
from oodaloo.runway.deps import OptionalCaller, SessionDep, SettingsDep, ThrottleDep, client_address
from oodaloo.runway.experiences.onboarding import (
    DEFAULT_CURRENCY,
    DEFAULT_TIMEZONE,
    check_csrf,
    currency_codes,
    timezone_groups,
    validated,
)
from oodaloo.runway.experiences.web import render, templates
from oodaloo.runway.routes.qbo import ConnectionsDep
from oodaloo.settings import Settings

logger = get_logger("oodaloo.test_drive")

router = APIRouter(include_in_schema=False)

TEST_DRIVE_PATH = "/test-drive"
# When the browser's trial ends (Unix seconds), for the console's banner: display only, the session decides access.
TEST_DRIVE_COOKIE = "oodaloo_test_drive"
# Trials one address may start in an hour: a person trying each scenario a few times, an office behind one NAT; not a
# script filling the sandbox with companies.
TRIALS_PER_ADDRESS = AttemptLimit(attempts=20, window_seconds=3600)
# Each scenario's name and its one line on the page (a scenario without one fails at import, not on the page).
_SCENARIO_LINES = {
    "healthy": ("Healthy", "Cash covers the quarter ahead with room to spare; see what a calm Friday looks like."),
    "tight": ("Tight", "A few weeks of runway: choose which bills can wait and which invoices to chase."),
    "crisis": ("Crisis", "Cash runs out within weeks unless something moves now: find what buys you time."),
}
SCENARIO_CHOICES: tuple[tuple[str, str, str], ...] = tuple((key, *_SCENARIO_LINES[key]) for key in SCENARIOS)


def trial_ends(request: Request, user: User | None) -> datetime | None:
    """When the signed-in guest's test drive ends, for the banner (``console/test_drive_banner.html``); None for
    everyone else (a person who signed in with an account after a test drive in this browser sees no banner)."""
    raw = request.cookies.get(TEST_DRIVE_COOKIE, "")
    if user is None or not is_guest(user) or not raw.isdigit():
        return None
    return datetime.fromtimestamp(int(raw), UTC)


templates.env.globals["test_drive_ends"] = trial_ends


def trial_config(settings: Settings) -> TrialConfig:
    return TrialConfig(
        sandbox_url=settings.test_drive_sandbox,
        lifetime=timedelta(hours=settings.test_drive_lifetime_hours),
        pool_size=settings.test_drive_pool_size,
        max_trials=settings.test_drive_max_trials,
    )


def register_test_drive(
    settings: Settings,
    sync: SmartSyncService,
    connections: ConnectionService,
    sync_jobs: SyncRequester,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> TrialFlows:
    """For the wiring (``build_runtime``): the pool's job kind and the sweep removing ended trials, in this process."""
    drives = TrialFlows(
        sessionmaker=sessionmaker,
        connections=connections,
        sync_jobs=sync_jobs,
        smart_sync=sync,
        config=trial_config(settings),
        warm=warm_runway(sessionmaker),
    )
    drives.register()
    return drives


def warm_runway(sessionmaker: async_sessionmaker[AsyncSession]) -> Callable[[uuid.UUID], Awaitable[None]]:
    """Compute a pooled trial's runway into this process's cache, so its first console does not wait for it."""

    async def warm(business_id: uuid.UUID) -> None:
        async with unit_of_work(sessionmaker) as session:
            business = await BusinessRepository(session).get(business_id)
            if business is not None:
                await RunwayService(session, business).summary()

    return warm


def trial_flows(request: Request) -> TrialFlows:
    state = request.app.state
    return TrialFlows(
        sessionmaker=state.database.sessionmaker,
        connections=state.qbo_connections,
        sync_jobs=state.sync_requester,
        smart_sync=state.smart_sync,
        config=trial_config(state.settings),
        warm=warm_runway(state.database.sessionmaker),
    )


TrialFlowsDep = Annotated[TrialFlows, Depends(trial_flows)]
CsrfField = Annotated[str, Form()]


class ReadOnlyIn(StrictBody):
    """What the read-only connect asks: the zone the company's days follow, and its home currency."""

    timezone: TimeZoneName
    currency: CurrencyCode


# ------------------------------------------------------------------------------------------------------- the page
@router.get(TEST_DRIVE_PATH, response_class=HTMLResponse)
async def test_drive_page(
    request: Request, caller: OptionalCaller, session: SessionDep, settings: SettingsDep, drives: TrialFlowsDep
) -> HTMLResponse:
    """The scenarios, the read-only connect, and the visitor's current trial; opening it readies the pool, so the
    click that follows finds a company made and synced."""
    await drives.top_up()
    return await _page(request, session, settings, drives, caller.user if caller else None)


async def _page(
    request: Request,
    session: AsyncSession,
    settings: Settings,
    drives: TrialFlows,
    user: User | None,
    *,
    form: dict[str, str] | None = None,
    problems: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    trial = await trial_of_user(session, user) if user is not None else None
    context: dict[str, Any] = {
        "scenarios": SCENARIO_CHOICES,
        "available": drives.scenarios_available,
        "lifetime_hours": settings.test_drive_lifetime_hours,
        "user": user,
        "trial": trial,
        "drive": await _drive_of(session, trial),
        "form": form or {"timezone": DEFAULT_TIMEZONE, "currency": DEFAULT_CURRENCY},
        "problems": problems or {},
        "timezones": timezone_groups(),
        "currencies": currency_codes(),
    }
    return render(request, "console/test_drive.html", context, status_code=status_code)


async def _drive_of(session: AsyncSession, trial: Trial | None) -> tuple[Business, TestDriveData] | None:
    """The trial's business and what the page shows of it."""
    if trial is None:
        return None
    business = await BusinessRepository(session).get(trial.business_id)
    if business is None:
        return None
    return business, await QBODataService(session, business).get_test_drive_data(business.today())


# ------------------------------------------------------------------------------------------------------- actions
@router.post(TEST_DRIVE_PATH)
async def start_test_drive(
    request: Request,
    caller: OptionalCaller,
    session: SessionDep,
    settings: SettingsDep,
    throttle: ThrottleDep,
    drives: TrialFlowsDep,
    scenario: Annotated[str, Form()] = "",
    csrf_token: CsrfField = "",
) -> Response:
    """A scenario's company of the visitor's own, signed in as its guest, landing on its console."""
    started_at = time.monotonic()
    check_csrf(request, csrf_token)
    await _admit(request, throttle)
    await _end_previous(session, drives, caller.user if caller else None)
    started = await drives.start(scenario)
    elapsed_ms = (time.monotonic() - started_at) * 1000
    logger.info("test_drive.first_console", scenario=scenario, ms=round(elapsed_ms), from_pool=started.from_pool)
    response = RedirectResponse(business_path(started.business_id), status_code=303)
    response.headers["Server-Timing"] = f"test-drive;dur={elapsed_ms:.0f}"
    _sign_in(response, started.session.token, started.session.expires_at, settings)
    return response


@router.post(f"{TEST_DRIVE_PATH}/connect")
async def connect_read_only(
    request: Request,
    caller: OptionalCaller,
    session: SessionDep,
    settings: SettingsDep,
    throttle: ThrottleDep,
    drives: TrialFlowsDep,
    connections: ConnectionsDep,
    timezone: Annotated[str, Form()] = "",
    currency: Annotated[str, Form()] = "",
    csrf_token: CsrfField = "",
) -> Response:
    """A guest and an empty business, then on to QuickBooks to pick the company; the callback connects it and the
    first sync follows (``/`` → the first sync's progress → the console)."""
    check_csrf(request, csrf_token)
    form = {"timezone": timezone, "currency": currency}
    chosen, problems = validated(ReadOnlyIn, form)
    user = caller.user if caller else None
    if chosen is None:
        return await _page(request, session, settings, drives, user, form=form, problems=problems, status_code=422)
    await _admit(request, throttle)
    await _end_previous(session, drives, user)
    trial, started = await drives.start_read_only(chosen.timezone, chosen.currency)
    try:
        url = await connections.start(trial.business_id, trial.user_id, started.token)
    except Exception:  # QuickBooks' sign-in did not answer: nothing of this attempt stays behind
        await drives.end(trial)
        raise
    response = RedirectResponse(url, status_code=303)
    _sign_in(response, started.token, started.expires_at, settings)
    return response


@router.post(f"{TEST_DRIVE_PATH}/start-over")
async def start_over(
    request: Request,
    caller: OptionalCaller,
    session: SessionDep,
    settings: SettingsDep,
    drives: TrialFlowsDep,
    csrf_token: CsrfField = "",
) -> Response:
    """End this browser's trial now (everything of it is removed) and choose again."""
    check_csrf(request, csrf_token)
    await _end_previous(session, drives, caller.user if caller else None)
    response = RedirectResponse(TEST_DRIVE_PATH, status_code=303)
    clear_session_cookie(response, settings)
    response.delete_cookie(TEST_DRIVE_COOKIE, path="/")
    return response


# ------------------------------------------------------------------------------------------------------- helpers
async def _admit(request: Request, throttle: AttemptThrottle) -> None:
    admission = await throttle.admit(f"test-drive:{client_address(request)}", TRIALS_PER_ADDRESS)
    if not admission.granted:
        raise TooManyRequests(
            "Many test drives were started from here in the last hour; try again later.",
            retry_after_seconds=admission.retry_after_seconds,
        )


async def _end_previous(session: AsyncSession, drives: TrialFlows, user: User | None) -> None:
    """A visitor starting again ends the trial they were in: one browser, one trial."""
    trial = await trial_of_user(session, user) if user is not None else None
    if trial is not None:
        await drives.end(trial)


def _sign_in(response: Response, token: str, expires_at: datetime, settings: Settings) -> None:
    set_session_cookie(response, token, expires_at, settings)
    response.set_cookie(
        TEST_DRIVE_COOKIE,
        str(int(expires_at.timestamp())),
        max_age=max(int((expires_at - datetime.now(UTC)).total_seconds()), 0),
        httponly=True,
        samesite="lax",
        secure=not settings.is_development,
        path="/",
    )


def business_path(business_id: uuid.UUID) -> str:
    return f"/businesses/{business_id}"
