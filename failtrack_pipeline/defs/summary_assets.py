"""The dashboard's assets: failtrack's summary tables, each written in failtrack's database.

Every asset writes a plain SQL table (see docs/analysts.md) and reports its row count, column
schema, table name and a preview as Dagster table metadata (the UI draws it inline, as text:
no markdown to escape). `source_success_rates` leads with the sources overview (which
source, why, since when). The numbers worth watching over time (overall success rate,
failing sources, total failures, new groups, each source's 7-day rates) are numeric
metadata that the asset's Plots tab draws.
"""

# No `from __future__ import annotations`: Dagster reads the config and context annotations.

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    BackfillPolicy,
    Config,
    ConfigurableResource,
    DagsterInstance,
    DagsterRunStatus,
    DailyPartitionsDefinition,
    FreshnessPolicy,
    MaterializeResult,
    MetadataValue,
    RunRecord,
    RunsFilter,
    TableColumn,
    TableRecord,
    TableSchema,
    asset,
    multi_asset,
)
from pydantic import Field, model_validator

from failtrack_pipeline.config.policies import HealthThresholds
from failtrack_pipeline.db import schema
from failtrack_pipeline.defs.resources import FailtrackDatabase
from failtrack_pipeline.defs.retry_job import RETRY_JOB
from failtrack_pipeline.defs.run_history import FINISHED_RUN_STATUSES
from failtrack_pipeline.defs.run_tags import PARTITION_TAG, Tag, tagged_counts
from failtrack_pipeline.summaries.breakdown import build_error_category_breakdown
from failtrack_pipeline.summaries.daily import ScrapeRun, refresh_day
from failtrack_pipeline.summaries.days import parse_day, start_of_day
from failtrack_pipeline.summaries.groups import TopGroups, build_top_failure_groups
from failtrack_pipeline.summaries.present import (
    BREAKDOWN_PREVIEW,
    DAILY_SKIPS_PREVIEW,
    DAILY_STATS_PREVIEW,
    SCRAPE_RUNS_PREVIEW,
    SOURCES_OVERVIEW,
    STAGE_RATES_PREVIEW,
    SUCCESS_RATES_PREVIEW,
    TOP_GROUPS_PREVIEW,
    TREND,
    Preview,
    column_description,
    column_type_name,
    formatted,
    sources_overview,
)
from failtrack_pipeline.summaries.rates import SuccessRates, build_success_rates
from failtrack_pipeline.summaries.sql import count_rows
from failtrack_pipeline.summaries.stages import build_stage_success_rates
from failtrack_pipeline.tracking.outcome import RunStatus

DASHBOARD_GROUP = "failtrack_dashboard"
FIRST_DAY = "2026-01-01"
daily_partitions = DailyPartitionsDefinition(start_date=FIRST_DAY, end_offset=1)  # up to today

SCRAPE_RUNS = AssetKey("scrape_runs")
DAILY_STATS = AssetKey("source_daily_stats")
DAILY_SKIPS = AssetKey("source_daily_skips")
SUCCESS_RATES = AssetKey("source_success_rates")
BREAKDOWN = AssetKey("error_category_breakdown")
TOP_GROUPS = AssetKey("top_failure_groups")
STAGE_RATES = AssetKey("stage_success_rates")
FAILURES = AssetKey("discovery_event_failures")
COVERAGE = AssetKey("source_field_coverage")  # defs.coverage_assets builds it
_HEALTH = HealthThresholds.model_fields
# Dagster's own freshness: a dashboard table not refreshed within a day and two hours (the
# daemon stopped, the schedule off) is shown stale in the UI, whatever the tables say.
DASHBOARD_FRESHNESS = FreshnessPolicy.time_window(fail_window=timedelta(hours=26))


class HealthThresholdsResource(ConfigurableResource):
    """Success rates (0..1) at which a source counts as healthy or degraded (below: failing)."""

    healthy_threshold: float = Field(
        default=_HEALTH["healthy"].default, description=_HEALTH["healthy"].description
    )
    degraded_threshold: float = Field(
        default=_HEALTH["degraded"].default, description=_HEALTH["degraded"].description
    )

    @model_validator(mode="after")
    def _ordered(self) -> "HealthThresholdsResource":
        self.thresholds()
        return self

    def thresholds(self) -> HealthThresholds:
        return HealthThresholds(healthy=self.healthy_threshold, degraded=self.degraded_threshold)


