"""The table of reminder cool-downs: when each customer of a business was last sent an invoice reminder."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from oodaloo.infra.db.base import Base, IdMixin

QBO_ID_LENGTH = 32


class ReminderCooldown(IdMixin, Base):
    """The last reminder a customer of a business was sent (or is being sent): one row per customer."""

    __tablename__ = "ar_reminder_cooldowns"
    __table_args__ = (UniqueConstraint("business_id", "customer_id", name="uq_ar_reminder_cooldowns_business_id"),)

    business_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    customer_id: Mapped[str] = mapped_column(String(QBO_ID_LENGTH))
    last_sent_at: Mapped[datetime]
    last_invoice_id: Mapped[str] = mapped_column(String(QBO_ID_LENGTH))
    last_action_id: Mapped[uuid.UUID]
    # What ``last_sent_at`` was before this claim (None: the first reminder), restored if QBO refuses the send.
    previous_sent_at: Mapped[datetime | None]
