"""Building the QBO runtime from settings — one HTTP transport, the QBO connections, SmartSync with every action
handler and job kind registered (the mirror's syncs, monitoring, the Friday digest) — shared by the app (``main.py``)
and ``oodaloo worker`` (``cli.py``); and connecting the embedded demo business to the mounted sandbox."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit, urlunsplit

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oodaloo.domains.ap.actions import PAY_BILL, pay_bill_handler_factory
from oodaloo.domains.ap.delay import DELAY_BILL, delay_bill_handler_factory
from oodaloo.domains.ap.scheduled import SCHEDULE_PAYMENT, ScheduledPayments, schedule_payment_handler_factory
from oodaloo.domains.ar.payments import RECORD_PAYMENT, record_payment_handler_factory
from oodaloo.domains.ar.reminders import SEND_REMINDER, send_reminder_handler_factory
from oodaloo.domains.core.freshness import MirrorFreshness
from oodaloo.domains.core.models import User
from oodaloo.domains.core.plan_execution import PlanExecutor
from oodaloo.domains.core.service import AccountService
from oodaloo.domains.qbo.auth import ConnectionService
from oodaloo.domains.qbo.service import QBOBulkScheduledService
from oodaloo.domains.qbo.sync import MirrorSync
from oodaloo.domains.qbo.sync_jobs import MirrorSyncJobs
from oodaloo.infra.db.engine import Database
from oodaloo.infra.db.session import unit_of_work
from oodaloo.infra.http import HttpRequest, HttpTransport, TransportError
from oodaloo.infra.jobs.smart_sync import ReconcilePolicy, SmartSyncService, SyncReconciler
from oodaloo.infra.logging import get_logger
from oodaloo.runway.experiences.digest_jobs import DigestJobs, register_digests
from oodaloo.runway.experiences.test_drive import register_test_drive
from oodaloo.runway.monitoring import register_monitoring
from oodaloo.settings import Settings

logger = get_logger("oodaloo.wiring")

# The embedded demo connects once the server answers: poll its sandbox this often, for at most this long.
DEMO_CONNECT_POLL_SECONDS = 0.1
DEMO_CONNECT_WAIT_SECONDS = 30.0
DEMO_HTTP_TIMEOUT_SECONDS = 10.0
FOUND = 302
MAX_REASON_CHARS = 300


def reconcile_policy(settings: Settings) -> ReconcilePolicy:
    """ReconcilePolicy's defaults, with the timings set in the environment."""
    overrides: dict[str, Any] = {}
    if settings.reconcile_stale_seconds is not None:
        overrides["stale_after_seconds"] = settings.reconcile_stale_seconds
    if settings.action_lease_seconds is not None:
        overrides["lease_seconds"] = settings.action_lease_seconds
    if settings.reconcile_backoff_seconds is not None:
        backoff = settings.reconcile_backoff_seconds
        overrides["check_backoff_base_seconds"] = backoff
        overrides["first_check_delay_seconds"] = min(backoff, ReconcilePolicy.first_check_delay_seconds)
    return ReconcilePolicy(**overrides)


@dataclass
class QBORuntime(SyncReconciler):
    """Everything that talks to QBO, closed in reverse order of building; also what ``oodaloo worker`` reconciles
    with (a ``SyncReconciler``)."""

    transport: HttpTransport
    connections: ConnectionService
    sync: SmartSyncService
    mirror_jobs: MirrorSyncJobs  # the mirror's syncs as jobs; also the webhook inbox's sync requester
    database: Database | None = field(default=None)  # owned (and disposed of) only when built for a worker
    digests: DigestJobs | None = field(default=None)  # the Friday digest's jobs (built by ``build_runtime``)

    async def aclose(self) -> None:
        await super().aclose()
        await self.connections.aclose()
        await self.transport.aclose()
        if self.database is not None:
            await self.database.dispose()


def build_runtime(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], *, database: Database | None = None
) -> QBORuntime:
    """One pooled transport shared by SmartSync and the OAuth client; SmartSync with every action handler."""
    transport = HttpTransport()
    sync = SmartSyncService.create(
        api_base_url=settings.qbo_api_base_url,
        sessionmaker=sessionmaker,
        redis_url=settings.redis_url,
        transport=transport,
        reconcile_policy=reconcile_policy(settings),
    )
    # SmartSync first: connecting reads the company's name through it.
    connections = ConnectionService.create(
        sessionmaker=sessionmaker,
        transport=transport,
        sync=sync,
        discovery_url=settings.qbo_discovery_url,
        client_id=settings.qbo_client_id,
        client_secret=settings.qbo_client_secret.get_secret_value(),
        redirect_uri=settings.qbo_redirect_uri,
        secret_key=settings.secret_key.get_secret_value(),
        encryption_keys=settings.encryption_keys.get_secret_value() if settings.encryption_keys else None,
        redis_url=settings.redis_url,
    )
    register_handlers(sync, connections)
    bulk = QBOBulkScheduledService(
        mirror=MirrorSync(sync=sync, connections=connections, sessionmaker=sessionmaker),
        sessionmaker=sessionmaker,
        digest_hour=settings.digest_send_hour,
    )
    mirror_jobs = MirrorSyncJobs(smart_sync=sync, bulk=bulk, sessionmaker=sessionmaker)
    mirror_jobs.register(sweep=settings.mirror_sweep)
    # The drift check (after each sync) and the daily snapshot: what the mirror's sweep keeps fresh is watched with it.
    register_monitoring(sync, sessionmaker, mirror_jobs, sweep=settings.mirror_sweep)
    # The Friday digest: its sweep finds the businesses (and advisors) whose Friday morning has come.
    digests = register_digests(settings, sync, bulk, mirror_jobs, sessionmaker)
    register_action_jobs(settings, sync, connections, sessionmaker)
    # The test drive: its pool's job kind, and the sweep that removes ended trials.
    register_test_drive(settings, sync, connections, mirror_jobs, sessionmaker)
    return QBORuntime(transport, connections, sync, mirror_jobs, database, digests)


