"""The QBO connection of a business: its realm and OAuth tokens, encrypted at rest."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from oodaloo.infra.db.base import Base, CreatedAtMixin, IdMixin, str_enum, utcnow


class ConnectionStatus(enum.StrEnum):
    CONNECTED = "connected"
    NEEDS_RECONNECT = "needs_reconnect"  # QBO refused our refresh token: the user must connect again
    DISCONNECTED = "disconnected"


class QBOConnection(IdMixin, CreatedAtMixin, Base):
    """A business's link to one QBO company (realm).

    Lifecycle: ``connected`` after the OAuth callback stores the tokens; access tokens are refreshed
    before they expire (the rotated refresh token replaces the old one atomically); a refresh token
    QBO rejects turns the connection to ``needs_reconnect`` with ``status_reason``; disconnect
    revokes the tokens at QBO, erases them here and sets ``disconnected``. Connecting again reuses
    the row.
    """

    __tablename__ = "qbo_connections"

    business_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"), unique=True)
    realm_id: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[ConnectionStatus] = mapped_column(
        str_enum(ConnectionStatus, "qbo_connection_status", length=32),
        default=ConnectionStatus.CONNECTED,
    )
    status_reason: Mapped[str | None] = mapped_column(String(500))
    # Ciphertexts (see infra.crypto); None once disconnected.
    access_token_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    refresh_token_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    access_token_expires_at: Mapped[datetime | None]
    refresh_token_expires_at: Mapped[datetime | None]
    scopes: Mapped[str] = mapped_column(String(500), default="")
    connected_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    connected_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_refreshed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
