"""Daily field coverage per source, judged against a minimum and the source's own history.

A source's coverage of a field on a day is Σ filled / Σ accepted over its runs that day.
It is a problem when below the source's `min_coverage` for the field, or when it drops
against the source's previous 30 days by the robust z-score the anomalies use (at least
7 days of history; a floor of 5 points, so a steady field flags a fall of 17.5 points).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Final

import sqlalchemy as sa

from failtrack_pipeline.db.schema import run_field_coverage, source_field_coverage
from failtrack_pipeline.summaries.anomalies import HISTORY_DAYS, Z_LIMIT, robust_zscore

COVERAGE_FLOOR: Final = 0.05


def build_field_coverage(
    engine: sa.Engine, as_of: date, minimums: Mapping[str, Mapping[str, float]]
) -> int:
    """Replace `source_field_coverage` with each source's fields on `as_of`; the row count.

    `minimums` is each source's `min_coverage`. Sources with no run on `as_of` have no rows.
    """
    runs = run_field_coverage.c
    query = (
        sa.select(
            runs.source_id,
            runs.field,
            runs.day,
            sa.func.sum(runs.accepted),
            sa.func.sum(runs.filled),
        )
        .where(runs.day.between(as_of - timedelta(days=HISTORY_DAYS), as_of))
        .group_by(runs.source_id, runs.field, runs.day)
    )
    with engine.begin() as connection:
        daily: dict[tuple[str, str], dict[date, tuple[int, int]]] = defaultdict(dict)
        for source_id, field, day, accepted, filled in connection.execute(query):
            daily[(source_id, field)][day] = (int(accepted), int(filled))
        rows = [
            _row(source_id, field, as_of, days, minimums.get(source_id, {}).get(field))
            for (source_id, field), days in sorted(daily.items())
            if as_of in days
        ]
        connection.execute(sa.delete(source_field_coverage))
        if rows:
            connection.execute(sa.insert(source_field_coverage), rows)
    return len(rows)


def _row(
    source_id: str,
    field: str,
    as_of: date,
    days: dict[date, tuple[int, int]],
    minimum: float | None,
) -> dict[str, object]:
    shares = {day: filled / accepted for day, (accepted, filled) in days.items() if accepted}
    accepted, filled = days[as_of]
    coverage = shares.get(as_of)
    history = [share for day, share in shares.items() if day != as_of]
    zscore = None if coverage is None else robust_zscore(coverage, history, floor=COVERAGE_FLOOR)
    problem = None
    if coverage is not None and minimum is not None and coverage < minimum:
        problem = "below_minimum"
    elif zscore is not None and zscore <= -Z_LIMIT:
        problem = "dropped"
    return {
        "source_id": source_id,
        "field": field,
        "day": as_of,
        "accepted": accepted,
        "filled": filled,
        "coverage": coverage,
        "coverage_median_30d": statistics.median(history) if history else None,
        "coverage_zscore": zscore,
        "min_coverage": minimum,
        "problem": problem,
    }