class AsOfConfig(Config):
    as_of: str | None = Field(
        default=None,
        description="ISO date (UTC) whose windows the table describes; default: today.",
    )

    def day(self) -> date:
        return parse_day(self.as_of)


def table_schema(table: sa.Table) -> TableSchema:
    return TableSchema(
        columns=[
            TableColumn(name=column.name, type=column_type_name(column), description=column.comment)
            for column in table.columns
        ]
    )


def table_metadata(
    engine: sa.Engine, preview: Preview, partition: sa.ColumnElement[bool] | None = None
) -> dict[str, Any]:
    """What every summary materialization shows: size, schema, table name and a preview.

    For a partitioned table, `partition` selects the materialized partitions' rows: they
    are counted apart and previewed.
    """
    table = preview.table
    where = () if partition is None else (partition,)
    with engine.connect() as connection:
        counts = {"dagster/row_count": count_rows(connection, table)}
        if partition is not None:
            counts["dagster/partition_row_count"] = count_rows(connection, table, partition)
    return {
        "preview": table_preview(preview, preview.read(engine, *where), preview.columns),
        **counts,
        **table_identity(table),
    }


def table_preview(
    preview: Preview, rows: Sequence[dict[str, Any]], columns: Sequence[str]
) -> MetadataValue:
    """Rows as Dagster table metadata: every cell text as people read it (rates in %)."""
    schema = TableSchema(
        columns=[
            TableColumn(name=name, type="text", description=column_description(preview, name))
            for name in columns
        ]
    )
    records = [TableRecord({name: row[name] for name in columns}) for row in formatted(rows)]
    return MetadataValue.table(records=records, schema=schema)


def table_identity(table: sa.Table) -> dict[str, Any]:
    """The table analysts query and its documented columns."""
    return {"dagster/table_name": table.name, "dagster/column_schema": table_schema(table)}


discovery_event_failures_asset = AssetSpec(
    FAILURES,
    group_name=DASHBOARD_GROUP,
    kinds={"table"},
    description=(
        "One row per failure group, written by the scrape runs (with its per-day counts in "
        "discovery_event_failure_days). Not materialized here: the summaries read it."
    ),
    metadata=table_identity(schema.discovery_event_failures),
)


def scrape_run_from_record(record: RunRecord) -> ScrapeRun | None:
    """A finished run of the scrape job as a `ScrapeRun`; None if it names no source.

    The status is the run's `failtrack/status` tag; a run without one counts as failed
    unless Dagster says it succeeded. A run of the retry job is marked `is_retry`.
    """
    run = record.dagster_run
    tags = run.tags
    source_id = tags.get(Tag.SOURCE.value) or tags.get(PARTITION_TAG)
    if not source_id:
        return None
    created = record.create_timestamp.astimezone(UTC)
    started = _moment(record.start_time) or created
    ended = _moment(record.end_time) or record.update_timestamp.astimezone(UTC)
    try:
        status = RunStatus(tags.get(Tag.STATUS.value, ""))
    except ValueError:
        succeeded = run.status == DagsterRunStatus.SUCCESS
        status = RunStatus.SUCCESS if succeeded else RunStatus.FAILED
    try:
        counts = tagged_counts(tags)
    except ValueError as bad:
        raise ValueError(f"run {run.run_id}: {bad}") from bad
    return ScrapeRun(
        run_id=run.run_id,
        source_id=source_id,
        day=created.date(),
        status=status,
        events_processed=counts.processed,
        events_succeeded=counts.succeeded,
        events_failed=counts.failed,
        started_at=started,
        ended_at=max(ended, started),
        events_skipped=counts.skipped,
        skip_reasons={reason.value: n for reason, n in counts.skip_reasons.items()},
        is_retry=run.job_name == RETRY_JOB,
    )


