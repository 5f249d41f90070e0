"""The QBO mirror kept fresh: a full sync, an incremental sync with one CDC call, and an Id reconciliation when the
cursor is beyond CDC's reach. Plain async services a job calls (``MirrorSync.full`` / ``.incremental``).

- **Full sync**: every mirrored type paged 1000 at a time, several types at once at SmartSync's *background* priority
  (user actions keep theirs; the realm's limiter has the last word). Each page is stored in one transaction with the
  type's progress, so a sync that died continues after its last stored page and never fetches it again.
- **Incremental**: one ``cdc`` call for every type since the cursor (QBO's own ``time`` of the answer that last brought
  the mirror up to date, minus a small overlap). A type whose answer hit CDC's cap may have more changes than it got:
  it falls back to a paged query of what changed since the cursor, and to a full listing only if its count says a
  delete beyond the cap was missed.
- **Reconciliation**: a cursor older than CDC reaches lists every object of every type again (the Ids and the objects
  come in the same pages), stores what changed and marks deleted what QBO no longer has.

Every run is recorded (``sync_runs``): objects stored per type, QBO calls, duration, outcome and error; a success, once
committed, is also exported as the business's last sync time in SmartSync's metrics (``/metrics``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oodaloo.domains.qbo.auth import ConnectionState
from oodaloo.domains.qbo.client import CDC_MAX_LOOKBACK, MAX_PAGE_SIZE, QBOClient, RawPage, quote
from oodaloo.domains.qbo.errors import QBONotConnected
from oodaloo.domains.qbo.mirror_models import (
    MIRRORED,
    NAME_LISTS,
    SINGLETONS,
    FullSyncProgress,
    Raw,
    SyncKind,
    SyncOutcome,
    SyncRun,
    SyncState,
)
from oodaloo.domains.qbo.mirror_repository import (
    FullSyncProgressRepository,
    MirrorRepository,
    SyncRunRepository,
    SyncStateRepository,
)
from oodaloo.infra.db.base import utcnow
from oodaloo.infra.db.session import unit_of_work
from oodaloo.infra.jobs.smart_sync import Credentials, Priority, SmartSyncService

logger = structlog.get_logger(__name__)

# Entity types paged at once by one full sync. Two, because a 1000-object page takes the server real time to build:
# more pages at once only queue there, and requests that queued arrive bunched in its per-second window (3 and 4 lanes
# drew 429s from the sandbox when background work ran at 9 requests per 1.25 s; 2 never did). Two lanes keep up with
# that rate while a page's round trip and storing take under ~0.28 s; a slower realm is paged below its limits.
FULL_SYNC_CONCURRENCY = 2
# The types a full sync takes first: those a services firm's books hold most of (a guess, as nothing is counted
# first), so the lanes end together rather than with the largest type paged alone at one lane's pace (a round trip a
# page) instead of the realm's. The other types, a page or a few each, follow in the mirror's order.
LARGEST_FIRST = ("Purchase", "Invoice", "Payment", "Bill", "BillPayment", "JournalEntry", "Deposit", "SalesReceipt")
# The most objects QBO returns per entity type in one CDC answer (API_NOTES §5); as many means there may be more.
CDC_MAX_OBJECTS = 1000
# CDC looks back 30 days by QBO's clock; an hour less by ours, so a cursor near the edge is never refused.
CDC_REACH = CDC_MAX_LOOKBACK - timedelta(hours=1)
# Each CDC asks again for a minute before the cursor: a change committed while QBO wrote its answer carries a time
# just before that answer's ``time``. Objects seen twice are stored once (the newer version wins).
CDC_OVERLAP = timedelta(minutes=1)
# CompanyInfo and Preferences are not in CDC; they are read again at most this often by incremental syncs.
SINGLETON_REFRESH = timedelta(days=1)
# Ids per ``Id IN (...)`` query: its text stays a short GET.
IDS_PER_QUERY = 100
# QBO lists only active names unless a query filters on Active (API_NOTES §13); the mirror wants both.
ALL_NAMES = "Active IN (true, false)"

PageHook = Callable[[str, int], Awaitable[None]]
T = TypeVar("T")


class Connections(Protocol):
    """What the mirror needs of ``auth.ConnectionService``: the business's realm and credentials."""

    async def status(self, business_id: uuid.UUID) -> ConnectionState: ...

    def credentials(self, business_id: uuid.UUID) -> Credentials: ...


