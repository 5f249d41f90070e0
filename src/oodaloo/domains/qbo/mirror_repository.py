"""Queries over one business's QBO mirror: upserts that keep the newest version of each object, deletes kept as rows,
and the sync bookkeeping (state, full-sync progress, runs). Tenant scoping comes from ``TenantRepository``.

A page of objects is stored with set-based statements (``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` the incoming
version is no older, on SQLite and PostgreSQL alike): the database decides which version wins, in one round trip per
page, and a concurrent writer can never slip an older version in between a read and a write."""

from __future__ import annotations

import asyncio
import operator
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Date, and_, case, cast, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from oodaloo.domains.qbo.mirror_models import (
    MIRRORED,
    SINGLETONS,
    FullSyncProgress,
    MirroredRow,
    MirrorStatus,
    Raw,
    SyncKind,
    SyncOutcome,
    SyncRun,
    SyncState,
    status_of,
)
from oodaloo.infra.db.base import UTCDateTime, utcnow
from oodaloo.infra.db.repository import TenantRepository
from oodaloo.infra.web.errors import Conflict

# Ids per ``IN (...)`` in one statement: far below SQLite's and asyncpg's bind-parameter limits.
IDS_PER_STATEMENT = 500
# Rows turned into values, and upserted, between two turns of the event loop: a 1000-row page is ~100 ms of one core,
# and a sync's next request (admitted by the rate limiter's timers) must not wait for a whole page to be stored.
ROWS_PER_TURN = 200
# Columns an upsert never changes on an existing row: its identity, and ``deleted_at`` (set only by a delete).
_KEPT_ON_UPDATE = frozenset({"id", "business_id", "qbo_id", "deleted_at"})


class MirrorNotSynced(Conflict):
    code = "mirror_not_synced"
    message = (
        "This business's QuickBooks data has not been copied yet (its first sync has not finished); try again once "
        "GET /api/businesses/{business_id}/sync shows a completed sync."
    )


def qbo_time(raw: Raw, name: str) -> datetime | None:
    meta = raw.get("MetaData")
    value = meta.get(name) if isinstance(meta, dict) else None
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def version_of(sync_token: str | None, updated_at: datetime | None) -> tuple[int, float]:
    """Which of two versions of an object is newer: the SyncToken first, then ``LastUpdatedTime`` (QBO moves a
    vendor's or account's balance without a new SyncToken)."""
    token = int(sync_token) if sync_token is not None and sync_token.isdigit() else -1
    return token, updated_at.timestamp() if updated_at is not None else float("-inf")


