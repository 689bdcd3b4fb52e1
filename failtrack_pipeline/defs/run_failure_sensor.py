"""The run-failure sensor: the failures no hook sees (start-up errors, runs that died)."""

from typing import Any

from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    JobDefinition,
    RunFailureSensorContext,
    RunStatusSensorContext,
    SensorDefinition,
    run_failure_sensor,
    run_status_sensor,
)

from failtrack_pipeline.defs.resources import FailtrackDatabase, FailtrackSources
from failtrack_pipeline.defs.run_failures import TERMINATED, record_run_failure


def failure_reason(context: RunFailureSensorContext) -> Any:
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
            failure_reason(context),
            failtrack_db,
            failtrack_sources.rules(),
        )

    return record_run_failure_sensor


def build_run_canceled_sensor(jobs: list[JobDefinition]) -> SensorDefinition:
    @run_status_sensor(
        run_status=DagsterRunStatus.CANCELED,
        monitored_jobs=jobs,
        default_status=DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=30,
    )
    def record_run_canceled_sensor(
        context: RunStatusSensorContext,
        failtrack_db: FailtrackDatabase,
        failtrack_sources: FailtrackSources,
    ) -> None:
        """Record a run terminated while it scraped whose op could not record it itself
        (the worker was killed after the cancel timeout). A run cancelled before it started
        did its source no harm and is left alone; the ledger counts the others once."""
        record = context.instance.get_run_record_by_id(context.dagster_run.run_id)
        if record is None or record.start_time is None:
            return
        record_run_failure(
            context.instance,
            context.dagster_run,
            TERMINATED,
            failtrack_db,
            failtrack_sources.rules(),
        )

    return record_run_canceled_sensor
