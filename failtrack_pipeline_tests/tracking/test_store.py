from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.db.engine import WriteRefusal, create_db_engine, write_refusal
from failtrack_pipeline.db.schema import discovery_event_failure_days as days_table
from failtrack_pipeline.db.schema import discovery_event_failures as failures_table
from failtrack_pipeline.tracking.failures import FailureRecord
from failtrack_pipeline.tracking.store import SAMPLE_SIZE, merge_samples, record_failures

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def failure(
    message: str = "title missing",
    external_id: str | None = "e1",
    *,
    source: str = "src",
    category: ErrorCategory = ErrorCategory.VALIDATION,
    at: datetime = T0,
    example: str | None = None,
) -> FailureRecord:
    return FailureRecord(source, category, message, example or message, external_id, at)


def rows(engine: sa.Engine) -> list[sa.Row]:
    with engine.connect() as connection:
        query = sa.select(failures_table).order_by(failures_table.c.error_message)
        return list(connection.execute(query))


def test_failures_of_one_group_become_one_row_with_a_count(engine: sa.Engine) -> None:
    batch = [failure("title missing", f"e{i}") for i in range(3)] + [failure("venue missing")]
    result = record_failures(engine, batch, run_id="run-1", batch="events-1")

    assert (result.recorded, result.failures, result.groups) == (True, 4, 2)
    stored = rows(engine)
    assert [(r.error_message, r.occurrence_count) for r in stored] == [
        ("title missing", 3),
        ("venue missing", 1),
    ]
    assert stored[0].sample_external_ids == ["e2", "e1", "e0"]
    assert stored[0].first_seen_at == stored[0].last_seen_at == T0
    assert stored[0].last_run_id == "run-1"


def test_later_batches_merge_counts_samples_and_seen_times(engine: sa.Engine) -> None:
    record_failures(
        engine, [failure(external_id="old", at=T0, example="first")], run_id="r1", batch="b"
    )
    later, earlier = T0 + timedelta(days=2), T0 - timedelta(days=1)
    record_failures(
        engine,
        [
            failure(external_id="new", at=later, example="newest"),
            failure(external_id="older", at=earlier, example="oldest"),
        ],
        run_id="r2",
        batch="b",
    )

    (row,) = rows(engine)
    assert row.occurrence_count == 3
    assert (row.first_seen_at, row.last_seen_at) == (earlier, later)
    assert row.example_message == "newest"
    assert row.last_run_id == "r2"
    assert row.sample_external_ids == ["older", "new", "old"]


def test_an_older_batch_does_not_replace_the_newest_example(engine: sa.Engine) -> None:
    record_failures(engine, [failure(at=T0, example="recent")], run_id="r1", batch="b")
    record_failures(
        engine, [failure(at=T0 - timedelta(days=3), example="stale")], run_id="r2", batch="b"
    )
    (row,) = rows(engine)
    assert (row.example_message, row.last_run_id, row.last_seen_at) == ("recent", "r1", T0)


def test_samples_keep_the_newest_distinct_ids_up_to_the_cap(engine: sa.Engine) -> None:
    record_failures(
        engine, [failure(external_id=f"a{i}") for i in range(8)], run_id="r1", batch="b"
    )
    record_failures(
        engine,
        [failure(external_id=i) for i in ("b0", "a7", "b1", "b1", None)],
        run_id="r2",
        batch="b",
    )
    (row,) = rows(engine)
    assert row.sample_external_ids == ["b1", "a7", "b0", "a6", "a5", "a4", "a3", "a2", "a1", "a0"]
    assert row.occurrence_count == 13


def test_the_same_batch_of_a_run_is_counted_once(engine: sa.Engine) -> None:
    first = record_failures(engine, [failure()], run_id="run-1", batch="run")
    again = record_failures(engine, [failure(), failure()], run_id="run-1", batch="run")
    other_batch = record_failures(engine, [failure()], run_id="run-1", batch="events-1")

    assert (first.recorded, again.recorded, other_batch.recorded) == (True, False, True)
    assert rows(engine)[0].occurrence_count == 2


def test_groups_are_kept_apart_by_source_category_and_message(engine: sa.Engine) -> None:
    batch = [
        failure("venue missing"),
        failure("venue missing", source="other"),
        failure("venue missing", category=ErrorCategory.VENUE),
        failure("title missing"),
        failure("venue missing"),
    ]
    record_failures(engine, batch, run_id="r", batch="b")
    assert sorted(r.occurrence_count for r in rows(engine)) == [1, 1, 1, 2]


def test_a_batch_larger_than_one_statement_is_recorded_whole(engine: sa.Engine) -> None:
    batch = [failure(f"message {i:04d}", f"e{i}") for i in range(1_234)] * 2
    result = record_failures(engine, batch, run_id="r", batch="b")
    assert result.groups == 1_234
    stored = rows(engine)
    assert len(stored) == 1_234
    assert {r.occurrence_count for r in stored} == {2}


