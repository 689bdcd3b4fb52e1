"""Reading the summary tables back for people: previews, cell formatting and column types.

Shared by the Dagster UI (table previews, column schemas) and the terminal (`failtrack demo`).
Cells are formatted as text here; nothing is written as markdown or HTML, so a message's
`<int>` or `|` reaches the reader as written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from failtrack_pipeline.db.schema import (
    error_category_breakdown,
    scrape_runs,
    source_daily_skips,
    source_daily_stats,
    source_success_rates,
    stage_success_rates,
    top_failure_groups,
)
from failtrack_pipeline.summaries.rates import Health

PREVIEW_ROWS = 25
_MAX_TEXT = 160


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

# The rate health is judged on: the worse of the event and the run rate.
_health_rate = sa.case(
    (_rates.success_rate_7d < _rates.run_success_rate_7d, _rates.success_rate_7d),
    else_=_rates.run_success_rate_7d,
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
        "run_success_rate_7d",
        "runs_7d",
        "failed_runs_7d",
        "silent_failures_7d",
        "events_skipped_7d",
        "p95_duration_seconds",
        "anomaly",
        "last_run_status",
        "last_run_at",
    ),
    (_health_order, _health_rate.asc().nulls_first(), _rates.source_id),
)
# What a person asks first: which source, why, since when (the table's first rows are the
# worst sources); `trend` is added by `sources_overview`.
SOURCES_OVERVIEW = Preview(
    source_success_rates,
    (
        "source_id",
        "health",
        "health_reason",
        "top_error_message",
        "failing_since",
        "last_success_at",
        "runs_7d",
        "events_succeeded_7d",
        "events_failed_7d",
        "success_rate_7d",
        "run_success_rate_7d",
        "anomaly",
    ),
    SUCCESS_RATES_PREVIEW.order_by,
)
TREND = "trend"
TREND_DAYS = 14
TREND_DESCRIPTION = (
    f"worse of the event and run success rate per day, last {TREND_DAYS} days "
    "(▁ 0 % … █ 100 %, · no run), then the 7-day change of the event rate"
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
        "is_retry",
        "run_id",
    ),
    (scrape_runs.c.started_at.desc(), scrape_runs.c.run_id),
)
BREAKDOWN_PREVIEW = Preview(
    error_category_breakdown,
    (
        "source_id",
        "stage",
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
        error_category_breakdown.c.stage,
        error_category_breakdown.c.occurrences.desc(),
        error_category_breakdown.c.error_category,
    ),
)
# As Sentry lists issues: the id to act on (retry_events_job's failure_group_id), the message.
TOP_GROUPS_PREVIEW = Preview(
    top_failure_groups,
    (
        "failure_group_id",
        "error_message",
        "error_category",
        "source_id",
        "stage",
        "occurrences_24h",
        "occurrences_7d",
        "is_new",
        "is_regressed",
        "triage_state",
        "first_seen_at",
        "last_seen_at",
        "sample_external_ids",
        "last_run_id",
    ),
    (top_failure_groups.c.rank,),
)
STAGE_RATES_PREVIEW = Preview(
    stage_success_rates,
    tuple(stage_success_rates.c.keys()),
    (
        stage_success_rates.c.success_rate_7d.is_(None),
        stage_success_rates.c.success_rate_7d,
        stage_success_rates.c.source_id,
        stage_success_rates.c.stage,
    ),
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
        if column.startswith(("success_rate", "run_success_rate", "share")):
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


def column_description(preview: Preview, column: str) -> str:
    """The analysts' words for a previewed column: its comment, or the trend's legend."""
    if column == TREND:
        return TREND_DESCRIPTION
    return preview.table.c[column].comment or ""


def sources_overview(engine: sa.Engine) -> list[dict[str, Any]]:
    """`SOURCES_OVERVIEW`'s rows, worst first, each with its `trend` from the daily stats."""
    rows = SOURCES_OVERVIEW.read(engine, limit=None)
    with engine.connect() as connection:
        as_of = connection.execute(sa.select(sa.func.max(_rates.as_of))).scalar_one()
        query = sa.select(_rates.source_id, _rates.success_rate_change_7d)
        changes = {source_id: change for source_id, change in connection.execute(query)}
        daily = _daily_health_rates(connection, as_of) if as_of else {}
    for row in rows:
        days = daily.get(row["source_id"], {})
        line = sparkline(days.get(as_of - timedelta(days=back)) for back in range(TREND_DAYS)[::-1])
        change = changes.get(row["source_id"])
        row[TREND] = (
            line if change is None else f"{line} {format_cell('success_rate_change', change)}"
        )
    return rows


def sparkline(rates: Iterable[float | None]) -> str:
    """One block per day, its height the rate; `·` for a day without a run."""
    return "".join(
        "·" if rate is None else _BLOCKS[round(rate * (len(_BLOCKS) - 1))] for rate in rates
    )


_BLOCKS = "▁▂▃▄▅▆▇█"


def _daily_health_rates(connection: sa.Connection, as_of: date) -> dict[str, dict[date, float]]:
    """Per source and day: the worse of the event and run success rate, as health judges."""
    stats = source_daily_stats.c
    query = sa.select(
        stats.source_id,
        stats.day,
        stats.runs,
        stats.failed_runs,
        stats.silent_failures,
        stats.success_rate,
    ).where(stats.day.between(as_of - timedelta(days=TREND_DAYS - 1), as_of))
    rates: dict[str, dict[date, float]] = {}
    for source_id, day, runs, failed, silent, event_rate in connection.execute(query):
        run_rate = (runs - failed - silent) / runs if runs else 0.0
        rates.setdefault(source_id, {})[day] = min(
            run_rate, event_rate if event_rate is not None else run_rate
        )
    return rates


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
