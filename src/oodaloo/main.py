"""The FastAPI application factory; ``uvicorn oodaloo.main:app`` builds the app on first access."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import uuid
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI

from oodaloo.domains.core.demo import ensure_demo
from oodaloo.domains.core.models import User
from oodaloo.domains.core.service import BusinessService
from oodaloo.infra.auth.csrf import CsrfSigner
from oodaloo.infra.db.engine import Database
from oodaloo.infra.db.session import unit_of_work
from oodaloo.infra.jobs.smart_sync import JobQueue
from oodaloo.infra.logging import configure_logging, get_logger
from oodaloo.infra.metrics import HttpMetrics
from oodaloo.infra.redis_client import connect as redis_connect
from oodaloo.infra.throttle import make_throttle
from oodaloo.infra.web.errors import install_error_handlers
from oodaloo.infra.web.input_guard import refuse_nul_characters
from oodaloo.infra.web.middleware import RequestBodyLimitMiddleware, RequestContextMiddleware
from oodaloo.migrations import upgrade_engine_to_head
from oodaloo.runway.experiences import (
    assets,
    board,
    chase,
    console,
    onboarding,
    outbox,
    plan_pages,
    portfolio,
    test_drive,
    tray_page,
)
from oodaloo.runway.experiences.web import install_page_errors
from oodaloo.runway.routes import accounts, actions, auth, bills, businesses, health, pages, qbo, webhooks
from oodaloo.runway.routes.alerts import router as alerts_router
from oodaloo.runway.routes.audit import router as audit_router
from oodaloo.runway.routes.backtest import router as backtest_router
from oodaloo.runway.routes.balances import router as balances_router
from oodaloo.runway.routes.delays import router as delays_router
from oodaloo.runway.routes.docs import install_api_docs
from oodaloo.runway.routes.firms import router as firms_router
from oodaloo.runway.routes.kpis import router as kpis_router
from oodaloo.runway.routes.payments import router as payments_router
from oodaloo.runway.routes.plans import router as plans_router
from oodaloo.runway.routes.receivables import router as receivables_router
from oodaloo.runway.routes.recurring import router as recurring_router
from oodaloo.runway.routes.reminders import router as reminders_router
from oodaloo.runway.routes.reserves import router as reserves_router
from oodaloo.runway.routes.runway import router as runway_router
from oodaloo.runway.routes.scheduled_payments import router as scheduled_payments_router
from oodaloo.runway.routes.sync import router as sync_router
from oodaloo.runway.routes.vendors import router as vendors_router
from oodaloo.settings import EMBEDDED_SANDBOX_IN_PRODUCTION, EMBEDDED_SANDBOX_PATH, Settings, get_settings
from oodaloo.wiring import QBORuntime, build_runtime, connect_demo_when_ready

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from oodaloo.sandbox.config import SandboxConfig

logger = get_logger("oodaloo.app")


def sandbox_config(settings: Settings) -> SandboxConfig:
    from oodaloo.sandbox.config import SandboxConfig

    state_file = Path(settings.sandbox_state_file) if settings.sandbox_state_file else None
    return SandboxConfig(
        scenario=settings.sandbox_scenario,
        state_file=state_file,
        # The sandbox signs its change notifications with our verifier token and sends them to our own endpoint.
        verifier_token=settings.qbo_webhook_verifier_token.get_secret_value(),
        webhook_urls=[webhook_url(settings)],
    )


def webhook_url(settings: Settings) -> str:
    """``POST /webhooks/qbo`` on this app's host:port (a wildcard bind address is reached on loopback)."""
    host = settings.host
    with contextlib.suppress(ValueError):  # a host name, not an address
        address = ipaddress.ip_address(host)
        host = "127.0.0.1" if address.is_unspecified else f"[{host}]" if address.version == 6 else host
    return f"http://{host}:{settings.port}/webhooks/qbo"


