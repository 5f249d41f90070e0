"""Alerts: facts about a business's books that someone should look at — each with the reason, what to do and the API
call to do it — raised by the drift check (``domains/core/drift.py``), listed and acknowledged over the API.

An alert is unique per (business, kind, subject): whoever raises the same fact again (a check run twice, two workers
at once) changes nothing. It is open until a member acknowledges it, or until the check finds it settled (a large
bill paid, a runway back up): then it is resolved, with a sentence saying how.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from oodaloo.domains.core.audit import AuditLog
from oodaloo.infra.db.base import Base, IdMixin, str_enum, utcnow
from oodaloo.infra.db.repository import TenantRepository
from oodaloo.infra.web.errors import NotFound

MONEY = Numeric(18, 2)
SUBJECT_KEY_MAX_LENGTH = 128
SUBJECT_TYPE_MAX_LENGTH = 32
SUBJECT_ID_MAX_LENGTH = 64
NAME_MAX_LENGTH = 300
SENTENCE_MAX_LENGTH = 2000
PATH_MAX_LENGTH = 300
DEFAULT_LIST_LIMIT = 100
MAX_LIST_LIMIT = 500


class AlertKind(enum.StrEnum):
    BILL_PAID_ELSEWHERE = "bill_paid_elsewhere"  # a bill we planned to pay was paid by a payment we did not make
    PAYMENT_VOIDED = "payment_voided"  # a bill payment or customer payment that was live is voided or deleted
    LARGE_BILL = "large_bill"  # a new bill far above the business's usual ones (``drift.LargeBillRule``)
    INVOICE_PAID = "invoice_paid"  # an open invoice was settled: good news that moves the forecast
    RUNWAY_DROP = "runway_drop"  # the runway fell by more than the threshold since the last snapshot


class AlertStatus(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


AlertStatusFilter = Literal["open", "acknowledged", "resolved", "all"]


class Alert(IdMixin, Base):
    """One fact raised for a business. Lifecycle: raised open; acknowledged by a member (once: the first
    acknowledgement is kept); resolved by the check when the fact no longer needs attention. Resolved wins over
    acknowledged in ``status``."""

    __tablename__ = "core_alerts"
    __table_args__ = (
        UniqueConstraint("business_id", "kind", "subject_key", name="uq_core_alerts_business_id_kind_subject_key"),
        Index("ix_core_alerts_business_id_raised_at", "business_id", "raised_at"),
    )

    business_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    kind: Mapped[AlertKind] = mapped_column(str_enum(AlertKind, "alert_kind", length=32))
    # What makes the fact one fact: "bill:146", "bill_payment:231", "runway:since:2026-03-17".
    subject_key: Mapped[str] = mapped_column(String(SUBJECT_KEY_MAX_LENGTH))
    subject_type: Mapped[str] = mapped_column(String(SUBJECT_TYPE_MAX_LENGTH))
    subject_id: Mapped[str] = mapped_column(String(SUBJECT_ID_MAX_LENGTH))
    subject_name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH))
    amount: Mapped[Decimal | None] = mapped_column(MONEY)
    reason: Mapped[str] = mapped_column(String(SENTENCE_MAX_LENGTH))
    what_to_do: Mapped[str] = mapped_column(String(SENTENCE_MAX_LENGTH))
    action_method: Mapped[str] = mapped_column(String(8))
    action_path: Mapped[str] = mapped_column(String(PATH_MAX_LENGTH))
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(String(SENTENCE_MAX_LENGTH))

    @property
    def status(self) -> AlertStatus:
        if self.resolved_at is not None:
            return AlertStatus.RESOLVED
        if self.acknowledged_at is not None:
            return AlertStatus.ACKNOWLEDGED
        return AlertStatus.OPEN


@dataclass(frozen=True)
class AlertDraft:
    """An alert as a check finds it, before it is stored (or found to be raised already)."""

    kind: AlertKind
    subject_type: str
    subject_id: str
    subject_name: str
    amount: Decimal | None
    reason: str
    what_to_do: str
    action_method: str
    action_path: str

    @property
    def subject_key(self) -> str:
        return f"{self.subject_type}:{self.subject_id}"


class AlertNotFound(NotFound):
    code = "alert_not_found"
    message = "No such alert in this business."


class AlertRepository(TenantRepository[Alert]):
    model = Alert

    async def raise_once(self, draft: AlertDraft) -> Alert | None:
        """Store ``draft`` unless its (kind, subject) was raised already; the new alert, or None."""
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert(Alert) if dialect == "postgresql" else sqlite.insert(Alert)
        values = {
            **asdict(draft),
            "subject_type": draft.subject_type[:SUBJECT_TYPE_MAX_LENGTH],
            "subject_id": draft.subject_id[:SUBJECT_ID_MAX_LENGTH],
            "subject_name": draft.subject_name[:NAME_MAX_LENGTH],
            "reason": draft.reason[:SENTENCE_MAX_LENGTH],
            "what_to_do": draft.what_to_do[:SENTENCE_MAX_LENGTH],
            "id": uuid.uuid4(),
            "business_id": self.business_id,
            "subject_key": draft.subject_key[:SUBJECT_KEY_MAX_LENGTH],
            "raised_at": utcnow(),
        }
        statement = (
            insert.values(values)
            .on_conflict_do_nothing(index_elements=["business_id", "kind", "subject_key"])
            .returning(Alert.id)
        )
        inserted = (await self.session.execute(statement)).scalar_one_or_none()
        return None if inserted is None else await self.get(inserted)

    async def listed(
        self, status: AlertStatusFilter, kinds: Sequence[AlertKind] = (), limit: int = DEFAULT_LIST_LIMIT
    ) -> Sequence[Alert]:
        """Newest first."""
        statement = self.select()
        if status == "open":
            statement = statement.where(Alert.acknowledged_at.is_(None), Alert.resolved_at.is_(None))
        elif status == "acknowledged":
            statement = statement.where(Alert.acknowledged_at.is_not(None), Alert.resolved_at.is_(None))
        elif status == "resolved":
            statement = statement.where(Alert.resolved_at.is_not(None))
        if kinds:
            statement = statement.where(Alert.kind.in_(list(kinds)))
        return await self.all(statement.order_by(Alert.raised_at.desc(), Alert.id).limit(limit))

    async def unresolved(self, kind: AlertKind) -> Sequence[Alert]:
        """Alerts of ``kind`` not resolved yet (acknowledged or not): what the check may find settled."""
        return await self.all(self.select().where(Alert.kind == kind, Alert.resolved_at.is_(None)))


def resolve(alert: Alert, resolution: str) -> None:
    if alert.resolved_at is None:
        alert.resolved_at = utcnow()
        alert.resolution = resolution[:SENTENCE_MAX_LENGTH]


class AlertService:
    """A business's alerts as its members see them."""

    def __init__(self, session: AsyncSession, business_id: uuid.UUID) -> None:
        self._session = session
        self._business_id = business_id
        self._alerts = AlertRepository(session, business_id)

    async def listed(
        self, status: AlertStatusFilter = "open", kinds: Sequence[AlertKind] = (), limit: int = DEFAULT_LIST_LIMIT
    ) -> list[AlertOut]:
        return [alert_out(alert) for alert in await self._alerts.listed(status, kinds, limit)]

    async def acknowledge(self, alert_id: uuid.UUID, user_id: uuid.UUID) -> AlertOut:
        """Mark the alert seen by ``user_id`` (recorded in the audit log); acknowledging it again changes nothing."""
        alert = await self._alerts.get(alert_id)
        if alert is None:
            raise AlertNotFound()
        if alert.acknowledged_at is None:
            alert.acknowledged_at = utcnow()
            alert.acknowledged_by = user_id
            await self._session.flush()
            await AuditLog(self._session).record(
                self._business_id,
                user_id,
                "alert.acknowledged",
                subject=("alert", alert.id),
                detail={"kind": alert.kind.value, "subject": alert.subject_key},
            )
        return alert_out(alert)


