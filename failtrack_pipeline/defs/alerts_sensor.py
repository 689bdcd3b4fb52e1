"""Alerts in Dagster: conditions evaluated right after each run ends, delivery retried.

- `alert_on_run_success_sensor` / `alert_on_run_failure_sensor`: as any run of the code
  location ends (a scrape, the dashboard refresh), evaluate every condition, with the
  ended run's source's latest runs, and send what that queued.
- `deliver_alerts_sensor`, every minute: what a channel could not take yet (backoff), a
  change held by the cool-down, spooled batches set aside, and the daily digest.

A sensor is no part of a run: whatever a channel does, no scrape fails because of it.
"""

from datetime import UTC, datetime

from dagster import (
    ConfigurableResource,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    run_failure_sensor,
    run_status_sensor,
    sensor,
)
from pydantic import Field

from failtrack_pipeline.alerts.conditions import Observation, RunFact, runs_needed
from failtrack_pipeline.alerts.digest import queue_digest
from failtrack_pipeline.alerts.evaluate import evaluate
from failtrack_pipeline.alerts.outbox import deliver_due
from failtrack_pipeline.alerts.setup import Alerting, load_alerting
from failtrack_pipeline.defs.resources import FailtrackDatabase, FailtrackSources
from failtrack_pipeline.defs.run_history import FINISHED_RUN_STATUSES
from failtrack_pipeline.defs.run_tags import Tag
from failtrack_pipeline.tracking.outcome import RunStatus
from failtrack_pipeline.tracking.spool import UNREADABLE

SCRAPE_JOB = "scrape_sources_job"


class FailtrackAlerts(ConfigurableResource):
    """Where the alerts are configured: FAILTRACK_ALERTS_FILE, else the sources file."""

    alerts_file: str | None = Field(
        default=None,
        description="A file holding only `alerts:` (FAILTRACK_ALERTS_FILE); unset: the "
        "sources file's `alerts:` section.",
    )

    def load(self, sources: FailtrackSources) -> Alerting | None:
        return load_alerting(sources.load(), self.alerts_file)


def recent_run_facts(instance: DagsterInstance, source_id: str, limit: int) -> list[RunFact]:
    """The source's latest finished scrape runs, newest first. A run Dagster failed before
    its tags said so (the run-failure sensor tags it later) counts as failed."""
    records = instance.get_run_records(
        filters=RunsFilter(
            job_name=SCRAPE_JOB, tags={Tag.SOURCE.value: source_id}, statuses=FINISHED_RUN_STATUSES
        ),
        limit=limit,
    )
    facts = []
    for record in records:
        run = record.dagster_run
        tagged = run.tags.get(Tag.STATUS.value)
        if tagged in RunStatus._value2member_map_:
            status = RunStatus(tagged)
        else:
            ok = run.status is DagsterRunStatus.SUCCESS
            status = RunStatus.SUCCESS if ok else RunStatus.FAILED
        ended = datetime.fromtimestamp(record.end_time or record.create_timestamp.timestamp(), UTC)
        facts.append(RunFact(run.run_id, source_id, status, ended))
    return facts


def dead_lettered(instance: DagsterInstance, database: FailtrackDatabase) -> int | None:
    spool = database.recorder(instance).spool
    if spool is None:
        return None
    folder = spool.directory / UNREADABLE
    return sum(1 for entry in folder.iterdir() if entry.is_file()) if folder.is_dir() else 0


def alert_after_run(
    instance: DagsterInstance,
    run: DagsterRun | None,
    database: FailtrackDatabase,
    sources: FailtrackSources,
    alerts: FailtrackAlerts,
    *,
    now: datetime | None = None,
) -> str:
    """Evaluate, queue the digest when due, deliver; returns what happened, for the tick."""
    alerting = alerts.load(sources)
    if alerting is None:
        return "no alerts configured"
    now = now or datetime.now(UTC)
    source_id = run.tags.get(Tag.SOURCE.value) if run is not None else None
    runs = {}
    if source_id and run is not None and run.job_name == SCRAPE_JOB:
        runs[source_id] = recent_run_facts(instance, source_id, runs_needed(alerting.active))
    engine = database.get_engine()
    seen = Observation(now, runs, dead_lettered(instance, database))
    announced = evaluate(engine, seen, alerting.config, alerting.active)
    digest = queue_digest(engine, alerting.config, now)
    delivery = deliver_due(engine, alerting.channels, now)
    return (
        f"{len(announced)} changes announced{', digest queued' if digest else ''}; "
        f"{delivery.sent} sent, {delivery.failed} failed (retried later), "
        f"{delivery.waiting} waiting"
    )


def build_alert_sensors() -> list[SensorDefinition]:
    @run_status_sensor(
        run_status=DagsterRunStatus.SUCCESS,
        default_status=DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=30,
    )
    def alert_on_run_success_sensor(
        context,
        failtrack_db: FailtrackDatabase,
        failtrack_sources: FailtrackSources,
        failtrack_alerts: FailtrackAlerts,
    ) -> SkipReason:
        """Evaluate the alert conditions as a run succeeds (a partial or silent scrape too)."""
        return SkipReason(
            alert_after_run(
                context.instance,
                context.dagster_run,
                failtrack_db,
                failtrack_sources,
                failtrack_alerts,
            )
        )

    @run_failure_sensor(default_status=DefaultSensorStatus.RUNNING, minimum_interval_seconds=30)
    def alert_on_run_failure_sensor(
        context,
        failtrack_db: FailtrackDatabase,
        failtrack_sources: FailtrackSources,
        failtrack_alerts: FailtrackAlerts,
    ) -> SkipReason:
        """Evaluate the alert conditions as a run fails."""
        return SkipReason(
            alert_after_run(
                context.instance,
                context.dagster_run,
                failtrack_db,
                failtrack_sources,
                failtrack_alerts,
            )
        )

    @sensor(default_status=DefaultSensorStatus.RUNNING, minimum_interval_seconds=60)
    def deliver_alerts_sensor(
        context: SensorEvaluationContext,
        failtrack_db: FailtrackDatabase,
        failtrack_sources: FailtrackSources,
        failtrack_alerts: FailtrackAlerts,
    ) -> SkipReason:
        """Retry what a channel could not take, announce held changes, queue the digest."""
        return SkipReason(
            alert_after_run(
                context.instance, None, failtrack_db, failtrack_sources, failtrack_alerts
            )
        )

    return [alert_on_run_success_sensor, alert_on_run_failure_sensor, deliver_alerts_sensor]