class MirrorRepository(TenantRepository[MirroredRow]):
    """One entity type of one business's mirror; build it with :meth:`of`."""

    @classmethod
    def of(cls, session: AsyncSession, business_id: uuid.UUID, entity: str) -> MirrorRepository:
        return _REPOSITORIES[entity](session, business_id)

    async def by_qbo_ids(self, qbo_ids: Iterable[str]) -> dict[str, MirroredRow]:
        wanted = list(dict.fromkeys(qbo_ids))
        found: dict[str, MirroredRow] = {}
        for start in range(0, len(wanted), IDS_PER_STATEMENT):
            chunk = wanted[start : start + IDS_PER_STATEMENT]
            # Fresh from the database even for rows this session loaded: pages are stored by set-based statements,
            # which do not refresh the objects a session already holds.
            statement = self.select().where(self.model.qbo_id.in_(chunk)).execution_options(populate_existing=True)
            for row in await self.all(statement):
                found[row.qbo_id] = row
        return found

    async def live_ids(self) -> set[str]:
        """Ids of the objects not known to be deleted."""
        statement = select(self.model.qbo_id).where(
            self.model.business_id == self.business_id, self.model.status != MirrorStatus.DELETED
        )
        return set((await self.session.scalars(statement)).all())

    async def store(self, raws: Sequence[Raw], texts: Sequence[bytes] | None = None) -> int:
        """Insert or update each object unless the mirror holds a newer version; a deleted stub marks the row
        deleted (keeping the last full version we saw), and a deleted row is never brought back. Returns how many rows
        changed (an object identical to the stored one changes nothing).

        ``texts``, when given, are the objects' own JSON bytes as QBO sent them (in the order of ``raws``): stored as
        they are rather than encoded again."""
        if texts is not None and len(texts) != len(raws):
            raise ValueError(f"{len(texts)} texts for {len(raws)} objects")
        now = utcnow()
        live: dict[str, dict[str, Any]] = {}
        stubs: dict[str, dict[str, Any]] = {}
        for index, raw in enumerate(raws, start=1):
            if index % ROWS_PER_TURN == 0:
                await asyncio.sleep(0)
            qbo_id = self._id_of(raw)
            if qbo_id is None:
                continue
            values = self._values(qbo_id, raw, now, texts[index - 1] if texts is not None else None)
            if values["status"] is MirrorStatus.DELETED:
                stubs.setdefault(qbo_id, values)  # the first stub deletes; later ones change nothing
            elif qbo_id not in live or _version(values) >= _version(live[qbo_id]):
                live[qbo_id] = values  # one version per id: an upsert may touch a row once
        changed = 0
        for rows, deleting in ((list(live.values()), False), (list(stubs.values()), True)):
            # Stubs after the live versions: an object deleted in the same answer ends deleted.
            for start in range(0, len(rows), ROWS_PER_TURN):
                changed += await self._upsert(rows[start : start + ROWS_PER_TURN], deleting=deleting)
        return changed

    async def revise(self, qbo_id: str, change: Callable[[Raw], Raw | None]) -> bool:
        """Apply what one of our own writes is known to have done to an object QBO did not send back (a bill a payment
        was applied to): ``change`` gets a copy of the raw object and returns the changed one (None: no change). The
        row keeps its version (SyncToken, LastUpdatedTime), so the next sync's copy, QBO's own, replaces it. A row the
        mirror lacks or knows deleted is left alone; returns whether the row changed."""
        row = (await self.by_qbo_ids([qbo_id])).get(qbo_id)
        if row is None or row.status is MirrorStatus.DELETED:
            return False
        changed = change(dict(row.raw))
        if changed is None or changed == row.raw:
            return False
        row.raw = changed  # a new dict: the column is replaced, not mutated in place
        row.status = status_of(self.model.qbo_entity, changed)
        for column, value in self.model.typed_values(changed).items():
            setattr(row, column, value)
        await self.session.flush()
        return True

    async def mark_deleted(self, qbo_ids: Iterable[str], at: datetime) -> int:
        """Mark the given objects deleted (those not already), keeping their last full version."""
        wanted = list(dict.fromkeys(qbo_ids))
        table = self.model.__table__
        await self.session.flush()
        changed = 0
        for start in range(0, len(wanted), IDS_PER_STATEMENT):
            statement = (
                update(table)
                .where(
                    table.c.business_id == self.business_id,
                    table.c.qbo_id.in_(wanted[start : start + IDS_PER_STATEMENT]),
                    table.c.status != MirrorStatus.DELETED,
                )
                .values(status=MirrorStatus.DELETED, deleted_at=at, synced_at=utcnow())
                .returning(table.c.qbo_id)
            )
            changed += len((await self.session.execute(statement)).all())
        return changed

    def _values(self, qbo_id: str, raw: Raw, now: datetime, text: bytes | None) -> dict[str, Any]:
        """The row an object becomes: its version, status and typed columns read from it, and the object itself (as
        ``text`` when QBO's own bytes of it are at hand)."""
        token = raw.get("SyncToken")
        updated_at = qbo_time(raw, "LastUpdatedTime")
        status = status_of(self.model.qbo_entity, raw)
        return {
            "id": uuid.uuid4(),
            "business_id": self.business_id,
            "qbo_id": qbo_id,
            "sync_token": str(token) if token is not None else None,
            "qbo_created_at": qbo_time(raw, "CreateTime"),
            "qbo_updated_at": updated_at,
            "status": status,
            "deleted_at": (updated_at or now) if status is MirrorStatus.DELETED else None,
            "raw": raw if text is None else text,
            "synced_at": now,
            **self.model.typed_values(raw),
        }

    async def _upsert(self, rows: list[dict[str, Any]], *, deleting: bool) -> int:
        """Insert ``rows`` (all with the same keys); an existing row is updated only where that is a change the mirror
        keeps: a live object no older than the stored one and different from it, over a row not deleted; a deleted
        stub over a row not yet deleted (only its status, the last full version stays). Returns the rows written."""
        await self.session.flush()  # pending ORM changes first, in the order they were made
        connection = await self.session.connection()
        dialect = connection.dialect
        columns = tuple(rows[0])
        if dialect.name == "sqlite":
            # The driver's executemany with parameters prepared once per statement: SQLAlchemy's per-row parameter
            # handling costs more than SQLite's own work on a page of objects. SQLite counts an upsert whose WHERE
            # kept the stored row as no change, so the rows written are the changes it reports.
            key = (self.model.__tablename__, columns, deleting)
            if key not in _PREPARED:
                _PREPARED[key] = _prepared(self._upsert_statement(dialect.name, columns, deleting=deleting), dialect)
            prepared = _PREPARED[key]
            result = await connection.exec_driver_sql(prepared.sql, prepared.parameters(rows))
            return int(result.rowcount)
        # executemany: SQLAlchemy sends the rows as multi-row VALUES batches within each driver's parameter limits.
        statement = self._upsert_statement(dialect.name, columns, deleting=deleting)
        returned = await self.session.execute(statement.returning(self.model.__table__.c.qbo_id), rows)
        return len(returned.all())

    def _upsert_statement(self, dialect: str, columns: tuple[str, ...], *, deleting: bool) -> Insert:
        table = self.model.__table__
        insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
        incoming, stored = insert.excluded, table.c
        if deleting:
            changes = {"status": incoming.status, "deleted_at": incoming.deleted_at, "synced_at": incoming.synced_at}
            keep = stored.status != MirrorStatus.DELETED
        else:
            changes = {name: incoming[name] for name in columns if name not in _KEPT_ON_UPDATE}
            keep = and_(
                stored.status != MirrorStatus.DELETED,
                stored.raw != incoming.raw,
                _not_older(incoming.sync_token, incoming.qbo_updated_at, stored.sync_token, stored.qbo_updated_at),
            )
        return insert.on_conflict_do_update(
            index_elements=[stored.business_id, stored.qbo_id], set_=changes, where=keep
        )

    def _id_of(self, raw: Raw) -> str | None:
        qbo_id = raw.get("Id")
        if qbo_id is None and self.model.qbo_entity in SINGLETONS:
            return "1"  # one per company: QBO may leave Preferences without an Id
        return str(qbo_id) if qbo_id is not None else None


