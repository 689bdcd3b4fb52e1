"""Daily field coverage per source, judged against a minimum and the source's own history.

A source's coverage of a field on a day is Σ filled / Σ accepted over its runs that day.
It is a problem when below the source's `min_coverage` for the field, or when it drops
against the source's previous 30 days by the robust z-score the anomalies use (at least
7 days of history; a floor of 5 points, so a steady field flags a fall of 17.5 points).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Final

import sqlalchemy as sa

from failtrack_pipeline.db.schema import run_field_coverage, source_field_coverage
from failtrack_pipeline.summaries.anomalies import HISTORY_DAYS, Z_LIMIT, robust_zscore
from failtrack_pipeline.summaries.days import window_start

COVERAGE_FLOOR: Final = 0.05


class CoverageState(StrEnum):
    """A source's coverage on a day: its worst field's problem, or none."""

    OK = "ok"
    BELOW_MINIMUM = "below_minimum"
    DROPPED = "dropped"


@dataclass(frozen=True)
class SourceCoverage:
    """A source's worst field: the one with a problem on as_of (below its minimum before
    dropped), else the one least often filled over the 7 days ending on as_of."""

    field: str
    coverage_7d: float | None
    state: CoverageState | None  # None: no coverage judged on as_of (no run that day)
    coverage: float | None = None  # on as_of
    median_30d: float | None = None
    min_coverage: float | None = None

    def words(self) -> str | None:
        """The problem in words, for the source's health_reason; None when there is none."""
        filled = f"{self.field} filled {_percent(self.coverage)}"
        if self.state is CoverageState.BELOW_MINIMUM:
            return f"{filled}, under its minimum {_percent(self.min_coverage)}"
        if self.state is CoverageState.DROPPED:
            return f"{filled}, dropped from a median {_percent(self.median_30d)}"
        return None


def _percent(share: float | None) -> str:
    return "–" if share is None else f"{share * 100:.1f} %"


_RANK: Final = {CoverageState.BELOW_MINIMUM: 0, CoverageState.DROPPED: 1, None: 2}


def source_coverage(
    connection: sa.Connection, source_ids: Sequence[str], as_of: date
) -> dict[str, SourceCoverage]:
    """Each source's worst field, from `source_field_coverage` (when built for `as_of`) and
    the 7-day shares of `run_field_coverage`."""
    runs, judged = run_field_coverage.c, source_field_coverage.c
    weekly = connection.execute(
        sa.select(runs.source_id, runs.field, sa.func.sum(runs.filled), sa.func.sum(runs.accepted))
        .where(runs.day.between(window_start(as_of, 7), as_of), runs.source_id.in_(source_ids))
        .group_by(runs.source_id, runs.field)
    )
    shares: dict[str, dict[str, float | None]] = defaultdict(dict)
    for source_id, field, filled, accepted in weekly:
        shares[source_id][field] = int(filled) / int(accepted) if accepted else None
    days = connection.execute(
        sa.select(source_field_coverage).where(
            judged.day == as_of, judged.source_id.in_(source_ids)
        )
    ).mappings()
    day_rows: dict[str, dict[str, sa.RowMapping]] = defaultdict(dict)
    for day_row in days:
        day_rows[day_row["source_id"]][day_row["field"]] = day_row
    worst = {}
    for source_id, fields in shares.items():
        judged_today = day_rows.get(source_id, {})
        field = min(fields, key=lambda name: _badness(judged_today.get(name), fields[name], name))
        row = judged_today.get(field)
        if row is None:
            state = CoverageState.OK if judged_today else None
            worst[source_id] = SourceCoverage(field, fields[field], state)
        else:
            worst[source_id] = SourceCoverage(
                field,
                fields[field],
                CoverageState(row["problem"] or CoverageState.OK),
                row["coverage"],
                row["coverage_median_30d"],
                row["min_coverage"],
            )
    return worst


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


def _badness(
    judged: sa.RowMapping | None, share_7d: float | None, field: str
) -> tuple[int, float, str]:
    """Order of fields, worst first: a problem on the day, then the least filled in 7 days."""
    problem = CoverageState(judged["problem"]) if judged and judged["problem"] else None
    return _RANK[problem], 1.0 if share_7d is None else share_7d, field


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
        problem = CoverageState.BELOW_MINIMUM.value
    elif zscore is not None and zscore <= -Z_LIMIT:
        problem = CoverageState.DROPPED.value
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
