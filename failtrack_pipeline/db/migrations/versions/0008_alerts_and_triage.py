"""alerts and triage: failure_group_triage, alert_states, notifications, triage_state

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Frozen: the types as this revision created them, never imported from the live schema.
TRIAGE_STATE_COMMENT = "open, resolved or ignored (ignoring over: open again)"
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column(
        "top_failure_groups",
        sa.Column(
            "triage_state",
            sa.String(16),
            nullable=False,
            server_default="open",
            comment=TRIAGE_STATE_COMMENT,
        ),
    )
    op.create_table(
        "failure_group_triage",
        sa.Column("fingerprint", sa.String(64), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("resolved_in_version", sa.String(100)),
        sa.Column("ignored_until", UTC_TIME),
        sa.Column("ignored_until_occurrences", sa.BigInteger()),
        sa.Column("regressions", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("regressed_at", UTC_TIME),
        sa.Column("changed_by", sa.String(100), nullable=False),
        sa.Column("changed_at", UTC_TIME, nullable=False),
        sa.Column("note", sa.Text()),
    )
    op.create_table(
        "alert_states",
        sa.Column("condition", sa.String(64), primary_key=True),
        sa.Column("subject", sa.String(200), primary_key=True),
        sa.Column("state", sa.String(100), nullable=False),
        sa.Column("announced_at", UTC_TIME),
        sa.Column("observed_at", UTC_TIME, nullable=False),
    )
    op.create_table(
        "notifications",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("condition", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("state", sa.String(100), nullable=False),
        sa.Column("previous_state", sa.String(100)),
        sa.Column("channel", sa.String(100), nullable=False),
        sa.Column("message", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("sent_at", UTC_TIME),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", UTC_TIME, nullable=False),
        sa.Column("last_error", sa.Text()),
    )
    op.create_index("ix_notifications_pending", "notifications", ["sent_at", "next_attempt_at"])
    op.create_index("ix_notifications_created", "notifications", ["created_at"])


def downgrade() -> None:
    op.drop_table("notifications")
    op.drop_table("alert_states")
    op.drop_table("failure_group_triage")
    with op.batch_alter_table("top_failure_groups") as batch:
        batch.drop_column("triage_state")
