"""The dashboard on a real Dagster instance: scrape-like runs, then the daily schedule's run.

Runs twice: Dagster storage and failtrack's tables both on SQLite, then both on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from dagster import AssetCheckSeverity, Definitions, build_schedule_context

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.db.schema import scrape_runs, source_daily_skips, source_daily_stats
from failtrack_pipeline.defs.dashboard import DASHBOARD_JOB, build_summary_definitions
from failtrack_pipeline.defs.resources import FailtrackDatabase
from failtrack_pipeline.defs.summary_assets import HealthThresholdsResource
from failtrack_pipeline.tracking.failures import FailureRecord
from failtrack_pipeline.tracking.store import record_failures
from failtrack_pipeline_tests.conftest import Backend
from failtrack_pipeline_tests.summaries.fake_scrape import fake_scrape_job, scrape

SOURCES = ["alpha", "beta", "gamma", "delta"]


def table_rows(backend: Backend, table: sa.Table) -> list[tuple[object, ...]]:
    with backend.engine.connect() as connection:
        return sorted(tuple(row) for row in connection.execute(sa.select(table)))


def test_the_daily_run_materializes_every_table_with_metadata_and_checks(
    backend: Backend,
) -> None:
    scrape(backend.instance, "alpha", "success", 10, 0, skipped={"ended": 3, "cancelled": 1})
    scrape(backend.instance, "beta", "partial", 8, 2)
    scrape(backend.instance, "gamma", fail=True)  # no failtrack/status tag: counted as failed
    now = datetime.now(UTC)
    beta_failures = [
        FailureRecord(
            "beta", ErrorCategory.VALIDATION, "title missing", "title missing", f"b{i}", now
        )
        for i in range(2)
    ]
    record_failures(backend.engine, beta_failures, run_id="beta-run", batch="events")

    defs = Definitions.merge(
        build_summary_definitions(SOURCES, fake_scrape_job.name),
        Definitions(resources={"failtrack_db": FailtrackDatabase()}),
    )
    schedule = defs.resolve_schedule_def("daily_dashboard_schedule")
    tick = schedule.evaluate_tick(
        build_schedule_context(instance=backend.instance, scheduled_execution_time=now)
    )
    (request,) = tick.run_requests or []
    dashboard = defs.resolve_job_def(DASHBOARD_JOB)
    result = dashboard.execute_in_process(
        instance=backend.instance, run_config=request.run_config, tags=request.tags
    )
    assert result.success  # failing checks never block

    materialized: dict[str, list[dict]] = {}
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        materialized.setdefault(materialization.asset_key.to_user_string(), []).append(
            {key: getattr(value, "value", value) for key, value in materialization.metadata.items()}
        )
    # The schedule's run: yesterday's and today's stats, then the unpartitioned tables.
    assert {key: len(events) for key, events in materialized.items()} == {
        "scrape_runs": 2,
        "source_daily_stats": 2,
        "source_daily_skips": 2,
        "source_success_rates": 1,
        "error_category_breakdown": 1,
        "top_failure_groups": 1,
        "stage_success_rates": 1,
    }
    for key, (metadata, *_) in materialized.items():
        assert metadata["dagster/table_name"] == key
        assert metadata["dagster/row_count"] >= 1
        assert {column.name for column in metadata["dagster/column_schema"].columns}
        preview = metadata["preview"]
        assert preview.records
        assert [column.name for column in preview.schema.columns] == list(preview.records[0].data)

    rates = materialized["source_success_rates"][0]
    assert rates["dagster/row_count"] == 4
    assert rates["overall_success_rate_7d"] == 18 / 20  # alpha's 4 skipped events left out
    assert rates["anomalous_sources"] == 0  # no history to be anomalous against
    assert (rates["healthy_sources"], rates["degraded_sources"]) == (1, 1)
    assert (rates["failing_sources"], rates["no_data_sources"]) == (1, 1)
    shown = {row.data["source_id"]: row.data for row in rates["sources_overview"].records}
    assert shown["gamma"]["health"] == "failing"
    assert (
        shown["gamma"]["health_reason"] == "run rate 0.0 % (1 failed of 1 runs); no events to judge"
    )
    assert materialized["error_category_breakdown"][0]["total_failures"] == 2
    assert materialized["top_failure_groups"][0]["new_groups"] == 1
    assert materialized["scrape_runs"][0]["dagster/partition_row_count"] == 3
    assert materialized["stage_success_rates"][0]["stages"] == 1  # scrape only
    assert materialized["stage_success_rates"][0]["dagster/row_count"] == 3  # gamma: no events

    checks = {
        check.check_name: (check.passed, check.severity)
        for check in result.get_asset_check_evaluations()
    }
    assert checks == {
        "health_alpha": (True, AssetCheckSeverity.WARN),
        "health_beta": (False, AssetCheckSeverity.WARN),
        "health_gamma": (False, AssetCheckSeverity.ERROR),
        "health_delta": (False, AssetCheckSeverity.WARN),  # no data: nothing passes unseen
        "anomalous_sources": (True, AssetCheckSeverity.WARN),
        "new_or_regressed_failure_groups": (False, AssetCheckSeverity.WARN),
    }

    stored = table_rows(backend, scrape_runs), table_rows(backend, source_daily_stats)
    with backend.engine.connect() as connection:
        statuses = connection.execute(sa.select(scrape_runs.c.source_id, scrape_runs.c.status))
        assert sorted(statuses.tuples()) == [
            ("alpha", "success"),
            ("beta", "partial"),
            ("gamma", "failed"),
        ]
        skips = connection.execute(
            sa.select(source_daily_skips.c.source_id, source_daily_skips.c.reason)
        )
        assert sorted(skips.tuples()) == [("alpha", "cancelled"), ("alpha", "ended")]
    dashboard.execute_in_process(
        instance=backend.instance, run_config=request.run_config, tags=request.tags
    )
    assert (table_rows(backend, scrape_runs), table_rows(backend, source_daily_stats)) == stored


def test_thresholds_out_of_order_are_refused_when_configured() -> None:
    with pytest.raises(ValueError, match="0 < degraded <= healthy <= 1"):
        HealthThresholdsResource(healthy_threshold=0.8, degraded_threshold=0.9)


def test_the_project_definitions_include_the_dashboard() -> None:
    from failtrack_pipeline.definitions import defs

    job = defs.resolve_job_def(DASHBOARD_JOB)
    assert defs.resolve_schedule_def("daily_dashboard_schedule").job_name == DASHBOARD_JOB
    assert job.partitions_def is not None
    checks = defs.resolve_asset_graph().asset_check_keys
    sources = defs.resolve_job_def("scrape_sources_job").partitions_def.get_partition_keys()
    assert {key.name for key in checks} == {f"health_{source}" for source in sources} | {
        "anomalous_sources",
        "new_or_regressed_failure_groups",
        "field_coverage",
        "no_dead_lettered_failures",
    }
