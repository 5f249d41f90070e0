"""The webhook inbox: each change event QBO announced, stored once, before any work is done on it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from oodaloo.infra.db.base import Base, IdMixin, utcnow


class QBOWebhookEvent(IdMixin, Base):
    """One entity change announced by a QBO webhook (legacy ``eventNotifications`` or CloudEvents).

    Lifecycle: inserted by the webhook route with ``processed_at`` unset (insert-or-ignore on
    ``dedupe_key``, so a redelivered or replayed event is stored once); the realm's CDC sync stamps
    ``processed_at`` on the events it covered. Rows are keyed by realm, not business: QBO speaks of
    realms, and only events of a realm some business has connected are stored (others are logged
    and dropped), so the realm leads to its business through ``qbo_connections``.
    """

    __tablename__ = "qbo_webhook_events"
    __table_args__ = (Index("ix_qbo_webhook_events_realm_id_processed_at", "realm_id", "processed_at"),)

    # sha256 hex of what identifies the event: CloudEvents' source + id; for the legacy format (which
    # has no event id) realm, entity, id, operation and lastUpdated.
    dedupe_key: Mapped[str] = mapped_column(String(64), unique=True)
    payload_format: Mapped[str] = mapped_column(String(16))  # "legacy" | "cloudevents"
    realm_id: Mapped[str] = mapped_column(String(32))
    entity_name: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(64))
    # Intuit's legacy operation names (Create, Update, Delete, Merge, Void, Emailed), CloudEvents mapped onto them.
    operation: Mapped[str] = mapped_column(String(32))
    last_updated_at: Mapped[datetime | None]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]
    raw_event: Mapped[dict[str, Any]] = mapped_column(JSON)
