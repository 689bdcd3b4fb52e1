"""dashboard overview: retry runs, health reasons, failing since, group ids and 24 h counts

Revision ID: 0007
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0003"
branch_labels = None
depends_on = None


class _UTCDateTime(sa.TypeDecorator):
    """As failtrack's UTCDateTime stores it (frozen here: the DDL is what matters)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True


# Added at the end of their tables, as the schema declares them.
_COLUMNS: dict[str, list[sa.Column]] = {
    "scrape_runs": [
        sa.Column(
            "is_retry",
            sa.Boolean(),
            nullable=False,
            server_default=sa.false(),
            comment="a run of retry_events_job (chosen events only), counted like any run",
        ),
    ],
    "source_success_rates": [
        sa.Column(
            "run_success_rate_7d",
            sa.Float(),
            comment="share of the 7 days' runs that neither failed nor silently failed",
        ),
        sa.Column(
            "health_reason",
            sa.String(200),
            comment="why the health is what it is: the rate that decided it, silent or stale",
        ),
        sa.Column("top_error_category", sa.String(32), comment="category of top_error_message"),
        sa.Column(
            "top_error_message",
            sa.String(1000),
            comment="the failure group with most occurrences in the 7 days (parameterized)",
        ),
        sa.Column(
            "failing_since",
            _UTCDateTime(),
            comment="start of the first of the unbroken latest runs that were not a success",
        ),
        sa.Column("last_success_at", _UTCDateTime(), comment="start of the latest successful run"),
    ],
    "top_failure_groups": [
        sa.Column(
            "failure_group_id",
            sa.BigInteger(),
            comment="the discovery_event_failures id: what retry_events_job's "
            "failure_group_id takes",
        ),
        sa.Column(
            "occurrences_24h",
            sa.BigInteger(),
            nullable=False,
            server_default="0",
            comment="on as_of (its UTC day)",
        ),
        sa.Column("last_run_id", sa.String(64), comment="the Dagster run that last saw it"),
    ],
}


def upgrade() -> None:
    for table, columns in _COLUMNS.items():
        for column in columns:
            op.add_column(table, column)


def downgrade() -> None:
    for table, columns in reversed(_COLUMNS.items()):
        with op.batch_alter_table(table) as batch:
            for column in reversed(columns):
                batch.drop_column(column.name)
