"""The tables of plans: many actions gathered, proposed, approved once and executed once, each action with its result
and receipt."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from oodaloo.infra.db.base import Base, CreatedAtMixin, IdMixin, str_enum, utcnow

TITLE_MAX_LENGTH = 200
NOTE_MAX_LENGTH = 2000
REASON_MAX_LENGTH = 2000
LEASE_OWNER_MAX_LENGTH = 120


class PlanStatus(enum.StrEnum):
    DRAFT = "draft"
    PROPOSED = "proposed"
    APPROVED = "approved"
    EXECUTING = "executing"
    FINISHED = "finished"
    CANCELLED = "cancelled"


class PlanItemStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    CONFIRMING = "confirming"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STOPPED = "stopped"

    @property
    def is_final(self) -> bool:
        return self in (PlanItemStatus.SUCCEEDED, PlanItemStatus.FAILED, PlanItemStatus.STOPPED)


class Plan(IdMixin, CreatedAtMixin, Base):
    """Actions gathered to be approved and executed together.

    Lifecycle (every move a conditional update on the current status, so two requests never both make it):
    - ``draft``: items are added and removed (advisors and owners); each change bumps ``revision``.
    - ``proposed``: put to the owner; items are fixed.
    - ``approved``: an owner (or an advisor allowed to act) approved ``approved_revision``; each item keeps what the
      books said of its inputs then (``PlanItem.approved_state``).
    - ``executing``: execution was asked for; a job (one at a time per business) runs the items in order, holding
      the plan's lease while it runs; a job that dies leaves a lease that runs out, and the sweep starts another,
      which goes on where it stopped (an item's action has an idempotency key derived from the item: none runs twice).
    - ``finished``: every item ended (succeeded, failed, or stopped because its inputs changed since approval).
    - ``cancelled``: given up before execution.
    """

    __tablename__ = "plans"
    __table_args__ = (
        Index("ix_plans_business_id_created_at", "business_id", "created_at"),
        Index("ix_plans_status_lease_expires_at", "status", "lease_expires_at"),
    )

    business_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(TITLE_MAX_LENGTH))
    note: Mapped[str | None] = mapped_column(String(NOTE_MAX_LENGTH))
    status: Mapped[PlanStatus] = mapped_column(str_enum(PlanStatus, "plan_status"), default=PlanStatus.DRAFT)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    proposed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    proposed_at: Mapped[datetime | None]
    approved_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime | None]
    approved_revision: Mapped[int | None] = mapped_column(Integer)
    executed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    execution_requested_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    cancelled_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    cancelled_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(LEASE_OWNER_MAX_LENGTH))
    lease_expires_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PlanItem(IdMixin, Base):
    """One action of a plan: its request (as the single-action API takes it), and once executed, its result.

    ``pending`` until its turn; ``running`` while its action is sent (its idempotency key is ``plan-item:<id>``);
    ``confirming`` while QuickBooks' answer is unclear (the action log settles it); ``succeeded`` with its
    ``receipt``; ``failed`` (refused) or ``stopped`` (its inputs changed since approval) with the reason.
    """

    __tablename__ = "plan_items"
    __table_args__ = (
        UniqueConstraint("plan_id", "position", name="uq_plan_items_plan_id_position"),
        Index("ix_plan_items_business_id", "business_id"),
    )

    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    business_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(64))
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[PlanItemStatus] = mapped_column(
        str_enum(PlanItemStatus, "plan_item_status"), default=PlanItemStatus.PENDING
    )
    approved_state: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    action_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("qbo_actions.id", ondelete="SET NULL"))
    reason_code: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(REASON_MAX_LENGTH))
    receipt: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
