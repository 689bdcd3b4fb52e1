"""One scrape of one source, free of Dagster: read, validate, store events, track failures.

This is where every event's outcome is gathered: valid events are upserted in chunks,
skips are counted by reason, failures are described once and recorded in bounded batches
through `record_failures` (or, while the database is down, the spool). A run that reads
without error is then judged against its source's baseline: a silent failure is recorded
as one more failure, in its own batch.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import fields
from datetime import UTC, datetime
from itertools import repeat
from typing import Any, Final

import sqlalchemy as sa

from failtrack_pipeline.base.categorize import MessageRule
from failtrack_pipeline.base.errors import EventError
from failtrack_pipeline.base.events import Event
from failtrack_pipeline.config.sources_file import SourceConfig
from failtrack_pipeline.db.engine import dialect_insert
from failtrack_pipeline.db.schema import UTCDateTime
from failtrack_pipeline.db.schema import events as events_table
from failtrack_pipeline.processing.skips import Skip
from failtrack_pipeline.processing.validate import process_records
from failtrack_pipeline.sources.readers import read_records
from failtrack_pipeline.tracking.coverage import FieldCoverage, record_coverage
from failtrack_pipeline.tracking.failures import FailureRecord, describe_failure
from failtrack_pipeline.tracking.outcome import RunOutcome
from failtrack_pipeline.tracking.silent import YieldBaseline
from failtrack_pipeline.tracking.spool import FailureRecorder, Recording

EVENTS_PER_STATEMENT = 1_000
FAILURES_PER_BATCH = 5_000
SILENT_FAILURE_BATCH = "silent"


class SourceScrape:
    """Scrape `source` once as run `run_id`; `outcome` holds the counts even if it raises.

    Whatever was gathered before an error (a feed that breaks off half way) is still
    written before the error propagates, so nothing already seen is lost.
    """

    def __init__(
        self,
        source: SourceConfig,
        engine: sa.Engine,
        *,
        run_id: str,
        now: datetime | None = None,
        rules: Sequence[MessageRule] | None = None,
        only: Collection[str] | None = None,
        baseline: YieldBaseline | None = None,
        recorder: FailureRecorder | None = None,
        attempt: int = 0,
    ) -> None:
        """`only` limits the run to these external_ids (a retry); the rest of the feed is
        still read and validated, so duplicates are judged as in a full scrape. With a
        `baseline`, a run that reads without error is judged for a silent failure.
        `now` is the moment events are judged at (what has ended, what lies implausibly far
        away); failures and events are stamped with the real time they were seen, always,
        so that one table never mixes two clocks. Failures go through `recorder` (default:
        straight into `engine`'s tables), in batches named after the step `attempt`, so a
        retried step counts afresh."""
        self.source = source
        self.engine = engine
        self.run_id = run_id
        self.now = now or datetime.now(UTC)
        self.rules = rules
        self.baseline = baseline
        self.recorder = recorder or FailureRecorder(lambda: engine)
        self.attempt = attempt
        self.outcome = RunOutcome(source.id)
        self.coverage = FieldCoverage()
        self.only = None if only is None else frozenset(only)
        self.seen_ids: set[str] = set()  # of `only`, those the feed still has
        self.succeeded_ids: set[str] = set()  # of `only`, those that are events now
        self._events: dict[str, Event] = {}
        self._failures: list[FailureRecord] = []
        self._batches = 0
        self._batch: str | None = None  # the name of `_failures` once they were first flushed
        self.dead_lettered = 0  # failures the database refused for their content (kept aside)

    def run(self) -> RunOutcome:
        try:
            records = read_records(self.source, now=self.now)
            for item in process_records(records, self.source, now=self.now):
                if self.only is not None:
                    if item.external_id not in self.only:
                        continue
                    self.seen_ids.add(item.external_id)
                if isinstance(item, EventError):
                    self._fail(item)
                elif isinstance(item, Skip):
                    self.outcome.add_skip(item.reason)
                else:
                    self._succeed(item)
            self._judge_yield()
            self._flush_events()  # the last batch, so that coverage has counted every event
            if self.only is None:  # a retry of a few events says nothing about coverage
                record_coverage(
                    self.engine,
                    self.coverage,
                    run_id=self.run_id,
                    source_id=self.source.id,
                    ended_at=datetime.now(UTC),
                )
        finally:
            try:
                self._flush_events()
            finally:  # failures are kept even when the events cannot be stored
                self._flush_failures()
        return self.outcome

    def _succeed(self, event: Event) -> None:
        self.outcome.add_success()
        if self.only is not None:
            self.succeeded_ids.add(event.external_id)
        self._events[event.external_id] = event
        if len(self._events) >= EVENTS_PER_STATEMENT:
            self._flush_events()

    def _fail(self, error: EventError) -> None:
        failure = describe_failure(
            self.source.id, error, seen_at=datetime.now(UTC), rules=self.rules
        )
        self.outcome.add_failure(failure)
        self._failures.append(failure)
        if len(self._failures) >= FAILURES_PER_BATCH:
            self._flush_failures()

    def _judge_yield(self) -> None:
        if self.baseline is None:
            return
        silent = self.baseline.judge(self.outcome.processed)
        if silent is None:
            return
        self._flush_failures()  # the events' failures keep their own batches
        failure = describe_failure(
            self.source.id, silent, seen_at=datetime.now(UTC), rules=self.rules
        )
        self.outcome.silent_failure = failure
        self._failures.append(failure)
        self._flush_failures(SILENT_FAILURE_BATCH)

    def _flush_events(self) -> None:
        if self._events:
            events = list(self._events.values())
            self.coverage.add(events)  # counted a batch at a time, as stored
            upsert_events(
                self.engine,
                events,
                run_id=self.run_id,
                now=datetime.now(UTC),
            )
            self._events.clear()

    def _flush_failures(self, batch: str | None = None) -> None:
        """Record the gathered failures as one batch, named once: if recording raises (even
        after its commit), the same failures are retried under the same name, which the
        ledger counts once, never under the next name."""
        if not self._failures:
            return
        if self._batch is None:
            self._batches += 1
            name = batch or f"events-{self._batches:05d}"
            self._batch = f"attempt-{self.attempt}/{name}" if self.attempt else name
        recording = self.recorder.record(self._failures, run_id=self.run_id, batch=self._batch)
        if recording is Recording.DEAD_LETTERED:
            self.dead_lettered += len(self._failures)
        self._failures.clear()
        self._batch = None


def upsert_events(
    engine: sa.Engine, events: Sequence[Event], *, run_id: str, now: datetime
) -> None:
    """Insert or refresh events keyed by (source_id, external_id); first_seen_at is kept.

    The rows go to the driver's own executemany as tuples, converted by the columns' types
    once per value: SQLAlchemy's per-row parameter handling cost more than the database.
    """
    if not events:
        return
    with engine.begin() as connection:
        upsert = _events_upsert(connection.dialect)
        connection.exec_driver_sql(upsert.statement, upsert.rows(events, now, run_id))


class _EventsUpsert:
    """The events upsert compiled once for a dialect, with positional parameters in the
    table's column order, and the bind conversions its column types need there."""

    def __init__(self, dialect: sa.Dialect) -> None:
        insert = dialect_insert(dialect, events_table)
        statement = insert.on_conflict_do_update(
            index_elements=[events_table.c.source_id, events_table.c.external_id],
            set_={
                column.name: insert.excluded[column.name]
                for column in events_table.columns
                if column.name not in ("source_id", "external_id", "first_seen_at")
            },
        )
        dialect_class: Any = type(dialect)
        positional = dialect if dialect.positional else dialect_class(paramstyle="format")
        compiled = statement.compile(dialect=positional)
        names = [column.name for column in events_table.columns]
        assert compiled.positiontup == names, compiled.positiontup
        self.statement = str(compiled)
        columns = list(events_table.columns)
        processors = [
            column.type.dialect_impl(dialect).bind_processor(dialect) for column in columns
        ]
        self._convert: list[tuple[int, Callable[[Any], Any]]] = []
        for index, column in enumerate(columns[: len(_EVENT_FIELDS)]):
            process = processors[index]
            if process is not None:
                keeps = _REMEMBERED.get(type(column.type))
                self._convert.append((index, _remembered(process, keeps) if keeps else process))
        stamp = processors[names.index("first_seen_at")]
        assert stamp is not None  # UTCDateTime converts on every dialect
        self.stamp: Callable[[datetime], Any] = stamp

    def rows(self, events: Sequence[Event], now: datetime, run_id: str) -> list[tuple[Any, ...]]:
        """The events' rows, converted a column at a time: the loops run in C (map, zip),
        which a Python function per row cost more than the conversions."""
        columns: list[Iterable[Any]] = [list(map(get, events)) for get in _EVENT_GETTERS]
        for index, process in self._convert:
            columns[index] = map(process, columns[index])
        stamp = self.stamp(now)
        return list(zip(*columns, repeat(stamp), repeat(stamp), repeat(run_id)))


def _remembered(
    process: Callable[[Any], Any], keeps: Callable[[Any], bool]
) -> Callable[[Any], Any]:
    """`process`, run once per distinct value (up to REMEMBERED_VALUES, then afresh): feeds
    repeat their dates and performers, and converting them was most of a row's cost. A
    value is remembered only if `keeps` it: one whose equals all convert alike."""
    memo: dict[Any, Any] = {}

    def convert(value: Any) -> Any:
        try:
            return memo[value]
        except KeyError:
            pass
        except TypeError:  # unhashable (a list)
            return process(value)
        converted = process(value)
        if keeps(value):
            if len(memo) >= REMEMBERED_VALUES:
                memo.clear()
            memo[value] = converted
        return converted

    return convert


def _utc_or_none(value: Any) -> bool:
    """Equal UTC datetimes are one moment (elsewhere equal wall times may differ by fold)."""
    return value is None or value.tzinfo is UTC


def _texts(value: Any) -> bool:
    """Equal tuples of texts are one JSON list (of numbers, 1 == 1.0 == True are not)."""
    return value.__class__ is tuple and all(item.__class__ is str for item in value)


# The events table's first columns are the Event's fields, in its order; then come
# first_seen_at, updated_at and last_run_id.
_EVENT_FIELDS: Final = tuple(field.name for field in fields(Event))
_EVENT_GETTERS: Final = [operator.attrgetter(name) for name in _EVENT_FIELDS]
# The column types whose conversions are remembered, with the values that may be.
_REMEMBERED: Final[dict[type, Callable[[Any], bool]]] = {UTCDateTime: _utc_or_none, sa.JSON: _texts}
REMEMBERED_VALUES: Final = 8192


@functools.lru_cache(maxsize=16)
def _events_upsert(dialect: sa.Dialect) -> _EventsUpsert:
    return _EventsUpsert(dialect)