def harvest_day(instance: DagsterInstance, job_names: Sequence[str], day: date) -> list[ScrapeRun]:
    """The finished runs of `job_names` launched on `day` (only those: indexed range queries)."""
    runs = []
    for job_name in job_names:
        records = instance.get_run_records(
            filters=RunsFilter(
                job_name=job_name,
                statuses=FINISHED_RUN_STATUSES,
                # Dagster compares strictly: widen by a microsecond to include midnight itself.
                created_after=start_of_day(day) - timedelta(microseconds=1),
                created_before=start_of_day(day + timedelta(days=1)),
            )
        )
        runs += [run for run in map(scrape_run_from_record, records) if run is not None]
    return runs


def build_daily_stats_assets(scrape_job_name: str) -> AssetsDefinition:
    @multi_asset(
        specs=[
            AssetSpec(
                SCRAPE_RUNS,
                group_name=DASHBOARD_GROUP,
                kinds={"table"},
                description=f"One row per finished run of {scrape_job_name} and {RETRY_JOB} "
                "(marked is_retry), per launch day.",
            ),
            AssetSpec(
                DAILY_STATS,
                group_name=DASHBOARD_GROUP,
                kinds={"table"},
                deps=[SCRAPE_RUNS],
                description="Per source and UTC day: runs, failed runs, events, success rate.",
            ),
            AssetSpec(
                DAILY_SKIPS,
                group_name=DASHBOARD_GROUP,
                kinds={"table"},
                deps=[SCRAPE_RUNS],
                description="Per source, UTC day and reason: events skipped on purpose.",
            ),
        ],
        partitions_def=daily_partitions,
        backfill_policy=BackfillPolicy.single_run(),
    )
    def source_daily_stats(
        context: AssetExecutionContext, failtrack_db: FailtrackDatabase
    ) -> Iterator[MaterializeResult]:
        """Harvest each day's scrape and retry runs from Dagster's run records, then
        aggregate the day (and its skips per reason)."""
        engine = failtrack_db.get_engine()
        days = [date.fromisoformat(key) for key in context.partition_keys]
        harvested = 0
        for day in days:
            refreshed = refresh_day(
                engine, day, harvest_day(context.instance, [scrape_job_name, RETRY_JOB], day)
            )
            harvested += refreshed.runs_harvested
            context.log.info(
                f"{day}: {refreshed.runs_harvested} runs, {refreshed.stats_rows} source rows"
            )
        for preview, key in (
            (SCRAPE_RUNS_PREVIEW, SCRAPE_RUNS),
            (DAILY_STATS_PREVIEW, DAILY_STATS),
            (DAILY_SKIPS_PREVIEW, DAILY_SKIPS),
        ):
            in_days = preview.table.c.day.in_(days)
            yield MaterializeResult(
                asset_key=key,
                metadata=table_metadata(engine, preview, in_days)
                | {"days": ", ".join(map(str, days))},
            )
        context.log.info(f"harvested {harvested} runs of {scrape_job_name}")

    return source_daily_stats


def success_rates_metadata(
    engine: sa.Engine,
    rates: SuccessRates,
    as_of: date,
    thresholds: HealthThresholds,
    own_thresholds: Mapping[str, HealthThresholds] | None = None,
) -> dict[str, Any]:
    """The sources overview first, then the full table, the counts worth plotting and each
    source's 7-day event and run success rates (one plot per source)."""
    overview = table_preview(
        SOURCES_OVERVIEW, sources_overview(engine), (*SOURCES_OVERVIEW.columns, TREND)
    )
    by_health = {
        f"{health.value}_sources": MetadataValue.int(count)
        for health, count in rates.sources_by_health.items()
    }
    overall = {}
    if rates.overall_success_rate_7d is not None:
        overall["overall_success_rate_7d"] = MetadataValue.float(rates.overall_success_rate_7d)
    judged_by = [thresholds.describe()]
    judged_by += [f"{source}: {own.describe()}" for source, own in (own_thresholds or {}).items()]
    per_source = {}
    for row in SOURCES_OVERVIEW.read(engine, limit=None):
        for column in ("success_rate_7d", "run_success_rate_7d"):
            if row[column] is not None:
                per_source[f"{row['source_id']}/{column}"] = MetadataValue.float(row[column])
    return (
        {"sources_overview": overview}
        | table_metadata(engine, SUCCESS_RATES_PREVIEW)
        | {
            "as_of": as_of.isoformat(),
            "health_thresholds": MetadataValue.text("; ".join(judged_by)),
        }
        | overall
        | by_health
        | {"anomalous_sources": MetadataValue.int(rates.anomalous_sources)}
        | per_source
    )


