"""run_field_coverage and source_field_coverage: optional fields filled per run and day

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_field_coverage",
        sa.Column("run_id", sa.String(64), primary_key=True, comment="Dagster run id"),
        sa.Column("field", sa.String(32), primary_key=True, comment="the optional event field"),
        sa.Column("source_id", sa.String(64), nullable=False, comment="the source the run scraped"),
        sa.Column("day", sa.Date(), nullable=False, comment="UTC date the run ended"),
        sa.Column("accepted", sa.Integer(), nullable=False, comment="events the run accepted"),
        sa.Column(
            "filled", sa.Integer(), nullable=False, comment="of those, with the field filled"
        ),
    )
    op.create_index("ix_run_field_coverage_day", "run_field_coverage", ["day"])
    op.create_table(
        "source_field_coverage",
        sa.Column("source_id", sa.String(64), primary_key=True, comment="the source"),
        sa.Column("field", sa.String(32), primary_key=True, comment="the optional event field"),
        sa.Column("day", sa.Date(), nullable=False, comment="the UTC day described (as_of)"),
        sa.Column("accepted", sa.Integer(), nullable=False, comment="events accepted that day"),
        sa.Column(
            "filled", sa.Integer(), nullable=False, comment="of those, with the field filled"
        ),
        sa.Column("coverage", sa.Float(), comment="filled / accepted (0..1)"),
        sa.Column(
            "coverage_median_30d", sa.Float(), comment="median daily coverage, 30 days before"
        ),
        sa.Column(
            "coverage_zscore", sa.Float(), comment="robust z of the day against those 30 days"
        ),
        sa.Column("min_coverage", sa.Float(), comment="the source's min_coverage for the field"),
        sa.Column(
            "problem", sa.String(16), comment="below_minimum, dropped (z <= -3.5) or NULL: fine"
        ),
    )


def downgrade() -> None:
    op.drop_table("source_field_coverage")
    op.drop_table("run_field_coverage")
