"""events, discovery_event_failures and the recording ledger

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# Frozen: the types as this revision created them, never imported from the live schema.
UTCDateTime = sa.DateTime(timezone=True)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("source_id", sa.String(64), primary_key=True),
        sa.Column("external_id", sa.String(200), primary_key=True),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("starts_at", UTCDateTime, nullable=False),
        sa.Column("ends_at", UTCDateTime),
        sa.Column("venue_name", sa.String(500)),
        sa.Column("venue_address", sa.Text()),
        sa.Column("latitude", sa.Float()),
        sa.Column("longitude", sa.Float()),
        sa.Column("category", sa.String(50)),
        sa.Column("performers", sa.JSON(), nullable=False),
        sa.Column("url", sa.Text()),
        sa.Column("first_seen_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("last_run_id", sa.String(64)),
    )
    op.create_table(
        "discovery_event_failures",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("fingerprint", sa.String(64), nullable=False, unique=True),
        sa.Column("source_id", sa.String(64), nullable=False),
        sa.Column("error_category", sa.String(32), nullable=False),
        sa.Column("error_message", sa.String(1000), nullable=False),
        sa.Column("example_message", sa.Text(), nullable=False),
        sa.Column("sample_external_ids", sa.JSON(), nullable=False),
        sa.Column("occurrence_count", sa.BigInteger(), nullable=False),
        sa.Column("first_seen_at", UTCDateTime, nullable=False),
        sa.Column("last_seen_at", UTCDateTime, nullable=False),
        sa.Column("last_run_id", sa.String(64)),
    )
    op.create_index(
        "ix_failures_source_last_seen", "discovery_event_failures", ["source_id", "last_seen_at"]
    )
    op.create_index(
        "ix_failures_category_last_seen",
        "discovery_event_failures",
        ["error_category", "last_seen_at"],
    )
    op.create_index("ix_failures_last_seen", "discovery_event_failures", ["last_seen_at"])
    op.create_table(
        "discovery_event_failure_days",
        sa.Column("fingerprint", sa.String(64), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("source_id", sa.String(64), nullable=False),
        sa.Column("occurrences", sa.BigInteger(), nullable=False),
    )
    op.create_index(
        "ix_failure_days_day_source", "discovery_event_failure_days", ["day", "source_id"]
    )
    op.create_table(
        "failure_recordings",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("batch", sa.String(64), primary_key=True),
        sa.Column("recorded_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_failure_recordings_recorded_at", "failure_recordings", ["recorded_at"])


def downgrade() -> None:
    op.drop_table("failure_recordings")
    op.drop_table("discovery_event_failure_days")
    op.drop_table("discovery_event_failures")
    op.drop_table("events")
