"""The audit log: who proposed, approved, executed or changed what in a business, appended inside the unit of work
that made the change (so an event exists exactly when its change was committed) and never edited afterwards.

Call it from a service, in the session that makes the change::

    await AuditLog(session).record(
        business_id, actor_id, "plan.approved", subject=("plan", plan.id), detail={"actions": 10}
    )

Actions are ``<subject>.<verb in the past tense>`` ("plan.proposed", "plan.approved", "action.executed",
"firm.engaged", "member.permission_changed"); ``detail`` is small JSON a person reads beside it (amounts as decimal
strings). Events are read newest first, a page at a time (``AuditLog.page``).
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from oodaloo.domains.core.models import User
from oodaloo.domains.core.repository import UserRepository
from oodaloo.infra.db.base import Base, utcnow
from oodaloo.infra.db.repository import TenantRepository
from oodaloo.infra.web.errors import InvalidInput

ACTION_MAX_LENGTH = 64
SUBJECT_TYPE_MAX_LENGTH = 64
SUBJECT_ID_MAX_LENGTH = 64
# "plan.approved", "member.permission_changed": lower-case words, a dot, a past-tense verb.
_ACTION_SHAPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


class AuditEvent(Base):
    """One thing that happened in a business. Append-only: rows are inserted, never updated (a trigger refuses it on
    both backends); they go only with their business.

    ``seq`` orders events as they were recorded (timestamps can tie within a transaction, and under a frozen clock);
    it is the page cursor and never shown. ``id`` is the event's public identity.
    """

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_business_id_seq", "business_id", "seq"),)

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    id: Mapped[uuid.UUID] = mapped_column(default=uuid.uuid4, unique=True)
    business_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    # None: the system did it (a scheduled payment executing itself, a sync). A deleted account leaves its events.
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(ACTION_MAX_LENGTH))
    subject_type: Mapped[str] = mapped_column(String(SUBJECT_TYPE_MAX_LENGTH))
    subject_id: Mapped[str | None] = mapped_column(String(SUBJECT_ID_MAX_LENGTH))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class InvalidCursor(InvalidInput):
    code = "invalid_cursor"
    message = "The cursor is not one this list gave out; start again without it."

    def __init__(self) -> None:
        super().__init__(field="cursor")


@dataclass(frozen=True)
class AuditPage:
    events: Sequence[tuple[AuditEvent, User | None]]  # each event with its actor (None: the system, or a deleted user)
    next_cursor: str | None  # None: this is the last page


def _json_safe(value: Any) -> Any:
    """Detail as plain JSON: Decimals as their digits (never floats), UUIDs and dates as strings."""
    if isinstance(value, Mapping):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"a:{seq}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursor() from None
    prefix, _, number = text.partition(":")
    if prefix != "a" or not number.isdigit():
        raise InvalidCursor()
    return int(number)


class AuditEventRepository(TenantRepository[AuditEvent]):
    model = AuditEvent

    async def newest_first(self, *, before_seq: int | None, limit: int) -> Sequence[AuditEvent]:
        statement = self.select()
        if before_seq is not None:
            statement = statement.where(AuditEvent.seq < before_seq)
        return await self.all(statement.order_by(AuditEvent.seq.desc()).limit(limit))


class AuditLog:
    """Appends events in the caller's session (it only flushes: the caller's unit of work commits them with the
    change they describe) and reads them back a page at a time, scoped to one business."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(
        self,
        business_id: uuid.UUID,
        actor_user_id: uuid.UUID | None,
        action: str,
        *,
        subject: tuple[str, object | None],
        detail: Mapping[str, Any] | None = None,
    ) -> AuditEvent:
        """Append one event; ``subject`` is (type, id), e.g. ("bill", "146") or ("plan", plan.id)."""
        if not _ACTION_SHAPE.match(action) or len(action) > ACTION_MAX_LENGTH:
            raise ValueError(f"audit action {action!r} is not like 'plan.approved'")
        subject_type, subject_id = subject
        event = AuditEvent(
            actor_user_id=actor_user_id,
            action=action,
            subject_type=subject_type[:SUBJECT_TYPE_MAX_LENGTH],
            subject_id=None if subject_id is None else str(subject_id)[:SUBJECT_ID_MAX_LENGTH],
            detail=_json_safe(dict(detail or {})),
            at=utcnow(),
        )
        return await AuditEventRepository(self.session, business_id).add(event)

    async def page(
        self, business_id: uuid.UUID, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> AuditPage:
        """The business's events, newest first: ``limit`` of them after ``cursor`` (from the previous page)."""
        before = None if cursor is None else _decode_cursor(cursor)
        found = await AuditEventRepository(self.session, business_id).newest_first(before_seq=before, limit=limit + 1)
        events = found[:limit]
        more = len(found) > limit
        actor_ids = {event.actor_user_id for event in events if event.actor_user_id is not None}
        actors = {user.id: user for user in await UserRepository(self.session).many(actor_ids)}
        with_actors = [(event, actors.get(event.actor_user_id) if event.actor_user_id else None) for event in events]
        return AuditPage(with_actors, _encode_cursor(events[-1].seq) if more and events else None)