def test_one_statement_of_new_and_known_groups_merges_only_the_known_samples(
    engine: sa.Engine,
) -> None:
    """New rows take their samples in the insert; rows seen before merge theirs."""
    record_failures(
        engine, [failure(f"known {i}", f"old{i}") for i in range(3)], run_id="r1", batch="b"
    )
    batch = [failure(f"{kind} {i}", f"new{i}") for i in range(3) for kind in ("known", "fresh")]
    assert record_failures(engine, batch, run_id="r2", batch="b").groups == 6

    stored = {r.error_message: (r.occurrence_count, r.sample_external_ids) for r in rows(engine)}
    assert stored == {
        **{f"known {i}": (2, [f"new{i}", f"old{i}"]) for i in range(3)},
        **{f"fresh {i}": (1, [f"new{i}"]) for i in range(3)},
    }


def test_rows_bound_as_one_json_text_come_back_as_written(engine: sa.Engine) -> None:
    """A chunk's rows reach the database as one JSON text: quotes, backslashes, JSON-like
    text, non-ASCII and times in another zone (to the microsecond) survive it."""
    tricky = 'say "hi" \\ {"a": [1]} \u00e9\u20ac\U0001f600 \\u0041 \t tab'
    east = datetime(2026, 11, 2, 0, 30, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    batch = [failure(tricky, 'id "1" \\', at=east, example=tricky + " example")]
    record_failures(engine, batch, run_id="r", batch="b")
    (row,) = rows(engine)
    assert (row.error_message, row.example_message) == (tricky, tricky + " example")
    assert row.sample_external_ids == ['id "1" \\']
    assert row.first_seen_at == row.last_seen_at == east
    with engine.connect() as connection:
        (day,) = connection.execute(sa.select(days_table.c.day)).scalars()
    assert day == east.astimezone(UTC).date()


def test_a_naive_time_is_refused_as_content_and_nothing_is_written(engine: sa.Engine) -> None:
    naive = failure("title missing", at=datetime(2026, 11, 1, 12, 0))
    with pytest.raises(sa.exc.StatementError) as refused:
        record_failures(engine, [failure("venue missing"), naive], run_id="r", batch="b")
    assert write_refusal(refused.value) is WriteRefusal.CONTENT
    assert rows(engine) == []


def _writer(url: str, writer: int, batches: int) -> None:
    engine = create_db_engine(url)
    for batch in range(batches):
        shared = [failure("shared", f"w{writer}-{batch % 2}") for _ in range(3)]
        own = [failure(f"own {writer}", f"x{batch}")]
        record_failures(engine, shared + own, run_id=f"w{writer}", batch=f"b{batch}")
    engine.dispose()


def test_concurrent_writers_lose_no_counts_and_no_samples(engine: sa.Engine, db_url: str) -> None:
    writers, batches = 4, 25
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_writer, args=(db_url, w, batches)) for w in range(writers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0

    by_message = {r.error_message: r for r in rows(engine)}
    shared = by_message.pop("shared")
    assert shared.occurrence_count == writers * batches * 3
    # 8 distinct ids in all, under the cap of 10: a lost merge would drop some of them.
    assert sorted(shared.sample_external_ids) == sorted(
        f"w{w}-{b}" for w in range(writers) for b in range(2)
    )
    assert {m: r.occurrence_count for m, r in by_message.items()} == {
        f"own {w}": batches for w in range(writers)
    }


def test_merge_samples_is_newest_first_distinct_and_capped() -> None:
    assert merge_samples(["c", "a"], ["a", "b"]) == ["c", "a", "b"]
    assert len(merge_samples([str(i) for i in range(30)], ["x"])) == SAMPLE_SIZE


def test_occurrences_are_also_counted_per_day(engine: sa.Engine) -> None:
    day2 = T0 + timedelta(days=1)
    record_failures(engine, [failure(at=T0), failure(at=day2)], run_id="r1", batch="b")
    record_failures(engine, [failure(at=day2)] * 3, run_id="r2", batch="b")
    with engine.connect() as connection:
        stored = connection.execute(
            sa.select(days_table.c.day, days_table.c.occurrences).order_by(days_table.c.day)
        ).all()
    assert [tuple(r) for r in stored] == [(T0.date(), 1), (day2.date(), 4)]


def test_a_batch_refused_after_its_first_chunk_leaves_nothing_for_the_next(
    engine: sa.Engine,
) -> None:
    """Chunks of 500 groups are written one after the other (on SQLite through a staging
    table): a chunk the database refuses rolls back the chunks before it, and the next
    batch, on the same connection, counts its own failures only."""
    good = [failure(f"message {i:04d}", f"e{i}") for i in range(600)]
    last = max(f.fingerprint for f in good)
    # A NOT NULL violation, in the last chunk: the rows before it were already written.
    refused = next(
        f
        for k in range(10_000)
        if (f := failure(f"refused {k}", source=None)).fingerprint > last  # type: ignore[arg-type]
    )
    with pytest.raises(sa.exc.IntegrityError):
        record_failures(engine, [*good, refused], run_id="r", batch="b1")
    assert rows(engine) == []

    record_failures(engine, good[:3], run_id="r", batch="b1")
    assert [(r.error_message, r.occurrence_count) for r in rows(engine)] == [
        (f"message {i:04d}", 1) for i in range(3)
    ]
    with engine.connect() as connection:
        days = connection.execute(sa.select(sa.func.sum(days_table.c.occurrences))).scalar()
    assert days == 3
