"""Tables of the core domain: businesses (tenants), users, memberships, sign-in sessions, API tokens."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from oodaloo.infra.db.base import Base, CreatedAtMixin, IdMixin

EMAIL_MAX_LENGTH = 320
NAME_MAX_LENGTH = 200


class Role(enum.StrEnum):
    """What a member may do in a business: owners manage members, advisors act, viewers only read."""

    OWNER = "owner"
    ADVISOR = "advisor"
    VIEWER = "viewer"

    @property
    def rank(self) -> int:
        return {Role.VIEWER: 0, Role.ADVISOR: 1, Role.OWNER: 2}[self]

    def allows(self, required: Role) -> bool:
        return self.rank >= required.rank


class Business(IdMixin, CreatedAtMixin, Base):
    """A tenant: every tenant-owned row elsewhere carries its ``business_id``."""

    __tablename__ = "businesses"

    name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH))
    timezone: Mapped[str] = mapped_column(String(64))  # IANA name, validated with zoneinfo
    currency: Mapped[str] = mapped_column(String(3), default="USD")  # ISO 4217
    qbo_realm_id: Mapped[str | None] = mapped_column(String(32), index=True)


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
    role: Mapped[Role] = mapped_column(
        Enum(
            Role,
            name="membership_role",
            native_enum=False,
            create_constraint=True,
            length=16,
            values_callable=lambda roles: [role.value for role in roles],
        )
    )

    business: Mapped[Business] = relationship(lazy="raise")
    user: Mapped[User] = relationship(lazy="raise")


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
