"""The scrape job: one run per source, its outcome in `failtrack/*` run tags.

Failures of single events are recorded by the op itself; a failure of the op (the feed
could not be fetched or parsed) is recorded by the failure hook, and anything no hook
sees (start-up errors, runs that died) by the run-failure sensor: all through
`record_failures`, whose ledger counts each run's failure once.
"""

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from dagster import (
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    DefaultSensorStatus,
    HookContext,
    JobDefinition,
    Nothing,
    OpExecutionContext,
    Out,
    Output,
    RunFailureSensorContext,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SensorDefinition,
    StaticPartitionsDefinition,
    failure_hook,
    job,
    op,
    run_failure_sensor,
    schedule,
)

from failtrack_pipeline.defs.resources import FailtrackDatabase, FailtrackSources
from failtrack_pipeline.scrape import SourceScrape
from failtrack_pipeline.sources.registry import SourcesFile
from failtrack_pipeline.tracking.categorize import MessageRule
from failtrack_pipeline.tracking.failures import describe_failure
from failtrack_pipeline.tracking.outcome import RunOutcome, RunStatus, Tag, failed_run_tags
from failtrack_pipeline.tracking.store import record_failures

RUN_FAILURE_BATCH = "run"
# Runs that will not change any more: what the summaries harvest and retention may delete.
FINISHED_RUN_STATUSES = [
    DagsterRunStatus.SUCCESS,
    DagsterRunStatus.FAILURE,
    DagsterRunStatus.CANCELED,
]


@op(out=Out(Nothing), description="Scrape one source (the run's partition) and track failures.")
def scrape_source(
    context: OpExecutionContext,
    failtrack_sources: FailtrackSources,
    failtrack_db: FailtrackDatabase,
) -> Iterator[Output[Any]]:
    source = failtrack_sources.load().get(context.partition_key)
    context.instance.add_run_tags(context.run_id, {Tag.SOURCE.value: source.id})
    scrape = SourceScrape(
        source,
        failtrack_db.get_engine(),
        run_id=context.run_id,
        rules=failtrack_sources.rules(),
    )
    outcome = run_tagged(context, scrape)
    context.log.info(
        f"{source.id}: {outcome.processed} events, {outcome.succeeded} succeeded, "
        f"{outcome.failed} failed ({outcome.status.value})"
    )
    yield Output(
        None,
        metadata={
            "source": source.id,
            "status": outcome.status.value,
            "events_processed": outcome.processed,
            "events_succeeded": outcome.succeeded,
            "events_failed": outcome.failed,
            "failure_groups": len(outcome.failure_groups),
        },
    )


def run_tagged(context: OpExecutionContext, scrape: SourceScrape) -> RunOutcome:
    """Run `scrape` and put its outcome in the run's tags.

    If it raises, the counts so far still reach the run, marked failed; the failure hook
    then adds the reason.
    """
    try:
        outcome = scrape.run()
    except Exception:
        tags = scrape.outcome.tags(processed_at=datetime.now(UTC), status=RunStatus.FAILED)
        context.instance.add_run_tags(context.run_id, tags)
        raise
    context.instance.add_run_tags(context.run_id, outcome.tags(processed_at=datetime.now(UTC)))
    return outcome


@failure_hook(required_resource_keys={"failtrack_db", "failtrack_sources"})
def record_scrape_failure(context: HookContext) -> None:
    """Record why the op failed; never raises, so the op's own error stays the run's story."""
    try:
        run = context.instance.get_run_by_id(context.run_id)
        assert run is not None
        rules = context.resources.failtrack_sources.rules()
        record_run_failure(
            context.instance, run, context.op_exception, context.resources.failtrack_db, rules
        )
    except Exception:
        context.log.exception("failtrack: could not record this run's failure")


def record_run_failure(
    instance: DagsterInstance,
    run: DagsterRun,
    error: Any,
    database: FailtrackDatabase,
    rules: Sequence[MessageRule] | None = None,
) -> bool:
    """Record a failed run's reason once and tag the run failed; False if already recorded."""
    source_id = run.tags.get(Tag.SOURCE.value) or run.tags.get("dagster/partition")
    if not source_id:
        return False
    now = datetime.now(UTC)
    failure = describe_failure(source_id, error, seen_at=now, rules=rules)
    result = record_failures(
        database.get_engine(), [failure], run_id=run.run_id, batch=RUN_FAILURE_BATCH
    )
    if result.recorded:
        instance.add_run_tags(run.run_id, failed_run_tags(failure, processed_at=now))
    return result.recorded


def build_scrape_job(sources: SourcesFile) -> JobDefinition:
    @job(
        partitions_def=StaticPartitionsDefinition(sources.ids()),
        hooks={record_scrape_failure},
        description="Scrape one event source per run; the partition is the source id.",
    )
    def scrape_sources_job() -> None:
        scrape_source()

    return scrape_sources_job


def build_scrape_schedule(job_def: JobDefinition, sources: SourcesFile) -> ScheduleDefinition:
    @schedule(job=job_def, cron_schedule="0 5 * * *", execution_timezone="UTC")
    def daily_scrape_schedule(context: ScheduleEvaluationContext) -> Iterator[RunRequest]:
        """One run per enabled source, every day."""
        day = context.scheduled_execution_time.date().isoformat()
        for source in sources.enabled():
            yield RunRequest(
                run_key=f"{source.id}:{day}",
                partition_key=source.id,
                tags={Tag.SOURCE.value: source.id},
            )

    return daily_scrape_schedule


def _failure_reason(context: RunFailureSensorContext) -> Any:
    """The failed step's error if a step failed, else the run's own failure (e.g. a dead worker)."""
    step_failures = context.get_step_failure_events()
    if step_failures:
        return step_failures[0].step_failure_data.error
    event = context.failure_event
    return getattr(event.event_specific_data, "error", None) or event.message or "run failed"


def build_run_failure_sensor(jobs: list[JobDefinition]) -> SensorDefinition:
    @run_failure_sensor(
        monitored_jobs=jobs,
        default_status=DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=30,
    )
    def record_run_failure_sensor(
        context: RunFailureSensorContext,
        failtrack_db: FailtrackDatabase,
        failtrack_sources: FailtrackSources,
    ) -> None:
        """Record failures no hook saw: start-up errors, runs that died or were killed."""
        record_run_failure(
            context.instance,
            context.dagster_run,
            _failure_reason(context),
            failtrack_db,
            failtrack_sources.rules(),
        )

    return record_run_failure_sensor
