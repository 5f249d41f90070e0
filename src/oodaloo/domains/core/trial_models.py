"""The tables of the test drive: trials (a guest user owning one business for a while) and the sandbox companies ended
trials left behind for the next trial of their scenario."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from oodaloo.infra.db.base import Base, CreatedAtMixin, IdMixin, str_enum

SCENARIO_MAX_LENGTH = 16
REALM_ID_MAX_LENGTH = 32


class TrialKind(enum.StrEnum):
    # A demo scenario's company of its own in the test drive's sandbox: every action writes there, and only there.
    SCENARIO = "scenario"
    # The visitor's own QuickBooks company: read, never written (``trials.read_only_reason``).
    READ_ONLY = "read_only"


class Trial(IdMixin, CreatedAtMixin, Base):
    """A test drive: a guest user (no email or password of their own) who owns one business until ``expires_at``.

    Lifecycle:
    - a scenario trial is *prepared*: guest, business, a sandbox company of its own, connected through the OAuth flow,
      its first sync asked for. Prepared for the visitor who waits (``claimed_at`` set at once), or ahead of visitors
      into the pool (``claimed_at`` null; ``expires_at`` then says when the pool discards it unused);
    - it is *claimed* when a visitor starts driving it: ``claimed_at`` set, ``expires_at`` = claim + the lifetime;
    - a read-only trial is claimed from its creation, and connected by the visitor in their browser;
    - at ``expires_at`` its sessions stop working (they expire with it); the sweep then removes the guest and the
      business — every row of the business goes with it — and releases the sandbox company.
    """

    __tablename__ = "trials"
    __table_args__ = (Index("ix_trials_scenario_claimed_at", "scenario", "claimed_at"),)

    business_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    kind: Mapped[TrialKind] = mapped_column(str_enum(TrialKind, "trial_kind"))
    scenario: Mapped[str | None] = mapped_column(String(SCENARIO_MAX_LENGTH))
    realm_id: Mapped[str | None] = mapped_column(String(REALM_ID_MAX_LENGTH))  # the sandbox company (scenario trials)
    claimed_at: Mapped[datetime | None]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class SpareRealm(IdMixin, CreatedAtMixin, Base):
    """A sandbox company an ended trial left, to be reset and reused by the next trial of its scenario: the sandbox
    cannot delete a company, so reusing keeps their number at the most trials ever alive at once."""

    __tablename__ = "trial_spare_realms"

    realm_id: Mapped[str] = mapped_column(String(REALM_ID_MAX_LENGTH), unique=True)
    scenario: Mapped[str] = mapped_column(String(SCENARIO_MAX_LENGTH), index=True)