@dataclass(frozen=True)
class _PreparedUpsert:
    """An upsert compiled once for the driver: its SQL; the row's columns its leading parameters take, in order, with
    the bind processing of those whose type has any; and the constants the statement binds after them."""

    sql: str
    columns: tuple[str, ...]
    processed: tuple[tuple[int, Callable[[Any], Any]], ...]
    constants: tuple[Any, ...]

    def parameters(self, rows: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
        getter = operator.itemgetter(*self.columns)
        values_of = getter if len(self.columns) > 1 else lambda row: (getter(row),)
        # Remembering each column's last value spares the rows' shared ones (the business, the sync's time) being
        # processed again for every row.
        processed = [(index, _last_remembered(process)) for index, process in self.processed]
        parameters = []
        for row in rows:
            values = list(values_of(row))
            for index, process in processed:
                values[index] = process(values[index])
            parameters.append((*values, *self.constants))
        return parameters


def _last_remembered(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    last: list[Any] = [_NOTHING, None]

    def remembered(value: Any) -> Any:
        if value is not last[0]:
            last[0], last[1] = value, process(value)
        return last[1]

    return remembered


_NOTHING = object()
# SQLite's prepared upserts by table, columns and kind (the dialect's compilation never changes within a process).
_PREPARED: dict[tuple[str, tuple[str, ...], bool], _PreparedUpsert] = {}


def _prepared(statement: Insert, dialect: Dialect) -> _PreparedUpsert:
    compiled = statement.compile(dialect=dialect)
    names = compiled.positiontup or []
    processors = compiled._bind_processors  # the same bind processing SQLAlchemy applies to each parameter
    table_columns = {column.key for column in statement.table.columns}
    columns: list[str] = []
    processed: list[tuple[int, Callable[[Any], Any]]] = []
    constants: list[Any] = []
    for name in names:
        process = processors.get(name)
        if process is not None and not callable(process):
            raise TypeError(f"the parameter {name} of a mirror upsert has a tuple type")
        if name in table_columns:
            if constants:
                raise TypeError(f"the row's parameter {name} of a mirror upsert follows a constant one")
            if process is not None:
                processed.append((len(columns), _quicker(statement.table.c[name].type, process, dialect)))
            columns.append(name)
        else:  # a value bound in the statement itself (a status compared against), processed once
            value = compiled.binds[name].effective_value
            constants.append(process(value) if process else value)
    return _PreparedUpsert(str(compiled), tuple(columns), tuple(processed), tuple(constants))


# Values the quicker processors below must turn into exactly SQLAlchemy's text before they are used.
_PROBE_MOMENTS = (
    datetime(2024, 2, 3, 4, 5, 6, 7, tzinfo=UTC),
    datetime(999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-8))),
)
_PROBE_DAYS = (date(2024, 2, 3), date(999, 1, 1))