# ---------------------------------------------------------------------------------------------------- replies
class AlertSubjectOut(BaseModel):
    type: str = Field(description="bill, bill_payment, payment, invoice or runway.")
    id: str = Field(description="Its QuickBooks id (for the runway: the day of the snapshot it is compared with).")
    name: str


class AlertActionOut(BaseModel):
    method: str
    path: str = Field(description="The API call that does what ``what_to_do`` says.")


class AlertOut(BaseModel):
    id: uuid.UUID
    kind: AlertKind
    status: AlertStatus
    subject: AlertSubjectOut
    amount: Decimal | None
    reason: str = Field(description="What happened, as a sentence.")
    what_to_do: str
    action: AlertActionOut
    raised_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: uuid.UUID | None
    resolved_at: datetime | None
    resolution: str | None = Field(description="How it was settled, once resolved.")


def alert_out(alert: Alert) -> AlertOut:
    return AlertOut(
        id=alert.id,
        kind=alert.kind,
        status=alert.status,
        subject=AlertSubjectOut(type=alert.subject_type, id=alert.subject_id, name=alert.subject_name),
        amount=alert.amount,
        reason=alert.reason,
        what_to_do=alert.what_to_do,
        action=AlertActionOut(method=alert.action_method, path=alert.action_path),
        raised_at=alert.raised_at,
        acknowledged_at=alert.acknowledged_at,
        acknowledged_by=alert.acknowledged_by,
        resolved_at=alert.resolved_at,
        resolution=alert.resolution,
    )
