"""Every action of a business as the API shows it, whatever its kind (a bill paid, a payment recorded, a reminder
sent, a bill delayed, a payment scheduled): one row of SmartSync's action log each, read here, listed newest first a
page at a time (filtered by kind and status), with its receipt and the runway impact its request was answered with."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import and_, or_
from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.core.impact import ActionImpactOut, kept_impacts
from oodaloo.infra.db.repository import TenantRepository
from oodaloo.infra.jobs.models import ActionStatus, QBOAction
from oodaloo.infra.web.errors import InvalidInput, NotFound

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
_CURSOR_PREFIX = "act"


class ActionNotFound(NotFound):
    code = "action_not_found"
    message = "No such action."


class InvalidActionCursor(InvalidInput):
    code = "invalid_cursor"
    message = "The cursor is not one this list gave out; start again without it."

    def __init__(self) -> None:
        super().__init__(field="cursor")


class ActionOut(BaseModel):
    action_id: uuid.UUID
    kind: str = Field(description="bill.pay, bill.delay, bill.schedule_payment, invoice.record_payment, ...")
    status: str = Field(description="pending, in_flight, succeeded, failed or pending_verification.")
    attempts: int
    qbo_entity: str | None
    qbo_id: str | None
    error_code: str | None
    error_message: str | None
    error_field: str | None = Field(description="The request field a failure names, when it names one.")
    created_at: datetime
    completed_at: datetime | None
    drift: dict[str, Any] | None
    requested_by: uuid.UUID | None = None
    receipt: dict[str, Any] | None = Field(
        default=None, description="What QuickBooks answered (ids, SyncToken, whether it matches what was asked)."
    )
    impact: ActionImpactOut | None = Field(default=None, description="The runway impact its request was answered with.")


class ActionPageOut(BaseModel):
    actions: list[ActionOut]
    next_cursor: str | None = Field(description="Pass as ``cursor`` for the next page; null on the last page.")


@dataclass(frozen=True)
class ActionFilter:
    kind: str | None = None
    status: ActionStatus | None = None


class ActionLogRepository(TenantRepository[QBOAction]):
    """One business's actions; another business's action is simply not there."""

    model = QBOAction

    async def by_key(self, idempotency_key: str) -> QBOAction | None:
        return await self.one_or_none(self.select().where(QBOAction.idempotency_key == idempotency_key))

    async def newest_first(
        self, where: ActionFilter, *, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> Sequence[QBOAction]:
        statement = self.select()
        if where.kind is not None:
            statement = statement.where(QBOAction.kind == where.kind)
        if where.status is not None:
            statement = statement.where(QBOAction.status == where.status)
        if after is not None:
            created_at, action_id = after
            statement = statement.where(
                or_(
                    QBOAction.created_at < created_at,
                    and_(QBOAction.created_at == created_at, QBOAction.id < action_id),
                )
            )
        return await self.all(statement.order_by(QBOAction.created_at.desc(), QBOAction.id.desc()).limit(limit))


class ActionLogReader:
    """Reads through the caller's session."""

    def __init__(self, session: AsyncSession, business_id: uuid.UUID) -> None:
        self._session = session
        self._business_id = business_id
        self._actions = ActionLogRepository(session, business_id)

    async def get(self, action_id: uuid.UUID) -> ActionOut:
        row = await self._actions.get(action_id)
        if row is None:
            raise ActionNotFound()
        impacts = await kept_impacts(self._session, self._business_id, [row.id])
        return action_out(row, impacts.get(row.id))

    async def page(
        self, where: ActionFilter, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> ActionPageOut:
        after = None if cursor is None else _decode(cursor)
        found = await self._actions.newest_first(where, after=after, limit=limit + 1)
        rows = list(found[:limit])
        impacts = await kept_impacts(self._session, self._business_id, [row.id for row in rows])
        more = len(found) > limit
        return ActionPageOut(
            actions=[action_out(row, impacts.get(row.id)) for row in rows],
            next_cursor=_encode(rows[-1]) if more and rows else None,
        )


def action_out(row: QBOAction, impact: ActionImpactOut | None = None) -> ActionOut:
    failed = row.status is ActionStatus.FAILED
    field = (row.result or {}).get("field") if failed else None
    return ActionOut(
        action_id=row.id,
        kind=row.kind,
        status=row.status.value,
        attempts=row.attempts,
        qbo_entity=row.qbo_entity,
        qbo_id=row.qbo_id,
        error_code=row.error_code,
        error_message=row.error_message,
        error_field=field if isinstance(field, str) else None,
        created_at=row.created_at,
        completed_at=row.completed_at,
        drift=row.drift,
        requested_by=row.requested_by,
        receipt=row.result if row.status is ActionStatus.SUCCEEDED else None,
        impact=impact,
    )


def _encode(row: QBOAction) -> str:
    text = f"{_CURSOR_PREFIX}:{row.created_at.isoformat()}:{row.id.hex}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, rest = text.split(":", 1)
        stamp, _, hex_id = rest.rpartition(":")
        if prefix != _CURSOR_PREFIX:
            raise ValueError(prefix)
        created_at = datetime.fromisoformat(stamp)
        if created_at.tzinfo is None:
            raise ValueError(stamp)
        return created_at, uuid.UUID(hex=hex_id)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidActionCursor() from None
