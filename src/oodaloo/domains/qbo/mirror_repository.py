"""Queries over one business's QBO mirror: upserts that keep the newest version of each object, deletes kept as rows,
and the sync bookkeeping (state, full-sync progress, runs). Tenant scoping comes from ``TenantRepository``."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

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
from oodaloo.infra.db.base import utcnow
from oodaloo.infra.db.repository import TenantRepository

# Ids per ``IN (...)`` in one statement: far below SQLite's and asyncpg's bind-parameter limits.
IDS_PER_STATEMENT = 500


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
            for row in await self.all(self.select().where(self.model.qbo_id.in_(chunk))):
                found[row.qbo_id] = row
        return found

    async def live_ids(self) -> set[str]:
        """Ids of the objects not known to be deleted."""
        statement = select(self.model.qbo_id).where(
            self.model.business_id == self.business_id, self.model.status != MirrorStatus.DELETED
        )
        return set((await self.session.scalars(statement)).all())

    async def store(self, raws: Sequence[Raw]) -> int:
        """Insert or update each object unless the mirror holds a newer version; a deleted stub marks the row
        deleted (keeping the last full version we saw). Returns how many rows changed."""
        existing = await self.by_qbo_ids(qbo_id for raw in raws if (qbo_id := self._id_of(raw)) is not None)
        changed = 0
        for raw in raws:
            qbo_id = self._id_of(raw)
            if qbo_id is None:
                continue
            row = existing.get(qbo_id)
            if row is not None and status_of(self.model.qbo_entity, raw) is MirrorStatus.DELETED:
                changed += self._delete(row, qbo_time(raw, "LastUpdatedTime"))
            elif row is None:
                existing[qbo_id] = self._new(qbo_id, raw)
                changed += 1
            elif row.raw != raw and self._is_not_older(raw, row):
                self._apply(row, raw)
                changed += 1
        await self.session.flush()
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
        rows = await self.by_qbo_ids(qbo_ids)
        changed = sum(self._delete(row, at) for row in rows.values())
        await self.session.flush()
        return changed

    def _id_of(self, raw: Raw) -> str | None:
        qbo_id = raw.get("Id")
        if qbo_id is None and self.model.qbo_entity in SINGLETONS:
            return "1"  # one per company: QBO may leave Preferences without an Id
        return str(qbo_id) if qbo_id is not None else None

    def _new(self, qbo_id: str, raw: Raw) -> MirroredRow:
        row: MirroredRow = self.model(business_id=self.business_id, qbo_id=qbo_id)
        self._apply(row, raw)
        if row.status is MirrorStatus.DELETED:
            row.deleted_at = row.qbo_updated_at or utcnow()
        self.session.add(row)
        return row

    def _apply(self, row: MirroredRow, raw: Raw) -> None:
        token = raw.get("SyncToken")
        row.sync_token = str(token) if token is not None else None
        row.qbo_created_at = qbo_time(raw, "CreateTime")
        row.qbo_updated_at = qbo_time(raw, "LastUpdatedTime")
        row.status = status_of(self.model.qbo_entity, raw)
        row.raw = raw
        for column, value in self.model.typed_values(raw).items():
            setattr(row, column, value)

    @staticmethod
    def _is_not_older(raw: Raw, row: MirroredRow) -> bool:
        """Whether ``raw`` may replace the row. An equal version does: ``LastUpdatedTime`` has whole seconds, and two
        quiet balance moves within one second (an invoice created, then voided) share SyncToken and time; what was
        fetched last is then the later state."""
        if row.status is MirrorStatus.DELETED:
            return False  # QBO never brings a deleted object back
        token = raw.get("SyncToken")
        incoming = version_of(str(token) if token is not None else None, qbo_time(raw, "LastUpdatedTime"))
        return incoming >= version_of(row.sync_token, row.qbo_updated_at)

    @staticmethod
    def _delete(row: MirroredRow, at: datetime | None) -> int:
        """Mark a row deleted, keeping the last full version we saw (a deleted stub carries only the Id)."""
        if row.status is MirrorStatus.DELETED:
            return 0
        row.status = MirrorStatus.DELETED
        row.deleted_at = at or utcnow()
        return 1


def _repository_for(model: type[MirroredRow]) -> type[MirrorRepository]:
    attributes: dict[str, Any] = {"model": model, "__doc__": f"The mirrored {model.qbo_entity} objects."}
    return type(f"{model.__name__}Repository", (MirrorRepository,), attributes)


_REPOSITORIES: dict[str, type[MirrorRepository]] = {name: _repository_for(model) for name, model in MIRRORED.items()}


class SyncStateRepository(TenantRepository[SyncState]):
    model = SyncState

    async def current(self) -> SyncState | None:
        return await self.one_or_none(self.select())

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
