"""Retention: forget failure groups not seen for longer than the retention period.

Deletes run in bounded batches (no long lock on a large backlog), and each DELETE states
the cut-off again in its own WHERE clause: a group that a concurrent scrape refreshes
while pruning runs is re-checked by the database and survives.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from failtrack_pipeline.config.policies import RetentionPolicy
from failtrack_pipeline.db.schema import discovery_event_failure_days as days_table
from failtrack_pipeline.db.schema import discovery_event_failures as failures_table
from failtrack_pipeline.db.schema import failure_recordings, notifications, stage_run_counts


@dataclass(frozen=True)
class PruneResult:
    """What was (or, on a dry run, would be) removed."""

    failure_groups: int
    failure_days: int
    recordings: int
    notifications: int  # sent ones; an unsent notification is never pruned
    stage_counts: int  # tracked steps' per-run counts (`stage_run_counts`)
    batches: int
    dry_run: bool


def prune_failures(
    engine: sa.Engine,
    *,
    cutoff: datetime,
    batch_size: int = RetentionPolicy().batch_size,
    dry_run: bool = False,
) -> PruneResult:
    """Delete groups last seen before `cutoff`, their daily counts, old ledger entries,
    notifications sent before it and tracked steps' counts of the days before it."""
    targets: list[tuple[sa.Table, sa.ColumnElement[bool], list[sa.Column]]] = [
        (failures_table, failures_table.c.last_seen_at < cutoff, [failures_table.c.id]),
        (
            days_table,
            days_table.c.day < cutoff.date(),
            [days_table.c.group_id, days_table.c.day],
        ),
        (
            failure_recordings,
            failure_recordings.c.recorded_at < cutoff,
            [failure_recordings.c.run_id, failure_recordings.c.batch],
        ),
        (notifications, notifications.c.sent_at < cutoff, [notifications.c.id]),
        (
            stage_run_counts,
            stage_run_counts.c.day < cutoff.date(),
            [stage_run_counts.c.run_id, stage_run_counts.c.batch],
        ),
    ]
    counts, batches = [], 0
    for table, expired, key in targets:
        if dry_run:
            with engine.connect() as connection:
                query = sa.select(sa.func.count()).select_from(table).where(expired)
                counts.append(connection.execute(query).scalar_one())
            continue
        removed, batch_count = _delete_in_batches(engine, table, expired, key, batch_size)
        counts.append(removed)
        batches += batch_count
    return PruneResult(*counts, batches=batches, dry_run=dry_run)


def _delete_in_batches(
    engine: sa.Engine,
    table: sa.Table,
    expired: sa.ColumnElement[bool],
    key: list[sa.Column],
    batch_size: int = RetentionPolicy().batch_size,
) -> tuple[int, int]:
    removed = batches = 0
    while True:
        batch = sa.select(*key).where(expired).order_by(*key).limit(batch_size)
        with engine.begin() as connection:
            chosen = connection.execute(batch).all()
            if not chosen:
                return removed, batches
            in_batch = (
                sa.tuple_(*key).in_(chosen)
                if len(key) > 1
                else key[0].in_([row[0] for row in chosen])
            )
            deleted = connection.execute(sa.delete(table).where(in_batch, expired)).rowcount
        removed += deleted
        batches += 1
        if len(chosen) < batch_size:
            return removed, batches
