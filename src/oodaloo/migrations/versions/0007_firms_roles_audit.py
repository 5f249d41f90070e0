"""Advisor firms, role rules and the audit log.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Audit events are append-only: any change to what an event says is refused by the database itself. Only the actor
# may become NULL (the account was deleted), so that column is left out of the trigger.
_AUDIT_COLUMNS = "seq, id, business_id, action, subject_type, subject_id, detail, at"
_APPEND_ONLY_MESSAGE = "audit events are append-only"


def _role(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def upgrade() -> None:
    with op.batch_alter_table("memberships") as memberships:
        memberships.add_column(sa.Column("may_act", sa.Boolean(), server_default=sa.false(), nullable=False))

    op.create_table(
        "firms",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_firms"),
    )

    op.create_table(
        "firm_members",
        sa.Column("firm_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("role", _role("firm_role", "admin", "advisor"), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["firm_id"], ["firms.id"], name="fk_firm_members_firm_id_firms", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_firm_members_user_id_users", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_firm_members"),
        sa.UniqueConstraint("firm_id", "user_id", name="uq_firm_members_firm_user"),
    )
    op.create_index("ix_firm_members_firm_id", "firm_members", ["firm_id"])
    op.create_index("ix_firm_members_user_id", "firm_members", ["user_id"])

    op.create_table(
        "firm_engagements",
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("firm_id", sa.Uuid(), nullable=False),
        sa.Column("advisors_may_act", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("engaged_by", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"], ["businesses.id"], name="fk_firm_engagements_business_id_businesses", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["firm_id"], ["firms.id"], name="fk_firm_engagements_firm_id_firms", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["engaged_by"], ["users.id"], name="fk_firm_engagements_engaged_by_users", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_firm_engagements"),
        sa.UniqueConstraint("business_id", "firm_id", name="uq_firm_engagements_business_firm"),
    )
    op.create_index("ix_firm_engagements_business_id", "firm_engagements", ["business_id"])
    op.create_index("ix_firm_engagements_firm_id", "firm_engagements", ["firm_id"])

    op.create_table(
        "audit_events",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("actor_user_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject_type", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"], ["businesses.id"], name="fk_audit_events_business_id_businesses", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["actor_user_id"], ["users.id"], name="fk_audit_events_actor_user_id_users", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_events"),
        sa.UniqueConstraint("id", name="uq_audit_events_id"),
    )
    op.create_index("ix_audit_events_business_id_seq", "audit_events", ["business_id", "seq"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_events_refuse_update() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{_APPEND_ONLY_MESSAGE}'; END $$"
        )
        op.execute(
            f"CREATE TRIGGER audit_events_append_only BEFORE UPDATE OF {_AUDIT_COLUMNS} ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_update()"
        )
    else:
        op.execute(
            f"CREATE TRIGGER audit_events_append_only BEFORE UPDATE OF {_AUDIT_COLUMNS} ON audit_events "
            f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY_MESSAGE}'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION audit_events_refuse_update()")
    # Dropping a table drops its indexes (and, on SQLite, its triggers).
    for table in ("audit_events", "firm_engagements", "firm_members", "firms"):
        op.drop_table(table)
    with op.batch_alter_table("memberships") as memberships:
        memberships.drop_column("may_act")