def build_success_rates_asset(
    source_ids: Sequence[str],
    expected_every: Mapping[str, timedelta] | None = None,
    own_thresholds: Mapping[str, HealthThresholds] | None = None,
) -> AssetsDefinition:
    """The table over `source_ids`; a source in `own_thresholds` is judged by its own."""

    @asset(
        key=SUCCESS_RATES,
        group_name=DASHBOARD_GROUP,
        freshness_policy=DASHBOARD_FRESHNESS,
        kinds={"table"},
        deps=[DAILY_STATS, SCRAPE_RUNS, COVERAGE],
    )
    def source_success_rates(
        config: AsOfConfig,
        failtrack_db: FailtrackDatabase,
        health_thresholds: HealthThresholdsResource,
    ) -> MaterializeResult:
        """Which source, why and since when: per source a health level (the worse of the
        7-day event and run success rates) and its reason, the top failure, failing since,
        last success, success rates over 1, 7 and 30 days, run durations, skips, silent
        failures, anomalies against the source's own last 30 days and the worst field's
        coverage."""
        engine = failtrack_db.get_engine()
        as_of = config.day()
        thresholds = health_thresholds.thresholds()
        rates = build_success_rates(
            engine, source_ids, as_of, thresholds, expected_every, own_thresholds
        )
        return MaterializeResult(
            metadata=success_rates_metadata(engine, rates, as_of, thresholds, own_thresholds)
        )

    return source_success_rates


@asset(key=BREAKDOWN, group_name=DASHBOARD_GROUP, kinds={"table"}, deps=[FAILURES])
def error_category_breakdown(failtrack_db: FailtrackDatabase) -> MaterializeResult:
    """Failures per source and category (source `*`: all sources) with a suggested next step."""
    engine = failtrack_db.get_engine()
    breakdown = build_error_category_breakdown(engine)
    return MaterializeResult(
        metadata=table_metadata(engine, BREAKDOWN_PREVIEW)
        | {"total_failures": MetadataValue.int(breakdown.total_failures)}
    )


def top_groups_metadata(engine: sa.Engine, groups: TopGroups, as_of: date) -> dict[str, Any]:
    return table_metadata(engine, TOP_GROUPS_PREVIEW) | {
        "as_of": as_of.isoformat(),
        "new_groups": MetadataValue.int(groups.new_groups),
        "regressed_groups": MetadataValue.int(groups.regressed_groups),
    }


@asset(
    key=TOP_GROUPS,
    group_name=DASHBOARD_GROUP,
    kinds={"table"},
    deps=[FAILURES],
    freshness_policy=DASHBOARD_FRESHNESS,
)
def top_failure_groups(config: AsOfConfig, failtrack_db: FailtrackDatabase) -> MaterializeResult:
    """The failure groups as an issue list: the 20 with most occurrences in the last 7 days
    and every new or regressed one, with the id a retry takes, 24 h and 7-day counts."""
    engine = failtrack_db.get_engine()
    as_of = config.day()
    groups = build_top_failure_groups(engine, as_of)
    return MaterializeResult(metadata=top_groups_metadata(engine, groups, as_of))


@asset(
    key=STAGE_RATES,
    group_name=DASHBOARD_GROUP,
    kinds={"table"},
    deps=[DAILY_STATS, FAILURES],
    freshness_policy=DASHBOARD_FRESHNESS,
)
def stage_success_rates(config: AsOfConfig, failtrack_db: FailtrackDatabase) -> MaterializeResult:
    """Per source and pipeline stage (scrape, and each step tracked with FailtrackTracker):
    event success rates over 1, 7 and 30 days and the stage's top failure."""
    engine = failtrack_db.get_engine()
    as_of = config.day()
    rates = build_stage_success_rates(engine, as_of)
    return MaterializeResult(
        metadata=table_metadata(engine, STAGE_RATES_PREVIEW)
        | {"as_of": as_of.isoformat(), "stages": MetadataValue.int(rates.stages)}
    )


def _moment(epoch_seconds: float | None) -> datetime | None:
    return None if epoch_seconds is None else datetime.fromtimestamp(epoch_seconds, UTC)
