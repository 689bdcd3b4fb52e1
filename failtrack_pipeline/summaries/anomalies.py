"""Anomalies against each source's own history: how far `as_of` is from its usual days.

A fixed threshold pages forever about a source that is always at 85 %, and never about one
that falls from 99 % to 90 %. So each source's success rate and mean run duration on
`as_of` are compared with its own 30 days before, by a robust z-score:

    z = (value - median) / max(1.4826 * MAD, floor)

(MAD: the median absolute deviation; 1.4826 makes it comparable to a standard deviation.)
The floor keeps a perfectly steady source (MAD 0) from dividing by zero and sets the
smallest change that can be an anomaly: at |z| >= 3.5, a drop of 7 points of success rate,
or a run 10 % x 3.5 = 35 % slower or faster than usual. A success rate is anomalous only
when it drops; a duration either way (a much faster run may have read nothing).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

import sqlalchemy as sa

from failtrack_pipeline.db.schema import scrape_runs, source_daily_stats

HISTORY_DAYS: Final = 30
MIN_HISTORY_DAYS: Final = 7  # days with a value among the 30; fewer: no z-score
Z_LIMIT: Final = 3.5
MAD_TO_SIGMA: Final = 1.4826
RATE_FLOOR: Final = 0.02  # 2 points of success rate
DURATION_FLOOR_SHARE: Final = 0.10  # of the median duration
DURATION_FLOOR_SECONDS: Final = 1.0


def robust_zscore(
    value: float, history: Sequence[float], *, floor: float, relative_floor: float = 0.0
) -> float | None:
    """z of `value` against `history`; None with fewer than MIN_HISTORY_DAYS values.

    The scale is at least `floor`, and at least `relative_floor` x |median|.
    """
    if len(history) < MIN_HISTORY_DAYS:
        return None
    median = statistics.median(history)
    mad = statistics.median(abs(past - median) for past in history)
    return (value - median) / max(MAD_TO_SIGMA * mad, floor, relative_floor * abs(median))


@dataclass(frozen=True)
class Anomaly:
    """A source's z-scores on `as_of` (None: no value that day, or too little history)."""

    success_rate_zscore: float | None
    duration_zscore: float | None

    @property
    def label(self) -> str | None:
        """What is anomalous, `success_rate,duration` style; None when nothing is."""
        kinds = []
        if self.success_rate_zscore is not None and self.success_rate_zscore <= -Z_LIMIT:
            kinds.append("success_rate")
        if self.duration_zscore is not None and abs(self.duration_zscore) >= Z_LIMIT:
            kinds.append("duration")
        return ",".join(kinds) or None


def source_anomalies(
    connection: sa.Connection, source_ids: Sequence[str], as_of: date
) -> dict[str, Anomaly]:
    """Each source's anomaly scores on `as_of`; sources without any score are left out."""
    first = as_of - timedelta(days=HISTORY_DAYS)
    stats, runs = source_daily_stats.c, scrape_runs.c
    rates = sa.select(stats.source_id, stats.day, stats.success_rate).where(
        stats.day.between(first, as_of),
        stats.source_id.in_(source_ids),
        stats.success_rate.is_not(None),
    )
    durations = (
        sa.select(runs.source_id, runs.day, sa.func.avg(runs.duration_seconds))
        .where(runs.day.between(first, as_of), runs.source_id.in_(source_ids))
        .group_by(runs.source_id, runs.day)
    )
    daily_rates = _by_source(connection.execute(rates))
    daily_durations = _by_source(connection.execute(durations))
    anomalies = {}
    for source_id in source_ids:
        anomaly = Anomaly(
            success_rate_zscore=_zscore(daily_rates.get(source_id, {}), as_of, floor=RATE_FLOOR),
            duration_zscore=_zscore(
                daily_durations.get(source_id, {}),
                as_of,
                floor=DURATION_FLOOR_SECONDS,
                relative_floor=DURATION_FLOOR_SHARE,
            ),
        )
        if anomaly != Anomaly(None, None):
            anomalies[source_id] = anomaly
    return anomalies


def _by_source(rows: sa.Result[tuple[str, date, float]]) -> dict[str, dict[date, float]]:
    values: dict[str, dict[date, float]] = defaultdict(dict)
    for source_id, day, value in rows:
        values[source_id][day] = float(value)
    return values


def _zscore(
    daily: dict[date, float], as_of: date, *, floor: float, relative_floor: float = 0.0
) -> float | None:
    if as_of not in daily:
        return None
    history = [value for day, value in daily.items() if day != as_of]
    return robust_zscore(daily[as_of], history, floor=floor, relative_floor=relative_floor)
