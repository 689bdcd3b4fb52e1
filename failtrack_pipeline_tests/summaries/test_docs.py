"""docs/analysts.md documents every summary column with its type, and its queries run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from failtrack_pipeline.config.policies import HealthThresholds
from failtrack_pipeline.db import schema
from failtrack_pipeline.summaries.breakdown import build_error_category_breakdown
from failtrack_pipeline.summaries.groups import build_top_failure_groups
from failtrack_pipeline.summaries.present import column_type_name
from failtrack_pipeline.summaries.rates import build_success_rates
from failtrack_pipeline.summaries.stages import build_stage_success_rates
from failtrack_pipeline_tests.summaries.history import (
    AS_OF,
    add_day,
    add_failures,
    days_ago,
    scrape_run,
)

DOCS = (Path(__file__).parents[2] / "docs" / "analysts.md").read_text()
SUMMARY_TABLES = [
    schema.scrape_runs,
    schema.source_daily_stats,
    schema.source_daily_skips,
    schema.source_success_rates,
    schema.error_category_breakdown,
    schema.top_failure_groups,
    schema.stage_success_rates,
    schema.source_field_coverage,
]


def column_table(table: sa.Table) -> str:
    """The `| column | type | meaning |` table in the table's section."""
    header = r"^\| column \| type \| meaning \|\n\|[^\n]*\n"
    pattern = rf"^## `{table.name}`\n.*?{header}((?:\|[^\n]*\n)+)"
    match = re.search(pattern, DOCS, re.S | re.M)
    assert match, f"docs/analysts.md has no column table for {table.name}"
    return match.group(1)


@pytest.mark.parametrize("table", SUMMARY_TABLES, ids=lambda table: table.name)
def test_every_column_is_documented_with_its_type(table: sa.Table) -> None:
    documented = re.findall(r"^\| `(\w+)` \| ([^|]+) \|", column_table(table), re.M)
    assert documented == [(column.name, column_type_name(column)) for column in table.columns]


def test_the_example_queries_run_on_both_databases(engine: sa.Engine) -> None:
    add_day(
        engine, days_ago(1), scrape_run("city_concerts", days_ago(1), 7, 3, skipped={"ended": 2})
    )
    add_failures(engine, "city_concerts", "title missing", AS_OF, 2)
    build_success_rates(engine, ["city_concerts"], AS_OF, HealthThresholds())
    build_error_category_breakdown(engine)
    build_top_failure_groups(engine, AS_OF)
    build_stage_success_rates(engine, AS_OF)

    queries = re.findall(r"```sql\n(.*?)```", DOCS, re.S)
    assert len(queries) == 5
    with engine.connect() as connection:
        results = [connection.exec_driver_sql(query).all() for query in queries]
    assert [len(rows) for rows in results] == [1, 1, 1, 1, 1]
