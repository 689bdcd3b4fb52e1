"""Reading the summary tables back for people: previews, cell formatting and column types.

Shared by the Dagster UI (markdown previews, column schemas) and the terminal (`failtrack demo`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from failtrack_pipeline.db.schema import (
    error_category_breakdown,
    scrape_runs,
    source_daily_skips,
    source_daily_stats,
    source_success_rates,
    top_failure_groups,
)
from failtrack_pipeline.summaries.rates import Health

PREVIEW_ROWS = 25
_MAX_TEXT = 80


@dataclass(frozen=True)
class Preview:
    """Which columns of a table people see first, in which order."""

    table: sa.Table
    columns: tuple[str, ...]
    order_by: tuple[sa.ColumnElement[Any], ...]

    def read(
        self, engine: sa.Engine, *where: sa.ColumnElement[bool], limit: int | None = PREVIEW_ROWS
    ) -> list[dict[str, Any]]:
        query = (
            sa.select(*(self.table.c[name] for name in self.columns))
            .where(*where)
            .order_by(*self.order_by)
            .limit(limit)
        )
        with engine.connect() as connection:
            return [dict(row) for row in connection.execute(query).mappings()]


_rates = source_success_rates.c
_health_order = sa.case(
    {
        health.value: position
        for position, health in enumerate(
            (Health.FAILING, Health.DEGRADED, Health.NO_DATA, Health.HEALTHY)
        )
    },
    value=_rates.health,
)

SUCCESS_RATES_PREVIEW = Preview(
    source_success_rates,
    (
        "source_id",
        "health",
        "success_rate_1d",
        "success_rate_7d",
        "success_rate_30d",
        "success_rate_change_7d",
        "runs_7d",
        "failed_runs_7d",
        "silent_failures_7d",
        "events_skipped_7d",
        "p95_duration_seconds",
        "anomaly",
        "last_run_status",
        "last_run_at",
    ),
    (_health_order, _rates.success_rate_7d.asc().nulls_first(), _rates.source_id),
)
DAILY_STATS_PREVIEW = Preview(
    source_daily_stats,
    tuple(source_daily_stats.c.keys()),
    (source_daily_stats.c.day.desc(), source_daily_stats.c.source_id),
)
DAILY_SKIPS_PREVIEW = Preview(
    source_daily_skips,
    tuple(source_daily_skips.c.keys()),
    (
        source_daily_skips.c.day.desc(),
        source_daily_skips.c.source_id,
        source_daily_skips.c.reason,
    ),
)
SCRAPE_RUNS_PREVIEW = Preview(
    scrape_runs,
    (
        "source_id",
        "status",
        "events_processed",
        "events_failed",
        "events_skipped",
        "started_at",
        "duration_seconds",
        "run_id",
    ),
    (scrape_runs.c.started_at.desc(), scrape_runs.c.run_id),
)
BREAKDOWN_PREVIEW = Preview(
    error_category_breakdown,
    (
        "source_id",
        "error_category",
        "occurrences",
        "share_of_source",
        "distinct_groups",
        "last_seen_at",
        "next_step",
    ),
    (
        (error_category_breakdown.c.source_id != "*"),
        error_category_breakdown.c.source_id,
        error_category_breakdown.c.occurrences.desc(),
        error_category_breakdown.c.error_category,
    ),
)
TOP_GROUPS_PREVIEW = Preview(
    top_failure_groups,
    (
        "rank",
        "source_id",
        "error_category",
        "error_message",
        "occurrences_7d",
        "is_new",
        "is_regressed",
        "triage_state",
        "first_seen_at",
        "last_seen_at",
        "sample_external_ids",
    ),
    (top_failure_groups.c.rank,),
)


def format_cell(column: str, value: Any) -> str:
    """A value as people read it: rates in %, changes in points, times to the minute."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if column.startswith("success_rate_change"):
            return f"{value * 100:+.1f} pp"
        if column.startswith(("success_rate", "share")):
            return f"{value * 100:.1f} %"
        if column.endswith("_zscore"):
            return f"{value:+.1f}"
        if column.endswith("_seconds"):
            return f"{value:.1f} s"
        return f"{value:g}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return ", ".join(map(str, value[:3])) + (", …" if len(value) > 3 else "")
    text = " ".join(str(value).split())
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"


def formatted(rows: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    return [{column: format_cell(column, value) for column, value in row.items()} for row in rows]


def markdown_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A GitHub-flavoured markdown table; an explicit line when there are no rows."""
    if not rows:
        return "_No rows._"

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    body = [line([row[column] for column in columns]) for row in formatted(rows)]
    return "\n".join([line(columns), line(["---"] * len(columns)), *body])


def column_type_name(column: sa.Column[Any]) -> str:
    """The column's type as documented for analysts (the same words on every database)."""
    if isinstance(column.type, sa.TypeDecorator):
        return "timestamp (UTC)"
    for kind, name in _TYPE_NAMES:
        if isinstance(column.type, kind):
            return name
    raise TypeError(f"{column}: no documented name for {column.type!r}")


_TYPE_NAMES: tuple[tuple[type[sa.types.TypeEngine[Any]], str], ...] = (
    (sa.Boolean, "boolean"),
    (sa.Integer, "integer"),
    (sa.Float, "float"),
    (sa.Date, "date"),
    (sa.JSON, "json"),
    (sa.String, "text"),
)
