"""failure days by group id: discovery_event_failure_days keyed by (group_id, day)

A batch of new groups then appends to the key's index (ids grow) where their random
fingerprints touched a page each, which every commit wrote again. `fingerprint` stays, for
readers. Day rows whose group is gone (pruned before them) have no id and are dropped:
no reader could join them to a group.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TABLE = "discovery_event_failure_days"
OLD = f"{TABLE}_old"
INDEX = "ix_failure_days_day_source"
SCRAPE = "scrape"
# Frozen: the types as this revision creates them, never imported from the live schema.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _rebuild(key: tuple[str, ...], id_column: sa.Column | None, copy: str) -> None:
    """Rename the table aside, create it anew keyed by `key`, fill it by `copy` (SQL
    reading the old table as `d` and the groups as `g`), drop the old one."""
    op.drop_index(INDEX, table_name=TABLE)
    op.rename_table(TABLE, OLD)
    if op.get_bind().dialect.name == "postgresql":  # the new key takes the old one's name
        op.execute(f"ALTER INDEX {TABLE}_pkey RENAME TO {OLD}_pkey")
    columns = [
        *([id_column] if id_column is not None else []),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("source_id", sa.String(64), nullable=False),
        sa.Column("occurrences", sa.BigInteger(), nullable=False),
        sa.Column("stage", sa.String(64), nullable=False, server_default=SCRAPE),
    ]
    op.create_table(TABLE, *columns, sa.PrimaryKeyConstraint(*key, name=f"{TABLE}_pkey"))
    names = ", ".join(column.name for column in columns)
    op.execute(f"INSERT INTO {TABLE} ({names}) {copy}")
    op.drop_table(OLD)
    op.create_index(INDEX, TABLE, ["day", "source_id"])


def upgrade() -> None:
    _rebuild(
        ("group_id", "day"),
        sa.Column("group_id", BigId, nullable=False, autoincrement=False),
        f"SELECT g.id, d.fingerprint, d.day, d.source_id, d.occurrences, d.stage FROM {OLD} d "
        "JOIN discovery_event_failures g ON g.fingerprint = d.fingerprint",
    )


def downgrade() -> None:
    _rebuild(
        ("fingerprint", "day"),
        None,
        f"SELECT d.fingerprint, d.day, d.source_id, d.occurrences, d.stage FROM {OLD} d",
    )
