"""grouping version: which normalizer rules grouped each failure row

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows written before grouping versions existed were grouped by version 1's rules;
    # record_failures re-keys them to the current version on its first call.
    with op.batch_alter_table("discovery_event_failures") as batch:
        batch.add_column(
            sa.Column("grouping_version", sa.Integer(), nullable=False, server_default="1")
        )


def downgrade() -> None:
    with op.batch_alter_table("discovery_event_failures") as batch:
        batch.drop_column("grouping_version")