def _create_sandbox(config: SandboxConfig) -> Starlette:
    # Imported here so that an app without the embedded sandbox never loads it.
    from oodaloo.sandbox.app import create_sandbox_app

    if config.state_file is not None:
        config.state_file.parent.mkdir(parents=True, exist_ok=True)
    return create_sandbox_app(config)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    if settings.environment == "production" and settings.embedded_sandbox:
        # Settings refuse this when validated; a copy made with ``model_copy(update=...)`` skips validation.
        raise ValueError(EMBEDDED_SANDBOX_IN_PRODUCTION)
    configure_logging(settings.log_level, settings.log_format)
    metrics = HttpMetrics()
    embedded = sandbox_config(settings) if settings.embedded_sandbox else None
    sandbox = _create_sandbox(embedded) if embedded else None

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(settings.database_url)
        redis = redis_connect(settings.redis_url) if settings.redis_url else None
        app.state.database, app.state.redis = database, redis
        app.state.throttle = make_throttle(redis)
        runtime = build_runtime(settings, database.sessionmaker)
        app.state.qbo_connections, app.state.smart_sync = runtime.connections, runtime.sync
        app.state.sync_requester = runtime.mirror_jobs  # a webhook's news becomes the realm's sync job
        try:
            if settings.auto_migrate:
                await upgrade_engine_to_head(database.engine)
            demo: tuple[User, uuid.UUID] | None = None
            if embedded is not None:
                demo = await _ensure_demo(database, embedded)
            async with contextlib.AsyncExitStack() as stack:
                await stack.enter_async_context(_job_queue(runtime, settings))
                if sandbox is not None:
                    # Starlette runs only the outer app's lifespan; a mounted app's must be entered by hand.
                    await stack.enter_async_context(sandbox.router.lifespan_context(sandbox))
                if demo is not None:
                    await stack.enter_async_context(_background(_connect_demo(runtime, database, settings, demo)))
                logger.info("started", environment=settings.environment, embedded_sandbox=sandbox is not None)
                yield
        finally:
            await runtime.aclose()
            if redis is not None:
                await redis.aclose()
            await database.dispose()

    # FastAPI's own /docs and /redoc load their scripts from a CDN; ours are served offline (install_api_docs).
    app = FastAPI(
        title="Oodaloo",
        summary="Weekly cash-runway console for QuickBooks Online",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # Before every route's own dependencies: text holding NUL is refused, naming the field, on every database.
        dependencies=[Depends(refuse_nul_characters)],
    )
    install_api_docs(app)
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.csrf = CsrfSigner(settings.secret_key.get_secret_value())
    install_error_handlers(app)
    install_page_errors(app)
    # Added last runs first: the request context wraps the body limit, so a 413 carries a request id and is logged.
    app.add_middleware(RequestBodyLimitMiddleware)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    for router in (health.router, auth.router, businesses.router, pages.router, bills.router, actions.router):
        app.include_router(router)
    app.include_router(accounts.router)
    app.include_router(webhooks.router)
    app.include_router(sync_router)
    app.include_router(vendors_router)
    app.include_router(firms_router)
    app.include_router(audit_router)
    app.include_router(balances_router)
    app.include_router(receivables_router)
    app.include_router(runway_router)
    app.include_router(backtest_router)
    app.include_router(reserves_router)
    app.include_router(recurring_router)
    app.include_router(alerts_router)
    app.include_router(kpis_router)
    app.include_router(delays_router)
    app.include_router(payments_router)
    app.include_router(reminders_router)
    app.include_router(scheduled_payments_router)
    app.include_router(plans_router)
    app.include_router(qbo.create_router(settings.qbo_redirect_uri))
    # The console's pages (HTML; the API above is what they call underneath).
    for page_router in (
        assets,
        console,
        board,
        chase,
        plan_pages,
        tray_page,
        onboarding,
        portfolio,
        test_drive,
        outbox,
    ):
        app.include_router(page_router.router)
    if sandbox is not None:
        app.mount(EMBEDDED_SANDBOX_PATH, sandbox)
    return app


async def _ensure_demo(database: Database, embedded: SandboxConfig) -> tuple[User, uuid.UUID]:
    """The demo user and the demo business linked to the sandbox realm, created when missing."""
    async with unit_of_work(database.sessionmaker) as session:
        user = await ensure_demo(session, scenario=embedded.scenario, realm_id=embedded.realm_id)
        entries = await BusinessService(session).list_for(user)
        business_id = next(entry.business.id for entry in entries if entry.business.qbo_realm_id == embedded.realm_id)
    return user, business_id


async def _connect_demo(
    runtime: QBORuntime, database: Database, settings: Settings, demo: tuple[User, uuid.UUID]
) -> None:
    user, business_id = demo
    await connect_demo_when_ready(
        runtime, database.sessionmaker, user=user, business_id=business_id, discovery_url=settings.qbo_discovery_url
    )


@contextlib.asynccontextmanager
async def _job_queue(runtime: QBORuntime, settings: Settings) -> AsyncIterator[None]:
    """This app's background jobs: run in this process (embedded), or only enqueued for ``oodaloo worker``
    (Redis). The queue is the app's own, so apps sharing a process (tests serve several) each settle their actions."""
    job_queue = await JobQueue.start_in_process(
        runtime.sync, redis_url=settings.redis_url, sweep_interval_seconds=settings.sweep_interval_seconds
    )
    try:
        yield
    finally:
        await job_queue.stop()


@contextlib.asynccontextmanager
async def _background(work: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    """Run ``work`` while the block runs; cancelled (if still running) when it ends."""
    task = asyncio.create_task(work)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


_app: FastAPI | None = None


def __getattr__(name: str) -> Any:
    """``oodaloo.main.app`` is created on first access, so importing this module stays cheap."""
    global _app
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _app is None:
        _app = create_app()
    return _app
