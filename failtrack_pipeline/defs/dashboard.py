"""The dashboard's Definitions: the summary assets, their checks, one job and its schedule."""

# No `from __future__ import annotations`: Dagster reads the schedule's context annotation.

from collections.abc import Mapping, Sequence
from datetime import UTC, date, timedelta

from dagster import (
    AssetSelection,
    Definitions,
    RunConfig,
    RunRequest,
    ScheduleEvaluationContext,
    define_asset_job,
    schedule,
)

from failtrack_pipeline.defs.checks import (
    anomalous_sources,
    build_health_checks,
    new_or_regressed_failure_groups,
)
from failtrack_pipeline.defs.run_tags import PARTITION_RANGE_END_TAG, PARTITION_RANGE_START_TAG
from failtrack_pipeline.defs.summary_assets import (
    DASHBOARD_GROUP,
    STAGE_RATES,
    SUCCESS_RATES,
    TOP_GROUPS,
    AsOfConfig,
    HealthThresholdsResource,
    build_daily_stats_assets,
    build_success_rates_asset,
    discovery_event_failures_asset,
    error_category_breakdown,
    stage_success_rates,
    top_failure_groups,
)

DASHBOARD_JOB = "failtrack_dashboard_job"


def as_of_run_config(as_of: date) -> RunConfig:
    """Pins the tables that take an `as_of` to one day (the schedule's, or a test's)."""
    config = AsOfConfig(as_of=as_of.isoformat())
    return RunConfig(
        ops={
            SUCCESS_RATES.to_python_identifier(): config,
            TOP_GROUPS.to_python_identifier(): config,
            STAGE_RATES.to_python_identifier(): config,
        }
    )


failtrack_dashboard_job = define_asset_job(
    DASHBOARD_JOB,
    selection=AssetSelection.groups(DASHBOARD_GROUP),
    description="Refresh the dashboard tables and run their checks.",
)


def dashboard_run_request(today: date) -> RunRequest:
    """Yesterday's and today's stats in one run (so late runs of yesterday count), then the
    tables as of today, then the checks."""
    return RunRequest(
        run_key=today.isoformat(),
        run_config=as_of_run_config(today),
        tags={
            PARTITION_RANGE_START_TAG: (today - timedelta(days=1)).isoformat(),
            PARTITION_RANGE_END_TAG: today.isoformat(),
        },
    )


@schedule(job=failtrack_dashboard_job, cron_schedule="0 6 * * *", execution_timezone="UTC")
def daily_dashboard_schedule(context: ScheduleEvaluationContext) -> RunRequest:
    """Once a day, after the scrape: the dashboard as of today."""
    return dashboard_run_request(context.scheduled_execution_time.astimezone(UTC).date())


def build_summary_definitions(
    source_ids: Sequence[str],
    scrape_job_name: str,
    expected_every: Mapping[str, timedelta] | None = None,
) -> Definitions:
    """Everything the dashboard adds, over the sources of the sources file and the runs of
    `scrape_job_name`; the caller provides the `failtrack_db` resource. A source of
    `expected_every` with no run within its interval is `stale`."""
    return Definitions(
        assets=[
            discovery_event_failures_asset,
            build_daily_stats_assets(scrape_job_name),
            build_success_rates_asset(source_ids, expected_every),
            error_category_breakdown,
            top_failure_groups,
            stage_success_rates,
        ],
        asset_checks=[
            build_health_checks(
                source_ids, None if expected_every is None else list(expected_every)
            ),
            anomalous_sources,
            new_or_regressed_failure_groups,
        ],
        jobs=[failtrack_dashboard_job],
        schedules=[daily_dashboard_schedule],
        resources={"health_thresholds": HealthThresholdsResource()},
    )
