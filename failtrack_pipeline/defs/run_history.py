"""What the Dagster layer reads back from Dagster's own run history."""

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from failtrack_pipeline.defs.run_tags import Tag, run_counts

# Runs that will not change any more: what the summaries harvest and retention may delete.
FINISHED_RUN_STATUSES = [
    DagsterRunStatus.SUCCESS,
    DagsterRunStatus.FAILURE,
    DagsterRunStatus.CANCELED,
]


def recent_yields(
    instance: DagsterInstance, job_name: str, source_id: str, limit: int
) -> list[int]:
    """Records read by the source's last `limit` successful runs of `job_name`, newest first.

    The baseline for silent failures comes from Dagster itself, not the summary tables,
    which the dashboard fills later. Runs Dagster marks successful include earlier silent
    failures, so a lasting change in a source's size becomes its new normal; failed runs
    read nothing meaningful and are left out, as are runs of other jobs (a retry reads
    only a few events).
    """
    runs = instance.get_runs(
        filters=RunsFilter(
            job_name=job_name,
            tags={Tag.SOURCE.value: source_id},
            statuses=[DagsterRunStatus.SUCCESS],
        ),
        limit=limit,
    )
    counts = (run_counts(run.tags) for run in runs)
    return [count.processed for count in counts if count is not None]
