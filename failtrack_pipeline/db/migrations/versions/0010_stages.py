"""stages: the pipeline step of every failure group, per-stage counts and rates

Existing failure groups, per-day counts and top groups are failtrack's readers: `scrape`.
`error_category_breakdown` gains the stage in its key; it is a full refresh of
`discovery_event_failures`, so it is recreated empty and filled by the next refresh.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# Frozen: the types as this revision created them, never imported from the live schema.
UTCDateTime = sa.DateTime(timezone=True)
SCRAPE = "scrape"
STAGE_COMMENT = "the pipeline step: scrape (failtrack's readers) or a tracked step's name"


def _stage(comment: str | None = None) -> sa.Column:
    return sa.Column("stage", sa.String(64), nullable=False, server_default=SCRAPE, comment=comment)


def upgrade() -> None:
    op.add_column("discovery_event_failures", _stage())
    op.add_column("discovery_event_failure_days", _stage())
    op.add_column("top_failure_groups", _stage(STAGE_COMMENT))
    op.create_table(
        "stage_run_counts",
        sa.Column("run_id", sa.String(64), primary_key=True, comment="Dagster run id"),
        sa.Column("batch", sa.String(64), primary_key=True, comment="the recording's batch"),
        sa.Column("source_id", sa.String(64), primary_key=True, comment="the source"),
        sa.Column("stage", sa.String(64), primary_key=True, comment=STAGE_COMMENT),
        sa.Column("day", sa.Date(), nullable=False, comment="UTC date it was recorded"),
        sa.Column("events_processed", sa.Integer(), nullable=False, comment="events handled"),
        sa.Column(
            "events_succeeded", sa.Integer(), nullable=False, comment="events that succeeded"
        ),
        sa.Column("events_failed", sa.Integer(), nullable=False, comment="events that failed"),
    )
    op.create_index("ix_stage_run_counts_day", "stage_run_counts", ["day"])
    op.drop_table("error_category_breakdown")
    op.create_table(
        "error_category_breakdown",
        sa.Column("source_id", sa.String(64), primary_key=True, comment="a source, or * for all"),
        sa.Column("stage", sa.String(64), primary_key=True, comment=STAGE_COMMENT),
        sa.Column("error_category", sa.String(32), primary_key=True, comment="the category"),
        sa.Column("occurrences", sa.BigInteger(), nullable=False, comment="failures counted"),
        sa.Column(
            "share_of_source",
            sa.Float(),
            nullable=False,
            comment="share of the source's failures in the stage",
        ),
        sa.Column("distinct_groups", sa.Integer(), nullable=False, comment="failure groups"),
        sa.Column(
            "last_seen_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="latest occurrence (UTC)",
        ),
        sa.Column("next_step", sa.Text(), nullable=False, comment="suggested next step"),
        comment="Failures per source, stage and category over the retention period",
    )
    op.create_table(
        "stage_success_rates",
        sa.Column("source_id", sa.String(64), primary_key=True, comment="the source"),
        sa.Column("stage", sa.String(64), primary_key=True, comment=STAGE_COMMENT),
        sa.Column("as_of", sa.Date(), nullable=False, comment="last UTC day of every window"),
        sa.Column("events_processed_7d", sa.Integer(), nullable=False, comment="in the 7 days"),
        sa.Column("events_succeeded_7d", sa.Integer(), nullable=False, comment="in the 7 days"),
        sa.Column("events_failed_7d", sa.Integer(), nullable=False, comment="in the 7 days"),
        sa.Column("success_rate_1d", sa.Float(), comment="event success rate on as_of"),
        sa.Column("success_rate_7d", sa.Float(), comment="over the 7 days ending on as_of"),
        sa.Column("success_rate_30d", sa.Float(), comment="over the 30 days ending on as_of"),
        sa.Column("top_error_category", sa.String(32), comment="category of top_error_message"),
        sa.Column(
            "top_error_message",
            sa.String(1000),
            comment="the stage's failure group with most occurrences in the 7 days",
        ),
        comment="Per source and stage: event success rates over 1, 7 and 30 days, the top failure",
    )


def downgrade() -> None:
    op.drop_table("stage_success_rates")
    op.drop_table("error_category_breakdown")
    op.create_table(
        "error_category_breakdown",
        sa.Column("source_id", sa.String(64), primary_key=True, comment="a source, or * for all"),
        sa.Column("error_category", sa.String(32), primary_key=True, comment="the category"),
        sa.Column("occurrences", sa.BigInteger(), nullable=False, comment="failures counted"),
        sa.Column(
            "share_of_source",
            sa.Float(),
            nullable=False,
            comment="share of the source's failures",
        ),
        sa.Column("distinct_groups", sa.Integer(), nullable=False, comment="failure groups"),
        sa.Column(
            "last_seen_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="latest occurrence (UTC)",
        ),
        sa.Column("next_step", sa.Text(), nullable=False, comment="suggested next step"),
        comment="Failures per source and category over the retention period",
    )
    op.drop_index("ix_stage_run_counts_day", "stage_run_counts")
    op.drop_table("stage_run_counts")
    with op.batch_alter_table("top_failure_groups") as batch:
        batch.drop_column("stage")
    with op.batch_alter_table("discovery_event_failure_days") as batch:
        batch.drop_column("stage")
    with op.batch_alter_table("discovery_event_failures") as batch:
        batch.drop_column("stage")
