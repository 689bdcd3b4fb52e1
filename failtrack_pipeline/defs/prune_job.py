"""Retention: a daily job that forgets failure groups and scrape runs older than the period.

The summary tables (daily stats) are left alone, so trends outlive the runs they came from.
"""

from datetime import UTC, datetime

from dagster import (
    Config,
    DagsterInstance,
    JobDefinition,
    OpExecutionContext,
    RunsFilter,
    ScheduleDefinition,
    job,
    op,
)

from failtrack_pipeline.defs.resources import FailtrackDatabase, Retention
from failtrack_pipeline.defs.run_history import FINISHED_RUN_STATUSES
from failtrack_pipeline.tracking.retention import prune_failures


class PruneConfig(Config):
    dry_run: bool = False


def prune_runs(
    instance: DagsterInstance,
    job_names: list[str],
    *,
    cutoff: datetime,
    batch_size: int,
    dry_run: bool,
) -> int:
    """Delete finished runs of `job_names` created before `cutoff`, a batch at a time."""
    removed = 0
    for job_name in job_names:
        runs = RunsFilter(job_name=job_name, statuses=FINISHED_RUN_STATUSES, created_before=cutoff)
        if dry_run:
            removed += instance.get_runs_count(runs)
            continue
        while batch := instance.get_run_records(filters=runs, limit=batch_size):
            for record in batch:
                instance.delete_run(record.dagster_run.run_id)
            removed += len(batch)
    return removed


def build_prune_job(pruned_jobs: list[str]) -> JobDefinition:
    @op(description="Delete failure groups and scrape runs older than the retention period.")
    def prune_history(
        context: OpExecutionContext,
        config: PruneConfig,
        failtrack_db: FailtrackDatabase,
        retention: Retention,
    ) -> None:
        policy = retention.policy()
        cutoff = policy.cutoff(datetime.now(UTC))
        pruned = prune_failures(
            failtrack_db.get_engine(),
            cutoff=cutoff,
            batch_size=policy.batch_size,
            dry_run=config.dry_run,
        )
        runs = prune_runs(
            context.instance,
            pruned_jobs,
            cutoff=cutoff,
            batch_size=policy.batch_size,
            dry_run=config.dry_run,
        )
        verb = "would remove" if config.dry_run else "removed"
        context.log.info(
            f"{verb} {pruned.failure_groups} failure groups and {runs} runs "
            f"last seen before {cutoff.isoformat()}"
        )
        context.add_output_metadata(
            {
                "dry_run": config.dry_run,
                "cutoff": cutoff.isoformat(),
                "retention_days": policy.days,
                "failure_groups_removed": pruned.failure_groups,
                "failure_days_removed": pruned.failure_days,
                "recordings_removed": pruned.recordings,
                "notifications_removed": pruned.notifications,
                "stage_counts_removed": pruned.stage_counts,
                "runs_removed": runs,
                "delete_batches": pruned.batches,
            }
        )

    @job(description="Forget failure groups and scrape runs older than the retention period.")
    def prune_history_job() -> None:
        prune_history()

    return prune_history_job


def build_prune_schedule(prune_job: JobDefinition) -> ScheduleDefinition:
    return ScheduleDefinition(
        name="daily_prune_schedule",
        job=prune_job,
        cron_schedule="30 3 * * *",
        execution_timezone="UTC",
    )