def register_handlers(sync: SmartSyncService, connections: ConnectionService) -> None:
    """Every kind of action Oodaloo writes to QBO; a process that reconciles must know them all."""
    sync.register_action(PAY_BILL, pay_bill_handler_factory(sync, connections))
    sync.register_action(RECORD_PAYMENT, record_payment_handler_factory(sync, connections))
    sync.register_action(SEND_REMINDER, send_reminder_handler_factory(sync, connections))
    sync.register_action(DELAY_BILL, delay_bill_handler_factory(sync))
    sync.register_action(SCHEDULE_PAYMENT, schedule_payment_handler_factory(sync))


def register_action_jobs(
    settings: Settings,
    sync: SmartSyncService,
    connections: ConnectionService,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The job kinds that run actions in the background: plans executing, scheduled payments made on their day. Their
    leases are the action log's (a dead worker's work is taken over as soon as its actions are)."""
    freshness = MirrorFreshness(MirrorSync(sync=sync, connections=connections, sessionmaker=sessionmaker), sessionmaker)
    lease = reconcile_policy(settings).lease_seconds
    deadline = settings.action_deadline_seconds
    PlanExecutor(
        sync=sync,
        connections=connections,
        sessionmaker=sessionmaker,
        freshness=freshness,
        deadline_seconds=deadline,
        lease_seconds=lease,
    ).register()
    ScheduledPayments(
        sync=sync, sessionmaker=sessionmaker, freshness=freshness, deadline_seconds=deadline, lease_seconds=lease
    ).register()


async def worker_runtime(settings: Settings) -> QBORuntime:
    """``oodaloo worker``'s start-up: its own database engine and QBO runtime, all closed when it stops."""
    database = Database(settings.database_url)
    return build_runtime(settings, database.sessionmaker, database=database)


# ------------------------------------------------------------------------------------------ the embedded demo
async def connect_demo_when_ready(
    runtime: QBORuntime,
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    user: User,
    business_id: uuid.UUID,
    discovery_url: str,
    wait_seconds: float = DEMO_CONNECT_WAIT_SECONDS,
) -> bool:
    """Connect the demo business to the mounted sandbox once the server answers; logs and carries on on failure.

    It runs the real OAuth code flow (authorize → code → token) with a short-lived session of the demo user, so the
    connection is stored exactly as a person connecting it would leave it. Returns whether it connected.
    """
    try:
        if (await runtime.connections.status(business_id)).status != "not_connected":
            return False
        await _wait_for(runtime.transport, discovery_url, wait_seconds)
        await _connect(runtime, sessionmaker, user, business_id)
    except Exception as error:  # the demo works without QBO too; never take the app down over it
        logger.warning("demo.connect_failed", business_id=str(business_id), error=repr(error))
        return False
    logger.info("demo.connected", business_id=str(business_id))
    return True


async def _wait_for(transport: HttpTransport, url: str, wait_seconds: float) -> None:
    """Until ``url`` answers 200: the app's own server, which starts listening only after the lifespan began."""
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        try:
            response = await transport.send(_get(url))
            if response.status == 200:
                return
        except TransportError:
            pass  # not listening yet
        if asyncio.get_running_loop().time() >= deadline:
            raise TimeoutError(f"the sandbox did not answer at {url}")
        await asyncio.sleep(DEMO_CONNECT_POLL_SECONDS)


def _get(url: str) -> HttpRequest:
    # The transport sends its ``params`` as the whole query string, so the URL's own query travels there.
    parts = urlsplit(url)
    return HttpRequest(
        "GET",
        urlunsplit(parts._replace(query="")),
        params=dict(parse_qsl(parts.query)),
        timeout=DEMO_HTTP_TIMEOUT_SECONDS,
    )


async def _connect(
    runtime: QBORuntime, sessionmaker: async_sessionmaker[AsyncSession], user: User, business_id: uuid.UUID
) -> None:
    async with unit_of_work(sessionmaker) as session:
        started = await AccountService(session).start_session(user)
    try:
        url = await runtime.connections.start(business_id, user.id, started.token)
        consent = await runtime.transport.send(_get(url))
        if consent.status != FOUND or "location" not in consent.headers:
            reason = consent.content[:MAX_REASON_CHARS].decode("utf-8", errors="replace")
            raise RuntimeError(f"the sandbox did not consent (HTTP {consent.status}): {reason}")
        query = parse_qs(urlsplit(consent.headers["location"]).query)
        code, state, realm_id = (query.get(name, [""])[0] for name in ("code", "state", "realmId"))
        await runtime.connections.complete(state, code, realm_id or None, started.token)
    finally:
        async with unit_of_work(sessionmaker) as session:
            await AccountService(session).end_session(started.token)
