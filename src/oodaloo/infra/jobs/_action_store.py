"""The action log's reads and writes, each in its own short transaction: actions commit their state before and after
every call to QBO, so the row always says how far an action got.

Concurrent reconcilers claim a row with a conditional UPDATE on (status, updated_at): the row's ``updated_at`` is the
claim token, and only the holder of the current token may move the row on. This works the same on SQLite and
PostgreSQL, and a claim never blocks. A claim also takes the row's lease (``lease_owner``, ``lease_expires_at``);
renewing it keeps the token, so the holder's later update still applies.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Select, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oodaloo.infra.db.base import utcnow
from oodaloo.infra.db.session import unit_of_work
from oodaloo.infra.jobs.models import ActionStatus, QBOAction

AfterSettle = Callable[[AsyncSession], Awaitable[None]]


@dataclass(frozen=True)
class ActionRow:
    """A detached copy of one ``QBOAction`` row (ORM instances do not outlive their short sessions here)."""

    id: uuid.UUID
    business_id: uuid.UUID
    realm_id: str
    kind: str
    idempotency_key: str
    payload_digest: str
    payload: dict[str, Any]
    requestid: str
    marker: str
    status: ActionStatus
    attempts: int
    qbo_entity: str | None
    qbo_id: str | None
    result: dict[str, Any] | None
    error_code: str | None
    error_message: str | None
    drift: dict[str, Any] | None
    requested_by: uuid.UUID | None
    updated_at: datetime
    completed_at: datetime | None
    next_check_at: datetime | None
    verified_at: datetime | None
    lease_owner: str | None
    lease_expires_at: datetime | None

    @classmethod
    def of(cls, action: QBOAction) -> ActionRow:
        return cls(
            id=action.id,
            business_id=action.business_id,
            realm_id=action.realm_id,
            kind=action.kind,
            idempotency_key=action.idempotency_key,
            payload_digest=action.payload_digest,
            payload=action.payload,
            requestid=action.requestid,
            marker=action.marker,
            status=action.status,
            attempts=action.attempts,
            qbo_entity=action.qbo_entity,
            qbo_id=action.qbo_id,
            result=action.result,
            error_code=action.error_code,
            error_message=action.error_message,
            drift=action.drift,
            requested_by=action.requested_by,
            updated_at=action.updated_at,
            completed_at=action.completed_at,
            next_check_at=action.next_check_at,
            verified_at=action.verified_at,
            lease_owner=action.lease_owner,
            lease_expires_at=action.lease_expires_at,
        )


class ActionStore:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def insert(self, action: QBOAction) -> ActionRow | IntegrityError:
        """Insert and commit; an ``IntegrityError`` (e.g. the idempotency key exists) is returned, not raised."""
        try:
            async with unit_of_work(self._sessionmaker) as session:
                session.add(action)
                await session.flush()
                row = ActionRow.of(action)
        except IntegrityError as error:
            return error
        return row

    async def get(self, action_id: uuid.UUID) -> ActionRow | None:
        return await self._one(select(QBOAction).where(QBOAction.id == action_id))

    async def by_key(self, business_id: uuid.UUID, idempotency_key: str) -> ActionRow | None:
        return await self._one(
            select(QBOAction).where(QBOAction.business_id == business_id, QBOAction.idempotency_key == idempotency_key)
        )

    async def claim(
        self, action_id: uuid.UUID, *, status: ActionStatus, token: datetime, values: dict[str, Any]
    ) -> datetime | None:
        """Apply ``values`` if the row still has ``status`` and ``token``; returns the new token, None if lost."""
        async with unit_of_work(self._sessionmaker) as session:
            return await self._conditional_update(session, action_id, status, token, values)

    async def settle(
        self,
        action_id: uuid.UUID,
        *,
        status: ActionStatus,
        token: datetime,
        values: dict[str, Any],
        after: AfterSettle | None = None,
    ) -> bool:
        """Like ``claim``, and run ``after`` (activity, scheduling) in the same transaction when the update applied."""
        async with unit_of_work(self._sessionmaker) as session:
            if await self._conditional_update(session, action_id, status, token, values) is None:
                return False
            if after is not None:
                await after(session)
        return True

    async def renew_lease(self, action_id: uuid.UUID, *, token: datetime, owner: str, until: datetime) -> bool:
        """Extend ``owner``'s lease on an in-flight row it still holds (same token); False once it is not theirs."""
        statement = (
            update(QBOAction)
            .where(
                QBOAction.id == action_id,
                QBOAction.status == ActionStatus.IN_FLIGHT,
                QBOAction.updated_at == token,
                QBOAction.lease_owner == owner,
            )
            # updated_at is the claim token: set to itself, or its onupdate would move it and void the holder's claim.
            .values(lease_expires_at=until, updated_at=token)
            .execution_options(synchronize_session=False)
        )
        async with unit_of_work(self._sessionmaker) as session:
            result = cast(CursorResult[Any], await session.execute(statement))
        return result.rowcount == 1

    async def due_ids(self, now: datetime, *, stale_before: datetime, limit: int) -> list[uuid.UUID]:
        """Rows the reconciler should look at now, oldest first, at most ``limit`` of each kind. A pending/in-flight
        row is abandoned once its lease ran out, or (rows leased by no one, and the backstop) untouched since
        ``stale_before``."""
        unconfirmed = (
            select(QBOAction.id)
            .where(QBOAction.status == ActionStatus.PENDING_VERIFICATION, QBOAction.next_check_at <= now)
            .order_by(QBOAction.next_check_at)
        )
        abandoned = (
            select(QBOAction.id)
            .where(
                QBOAction.status.in_((ActionStatus.PENDING, ActionStatus.IN_FLIGHT)),
                or_(QBOAction.lease_expires_at <= now, QBOAction.updated_at <= stale_before),
            )
            .order_by(QBOAction.updated_at)
        )
        drift_checks = (
            select(QBOAction.id)
            .where(QBOAction.status == ActionStatus.SUCCEEDED, QBOAction.next_check_at <= now)
            .order_by(QBOAction.next_check_at)
        )
        ids: list[uuid.UUID] = []
        async with self._sessionmaker() as session:
            for statement in (unconfirmed, abandoned, drift_checks):
                ids.extend((await session.execute(statement.limit(limit))).scalars())
        return ids

    async def _one(self, statement: Select[QBOAction]) -> ActionRow | None:
        async with self._sessionmaker() as session:
            action = (await session.execute(statement)).scalars().one_or_none()
            return None if action is None else ActionRow.of(action)

    @staticmethod
    async def _conditional_update(
        session: AsyncSession, action_id: uuid.UUID, status: ActionStatus, token: datetime, values: dict[str, Any]
    ) -> datetime | None:
        # The new token must differ from the old even if the clock has not moved on (or went back).
        new_token = max(utcnow(), token + timedelta(microseconds=1))
        statement = (
            update(QBOAction)
            .where(QBOAction.id == action_id, QBOAction.status == status, QBOAction.updated_at == token)
            .values(**values, updated_at=new_token)
            .execution_options(synchronize_session=False)
        )
        result = cast(CursorResult[Any], await session.execute(statement))
        return new_token if result.rowcount == 1 else None
