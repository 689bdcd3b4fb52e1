"""`error_category_breakdown`: failures per source, stage and category, with what to do.

Counted from `discovery_event_failures`, i.e. over the retention period it keeps; the rows
with source_id `*` add up every source of a stage. Shares are within a source's stage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.db.schema import discovery_event_failures, error_category_breakdown
from failtrack_pipeline.summaries.sql import ratio, replace_all

ALL_SOURCES = "*"


@dataclass(frozen=True)
class Breakdown:
    rows: int
    total_failures: int


def build_error_category_breakdown(engine: sa.Engine) -> Breakdown:
    with engine.begin() as connection:
        rows = replace_all(connection, error_category_breakdown, _breakdown())
        table = error_category_breakdown.c
        total = connection.execute(
            sa.select(sa.func.coalesce(sa.func.sum(table.occurrences), 0)).where(
                table.source_id == ALL_SOURCES
            )
        ).scalar_one()
    return Breakdown(rows=rows, total_failures=int(total))


def _breakdown() -> sa.Select[Any]:
    failures = discovery_event_failures.c

    counts = (
        failures.error_category,
        sa.func.sum(failures.occurrence_count).label("occurrences"),
        sa.func.count().label("distinct_groups"),
        sa.func.max(failures.last_seen_at).label("last_seen_at"),
    )
    per_source = sa.select(failures.source_id, failures.stage, *counts).group_by(
        failures.source_id, failures.stage, failures.error_category
    )
    all_sources = sa.select(
        sa.literal(ALL_SOURCES, sa.String()).label("source_id"), failures.stage, *counts
    ).group_by(failures.stage, failures.error_category)
    grouped = sa.union_all(per_source, all_sources).subquery("grouped")
    source_total = sa.func.sum(grouped.c.occurrences).over(
        partition_by=(grouped.c.source_id, grouped.c.stage)
    )
    next_step = sa.case(
        {category.value: category.next_step for category in ErrorCategory},
        value=grouped.c.error_category,
        else_=ErrorCategory.UNKNOWN.next_step,
    )
    return sa.select(
        grouped.c.source_id,
        grouped.c.stage,
        grouped.c.error_category,
        grouped.c.occurrences,
        ratio(grouped.c.occurrences, source_total).label("share_of_source"),
        grouped.c.distinct_groups,
        grouped.c.last_seen_at,
        next_step.label("next_step"),
    )
