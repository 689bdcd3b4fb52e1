"""The scrape job: one run per source, its outcome in `failtrack/*` run tags.

Failures of single events are recorded by the op itself; a failure of the op (the feed
could not be fetched or parsed) by the failure hook, and anything no hook sees by the
run-failure sensor: all through `FailtrackDatabase.recorder` (`record_failures`, or the
spool while the database is down), whose ledger counts each (run, batch) once.
"""

from collections.abc import Iterator
from typing import Any

from dagster import (
    ExecutorDefinition,
    JobDefinition,
    Nothing,
    OpExecutionContext,
    Out,
    Output,
    PartitionedConfig,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    StaticPartitionsDefinition,
    in_process_executor,
    job,
    op,
    schedule,
)

from failtrack_pipeline.config.sources_file import SourceConfig, SourcesFile
from failtrack_pipeline.defs.failure_hook import record_scrape_failure
from failtrack_pipeline.defs.op_config import ScrapeConfig
from failtrack_pipeline.defs.resources import FailtrackDatabase, FailtrackSources
from failtrack_pipeline.defs.run_history import recent_yields
from failtrack_pipeline.defs.run_tags import MAX_RUNTIME_TAG, Tag
from failtrack_pipeline.defs.tagged_scrape import run_tagged
from failtrack_pipeline.source_scrape import SourceScrape
from failtrack_pipeline.tracking.retries import max_runtime_seconds
from failtrack_pipeline.tracking.silent import YieldBaseline


@op(out=Out(Nothing), description="Scrape one source (the run's partition) and track failures.")
def scrape_source(
    context: OpExecutionContext,
    config: ScrapeConfig,
    failtrack_sources: FailtrackSources,
    failtrack_db: FailtrackDatabase,
) -> Iterator[Output[Any]]:
    source = failtrack_sources.load().get(context.partition_key)
    context.instance.add_run_tags(context.run_id, {Tag.SOURCE.value: source.id})
    policy = config.policy(source.silent_failure_threshold)
    history = recent_yields(context.instance, context.job_name, source.id, policy.baseline_runs)
    scrape = SourceScrape(
        source,
        failtrack_db.get_engine(),
        run_id=context.run_id,
        now=config.moment(),
        rules=failtrack_sources.rules(),
        baseline=YieldBaseline(history, policy),
        recorder=failtrack_db.recorder(context.instance),
        attempt=context.retry_number,
    )
    outcome = run_tagged(context, scrape, failtrack_db)
    context.log.info(
        f"{source.id}: {outcome.processed} events, {outcome.succeeded} succeeded, "
        f"{outcome.failed} failed, {outcome.skipped} skipped ({outcome.status.value})"
    )
    metadata: dict[str, Any] = {
        "source": source.id,
        "status": outcome.status.value,
        "events_processed": outcome.processed,
        "events_succeeded": outcome.succeeded,
        "events_failed": outcome.failed,
        "events_skipped": outcome.skipped,
        "failure_groups": len(outcome.failure_groups),
        "baseline_runs": len(history),
    }
    metadata |= {f"skipped_{reason.value}": n for reason, n in sorted(outcome.skip_reasons.items())}
    if outcome.silent_failure is not None:
        metadata["silent_failure"] = outcome.silent_failure.message
    if scrape.dead_lettered:
        metadata["dead_lettered_failures"] = scrape.dead_lettered
        context.log.error(
            f"{source.id}: the database refused {scrape.dead_lettered} failures for their "
            "content; they wait uncounted as dead letters (check no_dead_lettered_failures)"
        )
    yield Output(None, metadata=metadata)


def run_tags_of(source: SourceConfig) -> dict[str, str]:
    """Tags every run of `source` gets when it is created: its source, for the queue's
    one-run-per-source limit, and the runtime past which Dagster stops it."""
    return {Tag.SOURCE.value: source.id, MAX_RUNTIME_TAG: str(max_runtime_seconds(source))}


def build_scrape_job(
    sources: SourcesFile, executor_def: ExecutorDefinition = in_process_executor
) -> JobDefinition:
    # Every run is tagged with its source when it is created (backfill, launchpad, schedule),
    # so the run queue's one-run-per-source limit on that tag holds before the op starts.
    per_source = PartitionedConfig(
        StaticPartitionsDefinition(sources.ids()),
        run_config_for_partition_key_fn=lambda _key: {},
        tags_for_partition_key_fn=lambda key: run_tags_of(sources.get(key)),
    )

    @job(
        config=per_source,
        # In process unless configured otherwise (defs/executors.py): one op, and a separate
        # step process would only double each run's start-up cost (see bench/bench_queue.py).
        executor_def=executor_def,
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
                tags=run_tags_of(source),
            )

    return daily_scrape_schedule
