"""The test drive's flows: a demo scenario's company made for a visitor (a sandbox company of its own, connected
through the real OAuth flow, its first sync run as the mirror's sync job), a small pool of them made ahead so that a
click costs no sync, claiming one, removing trials when they end, and a visitor's own company connected read-only.

Each flow is its own boundary: short units of work around the calls to the sandbox and to QBO, none held open across
one. The pool fills on demand (someone opened the test drive page, or took a trial from it), through a job kind, and
empties itself: an unclaimed trial is discarded after POOL_MAX_AGE, so a server nobody visits holds no trials.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oodaloo.domains.core.demo import DEMO_CURRENCY, DEMO_TIMEZONE, demo_business_name
from oodaloo.domains.core.service import AccountService, StartedSession
from oodaloo.domains.core.trial_models import Trial, TrialKind
from oodaloo.domains.core.trials import NewTrial, TrialRepository, TrialService
from oodaloo.domains.qbo.auth import ConnectionService
from oodaloo.domains.qbo.mirror_models import SyncKind, SyncOutcome
from oodaloo.domains.qbo.mirror_repository import SyncRunRepository, SyncStateRepository
from oodaloo.domains.qbo.models import ConnectionStatus, QBOConnection
from oodaloo.infra.db.base import utcnow
from oodaloo.infra.db.session import unit_of_work
from oodaloo.infra.jobs.smart_sync import JobSender, SmartSyncService
from oodaloo.infra.logging import get_logger
from oodaloo.infra.sandbox_admin import SandboxAdmin, SandboxAdminError, SandboxRealm
from oodaloo.infra.web.errors import AppError

logger = get_logger("oodaloo.test_drive")

# The demo scenarios a visitor may drive ("empty" is a sandbox scenario too, but there is nothing to see in it).
SCENARIOS = ("healthy", "tight", "crisis")
READ_ONLY_BUSINESS_NAME = "Your QuickBooks company"
PREPARE_JOB = "test_drive.prepare"
# A pooled company's books end on the day it was made: one waiting longer than this is replaced by a fresh one, so
# "due tomorrow" still means tomorrow when a visitor takes it.
POOL_MAX_AGE = timedelta(hours=2)
# The visitor who finds the pool empty waits for the first sync of a company made for them: a scenario's ~18 pages
# take 2-3 s at QBO's per-second limit; past this (a busy worker), they land on the console's first-sync progress.
FIRST_SYNC_WAIT_SECONDS = 30.0
FIRST_SYNC_POLL_SECONDS = 0.1
# The pool replaces a trial a visitor took this long after the click: making a company is CPU work (the embedded
# sandbox shares the app's process), and the visitor's first console comes first.
REFILL_DELAY_SECONDS = 10.0
# Ended trials removed per sweep; the next sweep takes the rest.
REMOVE_BATCH = 50
# A pooled trial a visitor took may be taken by another between the read and the claim: so many tries, then a new one.
CLAIM_TRIES = 3

Clock = Callable[[], datetime]
# Called with a pooled trial's business once its first sync is done, to compute what its first console shows (the
# runway) in the process that made it: the embedded app's console then serves it from memory. From the runway layer.
Warm = Callable[[uuid.UUID], Awaitable[object]]
T = TypeVar("T")


class TestDriveUnavailable(AppError):
    status_code = 503
    code = "test_drive_unavailable"
    message = (
        "The test drive's demo companies are not available on this server (no QBO sandbox is configured for them). "
        "You can still connect your own QuickBooks company read-only."
    )


class TestDriveBusy(AppError):
    status_code = 503
    code = "test_drive_busy"
    message = "Too many test drives are running right now; try again in a few minutes."


class TestDriveSandboxTrouble(AppError):
    status_code = 502
    code = "test_drive_sandbox_unavailable"
    message = "The test drive's sandbox did not answer as it should; try again in a moment."


class UnknownScenario(AppError):
    status_code = 422
    code = "unknown_scenario"

    def __init__(self) -> None:
        super().__init__(f"Choose one of the scenarios: {', '.join(SCENARIOS)}.", field="scenario")


class SyncRequester(Protocol):
    """What the flows need of the mirror's sync jobs (``MirrorSyncJobs``): ask for a business's sync."""

    async def request(self, business_id: uuid.UUID) -> bool: ...


@dataclass(frozen=True)
class TrialConfig:
    """From settings: the sandbox the scenarios' companies are made in (None: scenarios off), how long a trial lasts,
    how many ready trials of each scenario the pool keeps, and how many trials may run at once."""

    sandbox_url: str | None
    lifetime: timedelta
    pool_size: int
    max_trials: int


@dataclass(frozen=True)
class StartedTrial:
    """A trial a visitor now drives: its business, the guest's session (it ends with the trial), and whether it came
    ready from the pool or was made while the visitor waited."""

    trial: Trial
    session: StartedSession
    from_pool: bool

    @property
    def business_id(self) -> uuid.UUID:
        return self.trial.business_id


class TrialFlows:
    """Every test drive flow, over one app's (or worker's) database, QBO connections and jobs."""

    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        connections: ConnectionService,
        sync_jobs: SyncRequester,
        smart_sync: SmartSyncService,
        config: TrialConfig,
        warm: Warm | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._connections = connections
        self._sync_jobs = sync_jobs
        self._smart_sync = smart_sync
        self._config = config
        self._warm = warm
        self._clock = clock

    @property
    def scenarios_available(self) -> bool:
        return self._config.sandbox_url is not None

    def register(self) -> None:
        """The pool's job kind, and the sweep that removes ended trials; every process that runs jobs registers it."""
        self._smart_sync.register_job(PREPARE_JOB, self._prepare_job, sweep=self.sweep)

    # ------------------------------------------------------------------------------------------------ starting
    async def start(self, scenario: str) -> StartedTrial:
        """A trial of ``scenario`` for a visitor: a ready one from the pool, else one made now (its first sync
        awaited, within FIRST_SYNC_WAIT_SECONDS); the pool is then asked to replace what was taken."""
        sandbox_url = self._sandbox_url()
        if scenario not in SCENARIOS:
            raise UnknownScenario()
        await self._check_capacity()
        claimed = await self._claim(scenario)
        if claimed is not None:
            trial, started = claimed
        else:
            async with SandboxAdmin.open(sandbox_url) as admin:
                trial = await self._prepare(admin, scenario, claimed=True)
            await self._wait_for_first_sync(trial)
            async with unit_of_work(self._sessionmaker) as session:
                started = await TrialService(session).start_session(trial)
        from_pool = claimed is not None
        await self.top_up((scenario,), delay_seconds=REFILL_DELAY_SECONDS)
        logger.info("test_drive.started", scenario=scenario, business_id=str(trial.business_id), from_pool=from_pool)
        return StartedTrial(trial, started, from_pool)

    async def start_read_only(self, timezone: str, currency: str) -> tuple[Trial, StartedSession]:
        """A guest and an empty business for a visitor to connect their own QuickBooks company to, read-only; the
        route sends their browser to QuickBooks with the session returned."""
        await self._check_capacity()
        now = self._clock()
        new = NewTrial(
            kind=TrialKind.READ_ONLY,
            business_name=READ_ONLY_BUSINESS_NAME,
            timezone=timezone,
            currency=currency,
            expires_at=now + self._config.lifetime,
            claimed_at=now,
        )
        async with unit_of_work(self._sessionmaker) as session:
            service = TrialService(session)
            trial = await service.create(new)
            started = await service.start_session(trial)
        logger.info("test_drive.read_only_started", business_id=str(trial.business_id))
        return trial, started

    async def end(self, trial: Trial) -> None:
        """ "Start over": the trial's sessions stop at once, then everything of it is removed (what a failure leaves
        is removed by the sweep when the trial would have ended)."""
        async with unit_of_work(self._sessionmaker) as session:
            await TrialService(session).revoke_sessions(trial, self._clock())
        await self._remove(trial)

    # ------------------------------------------------------------------------------------------------ the pool
    async def top_up(self, scenarios: Sequence[str] = SCENARIOS, *, delay_seconds: float = 0.0) -> int:
        """Ask for the pool of each of ``scenarios`` to be filled up to its size (a job per scenario, merged with one
        already queued, starting ``delay_seconds`` from now); returns how many were asked for."""
        if self._config.sandbox_url is None or self._config.pool_size == 0:
            return 0
        now = self._clock()
        asked = 0
        for scenario in scenarios:
            async with unit_of_work(self._sessionmaker) as session:
                pooled = await TrialRepository(session).pooled(scenario, now)
            if pooled < self._config.pool_size:
                key = f"test-drive-pool:{scenario}"
                asked += await self._smart_sync.enqueue_job(
                    PREPARE_JOB, {"scenario": scenario}, serialize_on=key, coalesce_on=key, delay_seconds=delay_seconds
                )
        return asked

    async def fill_pool(self, scenario: str) -> int:
        """Make trials of ``scenario`` until the pool holds its size; returns how many were made."""
        sandbox_url = self._sandbox_url()
        made = 0
        async with SandboxAdmin.open(sandbox_url) as admin:
            while True:
                async with unit_of_work(self._sessionmaker) as session:
                    pooled = await TrialRepository(session).pooled(scenario, self._clock())
                if pooled >= self._config.pool_size:
                    return made
                trial = await self._prepare(admin, scenario, claimed=False)
                if not await self._wait_for_first_sync(trial):
                    # Never ready, it would hold the pool's place: removed, and the next visit asks again.
                    logger.warning(
                        "test_drive.pool_trial_not_ready", scenario=scenario, business_id=str(trial.business_id)
                    )
                    await self._remove(trial)
                    return made
                made += 1
                await self._warm_up(trial)

    async def _prepare_job(self, payload: dict[str, Any]) -> None:
        scenario = str(payload.get("scenario", ""))
        if scenario in SCENARIOS and self._config.sandbox_url is not None:
            made = await self.fill_pool(scenario)
            logger.info("test_drive.pool_filled", scenario=scenario, made=made)

    async def _warm_up(self, trial: Trial) -> None:
        if self._warm is None:
            return
        try:
            await self._warm(trial.business_id)
        except Exception:  # a cold console is slower, not wrong
            logger.exception("test_drive.warm_failed", business_id=str(trial.business_id))

    async def _claim(self, scenario: str) -> tuple[Trial, StartedSession] | None:
        """A ready pooled trial of ``scenario``, claimed, with its guest's session: one transaction, one commit."""
        now = self._clock()
        for _ in range(CLAIM_TRIES):
            async with unit_of_work(self._sessionmaker) as session:
                service = TrialService(session)
                ready = await service.trials.ready(scenario, now)
                if not ready:
                    return None
                if await service.claim(ready[0], now, self._config.lifetime):
                    return ready[0], await service.start_session(ready[0])
        return None

    # ------------------------------------------------------------------------------------------------ making one
    async def _prepare(self, admin: SandboxAdmin, scenario: str, *, claimed: bool) -> Trial:
        """Guest, business and a sandbox company of its own, connected through the OAuth flow; its first sync asked
        for. Claimed at once for a waiting visitor, else into the pool. Nothing is left behind when a step fails."""
        realm = await self._sandbox_company(admin, scenario)
        now = self._clock()
        new = NewTrial(
            kind=TrialKind.SCENARIO,
            business_name=realm.company_name or demo_business_name(scenario),
            timezone=DEMO_TIMEZONE,  # the sandbox keeps its companies' books in its own zone, the demo's
            currency=DEMO_CURRENCY,
            expires_at=now + (self._config.lifetime if claimed else POOL_MAX_AGE),
            claimed_at=now if claimed else None,
            scenario=scenario,
            realm_id=realm.realm_id,
        )
        try:
            async with unit_of_work(self._sessionmaker) as session:
                trial = await TrialService(session).create(new)
        except BaseException:
            await self._release_realm(admin, realm.realm_id, scenario)
            raise
        try:
            await self._connect(admin, trial)
        except BaseException:
            await self._remove(trial)
            raise
        await self._sync_jobs.request(trial.business_id)
        return trial

    async def _sandbox_company(self, admin: SandboxAdmin, scenario: str) -> SandboxRealm:
        """A company an ended trial of ``scenario`` left, reseeded as new; else a new one."""
        while True:
            async with unit_of_work(self._sessionmaker) as session:
                spare = await TrialService(session).take_spare_realm(scenario)
            if spare is None:
                return await _sandboxed(admin.create_realm(scenario))
            realm = await _sandboxed(admin.reset_realm(spare))
            if realm is not None:
                return realm
            # The sandbox forgot it (restarted without its state file): try the next spare.

    async def _connect(self, admin: SandboxAdmin, trial: Trial) -> None:
        """The OAuth code flow, as ``connect_demo_when_ready`` runs it: authorize (the sandbox consents for the trial's
        company), then the callback's exchange, with a short-lived session of the guest."""
        assert trial.realm_id is not None
        async with unit_of_work(self._sessionmaker) as session:
            started = await TrialService(session).start_session(trial)
        try:
            url = await self._connections.start(trial.business_id, trial.user_id, started.token)
            consent = await _sandboxed(admin.consent(url, trial.realm_id))
            await self._connections.complete(consent.state, consent.code, consent.realm_id, started.token)
        finally:
            async with unit_of_work(self._sessionmaker) as session:
                await AccountService(session).end_session(started.token)

    async def _wait_for_first_sync(self, trial: Trial) -> bool:
        """Until the trial's first sync succeeded (True), failed or ran out of time (False: the console then shows
        the sync's progress or trouble itself)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + FIRST_SYNC_WAIT_SECONDS
        while loop.time() < deadline:
            async with unit_of_work(self._sessionmaker) as session:
                if await SyncStateRepository(session, trial.business_id).synced(trial.realm_id):
                    return True
                latest = await SyncRunRepository(session, trial.business_id).latest(SyncKind.FULL)
                if latest is not None and latest.outcome is SyncOutcome.FAILED:
                    return False
            await asyncio.sleep(FIRST_SYNC_POLL_SECONDS)
        logger.warning("test_drive.first_sync_slow", business_id=str(trial.business_id))
        return False

    # ------------------------------------------------------------------------------------------------ removing
    async def sweep(self, _jobs: JobSender) -> int:
        """The job sweep's hook: remove the trials that ended."""
        return await self.remove_expired()

    async def remove_expired(self) -> int:
        """Remove trials past ``expires_at`` (driven ones past their lifetime, pooled ones past POOL_MAX_AGE), up to
        REMOVE_BATCH; returns how many. One that fails is logged and left for the next sweep."""
        async with unit_of_work(self._sessionmaker) as session:
            ended = list(await TrialRepository(session).expired(self._clock(), REMOVE_BATCH))
        for trial in ended:
            try:
                await self._remove(trial)
            except Exception:
                logger.exception("test_drive.remove_failed", business_id=str(trial.business_id))
        if ended:
            logger.info("test_drive.removed", trials=len(ended))
        return len(ended)

    async def _remove(self, trial: Trial) -> None:
        """Revoke the connection at QBO (unless another business shares that company), delete the guest and the
        business with everything of it, and release the sandbox company (deleted, or kept for reuse)."""
        await self._disconnect(trial)
        async with unit_of_work(self._sessionmaker) as session:
            removed = await TrialService(session).remove(trial)
        # Only the remover that deleted the rows releases the company: two sweeps never both keep it.
        if removed and trial.realm_id is not None and trial.scenario is not None:
            sandbox_url = self._config.sandbox_url
            if sandbox_url is not None:
                async with SandboxAdmin.open(sandbox_url) as admin:
                    await self._release_realm(admin, trial.realm_id, trial.scenario)

    async def _disconnect(self, trial: Trial) -> None:
        """Revoking a token at Intuit disconnects the app from that company altogether, for every business connected
        to it: a read-only trial of a company someone also connected with an account must not cut them off, so then
        its tokens are only erased here (with the business)."""
        async with unit_of_work(self._sessionmaker) as session:
            if await _shares_company(session, trial.business_id):
                return
        try:
            await self._connections.disconnect(trial.business_id, trial.user_id)
        except Exception as error:  # best effort: the tokens are erased with the business either way
            logger.warning("test_drive.revoke_failed", business_id=str(trial.business_id), error=repr(error))

    async def _release_realm(self, admin: SandboxAdmin, realm_id: str, scenario: str) -> None:
        try:
            dropped = await admin.drop_realm(realm_id)
        except SandboxAdminError as error:
            logger.warning("test_drive.release_failed", realm_id=realm_id, error=str(error))
            dropped = False
        if not dropped:
            async with unit_of_work(self._sessionmaker) as session:
                await TrialService(session).keep_spare_realm(realm_id, scenario)

    # ------------------------------------------------------------------------------------------------ helpers
    def _sandbox_url(self) -> str:
        if self._config.sandbox_url is None:
            raise TestDriveUnavailable()
        return self._config.sandbox_url

    async def _check_capacity(self) -> None:
        async with unit_of_work(self._sessionmaker) as session:
            if await TrialRepository(session).live(self._clock()) >= self._config.max_trials:
                raise TestDriveBusy()


async def _shares_company(session: AsyncSession, business_id: uuid.UUID) -> bool:
    """Whether another business holds a live connection to the company ``business_id`` is connected to."""
    realm_id = await session.scalar(select(QBOConnection.realm_id).where(QBOConnection.business_id == business_id))
    if realm_id is None:
        return False
    others = await session.scalar(
        select(func.count(QBOConnection.id)).where(
            QBOConnection.realm_id == realm_id,
            QBOConnection.business_id != business_id,
            QBOConnection.status == ConnectionStatus.CONNECTED,
        )
    )
    return bool(others)


async def _sandboxed(call: Awaitable[T]) -> T:
    """The sandbox's answer, or the page's error naming the trouble (the details go to the log)."""
    try:
        result = await call
    except SandboxAdminError as error:
        logger.warning("test_drive.sandbox_trouble", error=str(error))
        raise TestDriveSandboxTrouble() from None
    return result
