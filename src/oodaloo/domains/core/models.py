"""Tables of the core domain: businesses (tenants), users, memberships, advisor firms and their engagements, sign-in
sessions, API tokens. Who may do what with them is decided in ``access.py``."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from oodaloo.infra.db.base import Base, CreatedAtMixin, IdMixin, str_enum

EMAIL_MAX_LENGTH = 320
NAME_MAX_LENGTH = 200


def today_in(timezone: str) -> date:
    """A business's date now, in its own time zone (not the server's, nor UTC's)."""
    return datetime.now(ZoneInfo(timezone)).date()


class Role(enum.StrEnum):
    """A member's role in a business: owners approve, act and manage members; advisors propose (and act when the
    owner allowed it); viewers only read. The rules themselves live in ``access.py``."""

    OWNER = "owner"
    ADVISOR = "advisor"
    VIEWER = "viewer"

    @property
    def rank(self) -> int:
        return {Role.VIEWER: 0, Role.ADVISOR: 1, Role.OWNER: 2}[self]


class FirmRole(enum.StrEnum):
    """A member's role in an advisor firm: admins manage the firm's members; both serve its clients as advisors."""

    ADMIN = "admin"
    ADVISOR = "advisor"


class Business(IdMixin, CreatedAtMixin, Base):
    """A tenant: every tenant-owned row elsewhere carries its ``business_id``."""

    __tablename__ = "businesses"

    name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH))
    timezone: Mapped[str] = mapped_column(String(64))  # IANA name, validated with zoneinfo
    currency: Mapped[str] = mapped_column(String(3), default="USD")  # ISO 4217
    qbo_realm_id: Mapped[str | None] = mapped_column(String(32), index=True)

    def today(self) -> date:
        return today_in(self.timezone)


class User(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "users"
    # Emails are stored normalized (lower case), so the unique constraint is case-insensitive.
    __table_args__ = (CheckConstraint("email = lower(email)", name="email_lower_case"),)

    email: Mapped[str] = mapped_column(String(EMAIL_MAX_LENGTH), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH))


class Membership(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("business_id", "user_id", name="uq_memberships_business_user"),)

    business_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(str_enum(Role, "membership_role"))
    # The owner's per-business permission for an advisor to act (pay, approve, execute), not only propose.
    # Meaningless for owners (they always may) and viewers (they never may).
    may_act: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    business: Mapped[Business] = relationship(lazy="raise")
    user: Mapped[User] = relationship(lazy="raise")


class Firm(IdMixin, CreatedAtMixin, Base):
    """An advisor firm (a bookkeeping or CAS practice) whose members serve many client businesses."""

    __tablename__ = "firms"

    name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH))


class FirmMember(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "firm_members"
    __table_args__ = (UniqueConstraint("firm_id", "user_id", name="uq_firm_members_firm_user"),)

    firm_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("firms.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[FirmRole] = mapped_column(str_enum(FirmRole, "firm_role"))

    firm: Mapped[Firm] = relationship(lazy="raise")
    user: Mapped[User] = relationship(lazy="raise")


class FirmEngagement(IdMixin, CreatedAtMixin, Base):
    """A business engaging a firm: every member of the firm sees the business as an advisor, and acts in it only when
    ``advisors_may_act``. Lifecycle: created by an owner; the flag changed by an owner; deleted when the owner ends
    the engagement (the audit log keeps the history)."""

    __tablename__ = "firm_engagements"
    __table_args__ = (UniqueConstraint("business_id", "firm_id", name="uq_firm_engagements_business_firm"),)

    business_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"), index=True)
    firm_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("firms.id", ondelete="CASCADE"), index=True)
    advisors_may_act: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    engaged_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    business: Mapped[Business] = relationship(lazy="raise")
    firm: Mapped[Firm] = relationship(lazy="raise")


class UserSession(IdMixin, CreatedAtMixin, Base):
    """A browser sign-in. Lifecycle: created at sign-in; ends at ``expires_at`` or when revoked (sign-out)."""

    __tablename__ = "user_sessions"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(lazy="raise")


class ApiToken(IdMixin, CreatedAtMixin, Base):
    """A bearer token for the API. Shown once at creation; only its digest and visible prefix are kept."""

    __tablename__ = "api_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(32))
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(lazy="raise")
