"""Past days of the dashboard, recorded in Dagster for history written straight into the
tables (the demo's): runless materializations and check evaluations, so that the Plots tabs
of the assets and of each source's health check draw every day, not a single dot."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from dagster import AssetCheckEvaluation, AssetMaterialization, DagsterInstance

from failtrack_pipeline.config.policies import HealthThresholds
from failtrack_pipeline.defs.checks import health_check_name, source_health
from failtrack_pipeline.defs.summary_assets import (
    DAILY_SKIPS,
    DAILY_STATS,
    SCRAPE_RUNS,
    SUCCESS_RATES,
    TOP_GROUPS,
    success_rates_metadata,
    table_metadata,
    top_groups_metadata,
)
from failtrack_pipeline.summaries.groups import build_top_failure_groups
from failtrack_pipeline.summaries.present import (
    DAILY_SKIPS_PREVIEW,
    DAILY_STATS_PREVIEW,
    SCRAPE_RUNS_PREVIEW,
)
from failtrack_pipeline.summaries.rates import build_success_rates


def report_past_day(
    instance: DagsterInstance,
    engine: sa.Engine,
    source_ids: Sequence[str],
    day: date,
    thresholds: HealthThresholds,
) -> None:
    """Build the dashboard as it was on `day` and record it: the daily tables' partition
    `day`, the windowed tables as of `day`, and each source's health check on them."""
    partition = day.isoformat()
    for key, preview in (
        (SCRAPE_RUNS, SCRAPE_RUNS_PREVIEW),
        (DAILY_STATS, DAILY_STATS_PREVIEW),
        (DAILY_SKIPS, DAILY_SKIPS_PREVIEW),
    ):
        metadata = table_metadata(engine, preview, preview.table.c.day == day)
        instance.report_runless_asset_event(
            AssetMaterialization(key, partition=partition, metadata=metadata)
        )
    rates = build_success_rates(engine, source_ids, day, thresholds)
    groups = build_top_failure_groups(engine, day)
    for key, metadata in (
        (SUCCESS_RATES, success_rates_metadata(engine, rates, day, thresholds)),
        (TOP_GROUPS, top_groups_metadata(engine, groups, day)),
    ):
        instance.report_runless_asset_event(AssetMaterialization(key, metadata=metadata))
    for source_id, verdict in source_health(engine, source_ids, thresholds):
        instance.report_runless_asset_event(
            AssetCheckEvaluation(
                asset_key=SUCCESS_RATES,
                check_name=health_check_name(source_id),
                passed=verdict.passed,
                severity=verdict.severity,
                metadata=verdict.metadata,
            )
        )
