"""Anomalies against each source's own last 30 days, on hand-made histories.

z = (value - median) / max(1.4826 * MAD, floor); floors: 0.02 for a success rate, 10 % of
the median (at least 1 s) for a duration; anomalous from |z| >= 3.5.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from failtrack_pipeline.config.policies import HealthThresholds
from failtrack_pipeline.db.schema import source_success_rates
from failtrack_pipeline.summaries.anomalies import MIN_HISTORY_DAYS, robust_zscore
from failtrack_pipeline.summaries.rates import build_success_rates
from failtrack_pipeline_tests.summaries.history import AS_OF, add_day, days_ago, scrape_run


def history(engine: sa.Engine, source_id: str, days: list[tuple[int, int, int, float]]) -> None:
    """(days ago, succeeded, failed, run seconds): one run a day."""
    for back, succeeded, failed, seconds in days:
        day = days_ago(back)
        add_day(engine, day, scrape_run(source_id, day, succeeded, failed, seconds=seconds))


def anomalies(engine: sa.Engine, sources: list[str]) -> dict[str, dict[str, Any]]:
    summary = build_success_rates(engine, sources, AS_OF, HealthThresholds())
    columns = source_success_rates.c
    query = sa.select(
        columns.source_id, columns.success_rate_zscore, columns.duration_zscore, columns.anomaly
    )
    with engine.connect() as connection:
        rows = {row.source_id: dict(row._mapping) for row in connection.execute(query)}
    assert summary.anomalous_sources == sum(1 for row in rows.values() if row["anomaly"])
    return rows


def test_steady_at_85_is_not_anomalous_while_a_drop_from_99_to_90_is(engine: sa.Engine) -> None:
    # 30 days before today, then today. "steady" is at 85 % every day; "noisy" alternates
    # 84 % and 86 % (median 85 %, MAD 1 point) and is at 83 % today; "dropped" was at 99 %.
    history(engine, "steady", [(back, 85, 15, 60.0) for back in range(31)])
    noisy = [(back, 84 + 2 * (back % 2), 16 - 2 * (back % 2), 60.0) for back in range(1, 31)]
    history(engine, "noisy", [*noisy, (0, 83, 17, 60.0)])
    history(engine, "dropped", [(back, 99, 1, 60.0) for back in range(1, 31)] + [(0, 90, 10, 60)])

    rows = anomalies(engine, ["steady", "noisy", "dropped"])
    # MAD 0: the scale is the floor, and today is the median: z = 0.
    assert rows["steady"]["success_rate_zscore"] == pytest.approx(0.0)
    assert rows["steady"]["anomaly"] is None
    # (0.83 - 0.85) / max(1.4826 * 0.01, 0.02) = -1.0
    assert rows["noisy"]["success_rate_zscore"] == pytest.approx(-1.0)
    assert rows["noisy"]["anomaly"] is None
    # (0.90 - 0.99) / max(1.4826 * 0, 0.02) = -4.5
    assert rows["dropped"]["success_rate_zscore"] == pytest.approx(-4.5)
    assert rows["dropped"]["anomaly"] == "success_rate"
    assert [row["duration_zscore"] for row in rows.values()] == [0.0, 0.0, 0.0]


def test_a_run_far_slower_than_usual_is_anomalous_and_usual_jitter_is_not(
    engine: sa.Engine,
) -> None:
    history(engine, "slow", [(back, 10, 0, 60.0) for back in range(1, 31)] + [(0, 10, 0, 90.0)])
    jitter = [(back, 10, 0, 55.0 + 10 * (back % 2)) for back in range(1, 31)]
    history(engine, "jitter", [*jitter, (0, 10, 0, 70.0)])

    rows = anomalies(engine, ["slow", "jitter"])
    # (90 - 60) / max(1.4826 * 0, 1 s, 10 % of 60 s) = 5.0
    assert rows["slow"]["duration_zscore"] == pytest.approx(5.0)
    assert rows["slow"]["anomaly"] == "duration"
    # (70 - 60) / max(1.4826 * 5, 6) = 1.349
    assert rows["jitter"]["duration_zscore"] == pytest.approx(10 / (1.4826 * 5))
    assert rows["jitter"]["anomaly"] is None


def test_too_little_history_or_no_run_today_gives_no_score(engine: sa.Engine) -> None:
    short = [(back, 99, 1, 60.0) for back in range(1, MIN_HISTORY_DAYS)]  # 6 earlier days
    history(engine, "newish", [*short, (0, 10, 90, 600.0)])
    history(engine, "idle_today", [(back, 99, 1, 60.0) for back in range(1, 31)])
    # Days outside the 30 before today do not count: 30 days ago is the oldest.
    history(engine, "old", [(back, 99, 1, 60.0) for back in range(25, 40)] + [(0, 50, 50, 60)])

    rows = anomalies(engine, ["newish", "idle_today", "old"])
    for source in ("newish", "idle_today"):
        assert (rows[source]["success_rate_zscore"], rows[source]["anomaly"]) == (None, None)
    # 25..30 days ago: 6 days, one short of the minimum.
    assert rows["old"]["success_rate_zscore"] is None


def test_the_robust_zscore_by_hand() -> None:
    history = [10.0, 12.0, 11.0, 13.0, 9.0, 11.0, 30.0]  # median 11, MAD 1: 30 is no bother
    assert robust_zscore(15.0, history, floor=0.5) == pytest.approx(4 / 1.4826)
    assert robust_zscore(15.0, history, floor=2.0) == pytest.approx(2.0)
    assert robust_zscore(15.0, history, floor=0.5, relative_floor=0.5) == pytest.approx(4 / 5.5)
    assert robust_zscore(15.0, history[:6], floor=0.5) is None
