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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import chain
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
from failtrack_pipeline.tracking.triage import reopen_resolved, with_resolved

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
    days: dict[date, int] = field(default_factory=dict)  # occurrences per UTC day


@dataclass(frozen=True)
class RecordResult:
    recorded: bool  # False: this run's batch was counted before, nothing written
    failures: int
    groups: int


def group_failures(failures: Iterable[FailureRecord]) -> list[FailureGroup]:
    """Aggregate failures by fingerprint, in fingerprint order (a stable lock order).

    A group's first failure makes it whole (nothing to compare or merge yet): with every
    failure a group of its own, that is all the work there is."""
    groups: dict[str, FailureGroup] = {}
    for failure in failures:
        key = failure.fingerprint
        seen_at = failure.seen_at
        day = seen_at.astimezone(UTC).date()
        group = groups.get(key)
        if group is None:
            groups[key] = FailureGroup(
                fingerprint=key,
                source_id=failure.source_id,
                category=failure.category,
                message=failure.message,
                example=failure.example,
                count=1,
                first_seen_at=seen_at,
                last_seen_at=seen_at,
                grouping_version=failure.grouping_version,
                stage=failure.stage,
                samples=[failure.external_id] if failure.external_id else [],
                days={day: 1},
            )
            continue
        group.count += 1
        group.days[day] = group.days.get(day, 0) + 1
        group.first_seen_at = min(group.first_seen_at, seen_at)
        if seen_at >= group.last_seen_at:
            group.last_seen_at = seen_at
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
    days = [
        (g.fingerprint, day, g.source_id, n, g.stage)
        for g in groups
        for day, n in sorted(g.days.items())
    ]
    resolved = _upsert(connection, _writer(connection), groups, days, run_id)
    reopen_resolved(connection, [(g.fingerprint, g.last_seen_at) for g in resolved])


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


# In each table's column order: the order of the parameters of a driver INSERT (SQLite).
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
_DAY_COLUMNS = ("group_id", "fingerprint", "day", "source_id", "occurrences", "stage")
# A per-day row as the writers are given it: its group's id is the database's to give.
_DAY_GIVEN = _DAY_COLUMNS[1:]


_Binder = Callable[[list[tuple[Any, ...]]], Any]


