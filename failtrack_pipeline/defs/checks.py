"""Asset checks on the dashboard tables. None blocks: a failing source never stops the refresh.

- `source_health_checks`: one check per source on `source_success_rates`, a warning when the
  source is degraded (7-day success rate below the healthy threshold) and an error when it
  is failing (below the degraded threshold).
- `anomalous_sources` on `source_success_rates`: warns while any source's success rate or
  run duration on as_of is far outside its own last 30 days (the table's `anomaly` column).
- `new_or_regressed_failure_groups` on `top_failure_groups`: warns while any failure group is
  new or has come back (after a quiet week, or after it was resolved); ignored groups never.
"""

# No `from __future__ import annotations`: Dagster reads the resource annotations.

from collections.abc import Iterator, Sequence
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    MetadataValue,
    asset_check,
    multi_asset_check,
)

from failtrack_pipeline.db.schema import source_success_rates
from failtrack_pipeline.defs.resources import FailtrackDatabase
from failtrack_pipeline.defs.summaries import SUCCESS_RATES, TOP_GROUPS, HealthThresholdsResource
from failtrack_pipeline.summaries.present import TOP_GROUPS_PREVIEW, Preview, markdown_table
from failtrack_pipeline.summaries.rates import Health
from failtrack_pipeline.tracking.triage import TriageState

_SEVERITY = {Health.DEGRADED: AssetCheckSeverity.WARN, Health.FAILING: AssetCheckSeverity.ERROR}
_HEALTH_COLUMNS = ("source_id", "health", "success_rate_7d", "runs_7d", "as_of")
_HEALTH = Preview(source_success_rates, _HEALTH_COLUMNS, (source_success_rates.c.source_id,))
_ANOMALIES = Preview(
    source_success_rates,
    (
        "source_id",
        "anomaly",
        "success_rate_1d",
        "success_rate_zscore",
        "duration_zscore",
        "as_of",
    ),
    (source_success_rates.c.source_id,),
)


def health_check_name(source_id: str) -> str:
    return f"health_{source_id}"


def build_health_checks(source_ids: Sequence[str]) -> AssetChecksDefinition:
    @multi_asset_check(
        specs=[
            AssetCheckSpec(
                health_check_name(source_id),
                asset=SUCCESS_RATES,
                blocking=False,
                description=(
                    f"{source_id}: warns when the 7-day success rate is below the healthy "
                    "threshold, errors when below the degraded one."
                ),
            )
            for source_id in source_ids
        ],
    )
    def source_health_checks(
        failtrack_db: FailtrackDatabase, health_thresholds: HealthThresholdsResource
    ) -> Iterator[AssetCheckResult]:
        rows = {
            row["source_id"]: row for row in _HEALTH.read(failtrack_db.get_engine(), limit=None)
        }
        thresholds = health_thresholds.thresholds()
        for source_id in source_ids:
            row = rows.get(source_id)
            health = Health(row["health"]) if row else Health.NO_DATA
            metadata: dict[str, Any] = {
                "health": health.value,
                "healthy_threshold": thresholds.healthy,
                "degraded_threshold": thresholds.degraded,
            }
            if row:
                metadata |= {"runs_7d": row["runs_7d"], "as_of": row["as_of"].isoformat()}
                if row["success_rate_7d"] is not None:
                    metadata["success_rate_7d"] = MetadataValue.float(row["success_rate_7d"])
            if health is Health.NO_DATA:
                metadata["note"] = (
                    "no scrape run in the last 7 days"
                    if row
                    else "not in source_success_rates yet: materialize it first"
                )
            yield AssetCheckResult(
                check_name=health_check_name(source_id),
                asset_key=SUCCESS_RATES,
                passed=health not in _SEVERITY,
                severity=_SEVERITY.get(health, AssetCheckSeverity.WARN),
                metadata=metadata,
            )

    return source_health_checks


@asset_check(
    asset=SUCCESS_RATES,
    blocking=False,
    description="Warns while a source's success rate drops, or its run duration moves, far "
    "outside its own last 30 days (robust z-score beyond 3.5).",
)
def anomalous_sources(failtrack_db: FailtrackDatabase) -> AssetCheckResult:
    anomalous = _ANOMALIES.read(
        failtrack_db.get_engine(), source_success_rates.c.anomaly.is_not(None), limit=None
    )
    return AssetCheckResult(
        passed=not anomalous,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "anomalous_sources": len(anomalous),
            "sources": MetadataValue.md(markdown_table(anomalous, _ANOMALIES.columns)),
        },
    )


@asset_check(
    asset=TOP_GROUPS,
    blocking=False,
    description="Warns while a failure group that is not ignored is new (first seen on as_of) "
    "or regressed.",
)
def new_or_regressed_failure_groups(failtrack_db: FailtrackDatabase) -> AssetCheckResult:
    table = TOP_GROUPS_PREVIEW.table.c
    flagged = TOP_GROUPS_PREVIEW.read(
        failtrack_db.get_engine(),
        (table.is_new | table.is_regressed) & (table.triage_state != TriageState.IGNORED.value),
        limit=None,
    )
    new = sum(1 for row in flagged if row["is_new"])
    regressed = sum(1 for row in flagged if row["is_regressed"])
    return AssetCheckResult(
        passed=not flagged,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "new_groups": new,
            "regressed_groups": regressed,
            "groups": MetadataValue.md(markdown_table(flagged, TOP_GROUPS_PREVIEW.columns)),
        },
    )
