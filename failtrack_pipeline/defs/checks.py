"""Asset checks on the dashboard tables. None blocks: a failing source never stops the refresh.

- `source_health_checks`: one check per source on `source_success_rates`, a warning when the
  source is degraded and an error when it is failing. Health is the worse of the 7-day event
  and run success rates against the thresholds; the check shows both rates (plotted over
  the check's history) and the reason in words.
- `anomalous_sources` on `source_success_rates`: warns while any source's success rate or
  run duration on as_of is far outside its own last 30 days (the table's `anomaly` column).
- `new_or_regressed_failure_groups` on `top_failure_groups`: warns while any failure group is
  new or has come back (after a quiet week, or after it was resolved); ignored groups never.
"""

# No `from __future__ import annotations`: Dagster reads the resource annotations.

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    MetadataValue,
    asset_check,
    multi_asset_check,
)

from failtrack_pipeline.config.policies import HealthThresholds
from failtrack_pipeline.db.schema import source_success_rates
from failtrack_pipeline.defs.resources import FailtrackDatabase
from failtrack_pipeline.defs.summary_assets import (
    SUCCESS_RATES,
    TOP_GROUPS,
    HealthThresholdsResource,
    table_preview,
)
from failtrack_pipeline.summaries.present import TOP_GROUPS_PREVIEW, Preview
from failtrack_pipeline.summaries.rates import Health
from failtrack_pipeline.tracking.triage import TriageState

# Health that fails a source's check, and how loudly: an enabled source with no data yet
# fails too (nothing passes for a source nobody has seen), stale as loudly as failing.
_SEVERITY = {
    Health.DEGRADED: AssetCheckSeverity.WARN,
    Health.FAILING: AssetCheckSeverity.ERROR,
    Health.STALE: AssetCheckSeverity.ERROR,
    Health.NO_DATA: AssetCheckSeverity.WARN,
}
_HEALTH_COLUMNS = (
    "source_id",
    "health",
    "health_reason",
    "success_rate_7d",
    "run_success_rate_7d",
    "runs_7d",
    "as_of",
)
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


@dataclass(frozen=True)
class HealthVerdict:
    """One source's health check outcome: what the check and a reported past day show."""

    passed: bool
    severity: AssetCheckSeverity
    metadata: dict[str, Any]


def source_health(
    engine: sa.Engine,
    source_ids: Sequence[str],
    thresholds: HealthThresholds,
    enabled: Collection[str] | None = None,
    own_thresholds: Mapping[str, HealthThresholds] | None = None,
) -> Iterator[tuple[str, HealthVerdict]]:
    """Each source's verdict from `source_success_rates` as it stands; the thresholds
    shown are the source's own (`own_thresholds`), else `thresholds`."""
    rows = {row["source_id"]: row for row in _HEALTH.read(engine, limit=None)}
    for source_id in source_ids:
        row = rows.get(source_id)
        health = Health(row["health"]) if row else Health.NO_DATA
        judged_by = (own_thresholds or {}).get(source_id, thresholds)
        metadata: dict[str, Any] = {
            "health": health.value,
            "health_thresholds": MetadataValue.text(judged_by.describe()),
        }
        if row:
            metadata |= {
                "reason": MetadataValue.text(row["health_reason"] or ""),
                "runs_7d": MetadataValue.int(row["runs_7d"]),
                "as_of": row["as_of"].isoformat(),
            }
            for rate in ("success_rate_7d", "run_success_rate_7d"):
                if row[rate] is not None:
                    metadata[rate] = MetadataValue.float(row[rate])
        else:
            metadata["reason"] = "not in source_success_rates yet: materialize it first"
        severity = _SEVERITY.get(health, AssetCheckSeverity.WARN)
        # A disabled source is not scraped on purpose: no data is no fault of it.
        idle = health is Health.NO_DATA and enabled is not None and source_id not in enabled
        yield source_id, HealthVerdict(idle or health not in _SEVERITY, severity, metadata)


def build_health_checks(
    source_ids: Sequence[str],
    enabled: Collection[str] | None = None,
    own_thresholds: Mapping[str, HealthThresholds] | None = None,
) -> AssetChecksDefinition:
    @multi_asset_check(
        specs=[
            AssetCheckSpec(
                health_check_name(source_id),
                asset=SUCCESS_RATES,
                blocking=False,
                description=(
                    f"{source_id}: warns when degraded or without data, errors when failing "
                    "or stale (no run within its expected_every). Health is the worse of the "
                    "7-day event success rate and run success rate (runs that neither failed "
                    "nor silently failed) against the healthy and degraded thresholds "
                    f"({_thresholds_of(source_id, own_thresholds)})."
                ),
            )
            for source_id in source_ids
        ],
    )
    def source_health_checks(
        failtrack_db: FailtrackDatabase, health_thresholds: HealthThresholdsResource
    ) -> Iterator[AssetCheckResult]:
        thresholds = health_thresholds.thresholds()
        for source_id, health in source_health(
            failtrack_db.get_engine(), source_ids, thresholds, enabled, own_thresholds
        ):
            yield AssetCheckResult(
                check_name=health_check_name(source_id),
                asset_key=SUCCESS_RATES,
                passed=health.passed,
                severity=health.severity,
                metadata=health.metadata,
            )

    return source_health_checks


def _thresholds_of(source_id: str, own: Mapping[str, HealthThresholds] | None) -> str:
    if own and source_id in own:
        return f"its own: {own[source_id].describe()}"
    return "the health_thresholds resource's"


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
            "sources": table_preview(_ANOMALIES, anomalous, _ANOMALIES.columns),
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
            "groups": table_preview(TOP_GROUPS_PREVIEW, flagged, TOP_GROUPS_PREVIEW.columns),
        },
    )