def _binder(
    types: Sequence[sa.types.TypeEngine[Any]], dialect: Dialect, *, as_text: bool = False
) -> _Binder:
    """Rows of values as the columns of `types` bind them (a naive time raises ValueError).
    Values of JSON columns are taken as their JSON text already. `as_text`: times and days
    then as ISO text, for JSON, which has none (PostgreSQL's casts read them back)."""
    processors = [_processor(t, dialect, as_text) for t in types]
    convert = [(i, process) for i, process in enumerate(processors) if process is not None]

    def bind(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        bound = []
        for row in rows:
            values = list(row)
            for i, process in convert:
                values[i] = process(values[i])
            bound.append(tuple(values))
        return bound

    return bind


def _processor(
    type_: sa.types.TypeEngine[Any], dialect: Dialect, as_text: bool
) -> Callable[[Any], Any] | None:
    if isinstance(type_, sa.JSON):
        return None
    process = type_.dialect_impl(dialect).bind_processor(dialect)
    stored = type_.impl_instance if isinstance(type_, sa.TypeDecorator) else type_
    if not (as_text and isinstance(stored, sa.Date | sa.DateTime)):
        return process
    if process is None:
        return _isoformat
    return lambda value: _isoformat(process(value))


def _isoformat(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _json_binder(types: Sequence[sa.types.TypeEngine[Any]], dialect: Dialect) -> _Binder:
    """Rows as one JSON text (an array of rows), each value as its column binds it."""
    bind = _binder(types, dialect, as_text=True)
    return lambda rows: json.dumps(bind(rows))


def _json_rows(table: sa.Table, columns: Sequence[str]) -> sa.Select[Any]:
    """The rows of the parameter named after `table` (`_json_binder` of `columns`) as a
    SELECT. `jsonb`: parsed once, where `json` would be parsed again for each column read."""
    each = sa.func.jsonb_array_elements(
        sa.cast(sa.bindparam(table.name, type_=sa.Text), postgresql.JSONB)
    ).table_valued(sa.column("value", postgresql.JSONB))
    # From text: strings without their length, as a cast to VARCHAR(n) would cut
    # silently where the column refuses a value too long.
    types = [table.c[name].type for name in columns]
    return sa.select(
        *(
            sa.cast(each.c.value[i].astext, sa.Text() if isinstance(t, sa.String) else t).label(
                name
            )
            for i, (name, t) in enumerate(zip(columns, types, strict=True))
        )
    )


def _upsert_groups(insert: Any) -> Any:
    """`insert` (of group rows) as the upsert that adds them to the rows they already have,
    RETURNING each row's id, key and samples as text."""
    table = failures_table
    newer = insert.excluded.last_seen_at >= table.c.last_seen_at
    greatest, least = (
        (sa.func.greatest, sa.func.least)
        if isinstance(insert, postgresql.Insert)
        else (sa.func.max, sa.func.min)
    )
    return insert.on_conflict_do_update(
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
    ).returning(
        table.c.id,
        table.c.fingerprint,
        sa.cast(table.c.sample_external_ids, sa.Text).label("samples"),
    )


def _add_days(insert: Any) -> Any:
    """`insert` (of per-day rows) as the upsert that adds them to the days' counts."""
    return insert.on_conflict_do_update(
        index_elements=[days_table.c.group_id, days_table.c.day],
        set_={"occurrences": days_table.c.occurrences + insert.excluded.occurrences},
    )


@dataclass(frozen=True)
class _Compiled:
    """A statement compiled once, run by the driver with values bound by a `_Binder`.

    SQLAlchemy 2.0 caches no ON CONFLICT statement (its dialects give them no cache key):
    it compiled each chunk's upsert anew, 0.7 ms on SQLite and 2 ms on PostgreSQL."""

    sql: str
    params: dict[str, Any]  # the values it binds itself (named parameters)
    positions: tuple[str, ...]  # the order of its parameters (positional ones)

    @classmethod
    def of(cls, statement: Any, dialect: Dialect, columns: Sequence[str] = ()) -> _Compiled:
        """`statement`, inserting `columns` if it is an INSERT of VALUES."""
        compiled = statement.compile(dialect=dialect, column_keys=list(columns) or None)
        return cls(compiled.string, dict(compiled.params), tuple(compiled.positiontup or ()))

    def run(
        self, connection: sa.Connection, bind: _Binder, rows: list[tuple[Any, ...]]
    ) -> sa.CursorResult[Any]:
        """Run with the parameter sets `bind` makes of `rows` (executemany, if several)."""
        return connection.exec_driver_sql(self.sql, self._bound(bind, rows))

    def run_named(
        self, connection: sa.Connection, values: dict[str, tuple[_Binder, list[tuple[Any, ...]]]]
    ) -> sa.CursorResult[Any]:
        """Run with each named parameter the one value its binder makes of its rows."""
        bound = {name: self._bound(bind, rows) for name, (bind, rows) in values.items()}
        return connection.exec_driver_sql(self.sql, {**self.params, **bound})

    def _bound(self, bind: _Binder, rows: list[tuple[Any, ...]]) -> Any:
        """`bind(rows)`; a value a column refuses raises the StatementError SQLAlchemy
        would (see `write_refusal`)."""
        try:
            return bind(rows)
        except (ValueError, TypeError) as error:
            kind = f"{type(error).__module__}.{type(error).__name__}"
            raise sa.exc.StatementError(f"({kind}) {error}", self.sql, None, error) from error


class _Writer:
    """How a dialect writes a chunk of group rows and of per-day rows (tuples in
    `_GROUP_COLUMNS` and `_DAY_GIVEN` order); built once per dialect."""

    def write(
        self,
        connection: sa.Connection,
        rows: list[tuple[Any, ...]],
        days: list[tuple[Any, ...]],
    ) -> tuple[Sequence[Any], set[str]]:
        """Run `_upsert_groups` of `rows` and `_add_days` of `days` (under their groups'
        ids): the upsert's RETURNING rows, and the keys of the groups resolved."""
        raise NotImplementedError


class _JSONWriter(_Writer):
    """PostgreSQL: a chunk's group rows and per-day rows are two JSON parameters
    (`_json_binder`) of one statement, which upserts the groups, adds the days under the
    ids the upsert returns, and joins the groups to their triage.

    A statement run with one parameter set per row cost SQLAlchemy and the driver more per
    row than the database's work: psycopg parsed every multi-row VALUES that SQLAlchemy's
    "insertmanyvalues" rendered (too long for its cache), 67 µs per row, and dumps array
    parameters in Python. One JSON text is made and read in C.
    """

    def __init__(self, dialect: Dialect) -> None:
        upserted = _upsert_groups(
            postgresql.insert(failures_table).from_select(
                _GROUP_COLUMNS, _json_rows(failures_table, _GROUP_COLUMNS)
            )
        ).cte("upserted")
        given = _json_rows(days_table, _DAY_GIVEN).subquery("given")
        added = _add_days(
            postgresql.insert(days_table).from_select(
                _DAY_COLUMNS,
                sa.select(upserted.c.id, *given.c).join_from(
                    given, upserted, upserted.c.fingerprint == given.c.fingerprint
                ),
            )
        ).cte("added")
        joined, resolved = with_resolved(upserted, upserted.c.fingerprint)
        self._write = _Compiled.of(
            sa.select(*upserted.c, resolved.label("resolved")).select_from(joined).add_cte(added),
            dialect,
        )
        self._bind_groups = _json_binder(
            [failures_table.c[n].type for n in _GROUP_COLUMNS], dialect
        )
        self._bind_days = _json_binder([days_table.c[n].type for n in _DAY_GIVEN], dialect)

    def write(
        self,
        connection: sa.Connection,
        rows: list[tuple[Any, ...]],
        days: list[tuple[Any, ...]],
    ) -> tuple[Sequence[Any], set[str]]:
        stored = self._write.run_named(
            connection,
            {
                failures_table.name: (self._bind_groups, rows),
                days_table.name: (self._bind_days, days),
            },
        ).all()
        return stored, {row.fingerprint for row in stored if row.resolved}


class _ValuesWriter(_Writer):
    """SQLite: a chunk's group rows as the VALUES of one upsert, bound by the driver.

    SQLite 3.40 parses a JSON text anew for each value read from it, which cost 6 µs per
    row (12 columns); staging the rows in a temporary table by the driver's executemany
    wrote each row twice. A VALUES list of the chunk's length is made by repeating one
    row's placeholders (the driver keeps the statements it prepared); the per-day rows
    then go, under the ids RETURNING gave back, through the driver's executemany, and the
    groups' triage is read for those keys.
    """

    def __init__(self, dialect: Dialect) -> None:
        upsert = _Compiled.of(
            _upsert_groups(sqlite.insert(failures_table)), dialect, _GROUP_COLUMNS
        )
        self._row = "(" + ", ".join("?" * len(_GROUP_COLUMNS)) + ")"
        head, found, self._tail = upsert.sql.partition(f"VALUES {self._row}")
        self._head = head + "VALUES "
        bind = _binder([failures_table.c[n].type for n in _GROUP_COLUMNS], dialect)
        # One parameter set: the rows' values one after another.
        self._bind_flat: _Binder = lambda rows: [tuple(chain.from_iterable(bind(rows)))]
        keys = sa.func.json_each(sa.bindparam("keys", type_=sa.Text)).table_valued("value")
        joined, resolved = with_resolved(keys, keys.c.value)
        self._resolved = sa.select(keys.c.value).select_from(joined).where(resolved)
        self._days = _Compiled.of(_add_days(sqlite.insert(days_table)), dialect, _DAY_COLUMNS)
        self._bind_days = _binder([days_table.c[name].type for name in _DAY_COLUMNS], dialect)
        for compiled, columns in ((upsert, _GROUP_COLUMNS), (self._days, _DAY_COLUMNS)):
            if compiled.positions != columns:
                raise ValueError(f"{compiled.sql} binds {compiled.positions}, not {columns}")
        if not found or f"VALUES {self._row}" in self._tail:
            raise ValueError(f"{upsert.sql} has no one VALUES row to repeat")

    def write(
        self,
        connection: sa.Connection,
        rows: list[tuple[Any, ...]],
        days: list[tuple[Any, ...]],
    ) -> tuple[Sequence[Any], set[str]]:
        sql = self._head + ", ".join([self._row] * len(rows)) + self._tail
        stored = _Compiled(sql, {}, ()).run(connection, self._bind_flat, rows).all()
        ids = {key: row_id for row_id, key, *_ in stored}
        self._days.run(connection, self._bind_days, [(ids[day[0]], *day) for day in days])
        keys = _json_strings(list(ids))
        return stored, set(connection.execute(self._resolved, {"keys": keys}).scalars())


# One writer per dialect class: compiled by the first connection of its kind.
_writers: dict[type[Dialect], _Writer] = {}


def _writer(connection: sa.Connection) -> _Writer:
    dialect = connection.dialect
    writer = _writers.get(type(dialect))
    if writer is None:
        make = _JSONWriter if dialect.name == "postgresql" else _ValuesWriter
        writer = _writers[type(dialect)] = make(dialect)
    return writer


def _upsert(
    connection: sa.Connection,
    writer: _Writer,
    groups: list[FailureGroup],
    days: list[tuple[Any, ...]],
    run_id: str,
) -> list[FailureGroup]:
    """Upsert the groups' rows and add their `days`; then merge samples into the rows that
    existed, which the upsert holds locked. A new row is inserted with its samples, and
    RETURNING gives back their JSON text unchanged (SQLite and PostgreSQL's `json` keep it
    as written): nothing to parse or merge, so only rows seen before are parsed and
    written twice.

    Returns the groups that are resolved, in key order: to reopen."""
    samples = [_json_strings(group.samples) for group in groups]
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
    stored, resolved = writer.write(connection, rows, days)
    ours = {group.fingerprint: (group, text) for group, text in zip(groups, samples, strict=True)}
    updates = []
    for row_id, key, text, *_ in stored:
        group, written = ours[key]
        if text != written:
            older = json.loads(text)
            merged = merge_samples(group.samples, older)
            if merged != older:
                updates.append({"row_id": row_id, "samples": merged})
    _set_samples(connection, updates)
    return [group for group in groups if group.fingerprint in resolved] if resolved else []


def _json_strings(strings: list[str]) -> str:
    """`json.dumps(strings)` in half the time: each string encoded alone, so no encoder
    for the whole list is made (json.dumps makes one per call)."""
    return "[" + ", ".join(map(json.dumps, strings)) + "]"


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
            _move_days(connection, row.id, row.id if target is None else target.id, key)
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


def _move_days(connection: sa.Connection, row_id: int, target_id: int, key: str) -> None:
    """Per-day counts follow their group (row `row_id` is now `target_id`, keyed `key`);
    a day both rows have is added up."""
    days = days_table.c
    if row_id == target_id:
        connection.execute(
            sa.update(days_table).where(days.group_id == row_id).values(fingerprint=key)
        )
        return
    moved = connection.execute(sa.select(days_table).where(days.group_id == row_id)).all()
    connection.execute(sa.delete(days_table).where(days.group_id == row_id))
    if moved:
        insert = dialect_insert(connection, days_table)
        connection.execute(
            _add_days(
                insert.values(
                    [
                        {
                            "group_id": target_id,
                            "fingerprint": key,
                            "day": day.day,
                            "source_id": day.source_id,
                            "stage": day.stage,
                            "occurrences": day.occurrences,
                        }
                        for day in moved
                    ]
                )
            )
        )
