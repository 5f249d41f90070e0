"""SmartSync's durable tables: the action log (exactly-once QBO writes) and the activity trail."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from oodaloo.infra.db.base import Base, CreatedAtMixin, IdMixin, str_enum, utcnow

# QBO's limit on requestid length; ours are 32 hex characters.
REQUESTID_MAX_LENGTH = 50
IDEMPOTENCY_KEY_MAX_LENGTH = 200
LEASE_OWNER_MAX_LENGTH = 120  # "<host>:<pid>:<random>"


class ActionStatus(enum.StrEnum):
    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PENDING_VERIFICATION = "pending_verification"

    @property
    def is_final(self) -> bool:
        return self in (ActionStatus.SUCCEEDED, ActionStatus.FAILED)


class QBOAction(IdMixin, CreatedAtMixin, Base):
    """One user action that writes to QBO, recorded before QBO is called so it executes exactly once.

    Lifecycle:
    - ``pending``: recorded (and committed) with its idempotency key, ``requestid`` and ``marker``;
      nothing has been sent yet. A repeat of the same key returns this row; the same key with a
      different payload is refused.
    - ``in_flight``: an attempt is being sent (``attempts`` counts them; each re-send carries the
      same ``requestid``, so QBO answers a repeat with the original result instead of writing again).
      The process sending it holds a lease (``lease_owner`` until ``lease_expires_at``) and renews it
      while the attempt runs; a lease left to expire (the process died) lets the sweep take the
      action over at once. ``pending`` rows carry their recorder's lease too.
    - ``succeeded``: QBO confirmed the write; ``qbo_entity``/``qbo_id``/``result`` say what it made.
    - ``failed``: QBO refused it (e.g. a validation fault) or it could not be confirmed after every
      verification attempt; ``error_code``/``error_message`` give the reason. Final.
    - ``pending_verification``: the outcome is unknown (timeout, lost response, server errors,
      deadline, or a crash while ``in_flight``). The reconciler settles it: it re-sends with the
      same ``requestid`` or finds the object by ``marker``, then moves it to ``succeeded`` or
      ``failed``.
    Reconciliation of a settled action compares QBO with what we did and records ``drift``.
    """

    __tablename__ = "qbo_actions"
    __table_args__ = (
        UniqueConstraint("business_id", "idempotency_key", name="uq_qbo_actions_business_idempotency_key"),
        Index("ix_qbo_actions_status_next_check_at", "status", "next_check_at"),
        Index("ix_qbo_actions_status_lease_expires_at", "status", "lease_expires_at"),
    )

    business_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"), index=True)
    realm_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(64))  # e.g. "bill.pay"; names the registered handler
    idempotency_key: Mapped[str] = mapped_column(String(IDEMPOTENCY_KEY_MAX_LENGTH))
    payload_digest: Mapped[str] = mapped_column(String(64))  # sha256 of the canonical payload
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    requestid: Mapped[str] = mapped_column(String(REQUESTID_MAX_LENGTH), unique=True)
    marker: Mapped[str] = mapped_column(String(64))  # written into the QBO object (e.g. PrivateNote)
    status: Mapped[ActionStatus] = mapped_column(
        str_enum(ActionStatus, "qbo_action_status", length=32), default=ActionStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    qbo_entity: Mapped[str | None] = mapped_column(String(64))
    qbo_id: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(String(2000))
    drift: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    requested_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    # When the reconciler should next look at this action (None: nothing scheduled).
    next_check_at: Mapped[datetime | None]
    verified_at: Mapped[datetime | None]
    # Who is sending it (a process's ActionLog) and until when, unless renewed: a pending/in-flight row whose lease
    # ran out belongs to a dead process. None on settled rows.
    lease_owner: Mapped[str | None] = mapped_column(String(LEASE_OWNER_MAX_LENGTH))
    lease_expires_at: Mapped[datetime | None]


class Activity(IdMixin, CreatedAtMixin, Base):
    """Who did what, when: the audit trail, and the signal of which businesses are active."""

    __tablename__ = "activities"
    __table_args__ = (Index("ix_activities_business_id_created_at", "business_id", "created_at"),)

    business_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(64))  # e.g. "bill.pay", "qbo.connect", "action.drift"
    subject: Mapped[str | None] = mapped_column(String(200))  # e.g. "Bill 148"
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    @classmethod
    async def record(
        cls,
        session: AsyncSession,
        *,
        business_id: uuid.UUID,
        user_id: uuid.UUID | None,
        kind: str,
        subject: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> Activity:
        """Add a row and flush it; the caller's unit of work commits (or rolls it back with everything else)."""
        activity = cls(business_id=business_id, user_id=user_id, kind=kind, subject=subject, detail=detail)
        session.add(activity)
        await session.flush()
        return activity
