"""overview coverage: each source's worst field, its 7-day coverage and state in
source_success_rates

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# Added at the end of the table, as the schema declares them.
_COLUMNS = (
    sa.Column(
        "coverage_field",
        sa.String(32),
        comment="the worst optional field: one below its minimum or dropped on as_of, "
        "else the least filled over the 7 days",
    ),
    sa.Column(
        "coverage_7d", sa.Float(), comment="share of the 7 days' accepted events with it filled"
    ),
    sa.Column(
        "coverage_state",
        sa.String(16),
        comment="below_minimum, dropped or ok on as_of (source_field_coverage); NULL: not judged",
    ),
)


def upgrade() -> None:
    for column in _COLUMNS:
        op.add_column("source_success_rates", column)


def downgrade() -> None:
    with op.batch_alter_table("source_success_rates") as batch:  # SQLite rebuilds the table
        for column in reversed(_COLUMNS):
            batch.drop_column(column.name)
