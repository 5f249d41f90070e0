"""The Friday digest's send ledger: one row per business (and one per advisor) per week, claimed before the mail is
sent and marked once it went, so that any number of schedulers, workers and retries send it once."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from oodaloo.infra.db.base import Base, CreatedAtMixin, IdMixin, str_enum, utcnow

LEASE_OWNER_MAX_LENGTH = 120
MESSAGE_ID_MAX_LENGTH = 300
ERROR_MAX_LENGTH = 2000


class DigestStatus(enum.StrEnum):
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class _DigestSend(IdMixin, CreatedAtMixin):
    """One week's digest for one recipient set.

    Lifecycle (every move a conditional update, so two processes never both make it):
    - ``sending``: claimed by ``lease_owner`` until ``lease_expires_at``; the holder builds and sends the mail. A
      holder that dies leaves a lease that runs out, and the next sweep claims the row again (``attempts`` + 1).
    - ``sent``: the mail was handed over (SMTP accepted it, or the outbox file is written) at ``sent_at``. Final.
    - ``failed``: the attempt raised (``error``); tried again from ``retry_at`` until the attempts run out.
    """

    week: Mapped[date] = mapped_column(Date)  # the Monday of the recipient's local week
    status: Mapped[DigestStatus] = mapped_column(str_enum(DigestStatus, "digest_status"))
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    lease_owner: Mapped[str | None] = mapped_column(String(LEASE_OWNER_MAX_LENGTH))
    lease_expires_at: Mapped[datetime | None]
    retry_at: Mapped[datetime | None]
    message_id: Mapped[str | None] = mapped_column(String(MESSAGE_ID_MAX_LENGTH))
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(String(ERROR_MAX_LENGTH))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DigestSend(_DigestSend, Base):
    """A business's digest of one week, to its owners and viewers."""

    __tablename__ = "digest_sends"
    __table_args__ = (
        UniqueConstraint("business_id", "week", name="uq_digest_sends_business_id_week"),
        Index("ix_digest_sends_week_status", "week", "status"),
    )

    business_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    # The figures the digest gave (runway, cash, what is late and due...), kept when it is sent so the advisors' digests
    # of the week quote them rather than compute them again: plain JSON, amounts as strings.
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class AdvisorDigestSend(_DigestSend, Base):
    """An advisor's digest of one week, covering every client business."""

    __tablename__ = "advisor_digest_sends"
    __table_args__ = (
        UniqueConstraint("user_id", "week", name="uq_advisor_digest_sends_user_id_week"),
        Index("ix_advisor_digest_sends_week_status", "week", "status"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
