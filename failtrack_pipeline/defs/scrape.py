"""The scrape job: one run per source, its outcome in `failtrack/*` run tags.

Before scraping, the op reads the source's baseline for silent failures from Dagster
itself: the `failtrack/events_processed` tags of the source's last successful runs of
this job (the summary tables are filled later, by the dashboard, so they cannot serve).

Failures of single events are recorded by the op itself; a failure of the op (the feed
could not be fetched or parsed) is recorded by the failure hook, and anything no hook
sees (start-up errors, runs that died) by the run-failure sensor: all through
`FailtrackDatabase.recorder` (`record_failures`, or the spool while the database is down),
whose ledger counts each (run, batch) once.
"""

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from dagster import (
    Config,
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
    PartitionedConfig,
    RunFailureSensorContext,
    RunRequest,
    RunsFilter,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SensorDefinition,
    StaticPartitionsDefinition,
    failure_hook,
    in_process_executor,
    job,
    op,
    run_failure_sensor,
    schedule,
)
from pydantic import Field, field_validator, model_validator

from failtrack_pipeline.defs.resources import FailtrackDatabase, FailtrackSources
from failtrack_pipeline.errors import RunConfigError
from failtrack_pipeline.scrape import SourceScrape
from failtrack_pipeline.sources.registry import SourcesFile
from failtrack_pipeline.tracking.categorize import MessageRule
from failtrack_pipeline.tracking.failures import describe_failure
from failtrack_pipeline.tracking.outcome import RunOutcome, RunStatus, Tag, failed_run_tags
from failtrack_pipeline.tracking.silent import SilentFailureRule, YieldBaseline
from failtrack_pipeline.tracking.spool import Recording

RUN_FAILURE_BATCH = "run"
# Runs that will not change any more: what the summaries harvest and retention may delete.
FINISHED_RUN_STATUSES = [
    DagsterRunStatus.SUCCESS,
    DagsterRunStatus.FAILURE,
    DagsterRunStatus.CANCELED,
]


class EventClock(Config):
    """The moment a run judges its events at: whether one has ended (a skip) or lies
    implausibly far in the past or future (a failure). Counts and tags keep real time."""

    as_of: str | None = Field(
        default=None,
        description="Judge events as of this ISO-8601 moment with a UTC offset, e.g. "
        "2026-11-25T06:00:00+00:00, instead of now: to re-judge an archived feed as on the "
        "day it was fetched, or to make a demo or a test give the same result on any day.",
    )

    @field_validator("as_of")
    @classmethod
    def _aware_moment(cls, as_of: str | None) -> str | None:
        if as_of is not None:
            moment_of(as_of)
        return as_of

    def moment(self) -> datetime | None:
        """`as_of` as an aware datetime; None for now."""
        return None if self.as_of is None else moment_of(self.as_of)


def moment_of(as_of: str) -> datetime:
    try:
        moment = datetime.fromisoformat(as_of)
    except ValueError:
        raise RunConfigError(f"as_of: {as_of!r} is not an ISO-8601 date and time") from None
    if moment.utcoffset() is None:
        raise RunConfigError(f"as_of: {as_of!r} has no UTC offset; add one, e.g. +00:00")
    return moment


class ScrapeConfig(EventClock):
    """When a run counts as a silent failure; a source's own `silent_failure_threshold` in
    the sources file takes precedence over `silent_failure_threshold` here."""

    silent_failure_threshold: float = Field(
        default=0.2,
        ge=0,
        le=1,
        description="Flag a run reading under this share of the median of the source's "
        "recent runs (0 turns it off).",
    )
    baseline_runs: int = Field(default=14, ge=1, description="Recent runs the median is of.")
    min_history: int = Field(
        default=3, ge=1, description="Earlier runs a source needs before it can be flagged."
    )

    @model_validator(mode="after")
    def _consistent(self) -> "ScrapeConfig":
        self.rule(None)
        return self

    def rule(self, source_threshold: float | None) -> SilentFailureRule:
        threshold = self.silent_failure_threshold if source_threshold is None else source_threshold
        return SilentFailureRule(threshold, self.baseline_runs, self.min_history)


