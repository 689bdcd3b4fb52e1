from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from dagster import RunsFilter, job, op

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.config.environment import retention_from_env
from failtrack_pipeline.defs.prune_job import PruneConfig, build_prune_job, prune_runs
from failtrack_pipeline.defs.resources import FailtrackDatabase, Retention
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


@pytest.mark.parametrize("value", ["0", "-3", "ninety"])
def test_a_bad_retention_setting_is_rejected_with_a_clear_message(value: str) -> None:
    with pytest.raises(ValueError, match=f"FAILTRACK_RETENTION_DAYS='{value}'"):
        retention_from_env({"FAILTRACK_RETENTION_DAYS": value})


def test_retention_defaults_to_90_days() -> None:
    assert retention_from_env({}).days == 90
    assert retention_from_env({"FAILTRACK_RETENTION_DAYS": "30"}).days == 30