@dataclass(frozen=True)
class SyncReport:
    """What a run did (as recorded in ``sync_runs``)."""

    run_id: uuid.UUID
    kind: SyncKind
    outcome: SyncOutcome
    counts: dict[str, int]
    calls: int
    cursor: datetime | None
    finished_at: datetime


@dataclass
class _Run:
    """A run in progress: counted in memory and written with each unit of work that stores objects."""

    id: uuid.UUID
    business_id: uuid.UUID
    kind: SyncKind
    started: float = field(default_factory=time.monotonic)
    counts: dict[str, int] = field(default_factory=dict)
    calls: int = 0

    async def call(self, request: Awaitable[T]) -> T:
        try:
            result = await request
        except asyncio.CancelledError:
            raise  # stopped before its answer (a sibling failed): not counted, as most never left the limiter
        except BaseException:
            self.calls += 1  # a failed call costs the realm too
            raise
        self.calls += 1
        return result

    def stored(self, entity: str, count: int) -> None:
        self.counts[entity] = self.counts.get(entity, 0) + count

    def write_to(self, row: SyncRun) -> None:
        row.calls = self.calls
        row.counts = dict(self.counts)
        row.duration_ms = round((time.monotonic() - self.started) * 1000)


class MirrorSync:
    """Full and incremental syncs of one business's mirror at a time (a job layer keeps two from running at once)."""

    def __init__(
        self,
        *,
        sync: SmartSyncService,
        connections: Connections,
        sessionmaker: async_sessionmaker[AsyncSession],
        entities: Sequence[str] = tuple(MIRRORED),
        concurrency: int = FULL_SYNC_CONCURRENCY,
        page_size: int = MAX_PAGE_SIZE,
        cdc_max_objects: int = CDC_MAX_OBJECTS,
        after_page: PageHook | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        unknown = set(entities) - set(MIRRORED)
        if unknown:
            raise ValueError(f"no mirror table for {sorted(unknown)}")
        self._sync = sync
        self._connections = connections
        self._sessionmaker = sessionmaker
        self._entities = [name for name in MIRRORED if name in entities]  # singletons, names, then transactions
        self._concurrency = concurrency
        self._page_size = page_size
        self._cdc_max_objects = cdc_max_objects
        self._after_page = after_page
        self._clock = clock
        # Pages are fetched concurrently but stored one at a time: SQLite has one writer, and a page's transaction is
        # short next to the QBO call that fetched it.
        self._write_lock = asyncio.Lock()

    # ------------------------------------------------------------------------------------------------ public
    async def full(self, business_id: uuid.UUID) -> SyncReport:
        """Mirror every object of every type, continuing an earlier full sync that did not finish."""
        realm_id, client = await self._connect(business_id)
        run = await self._start(business_id, realm_id, SyncKind.FULL)
        try:
            progress = await self._full_sync_progress(business_id)
            semaphore = asyncio.Semaphore(self._concurrency)
            pending = sorted((name for name in self._entities if not progress[name].done), key=_largest_first)
            await _all(
                self._page_through(client, run, name, progress[name].next_position, semaphore) for name in pending
            )
            async with self._write_lock, unit_of_work(self._sessionmaker) as session:
                rows = (await FullSyncProgressRepository(session, business_id).by_entity()).values()
                cursors = [row.cursor for row in rows if row.cursor is not None and row.entity in self._entities]
                cursor = min(cursors) if cursors else self._clock() - CDC_OVERLAP
                state = await SyncStateRepository(session, business_id).current_or_new(realm_id)
                # A listing shows what exists, not what was deleted since the last sync: an earlier cursor stays, so
                # the next CDC (or reconciliation) still brings those deletes.
                if state.cdc_cursor is not None and state.cdc_cursor < cursor:
                    cursor = state.cdc_cursor
                state.cdc_cursor = cursor
                state.last_full_sync_at = state.singletons_synced_at = self._clock()
                report = await self._finish(session, run, cursor)
            return self._exported(run, report)
        except BaseException as error:
            await self._fail(run, error)
            raise

    async def incremental(self, business_id: uuid.UUID) -> SyncReport:
        """Bring the mirror up to date since its cursor: CDC, or a reconciliation once the cursor is out of its reach;
        a full sync (or the rest of an unfinished first one) when there is no cursor yet."""
        realm_id, client = await self._connect(business_id)
        async with unit_of_work(self._sessionmaker) as session:
            state = await SyncStateRepository(session, business_id).current()
            cursor = state.cdc_cursor if state is not None and state.realm_id == realm_id else None
            refresh_singletons = _singletons_due(state, self._clock())
        if cursor is None:
            return await self.full(business_id)
        if self._clock() - cursor > CDC_REACH:
            return await self._reconcile(business_id, realm_id, client)
        return await self._cdc(business_id, realm_id, client, cursor, refresh_singletons)

    # ------------------------------------------------------------------------------------------------ full sync
    async def _full_sync_progress(self, business_id: uuid.UUID) -> dict[str, FullSyncProgress]:
        """Each type's progress: kept when a full sync is unfinished, else every type from its first page."""
        async with self._write_lock, unit_of_work(self._sessionmaker) as session:
            repository = FullSyncProgressRepository(session, business_id)
            progress = await repository.by_entity()
            unfinished = any(not progress[name].done for name in self._entities if name in progress)
            for name in self._entities:
                row = progress.get(name)
                if row is None:
                    progress[name] = await repository.add(FullSyncProgress(business_id=business_id, entity=name))
                elif not unfinished:
                    row.next_position, row.done, row.cursor = 1, False, None
            await session.flush()
            for row in progress.values():
                session.expunge(row)
            return progress

    async def _page_through(
        self, client: QBOClient, run: _Run, entity: str, position: int, semaphore: asyncio.Semaphore
    ) -> None:
        async with semaphore:
            if entity in SINGLETONS:
                raw = await run.call(client.read_singleton_raw(_singleton(entity)))
                await self._store_page(run, entity, RawPage([raw], None), next_position=2, done=True)
                return
            async with contextlib.aclosing(
                self._listing(client, run, entity, _listing_filter(entity), position)
            ) as pages:
                async for page, next_position, last in pages:
                    await self._store_page(run, entity, page, next_position=next_position, done=last)
                    if self._after_page is not None:
                        await self._after_page(entity, len(page.rows))

    async def _listing(
        self, client: QBOClient, run: _Run, entity: str, where: str | None, position: int = 1
    ) -> AsyncGenerator[tuple[RawPage, int, bool], None]:
        """A listing's pages in order with the position after each and whether it is the last: the next page is
        already requested while the caller stores this one, so a lane's QBO round trips and its storing overlap (a
        page fetched but not yet stored when the process dies is simply fetched again)."""
        next_page: asyncio.Future[RawPage] | None = self._request_page(client, run, entity, where, position)
        try:
            while next_page is not None:
                page = await next_page
                position += len(page.rows)
                last = len(page.rows) < self._page_size
                next_page = None if last else self._request_page(client, run, entity, where, position)
                yield page, position, last
        finally:
            if next_page is not None and not next_page.done():
                next_page.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await next_page

    def _request_page(
        self, client: QBOClient, run: _Run, entity: str, where: str | None, position: int
    ) -> asyncio.Future[RawPage]:
        async def fetch() -> RawPage:  # the request is built inside the task: one cancelled early leaves nothing behind
            return await run.call(client.query_raw(entity, where=where, start=position, max_results=self._page_size))

        return asyncio.ensure_future(fetch())

    async def _store_page(self, run: _Run, entity: str, page: RawPage, *, next_position: int, done: bool) -> None:
        """The page's objects and the type's progress in one transaction: stored means never fetched again."""
        async with self._write_lock, unit_of_work(self._sessionmaker) as session:
            stored = await MirrorRepository.of(session, run.business_id, entity).store(page.rows, page.texts)
            progress = (await FullSyncProgressRepository(session, run.business_id).by_entity())[entity]
            progress.next_position, progress.done = next_position, done
            if progress.cursor is None:
                progress.cursor = page.time
            run.stored(entity, stored)
            await self._record(session, run)

    # ------------------------------------------------------------------------------------------------ CDC
    async def _cdc(
        self, business_id: uuid.UUID, realm_id: str, client: QBOClient, cursor: datetime, refresh_singletons: bool
    ) -> SyncReport:
        run = await self._start(business_id, realm_id, SyncKind.CDC)
        try:
            since = cursor - CDC_OVERLAP
            changes = await run.call(client.cdc_raw(self._cdc_entities, since))
            async with self._write_lock, unit_of_work(self._sessionmaker) as session:
                for entity, rows in changes.rows.items():
                    run.stored(entity, await MirrorRepository.of(session, business_id, entity).store(rows))
                await self._record(session, run)
            capped = [entity for entity, rows in changes.rows.items() if len(rows) >= self._cdc_max_objects]
            for entity in capped:
                await self._catch_up(client, run, entity, since)
            if refresh_singletons:
                await self._refresh_singletons(client, run)
            new_cursor = changes.time or self._clock() - CDC_OVERLAP
            return await self._advance(run, realm_id, new_cursor, singletons=refresh_singletons)
        except BaseException as error:
            await self._fail(run, error)
            raise

    async def _catch_up(self, client: QBOClient, run: _Run, entity: str, since: datetime) -> None:
        """A type whose CDC answer was capped: page through what changed since ``since``; then, if QBO counts fewer
        objects than the mirror holds, a delete beyond the cap was missed and a listing finds it."""
        changed = f"Metadata.LastUpdatedTime >= {quote(since.isoformat(timespec='seconds'))}"
        where = f"{changed} AND {ALL_NAMES}" if entity in NAME_LISTS else changed
        async with contextlib.aclosing(self._listing(client, run, entity, where)) as pages:
            async for page, _position, _last in pages:
                await self._store(run, entity, page.rows, page.texts)
        count_where = ALL_NAMES if entity in NAME_LISTS else None
        in_qbo = await run.call(client.count_raw(entity, where=count_where))
        async with unit_of_work(self._sessionmaker) as session:
            in_mirror = len(await MirrorRepository.of(session, run.business_id, entity).live_ids())
        if in_mirror != in_qbo:
            await self._sweep(client, run, entity, semaphore=None)

    # ------------------------------------------------------------------------------------------------ reconciliation
    async def _reconcile(self, business_id: uuid.UUID, realm_id: str, client: QBOClient) -> SyncReport:
        run = await self._start(business_id, realm_id, SyncKind.RECONCILE)
        try:
            semaphore = asyncio.Semaphore(self._concurrency)
            times = await _all(self._sweep(client, run, entity, semaphore) for entity in self._cdc_entities)
            await self._refresh_singletons(client, run)
            known = [moment for moment in times if moment is not None]
            cursor = min(known) if known else self._clock() - CDC_OVERLAP
            return await self._advance(run, realm_id, cursor, singletons=True)
        except BaseException as error:
            await self._fail(run, error)
            raise

    async def _sweep(
        self, client: QBOClient, run: _Run, entity: str, semaphore: asyncio.Semaphore | None
    ) -> datetime | None:
        """List every object of ``entity`` (storing what changed) and mark deleted those QBO no longer has. Returns
        QBO's time of the first page: nothing changed before it is missed."""
        async with semaphore or contextlib.nullcontext():
            first_time: datetime | None = None
            seen: set[str] = set()
            async with contextlib.aclosing(self._listing(client, run, entity, _listing_filter(entity))) as pages:
                async for page, _position, _last in pages:
                    first_time = first_time or page.time
                    seen.update(str(raw["Id"]) for raw in page.rows if raw.get("Id") is not None)
                    await self._store(run, entity, page.rows, page.texts)
            async with unit_of_work(self._sessionmaker) as session:
                missing = await MirrorRepository.of(session, run.business_id, entity).live_ids() - seen
            await self._delete_missing(client, run, entity, sorted(missing), first_time)
            return first_time

    async def _delete_missing(
        self, client: QBOClient, run: _Run, entity: str, missing: list[str], at: datetime | None
    ) -> None:
        """Objects a listing did not show are asked for by Id first: a delete while the listing paged shifts later
        rows back a position, so one can be skipped without being gone."""
        for start in range(0, len(missing), IDS_PER_QUERY):
            chunk = missing[start : start + IDS_PER_QUERY]
            where = f"Id IN ({', '.join(quote(qbo_id) for qbo_id in chunk)})"
            if entity in NAME_LISTS:
                where += f" AND {ALL_NAMES}"
            page = await run.call(client.query_raw(entity, where=where, max_results=len(chunk)))
            await self._store(run, entity, page.rows, page.texts)
            still_there = {str(raw.get("Id")) for raw in page.rows}
            gone = [qbo_id for qbo_id in chunk if qbo_id not in still_there]
            async with self._write_lock, unit_of_work(self._sessionmaker) as session:
                deleted = await MirrorRepository.of(session, run.business_id, entity).mark_deleted(
                    gone, page.time or at or self._clock()
                )
                run.stored(entity, deleted)
                await self._record(session, run)

    # ------------------------------------------------------------------------------------------------ shared steps
    @property
    def _cdc_entities(self) -> list[str]:
        return [name for name in self._entities if name not in SINGLETONS]

    async def _refresh_singletons(self, client: QBOClient, run: _Run) -> None:
        for entity in self._entities:
            if entity in SINGLETONS:
                await self._store(run, entity, [await run.call(client.read_singleton_raw(_singleton(entity)))])

    async def _store(self, run: _Run, entity: str, rows: list[Raw], texts: list[bytes] | None = None) -> None:
        async with self._write_lock, unit_of_work(self._sessionmaker) as session:
            run.stored(entity, await MirrorRepository.of(session, run.business_id, entity).store(rows, texts))
            await self._record(session, run)

    async def _advance(self, run: _Run, realm_id: str, cursor: datetime, *, singletons: bool) -> SyncReport:
        async with self._write_lock, unit_of_work(self._sessionmaker) as session:
            state = await SyncStateRepository(session, run.business_id).current_or_new(realm_id)
            state.cdc_cursor = cursor
            if singletons:
                state.singletons_synced_at = self._clock()
            report = await self._finish(session, run, cursor)
        return self._exported(run, report)

    async def _connect(self, business_id: uuid.UUID) -> tuple[str, QBOClient]:
        state = await self._connections.status(business_id)
        if state.status != "connected" or state.realm_id is None:
            raise QBONotConnected(state.message or "This business is not connected to QuickBooks.")
        credentials = self._connections.credentials(business_id)
        return state.realm_id, QBOClient(self._sync, credentials, state.realm_id, priority=Priority.BACKGROUND)

    async def _start(self, business_id: uuid.UUID, realm_id: str, kind: SyncKind) -> _Run:
        async with self._write_lock, unit_of_work(self._sessionmaker) as session:
            row = await SyncRunRepository(session, business_id).start(realm_id, kind)
        logger.info("qbo_sync_started", business_id=str(business_id), realm_id=realm_id, kind=kind.value)
        return _Run(row.id, business_id, kind)

    async def _record(self, session: AsyncSession, run: _Run) -> None:
        row = await session.get(SyncRun, run.id)
        if row is not None:
            run.write_to(row)

    async def _finish(self, session: AsyncSession, run: _Run, cursor: datetime) -> SyncReport:
        row = await session.get(SyncRun, run.id)
        assert row is not None
        run.write_to(row)
        finished_at = self._clock()
        row.outcome, row.finished_at, row.cursor = SyncOutcome.SUCCEEDED, finished_at, cursor
        logger.info(
            "qbo_sync_finished",
            business_id=str(run.business_id),
            kind=run.kind.value,
            calls=run.calls,
            stored=sum(run.counts.values()),
            duration_ms=row.duration_ms,
        )
        return SyncReport(run.id, run.kind, SyncOutcome.SUCCEEDED, dict(run.counts), run.calls, cursor, finished_at)

    def _exported(self, run: _Run, report: SyncReport) -> SyncReport:
        """Once the run's success is committed: SmartSync's metrics show when the mirror was last brought up to date."""
        self._sync.record_sync(run.business_id, report.finished_at)
        return report

    async def _fail(self, run: _Run, error: BaseException) -> None:
        message = f"{type(error).__name__}: {error}"[:2000]
        try:
            async with unit_of_work(self._sessionmaker) as session:
                row = await session.get(SyncRun, run.id)
                if row is not None:
                    run.write_to(row)
                    row.outcome, row.finished_at, row.error = SyncOutcome.FAILED, self._clock(), message
        except Exception:  # the run stays "running"; the error that stopped it is the one to raise
            logger.exception("qbo_sync_failure_not_recorded", run_id=str(run.id))
        logger.warning("qbo_sync_failed", business_id=str(run.business_id), kind=run.kind.value, error=message)


def _listing_filter(entity: str) -> str | None:
    return ALL_NAMES if entity in NAME_LISTS else None


def _singleton(entity: str) -> Literal["CompanyInfo", "Preferences"]:
    return "CompanyInfo" if entity == "CompanyInfo" else "Preferences"


def _singletons_due(state: SyncState | None, now: datetime) -> bool:
    synced = state.singletons_synced_at if state is not None else None
    return synced is None or now - synced >= SINGLETON_REFRESH


def _largest_first(entity: str) -> int:
    return LARGEST_FIRST.index(entity) if entity in LARGEST_FIRST else len(LARGEST_FIRST)


async def _all(coroutines: Iterable[Coroutine[Any, Any, T]]) -> list[T]:
    """Run concurrently; the first failure cancels the others and is raised as itself (not as a group)."""
    tasks: list[asyncio.Task[T]] = []
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(coroutine) for coroutine in coroutines]
    except BaseExceptionGroup as group_error:
        raise group_error.exceptions[0] from None
    return [task.result() for task in tasks]