def _quicker(column_type: Any, process: Callable[[Any], Any], dialect: Dialect) -> Callable[[Any], Any]:
    """SQLite's text for a moment or a day, written by ``isoformat`` in C instead of SQLAlchemy's ``%`` formatting
    (a third of a page's parameter preparing): used only when it gives SQLAlchemy's very text on probe values, so
    what the database holds, and how it is read back, cannot differ."""
    quicker: Callable[[Any], Any] | None = None
    probes: tuple[Any, ...] = ()
    if isinstance(column_type, UTCDateTime):
        to_utc = column_type.process_bind_param

        def moment_text(value: datetime | None) -> str | None:
            moment = to_utc(value, dialect)
            return None if moment is None else moment.replace(tzinfo=None).isoformat(" ", "microseconds")

        quicker, probes = moment_text, _PROBE_MOMENTS
    elif type(column_type) is Date:

        def day_text(value: date | None) -> Any:
            return value.isoformat() if type(value) is date else process(value)

        quicker, probes = day_text, _PROBE_DAYS
    if quicker is None or any(quicker(probe) != process(probe) for probe in probes):
        return process
    return quicker


def _version(values: dict[str, Any]) -> tuple[int, float]:
    return version_of(values["sync_token"], values["qbo_updated_at"])


def _token_number(token: ColumnElement[Any]) -> ColumnElement[int]:
    """SQL for :func:`version_of`'s SyncToken: its number when it is all digits, else -1 (never a failing cast)."""
    digits = and_(token != "", func.trim(token, "0123456789") == "")
    return case((digits, cast(token, BigInteger)), else_=-1)


def _not_older(
    token: ColumnElement[Any], updated_at: ColumnElement[Any], stored_token: ColumnElement[Any], stored_at: Any
) -> ColumnElement[bool]:
    """SQL for ``version_of(incoming) >= version_of(stored)``: a higher SyncToken, or the same one with a later or
    equal ``LastUpdatedTime`` (a missing time counts as the earliest). An equal version replaces the stored one:
    ``LastUpdatedTime`` has whole seconds, and two quiet balance moves within one second (an invoice created, then
    voided) share SyncToken and time; what was fetched last is then the later state."""
    incoming, current = _token_number(token), _token_number(stored_token)
    same_or_later = or_(stored_at.is_(None), and_(updated_at.is_not(None), updated_at >= stored_at))
    return or_(incoming > current, and_(incoming == current, same_or_later))


def _repository_for(model: type[MirroredRow]) -> type[MirrorRepository]:
    attributes: dict[str, Any] = {"model": model, "__doc__": f"The mirrored {model.qbo_entity} objects."}
    return type(f"{model.__name__}Repository", (MirrorRepository,), attributes)


_REPOSITORIES: dict[str, type[MirrorRepository]] = {name: _repository_for(model) for name, model in MIRRORED.items()}


class SyncStateRepository(TenantRepository[SyncState]):
    model = SyncState

    async def current(self) -> SyncState | None:
        return await self.one_or_none(self.select())

    async def synced(self, realm_id: str | None = None) -> bool:
        """Whether a first full sync completed (of ``realm_id``, when one is named): until then the mirror is empty or
        partial and proves nothing (no bill there is not "no bills")."""
        state = await self.current()
        return state is not None and state.cdc_cursor is not None and realm_id in (None, state.realm_id)

    async def require_synced(self, realm_id: str | None = None) -> None:
        """MirrorNotSynced (409) unless :meth:`synced`."""
        if not await self.synced(realm_id):
            raise MirrorNotSynced()

    async def current_or_new(self, realm_id: str) -> SyncState:
        state = await self.current()
        if state is None:
            state = await self.add(SyncState(business_id=self.business_id, realm_id=realm_id))
        elif state.realm_id != realm_id:
            # Connected to another company: nothing of the old cursor applies.
            state.realm_id, state.cdc_cursor, state.last_full_sync_at, state.singletons_synced_at = (
                realm_id,
                None,
                None,
                None,
            )
        return state


class FullSyncProgressRepository(TenantRepository[FullSyncProgress]):
    model = FullSyncProgress

    async def by_entity(self) -> dict[str, FullSyncProgress]:
        return {row.entity: row for row in await self.all(self.select())}


class SyncRunRepository(TenantRepository[SyncRun]):
    model = SyncRun

    async def start(self, realm_id: str, kind: SyncKind) -> SyncRun:
        return await self.add(SyncRun(business_id=self.business_id, realm_id=realm_id, kind=kind, counts={}, calls=0))

    async def latest(self, kind: SyncKind | None = None, outcome: SyncOutcome | None = None) -> SyncRun | None:
        statement = self.select().order_by(SyncRun.started_at.desc()).limit(1)
        if kind is not None:
            statement = statement.where(SyncRun.kind == kind)
        if outcome is not None:
            statement = statement.where(SyncRun.outcome == outcome)
        return await self.one_or_none(statement)
