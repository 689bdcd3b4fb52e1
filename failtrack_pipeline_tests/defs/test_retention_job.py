from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from dagster import RunsFilter, job, op

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.config.environment import retention_from_env
from failtrack_pipeline.db.schema import discovery_event_failure_days as failure_days
from failtrack_pipeline.db.schema import discovery_event_failures as failures
from failtrack_pipeline.defs.prune_job import PruneConfig, build_prune_job, prune_runs
from failtrack_pipeline.defs.resources import FailtrackDatabase, Retention
from failtrack_pipeline.summaries.demo_history import seed_history
from failtrack_pipeline.tracking.failures import FailureRecord
from failtrack_pipeline.tracking.store import record_failures
from failtrack_pipeline_tests.conftest import Backend


@op
def noop() -> None:
    pass


@job
def fake_scrape_job() -> None:
    noop()


@job
def other_job() -> None:
    noop()


def test_runs_older_than_the_cutoff_go_younger_ones_and_other_jobs_stay(
    backend: Backend,
) -> None:
    instance = backend.instance
    for _ in range(5):
        fake_scrape_job.execute_in_process(instance=instance)
    other_job.execute_in_process(instance=instance)
    created = datetime.now(UTC)
    scrape_runs = RunsFilter(job_name="fake_scrape_job")

    # The clock as 89 days after the runs: with 90 days of retention nothing is old enough.
    young_cutoff = created + timedelta(days=89) - timedelta(days=90)
    assert (
        prune_runs(instance, ["fake_scrape_job"], cutoff=young_cutoff, batch_size=2, dry_run=False)
        == 0
    )
    assert instance.get_runs_count(scrape_runs) == 5

    old_cutoff = created + timedelta(days=91) - timedelta(days=90)
    assert (
        prune_runs(instance, ["fake_scrape_job"], cutoff=old_cutoff, batch_size=2, dry_run=True)
        == 5
    )
    assert instance.get_runs_count(scrape_runs) == 5
    assert (
        prune_runs(instance, ["fake_scrape_job"], cutoff=old_cutoff, batch_size=2, dry_run=False)
        == 5
    )
    assert instance.get_runs_count(scrape_runs) == 0
    assert instance.get_runs_count(RunsFilter(job_name="other_job")) == 1


@pytest.mark.parametrize("dry_run", [True, False])
def test_the_prune_job_reports_what_it_removed_and_keeps_recent_history(
    backend: Backend, dry_run: bool
) -> None:
    now = datetime.now(UTC)
    old = FailureRecord(
        "src", ErrorCategory.NETWORK, "timeout", "timeout", None, now - timedelta(days=91)
    )
    young = FailureRecord(
        "src", ErrorCategory.NETWORK, "refused", "refused", None, now - timedelta(days=89)
    )
    record_failures(backend.engine, [old, young], run_id="r", batch="b")

    prune_job = build_prune_job(["fake_scrape_job"])
    result = prune_job.execute_in_process(
        instance=backend.instance,
        resources={"failtrack_db": FailtrackDatabase(), "retention": Retention(days=90)},
        run_config={
            "ops": {"prune_history": {"config": PruneConfig(dry_run=dry_run).model_dump()}}
        },
    )
    assert result.success
    (materialization,) = [
        event for event in result.all_events if event.event_type_value == "STEP_OUTPUT"
    ]
    metadata = materialization.step_output_data.metadata
    assert metadata["dry_run"].value is dry_run
    assert metadata["failure_groups_removed"].value == 1
    assert metadata["runs_removed"].value == 0


def prune(backend: Backend, *, days: int, dry_run: bool) -> dict[str, object]:
    """The real prune job's reported metadata, run with `days` of retention."""
    result = build_prune_job(["scrape_sources_job"]).execute_in_process(
        instance=backend.instance,
        resources={"failtrack_db": FailtrackDatabase(), "retention": Retention(days=days)},
        run_config={
            "ops": {"prune_history": {"config": PruneConfig(dry_run=dry_run).model_dump()}}
        },
    )
    assert result.success
    (output,) = [event for event in result.all_events if event.event_type_value == "STEP_OUTPUT"]
    return {key: value.value for key, value in output.step_output_data.metadata.items()}


def test_a_dry_run_on_the_demos_history_counts_the_groups_a_real_run_removes(
    backend: Backend,
) -> None:
    # A demo-like database: a group seen today with 29 days of seeded history, and a
    # group of a source that stopped failing 40 days ago.
    now = datetime.now(UTC)
    today = FailureRecord(
        "city_concerts", ErrorCategory.VALIDATION, "title missing", "t", None, now
    )
    gone = FailureRecord(
        "night_markets", ErrorCategory.NETWORK, "timeout", "t", None, now - timedelta(days=40)
    )
    record_failures(backend.engine, [today, gone], run_id="today", batch="b")
    seed_history(backend.engine, ["city_concerts", "night_markets"], now.date())

    def expired(days: int) -> tuple[int, int]:
        cutoff = now - timedelta(days=days)
        with backend.engine.connect() as connection:
            count = sa.select(sa.func.count()).select_from
            groups = connection.execute(count(failures).where(failures.c.last_seen_at < cutoff))
            old_days = connection.execute(
                count(failure_days).where(failure_days.c.day < cutoff.date())
            )
            return groups.scalar_one(), old_days.scalar_one()

    # What the reporter saw: the demo's groups were all seen today, its history is 30 days
    # and retention 90, so a dry run rightly finds nothing to remove.
    nothing = prune(backend, days=90, dry_run=True)
    assert (nothing["failure_groups_removed"], nothing["failure_days_removed"]) == (0, 0)

    # Retention shorter than the group that went quiet: dry run and real run agree.
    groups, old_days = expired(20)
    assert groups == 1 and old_days > 1  # the quiet group and history days before the cutoff
    would = prune(backend, days=20, dry_run=True)
    assert (would["failure_groups_removed"], would["failure_days_removed"]) == (groups, old_days)
    assert expired(20) == (groups, old_days)  # a dry run removes nothing
    did = prune(backend, days=20, dry_run=False)
    assert (did["failure_groups_removed"], did["failure_days_removed"]) == (groups, old_days)
    assert expired(20) == (0, 0)
    with backend.engine.connect() as connection:
        kept = connection.execute(sa.select(failures.c.source_id)).scalars().all()
    assert kept == ["city_concerts"]


@pytest.mark.parametrize("value", ["0", "-3", "ninety"])
def test_a_bad_retention_setting_is_rejected_with_a_clear_message(value: str) -> None:
    with pytest.raises(ValueError, match=f"FAILTRACK_RETENTION_DAYS='{value}'"):
        retention_from_env({"FAILTRACK_RETENTION_DAYS": value})


def test_retention_defaults_to_90_days() -> None:
    assert retention_from_env({}).days == 90
    assert retention_from_env({"FAILTRACK_RETENTION_DAYS": "30"}).days == 30
