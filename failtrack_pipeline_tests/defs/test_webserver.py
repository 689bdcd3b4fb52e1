"""The Dagster UI as the dashboard: the real webserver, on loopback, over a populated instance.

The instance gets scrape-like runs and failure groups, then the dashboard job's run; the
webserver (a subprocess, like `dagster dev`) must then serve the assets, their latest
metadata, the check results and the runs filtered by `failtrack/*` tags through GraphQL.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.config.environment import DATABASE_URL_ENV
from failtrack_pipeline.defs.dashboard import DASHBOARD_JOB
from failtrack_pipeline.defs.resources import migrated_engine
from failtrack_pipeline.summaries.days import utc_today
from failtrack_pipeline.testing.webserver import DAGSTER_YAML, dagster_webserver, graphql
from failtrack_pipeline.tracking.failures import FailureRecord
from failtrack_pipeline.tracking.store import record_failures
from failtrack_pipeline_tests.summaries.fake_scrape import scrape

DASHBOARD_TABLES = [
    "scrape_runs",
    "source_daily_stats",
    "source_daily_skips",
    "source_success_rates",
    "error_category_breakdown",
    "top_failure_groups",
    "stage_success_rates",
]

ASSETS = """
query ($group: AssetGroupSelector!) {
  assetNodes(group: $group) { assetKey { path } }
}
"""

LATEST = """
query ($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) {
    ... on AssetNode {
      assetMaterializations(limit: 1) {
        metadataEntries {
          label
          ... on IntMetadataEntry { intValue }
          ... on FloatMetadataEntry { floatValue }
          ... on TextMetadataEntry { text }
          ... on TableMetadataEntry { table { records schema { columns { name } } } }
          ... on TableSchemaMetadataEntry { schema { columns { name type } } }
        }
      }
      assetChecksOrError {
        ... on AssetChecks {
          checks {
            name
            executionForLatestMaterialization { status evaluation { severity success } }
          }
        }
      }
    }
  }
}
"""

RUNS_BY_TAG = """
query ($key: String!, $value: String!) {
  runsOrError(filter: {tags: [{key: $key, value: $value}]}) {
    ... on Runs { results { status tags { key value } } }
  }
}
"""


@pytest.fixture
def populated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A Dagster home with scrape runs of three demo sources and today's dashboard run."""
    from failtrack_pipeline.definitions import defs

    (tmp_path / "dagster.yaml").write_text(DAGSTER_YAML)
    env = {DATABASE_URL_ENV: f"sqlite:///{tmp_path / 'failtrack.db'}"}
    monkeypatch.setenv(DATABASE_URL_ENV, env[DATABASE_URL_ENV])
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        scrape(instance, "harbour_festival", "success", 12, 0, skipped={"cancelled": 1})
        scrape(instance, "city_concerts", "partial", 25, 5)
        scrape(instance, "offline_calendar", "failed", fail=True)  # tagged as the hook does
        failures = [
            FailureRecord(
                "city_concerts",
                ErrorCategory.VALIDATION,
                "title missing",
                "title missing",
                f"cc-{i}",
                datetime.now(UTC),
            )  # fmt: skip
            for i in range(5)
        ]
        record_failures(migrated_engine(env[DATABASE_URL_ENV]), failures, run_id="r", batch="b")
        result = defs.resolve_job_def(DASHBOARD_JOB).execute_in_process(
            instance=instance, partition_key=utc_today().isoformat()
        )
        assert result.success
    return env


def latest(url: str, asset: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The latest materialization's metadata by label, and the asset's checks by name."""
    node = graphql(url, LATEST, key={"path": [asset]})["assetNodeOrError"]
    (materialization,) = node["assetMaterializations"]
    metadata = {entry.pop("label"): entry for entry in materialization["metadataEntries"]}
    checks = {check.pop("name"): check for check in node["assetChecksOrError"]["checks"]}
    return metadata, checks


def test_the_webserver_serves_the_dashboard_assets_metadata_checks_and_tagged_runs(
    tmp_path: Path, populated_home: dict[str, str]
) -> None:
    with dagster_webserver(tmp_path, populated_home) as url:
        group = {
            "groupName": "failtrack_dashboard",
            "repositoryName": "__repository__",
            "repositoryLocationName": "failtrack",
        }
        nodes = graphql(url, ASSETS, group=group)["assetNodes"]
        assert sorted(node["assetKey"]["path"][0] for node in nodes) == sorted(
            [*DASHBOARD_TABLES, "discovery_event_failures", "source_field_coverage"]
        )

        for table in DASHBOARD_TABLES:
            metadata, _ = latest(url, table)
            assert metadata["dagster/table_name"] == {"text": table}
            assert metadata["dagster/row_count"]["intValue"] >= 1
            assert metadata["dagster/column_schema"]["schema"]["columns"]
            preview = metadata["preview"]["table"]
            assert preview["records"] and preview["schema"]["columns"]

        rates, health = latest(url, "source_success_rates")
        assert rates["overall_success_rate_7d"] == {"floatValue": 37 / 42}
        assert rates["failing_sources"] == {"intValue": 1}
        overview = [json.loads(row) for row in rates["sources_overview"]["table"]["records"]]
        assert {"source_id": "offline_calendar", "health": "failing"}.items() <= overview[0].items()
        executions = {
            name: check["executionForLatestMaterialization"] for name, check in health.items()
        }
        outcome = {
            name: (execution["status"], execution["evaluation"]["severity"])
            for name, execution in executions.items()
        }
        assert outcome["health_harbour_festival"] == ("SUCCEEDED", "WARN")
        assert outcome["health_city_concerts"] == ("FAILED", "WARN")
        assert outcome["health_offline_calendar"] == ("FAILED", "ERROR")
        assert outcome["health_legacy_listings"] == ("SUCCEEDED", "WARN")  # disabled

        groups, group_checks = latest(url, "top_failure_groups")
        assert groups["new_groups"] == {"intValue": 1}
        execution = group_checks["new_or_regressed_failure_groups"]
        assert execution["executionForLatestMaterialization"]["status"] == "FAILED"

        failed = graphql(url, RUNS_BY_TAG, key="failtrack/status", value="failed")
        ((run,),) = [failed["runsOrError"]["results"]]
        assert run["status"] == "FAILURE"
        assert {"key": "failtrack/source", "value": "offline_calendar"} in run["tags"]