@op(out=Out(Nothing), description="Scrape one source (the run's partition) and track failures.")
def scrape_source(
    context: OpExecutionContext,
    config: ScrapeConfig,
    failtrack_sources: FailtrackSources,
    failtrack_db: FailtrackDatabase,
) -> Iterator[Output[Any]]:
    source = failtrack_sources.load().get(context.partition_key)
    context.instance.add_run_tags(context.run_id, {Tag.SOURCE.value: source.id})
    rule = config.rule(source.silent_failure_threshold)
    history = recent_yields(context.instance, context.job_name, source.id, rule.baseline_runs)
    scrape = SourceScrape(
        source,
        failtrack_db.get_engine(),
        run_id=context.run_id,
        now=config.moment(),
        rules=failtrack_sources.rules(),
        baseline=YieldBaseline(history, rule),
        recorder=failtrack_db.recorder(context.instance),
        attempt=context.retry_number,
    )
    outcome = run_tagged(context, scrape)
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


def recent_yields(
    instance: DagsterInstance, job_name: str, source_id: str, limit: int
) -> list[int]:
    """Records read by the source's last `limit` successful runs of `job_name`, newest first.

    Runs Dagster marks successful include earlier silent failures, so a lasting change in
    a source's size becomes its new normal; failed runs read nothing meaningful and are
    left out, as are runs of other jobs (a retry reads only a few events).
    """
    runs = instance.get_runs(
        filters=RunsFilter(
            job_name=job_name,
            tags={Tag.SOURCE.value: source_id},
            statuses=[DagsterRunStatus.SUCCESS],
        ),
        limit=limit,
    )
    counts = (run.tags.get(Tag.EVENTS_PROCESSED.value, "") for run in runs)
    return [int(count) for count in counts if count.isdigit()]


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
    """Record a failed run's reason once and tag the run failed; False if already recorded.

    A reason spooled while the database is down counts as recorded: the spool's replay
    counts it once, whoever else reports the run meanwhile.
    """
    source_id = run.tags.get(Tag.SOURCE.value) or run.tags.get("dagster/partition")
    if not source_id or _is_run_config_error(error):
        return False
    now = datetime.now(UTC)
    failure = describe_failure(source_id, error, seen_at=now, rules=rules)
    recording = database.recorder(instance).record(
        [failure], run_id=run.run_id, batch=RUN_FAILURE_BATCH
    )
    if recording is Recording.ALREADY_RECORDED:
        return False
    instance.add_run_tags(run.run_id, failed_run_tags(failure, processed_at=now))
    return True


def _is_run_config_error(error: Any) -> bool:
    """A mistake in the run's own config (the hook sees the exception, the sensor its
    serialized form): the run failed before reading the source, which did nothing wrong.

    Dagster checks only a `Config`'s types at launch; its values (ranges, `as_of`) are
    checked as the op starts, by pydantic, which names the class it refused.
    """
    name = getattr(error, "cls_name", None) or type(error).__name__
    if name == RunConfigError.__name__:
        return True
    message = getattr(error, "message", None) or str(error)
    op_configs = EventClock.__subclasses__()  # ScrapeConfig, RetryConfig
    refused = (f"validation error for {config.__name__}" for config in op_configs)
    return name == "ValidationError" and any(words in message for words in refused)


def build_scrape_job(sources: SourcesFile) -> JobDefinition:
    # Every run is tagged with its source when it is created (backfill, launchpad, schedule),
    # so the run queue's one-run-per-source limit on that tag holds before the op starts.
    per_source = PartitionedConfig(
        StaticPartitionsDefinition(sources.ids()),
        run_config_for_partition_key_fn=lambda _key: {},
        tags_for_partition_key_fn=lambda key: {Tag.SOURCE.value: key},
    )

    @job(
        config=per_source,
        # One op: a separate step process (the default executor) would only double each
        # run's start-up cost (see bench/bench_queue.py).
        executor_def=in_process_executor,
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
