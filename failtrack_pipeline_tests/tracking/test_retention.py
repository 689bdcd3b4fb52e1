from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.config.policies import RetentionPolicy
from failtrack_pipeline.db.engine import create_db_engine
from failtrack_pipeline.db.schema import discovery_event_failure_days as days_table
from failtrack_pipeline.db.schema import discovery_event_failures as failures_table
from failtrack_pipeline.db.schema import stage_run_counts
from failtrack_pipeline.tracking.failures import FailureRecord, StageCounts
from failtrack_pipeline.tracking.retention import prune_failures
from failtrack_pipeline.tracking.store import record_failures

NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
POLICY = RetentionPolicy(days=90)


def seen(message: str, days_ago: float, source: str = "src") -> FailureRecord:
    at = NOW - timedelta(days=days_ago)
    return FailureRecord(source, ErrorCategory.VALIDATION, message, message, None, at)


def messages(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as connection:
        query = sa.select(failures_table.c.error_message, failures_table.c.occurrence_count)
        return dict(connection.execute(query).all())


def test_a_group_seen_89_days_ago_stays_and_one_seen_91_days_ago_goes(
    engine: sa.Engine,
) -> None:
    record_failures(engine, [seen("recent", 89), seen("expired", 91)], run_id="r", batch="b")
    result = prune_failures(engine, cutoff=POLICY.cutoff(NOW))
    assert messages(engine) == {"recent": 1}
    assert (result.failure_groups, result.failure_days, result.dry_run) == (1, 1, False)
    with engine.connect() as connection:
        days = connection.execute(sa.select(days_table.c.day)).scalars().all()
    assert days == [(NOW - timedelta(days=89)).date()]


def test_a_group_seen_again_recently_is_kept_with_its_whole_history(engine: sa.Engine) -> None:
    record_failures(engine, [seen("comes back", 120)], run_id="r1", batch="b")
    record_failures(engine, [seen("comes back", 1)], run_id="r2", batch="b")
    prune_failures(engine, cutoff=POLICY.cutoff(NOW))
    assert messages(engine) == {"comes back": 2}


def test_a_dry_run_reports_what_would_go_and_removes_nothing(engine: sa.Engine) -> None:
    batch = [seen(f"old {i}", 100 + i) for i in range(5)] + [seen("young", 3)]
    record_failures(engine, batch, run_id="r", batch="b")
    result = prune_failures(engine, cutoff=POLICY.cutoff(NOW), dry_run=True)
    assert (result.failure_groups, result.failure_days, result.batches) == (5, 5, 0)
    assert result.dry_run
    assert len(messages(engine)) == 6


def test_a_large_backlog_goes_in_bounded_batches(engine: sa.Engine) -> None:
    backlog = [seen(f"old {i}", 95) for i in range(2_345)] + [seen("young", 0)]
    record_failures(engine, backlog, run_id="r", batch="b")
    result = prune_failures(engine, cutoff=POLICY.cutoff(NOW), batch_size=500)
    assert result.failure_groups == 2_345
    # 5 batches of groups and 5 of daily counts (the ledger entry is recent).
    assert result.batches == 10
    assert messages(engine) == {"young": 1}


def _keep_writing(url: str, writes: int) -> None:
    engine = create_db_engine(url)
    for index in range(writes):
        record_failures(engine, [seen("young", 0)], run_id="writer", batch=str(index))
    engine.dispose()


def test_pruning_while_runs_write_never_removes_a_young_group(
    engine: sa.Engine, db_url: str
) -> None:
    record_failures(engine, [seen(f"old {i}", 200) for i in range(3_000)], run_id="r", batch="b")
    writes = 60
    writer = multiprocessing.get_context("fork").Process(
        target=_keep_writing, args=(db_url, writes)
    )
    writer.start()
    prune_failures(engine, cutoff=POLICY.cutoff(NOW), batch_size=100)
    writer.join(timeout=120)
    assert writer.exitcode == 0
    assert messages(engine) == {"young": writes}


@pytest.mark.parametrize("days", [0, -5, 1.5, True])
def test_a_retention_period_that_is_not_a_positive_whole_number_is_rejected(days: object) -> None:
    with pytest.raises(ValueError, match="days"):
        RetentionPolicy(days=days)  # type: ignore[arg-type]


def test_a_tracked_steps_counts_older_than_the_period_go(engine: sa.Engine) -> None:
    counts = [StageCounts("src", "geocode", processed=3, succeeded=2, failed=1)]
    for run_id in ("old", "young"):
        record_failures(engine, [], run_id=run_id, batch="b", counts=counts)
    with engine.begin() as connection:
        connection.execute(
            sa.update(stage_run_counts)
            .where(stage_run_counts.c.run_id == "old")
            .values(day=(NOW - timedelta(days=91)).date())
        )
    result = prune_failures(engine, cutoff=POLICY.cutoff(NOW))
    assert result.stage_counts == 1
    with engine.connect() as connection:
        left = connection.execute(sa.select(stage_run_counts.c.run_id)).scalars().all()
    assert left == ["young"]
