"""summary tables: scrape_runs, source_daily_stats and the dashboard tables

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# Frozen: the types as this revision created them, never imported from the live schema.
UTCDateTime = sa.DateTime(timezone=True)

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scrape_runs",
        sa.Column("run_id", sa.String(64), primary_key=True, comment="Dagster run id"),
        sa.Column("source_id", sa.String(64), nullable=False, comment="the source the run scraped"),
        sa.Column("day", sa.Date(), nullable=False, comment="UTC date the run was launched"),
        sa.Column("status", sa.String(16), nullable=False, comment="success, partial or failed"),
        sa.Column("events_processed", sa.Integer(), nullable=False, comment="events read"),
        sa.Column("events_succeeded", sa.Integer(), nullable=False, comment="events stored"),
        sa.Column("events_failed", sa.Integer(), nullable=False, comment="events that failed"),
        sa.Column("started_at", UTCDateTime, nullable=False, comment="when the run started (UTC)"),
        sa.Column("ended_at", UTCDateTime, nullable=False, comment="when the run ended (UTC)"),
        sa.Column("duration_seconds", sa.Float(), nullable=False, comment="ended_at - started_at"),
        comment="One row per finished scrape run, harvested from Dagster's run records",
    )
    op.create_index("ix_scrape_runs_day_source", "scrape_runs", ["day", "source_id"])
    op.create_index("ix_scrape_runs_source_started", "scrape_runs", ["source_id", "started_at"])
    op.create_table(
        "source_daily_stats",
        sa.Column("day", sa.Date(), primary_key=True, comment="UTC date"),
        sa.Column("source_id", sa.String(64), primary_key=True, comment="the source"),
        sa.Column("runs", sa.Integer(), nullable=False, comment="scrape runs that day"),
        sa.Column("failed_runs", sa.Integer(), nullable=False, comment="runs with status failed"),
        sa.Column("events_processed", sa.Integer(), nullable=False, comment="events read"),
        sa.Column("events_succeeded", sa.Integer(), nullable=False, comment="events stored"),
        sa.Column("events_failed", sa.Integer(), nullable=False, comment="events that failed"),
        sa.Column(
            "success_rate",
            sa.Float(),
            comment="events_succeeded / (events_succeeded + events_failed); NULL without events",
        ),
        comment="Per source and UTC day: runs and events; outlives the runs it was built from",
    )
    op.create_table(
        "source_success_rates",
        sa.Column("source_id", sa.String(64), primary_key=True, comment="every source in the file"),
        sa.Column("as_of", sa.Date(), nullable=False, comment="last UTC day of every window"),
        sa.Column("success_rate_1d", sa.Float(), comment="event success rate on as_of"),
        sa.Column("success_rate_7d", sa.Float(), comment="over the 7 days ending on as_of"),
        sa.Column("success_rate_30d", sa.Float(), comment="over the 30 days ending on as_of"),
        sa.Column("success_rate_prev_7d", sa.Float(), comment="over the 7 days before those"),
        sa.Column(
            "success_rate_change_7d",
            sa.Float(),
            comment="success_rate_7d - success_rate_prev_7d",
        ),
        sa.Column("runs_7d", sa.Integer(), nullable=False, comment="runs in the 7 days"),
        sa.Column(
            "failed_runs_7d", sa.Integer(), nullable=False, comment="failed runs in the 7 days"
        ),
        sa.Column(
            "events_succeeded_7d",
            sa.Integer(),
            nullable=False,
            comment="events stored in the 7 days",
        ),
        sa.Column(
            "events_failed_7d",
            sa.Integer(),
            nullable=False,
            comment="failed events in the 7 days",
        ),
        sa.Column(
            "mean_duration_seconds", sa.Float(), comment="mean run duration over the 30 days"
        ),
        sa.Column(
            "p95_duration_seconds",
            sa.Float(),
            comment="95th percentile (nearest rank), 30 days",
        ),
        sa.Column("last_run_status", sa.String(16), comment="status of the latest run up to as_of"),
        sa.Column("last_run_at", UTCDateTime, comment="when the latest run started (UTC)"),
        sa.Column(
            "health",
            sa.String(16),
            nullable=False,
            comment="healthy, degraded, failing or no_data",
        ),
        comment="Per source: success rates over 1, 7 and 30 days, durations and a health level",
    )
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
        sa.Column("last_seen_at", UTCDateTime, nullable=False, comment="latest occurrence (UTC)"),
        sa.Column("next_step", sa.Text(), nullable=False, comment="suggested next step"),
        comment="Failures per source and category over the retention period",
    )
    op.create_table(
        "top_failure_groups",
        sa.Column("fingerprint", sa.String(64), primary_key=True, comment="the group's id"),
        sa.Column("rank", sa.Integer(), nullable=False, comment="1 = most occurrences in 7 days"),
        sa.Column("source_id", sa.String(64), nullable=False, comment="the source"),
        sa.Column("error_category", sa.String(32), nullable=False, comment="the category"),
        sa.Column(
            "error_message", sa.String(1000), nullable=False, comment="parameterized message"
        ),
        sa.Column(
            "occurrences_7d",
            sa.BigInteger(),
            nullable=False,
            comment="in the 7 days ending on as_of",
        ),
        sa.Column("occurrences_total", sa.BigInteger(), nullable=False, comment="since first seen"),
        sa.Column("sample_external_ids", sa.JSON(), nullable=False, comment="newest failing ids"),
        sa.Column("first_seen_at", UTCDateTime, nullable=False, comment="first occurrence (UTC)"),
        sa.Column("last_seen_at", UTCDateTime, nullable=False, comment="latest occurrence (UTC)"),
        sa.Column("is_new", sa.Boolean(), nullable=False, comment="first seen on as_of"),
        sa.Column(
            "is_regressed",
            sa.Boolean(),
            nullable=False,
            comment="seen on as_of after at least 7 quiet days",
        ),
        sa.Column("as_of", sa.Date(), nullable=False, comment="last UTC day of the window"),
        comment="The 20 groups with most occurrences in 7 days, plus every new or regressed one",
    )


def downgrade() -> None:
    op.drop_table("top_failure_groups")
    op.drop_table("error_category_breakdown")
    op.drop_table("source_success_rates")
    op.drop_table("source_daily_stats")
    op.drop_table("scrape_runs")
