"""skips, silent failures and anomalies: new columns and source_daily_skips

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# Frozen: the types as this revision created them, never imported from the live schema.
RUN_STATUS_COMMENT = "success, partial, failed or silent_failure"
EMPTY_JSON_OBJECT = sa.text("'{}'")

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Added at the end of their tables, as the schema declares them.
_COLUMNS: dict[str, list[sa.Column]] = {
    "scrape_runs": [
        sa.Column(
            "events_skipped",
            sa.Integer(),
            nullable=False,
            server_default="0",
            comment="events left out on purpose",
        ),
        sa.Column(
            "skip_reasons",
            sa.JSON(),
            nullable=False,
            server_default=EMPTY_JSON_OBJECT,
            comment="events skipped per reason",
        ),
    ],
    "source_daily_stats": [
        sa.Column(
            "events_skipped",
            sa.Integer(),
            nullable=False,
            server_default="0",
            comment="events left out on purpose",
        ),
        sa.Column(
            "silent_failures",
            sa.Integer(),
            nullable=False,
            server_default="0",
            comment="runs with status silent_failure",
        ),
    ],
    "source_success_rates": [
        sa.Column(
            "events_skipped_7d",
            sa.Integer(),
            nullable=False,
            server_default="0",
            comment="events skipped in the 7 days",
        ),
        sa.Column(
            "silent_failures_7d",
            sa.Integer(),
            nullable=False,
            server_default="0",
            comment="silent-failure runs in the 7 days",
        ),
        sa.Column(
            "success_rate_zscore",
            sa.Float(),
            comment="robust z-score of success_rate_1d, 30 days",
        ),
        sa.Column("duration_zscore", sa.Float(), comment="robust z-score of as_of's mean duration"),
        sa.Column(
            "anomaly",
            sa.String(32),
            comment="success_rate and/or duration (comma-separated); NULL: none",
        ),
    ],
}


def upgrade() -> None:
    for table, columns in _COLUMNS.items():
        for column in columns:
            op.add_column(table, column)
    op.create_table(
        "source_daily_skips",
        sa.Column("day", sa.Date(), primary_key=True, comment="UTC date"),
        sa.Column("source_id", sa.String(64), primary_key=True, comment="the source"),
        sa.Column("reason", sa.String(32), primary_key=True, comment="why events were skipped"),
        sa.Column("events_skipped", sa.Integer(), nullable=False, comment="events skipped"),
        comment="Per source, UTC day and reason: events left out on purpose",
    )
    if op.get_bind().dialect.name == "postgresql":  # SQLite keeps no comments
        op.alter_column(
            "scrape_runs",
            "status",
            existing_type=sa.String(16),
            existing_nullable=False,
            comment=RUN_STATUS_COMMENT,
            existing_comment="success, partial or failed",
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "scrape_runs",
            "status",
            existing_type=sa.String(16),
            existing_nullable=False,
            comment="success, partial or failed",
            existing_comment=RUN_STATUS_COMMENT,
        )
    op.drop_table("source_daily_skips")
    for table, columns in reversed(_COLUMNS.items()):
        with op.batch_alter_table(table) as batch:
            for column in reversed(columns):
                batch.drop_column(column.name)
