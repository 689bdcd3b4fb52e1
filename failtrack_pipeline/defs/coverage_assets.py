"""Field coverage on the dashboard: the `source_field_coverage` table and its WARN check."""

from typing import Any

import sqlalchemy as sa
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    Definitions,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableRecord,
    TableSchema,
    asset,
    asset_check,
)

from failtrack_pipeline.db.schema import source_field_coverage
from failtrack_pipeline.defs.resources import FailtrackDatabase, FailtrackSources
from failtrack_pipeline.defs.summary_assets import (
    COVERAGE,
    DASHBOARD_GROUP,
    AsOfConfig,
    table_identity,
)
from failtrack_pipeline.summaries.coverage import build_field_coverage

_SHOWN = ("source_id", "field", "coverage", "coverage_median_30d", "min_coverage", "problem")
_PROBLEMS_SCHEMA = TableSchema(
    columns=[TableColumn(name, "float" if "coverage" in name else "string") for name in _SHOWN]
)


def _problems(engine: sa.Engine) -> list[TableRecord]:
    table = source_field_coverage
    query = (
        sa.select(*(table.c[name] for name in _SHOWN))
        .where(table.c.problem.is_not(None))
        .order_by(table.c.source_id, table.c.field)
    )
    with engine.connect() as connection:
        return [TableRecord(dict(row._mapping)) for row in connection.execute(query)]


@asset(key=COVERAGE, group_name=DASHBOARD_GROUP, kinds={"table"})
def source_field_coverage_asset(
    config: AsOfConfig, failtrack_db: FailtrackDatabase, failtrack_sources: FailtrackSources
) -> MaterializeResult:
    """Per source and optional field, the share of the day's accepted events with it filled,
    against the source's min_coverage and its own last 30 days."""
    engine = failtrack_db.get_engine()
    as_of = config.day()
    minimums = {s.id: s.min_coverage for s in failtrack_sources.load().sources if s.min_coverage}
    rows = build_field_coverage(engine, as_of, minimums)
    problems = _problems(engine)
    metadata: dict[str, Any] = {
        "dagster/row_count": MetadataValue.int(rows),
        **table_identity(source_field_coverage),
        "as_of": as_of.isoformat(),
        "coverage_problems": MetadataValue.int(len(problems)),
        "problems": MetadataValue.table(problems, _PROBLEMS_SCHEMA),
    }
    return MaterializeResult(metadata=metadata)


@asset_check(
    asset=COVERAGE,
    blocking=False,
    description="Warns when a source's field coverage is below its min_coverage, or dropped "
    "far below its own last 30 days (robust z <= -3.5).",
)
def field_coverage(failtrack_db: FailtrackDatabase) -> AssetCheckResult:
    problems = _problems(failtrack_db.get_engine())
    return AssetCheckResult(
        passed=not problems,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "problems": MetadataValue.table(problems, _PROBLEMS_SCHEMA),
            "sources": ", ".join(sorted({str(p.data["source_id"]) for p in problems})) or "none",
        },
    )


def build_coverage_definitions() -> Definitions:
    return Definitions(assets=[source_field_coverage_asset], asset_checks=[field_coverage])
