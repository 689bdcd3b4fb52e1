"""The one place failures are written: `record_failures`, an atomic upsert per group.

Every path (the per-event path of a scrape, the failure hook, the run-failure sensor)
calls `record_failures`. Each call is one transaction that
- claims (run_id, batch) in `failure_recordings`, so a batch is counted at most once
  whoever reports it and however often;
- upserts one row per failure group with INSERT .. ON CONFLICT DO UPDATE, adding counts
  and widening first/last seen inside the database, so concurrent writers lose nothing;
- merges the newest sample external_ids into the row it now holds locked;
- adds the occurrences to the group's per-day counts (`discovery_event_failure_days`);
- stores the batch's per-(source, stage) event counts, if it has any (`stage_run_counts`).

Groups are keyed under the normalizer's `GROUPING_VERSION`. When the rules change, the
first `record_failures` of a process re-keys the rows of older versions (`regroup`): each
row's example is normalized again, and rows that now share a key are merged (counts and
per-day counts added, first/last seen widened, samples merged), so an upgrade shows the
same problems under their new names instead of a flood of "new" groups.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from typing import Any
from weakref import WeakSet

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.base.normalize import GROUPING_VERSION, normalize_message
from failtrack_pipeline.db.engine import dialect_insert
from failtrack_pipeline.db.schema import discovery_event_failure_days as days_table
from failtrack_pipeline.db.schema import discovery_event_failures as failures_table
from failtrack_pipeline.db.schema import failure_recordings, stage_run_counts
from failtrack_pipeline.tracking.failures import (
    USER_NAMED,
    FailureRecord,
    StageCounts,
    fingerprint,
)
from failtrack_pipeline.tracking.triage import reopen_seen_resolved

SAMPLE_SIZE = 10
_ROWS_PER_STATEMENT = 500


@dataclass(slots=True)
class FailureGroup:
    """What one batch adds to one row of `discovery_event_failures`."""

    fingerprint: str
    source_id: str
    category: ErrorCategory
    message: str
    example: str
    count: int
    first_seen_at: datetime
    last_seen_at: datetime
    grouping_version: int
    stage: str
    samples: list[str] = field(default_factory=list)  # newest first, distinct
    days: Counter[date] = field(default_factory=Counter)  # occurrences per UTC day


@dataclass(frozen=True)
class RecordResult:
    recorded: bool  # False: this run's batch was counted before, nothing written
    failures: int
    groups: int


def group_failures(failures: Iterable[FailureRecord]) -> list[FailureGroup]:
    """Aggregate failures by fingerprint, in fingerprint order (a stable lock order)."""
    groups: dict[str, FailureGroup] = {}
    for failure in failures:
        key = failure.fingerprint
        group = groups.get(key)
        if group is None:
            group = groups[key] = FailureGroup(
                fingerprint=key,
                source_id=failure.source_id,
                category=failure.category,
                message=failure.message,
                example=failure.example,
                count=0,
                first_seen_at=failure.seen_at,
                last_seen_at=failure.seen_at,
                grouping_version=failure.grouping_version,
                stage=failure.stage,
            )
        group.count += 1
        group.days[failure.seen_at.astimezone(UTC).date()] += 1
        group.first_seen_at = min(group.first_seen_at, failure.seen_at)
        if failure.seen_at >= group.last_seen_at:
            group.last_seen_at = failure.seen_at
            group.example = failure.example
        if failure.external_id:
            group.samples = merge_samples([failure.external_id], group.samples)
    return [groups[key] for key in sorted(groups)]


def merge_samples(newer: Sequence[str], older: Sequence[str]) -> list[str]:
    """Newest first, each id once, at most SAMPLE_SIZE."""
    merged: list[str] = []
    for external_id in (*newer, *older):
        if external_id not in merged:
            merged.append(external_id)
            if len(merged) == SAMPLE_SIZE:
                break
    return merged


def record_failures(
    engine: sa.Engine,
    failures: Iterable[FailureRecord],
    *,
    run_id: str,
    batch: str,
    counts: Sequence[StageCounts] = (),
) -> RecordResult:
    """Count `failures` into their groups, and store `counts`, exactly once per (run_id, batch)."""
    failures = list(failures)
    groups = group_failures(failures)
    if engine not in _regrouped:
        regroup(engine)
    with engine.begin() as connection:
        if not claim_batch(connection, run_id, batch):
            return RecordResult(recorded=False, failures=len(failures), groups=len(groups))
        for start in range(0, len(groups), _ROWS_PER_STATEMENT):
            write_groups(connection, groups[start : start + _ROWS_PER_STATEMENT], run_id)
        _store_counts(connection, counts, run_id, batch)
    return RecordResult(recorded=True, failures=len(failures), groups=len(groups))


def write_groups(connection: sa.Connection, groups: list[FailureGroup], run_id: str) -> None:
    """Add `groups` to their rows, samples and per-day counts, and reopen any that regressed.

    Only inside a transaction whose batch is claimed: `record_failures` is the way in (and
    the benchmark's one-upsert-per-failure baseline, which calls this once per failure).
    """
    _upsert(connection, groups, run_id)
    days = [
        (g.fingerprint, day, g.source_id, g.stage, n)
        for g in groups
        for day, n in sorted(g.days.items())
    ]
    connection.execute(_statements(connection).add_days, {days_table.name: days})
    reopen_seen_resolved(connection, [(g.fingerprint, g.last_seen_at) for g in groups])


def claim_batch(connection: sa.Connection, run_id: str, batch: str) -> bool:
    """Enter (run_id, batch) in the ledger; False if it was counted before."""
    statement = (
        dialect_insert(connection, failure_recordings)
        .values(run_id=run_id, batch=batch, recorded_at=datetime.now(UTC))
        .on_conflict_do_nothing()
        .returning(failure_recordings.c.run_id)
    )
    return connection.execute(statement).first() is not None


def _store_counts(
    connection: sa.Connection, counts: Sequence[StageCounts], run_id: str, batch: str
) -> None:
    if counts:
        day = datetime.now(UTC).date()
        connection.execute(
            sa.insert(stage_run_counts),
            [
                {
                    "run_id": run_id,
                    "batch": batch,
                    "source_id": c.source_id,
                    "stage": c.stage,
                    "day": day,
                    "events_processed": c.processed,
                    "events_succeeded": c.succeeded,
                    "events_failed": c.failed,
                }
                for c in counts
            ],
        )


_GROUP_COLUMNS = (
    "fingerprint",
    "source_id",
    "error_category",
    "error_message",
    "example_message",
    "sample_external_ids",
    "occurrence_count",
    "first_seen_at",
    "last_seen_at",
    "last_run_id",
    "grouping_version",
    "stage",
)
_DAY_COLUMNS = ("fingerprint", "day", "source_id", "stage", "occurrences")


class _JSONRows(sa.TypeDecorator[Sequence[tuple[Any, ...]]]):
    """A chunk of rows bound as one parameter: a JSON array of rows, each value as its
    column's type binds it, which the database unpacks (`_rows_of`). Values of JSON
    columns come as their text, which the caller may need again (`_upsert` does).

    A statement run with one parameter set per row cost SQLAlchemy and the driver more per
    row than the database's work: on PostgreSQL psycopg parsed every multi-row VALUES that
    SQLAlchemy's "insertmanyvalues" rendered (too long for its cache), 67 µs per row, and
    dumps array parameters in Python. One JSON text is made and read in C.
    """

    impl = sa.Text
    cache_ok = True

    def __init__(self, types: tuple[sa.types.TypeEngine[Any], ...]) -> None:
        super().__init__()
        self.types = types

    def process_bind_param(
        self, value: Sequence[tuple[Any, ...]] | None, dialect: Dialect
    ) -> str | None:
        if value is None:
            return None
        processors = [
            None if isinstance(t, sa.JSON) else t.dialect_impl(dialect).bind_processor(dialect)
            for t in self.types
        ]
        convert = [(i, process) for i, process in enumerate(processors) if process is not None]
        rows = []
        for row in value:
            values = list(row)
            for i, process in convert:
                values[i] = process(values[i])
            rows.append(values)
        return json.dumps(rows, default=_isoformat)


def _isoformat(value: Any) -> str:
    if isinstance(value, date):  # on PostgreSQL, times and days bind as they are
        return value.isoformat()  # and its casts read them back from ISO text
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _rows_of(postgres: bool, table: sa.Table, columns: Sequence[str]) -> sa.Select[Any]:
    """The rows of the parameter named after `table` (`_JSONRows` of `columns`) as a SELECT."""
    types = tuple(table.c[name].type for name in columns)
    rows = sa.bindparam(table.name, type_=_JSONRows(types))
    values: list[sa.ColumnElement[Any]]
    if postgres:
        each = sa.func.json_array_elements(sa.cast(rows, postgresql.JSON)).table_valued(
            sa.column("value", postgresql.JSON)
        )
        # From text: strings without their length, as a cast to VARCHAR(n) would cut
        # silently where the column refuses a value too long.
        values = [
            sa.cast(each.c.value[i].astext, sa.Text() if isinstance(t, sa.String) else t)
            for i, t in enumerate(types)
        ]
    else:
        each = sa.func.json_each(rows).table_valued("value")
        values = [sa.func.json_extract(each.c.value, f"$[{i}]") for i in range(len(types))]
    # WHERE: SQLite would read the ON of ON CONFLICT as a join's otherwise.
    return sa.select(*values).where(sa.true())


@dataclass(frozen=True)
class _Statements:
    """The two upserts, built once per dialect (so SQLAlchemy compiles each once), each
    reading its chunk of rows from one parameter (`_JSONRows`)."""

    upsert_groups: Any
    add_days: Any


@cache
def _dialect_statements(postgres: bool) -> _Statements:
    greatest, least = (sa.func.greatest, sa.func.least) if postgres else (sa.func.max, sa.func.min)
    table = failures_table
    insert = (
        (postgresql if postgres else sqlite)
        .insert(table)
        .from_select(_GROUP_COLUMNS, _rows_of(postgres, table, _GROUP_COLUMNS))
    )
    newer = insert.excluded.last_seen_at >= table.c.last_seen_at
    upsert_groups = insert.on_conflict_do_update(
        index_elements=[table.c.fingerprint],
        set_={
            "occurrence_count": table.c.occurrence_count + insert.excluded.occurrence_count,
            "first_seen_at": least(table.c.first_seen_at, insert.excluded.first_seen_at),
            "last_seen_at": greatest(table.c.last_seen_at, insert.excluded.last_seen_at),
            "example_message": sa.case(
                (newer, insert.excluded.example_message), else_=table.c.example_message
            ),
            "last_run_id": sa.case((newer, insert.excluded.last_run_id), else_=table.c.last_run_id),
        },
    ).returning(table.c.id, table.c.fingerprint, sa.cast(table.c.sample_external_ids, sa.Text))
    add = (
        (postgresql if postgres else sqlite)
        .insert(days_table)
        .from_select(_DAY_COLUMNS, _rows_of(postgres, days_table, _DAY_COLUMNS))
    )
    add_days = add.on_conflict_do_update(
        index_elements=[days_table.c.fingerprint, days_table.c.day],
        set_={"occurrences": days_table.c.occurrences + add.excluded.occurrences},
    )
    return _Statements(upsert_groups=upsert_groups, add_days=add_days)


def _statements(connection: sa.Connection) -> _Statements:
    return _dialect_statements(connection.dialect.name == "postgresql")


def _upsert(connection: sa.Connection, groups: list[FailureGroup], run_id: str) -> None:
    """Upsert the groups' rows; then merge samples into the rows that existed, which the
    upsert holds locked. A new row is inserted with its samples, and RETURNING gives back
    their JSON text unchanged (SQLite and PostgreSQL's `json` keep it as written): nothing
    to parse or merge, so only rows seen before are parsed and written twice."""
    samples = [json.dumps(group.samples) for group in groups]
    rows = [
        (
            group.fingerprint,
            group.source_id,
            group.category.value,
            group.message,
            group.example,
            text,
            group.count,
            group.first_seen_at,
            group.last_seen_at,
            run_id,
            group.grouping_version,
            group.stage,
        )
        for group, text in zip(groups, samples, strict=True)
    ]
    stored = connection.execute(_statements(connection).upsert_groups, {failures_table.name: rows})
    ours = {group.fingerprint: (group, text) for group, text in zip(groups, samples, strict=True)}
    updates = []
    for row_id, key, text in stored:
        group, written = ours[key]
        if text != written:
            older = json.loads(text)
            merged = merge_samples(group.samples, older)
            if merged != older:
                updates.append({"row_id": row_id, "samples": merged})
    _set_samples(connection, updates)


def _set_samples(connection: sa.Connection, updates: list[dict[str, Any]]) -> None:
    """Write `{"row_id", "samples"}` pairs; the caller holds the rows locked."""
    if updates:
        connection.execute(
            sa.update(failures_table)
            .where(failures_table.c.id == sa.bindparam("row_id"))
            .values(sample_external_ids=sa.bindparam("samples", type_=sa.JSON())),
            updates,
        )


def forget_fixed_samples(engine: sa.Engine, source_id: str, external_ids: Iterable[str]) -> int:
    """Drop events that now succeed from the samples of `source_id`'s groups.

    A retried event that works is no longer an example of what is broken; its past
    occurrences stay counted. Returns how many groups changed.
    """
    fixed = set(external_ids)
    if not fixed:
        return 0
    table = failures_table
    with engine.begin() as connection:
        rows = connection.execute(
            sa.select(table.c.id, table.c.sample_external_ids)
            .where(table.c.source_id == source_id)
            .with_for_update()
        ).all()
        updates = [
            {"row_id": row_id, "samples": [i for i in samples if i not in fixed]}
            for row_id, samples in rows
            if fixed.intersection(samples)
        ]
        _set_samples(connection, updates)
    return len(updates)


def group_samples(engine: sa.Engine, group_id: int) -> tuple[str, list[str]] | None:
    """(source_id, sample_external_ids) of one failure group; None if there is none."""
    table = failures_table
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(table.c.source_id, table.c.sample_external_ids).where(table.c.id == group_id)
        ).first()
    return None if row is None else (row.source_id, list(row.sample_external_ids))


# Engines whose groups are known to be keyed under GROUPING_VERSION in this process.
_regrouped: WeakSet[sa.Engine] = WeakSet()


def regroup(engine: sa.Engine) -> int:
    """Re-key the groups recorded under older grouping rules; returns how many rows moved.

    One transaction, rows locked: a concurrent writer waits, then finds nothing to do.
    The category stays as recorded (the error itself is gone); the message is the stored
    example normalized by today's rules. Groups a user rule named (`group_as`) stay as named.
    """
    table = failures_table
    with engine.begin() as connection:
        old = connection.execute(
            sa.select(table)
            .where(table.c.grouping_version.not_in([GROUPING_VERSION, USER_NAMED]))
            .order_by(table.c.id)
            .with_for_update()
        ).all()
        for row in old:
            category = ErrorCategory(row.error_category)
            message = normalize_message(row.example_message)
            key = fingerprint(row.source_id, category, message, stage=row.stage)
            target = connection.execute(
                sa.select(table).where(table.c.fingerprint == key).with_for_update()
            ).first()
            if target is None:
                connection.execute(
                    sa.update(table)
                    .where(table.c.id == row.id)
                    .values(
                        fingerprint=key, error_message=message, grouping_version=GROUPING_VERSION
                    )
                )
            else:
                _merge_into(connection, target, row)
            _move_days(connection, row.fingerprint, key)
    _regrouped.add(engine)
    return len(old)


def _merge_into(connection: sa.Connection, target: sa.Row, row: sa.Row) -> None:
    """Add `row`'s counts, times and samples to `target`, then delete `row`."""
    newer = row if row.last_seen_at > target.last_seen_at else target
    older = target if newer is row else row
    connection.execute(
        sa.update(failures_table)
        .where(failures_table.c.id == target.id)
        .values(
            occurrence_count=target.occurrence_count + row.occurrence_count,
            first_seen_at=min(target.first_seen_at, row.first_seen_at),
            last_seen_at=newer.last_seen_at,
            example_message=newer.example_message,
            last_run_id=newer.last_run_id,
            sample_external_ids=merge_samples(newer.sample_external_ids, older.sample_external_ids),
            grouping_version=GROUPING_VERSION,
        )
    )
    connection.execute(sa.delete(failures_table).where(failures_table.c.id == row.id))


def _move_days(connection: sa.Connection, old_key: str, new_key: str) -> None:
    """Per-day counts follow their group; a day both keys have is added up."""
    if old_key == new_key:
        return
    days = connection.execute(
        sa.select(days_table).where(days_table.c.fingerprint == old_key)
    ).all()
    connection.execute(sa.delete(days_table).where(days_table.c.fingerprint == old_key))
    if days:
        insert = dialect_insert(connection, days_table)
        connection.execute(
            insert.values(
                [
                    {
                        "fingerprint": new_key,
                        "day": day.day,
                        "source_id": day.source_id,
                        "stage": day.stage,
                        "occurrences": day.occurrences,
                    }
                    for day in days
                ]
            ).on_conflict_do_update(
                index_elements=[days_table.c.fingerprint, days_table.c.day],
                set_={"occurrences": days_table.c.occurrences + insert.excluded.occurrences},
            )
        )
