"""`source_success_rates`: per source, success rates over 1, 7 and 30 days and a health level.

Rates come from `source_daily_stats` (so they outlive pruned runs), durations and the last
run from `scrape_runs`. Every window is a run of whole UTC days ending on `as_of`. A rate is
succeeded / (succeeded + failed): skipped events count in no rate. Each source's anomaly
scores against its own history (see `anomalies`) are filled in after the rates, then the
reason for its health in words (`health_reason`).

Retry runs count in every rate (they add occurrences), but not in `last_run_*`,
`last_success_at` or `failing_since`: a retry of one event says nothing of the source.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from failtrack_pipeline.config.policies import HealthThresholds
from failtrack_pipeline.db.schema import (
    SCRAPE_STAGE,
    discovery_event_failures,
    scrape_runs,
    source_daily_stats,
    source_success_rates,
)
from failtrack_pipeline.db.schema import discovery_event_failure_days as days_table
from failtrack_pipeline.summaries.anomalies import source_anomalies
from failtrack_pipeline.summaries.days import window_start
from failtrack_pipeline.summaries.sql import insert_select, ratio, sum_between
from failtrack_pipeline.tracking.outcome import RunStatus

# The windows, by column suffix: (days back from as_of to the window's last day, length).
WINDOWS: dict[str, tuple[int, int]] = {
    "1d": (0, 1),
    "7d": (0, 7),
    "30d": (0, 30),
    "prev_7d": (7, 7),
}
DURATION_DAYS = 30


class Health(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    FAILING = "failing"
    NO_DATA = "no_data"  # never ran (or no run in 7 days, where freshness is not judged)
    STALE = "stale"  # no run within the source's expected_every


@dataclass(frozen=True)
class SuccessRates:
    """What a build of `source_success_rates` amounts to: the numbers worth plotting."""

    rows: int
    overall_success_rate_7d: float | None  # all sources' events together
    sources_by_health: dict[Health, int]
    anomalous_sources: int


def build_success_rates(
    engine: sa.Engine,
    source_ids: Sequence[str],
    as_of: date,
    thresholds: HealthThresholds,
    expected_every: Mapping[str, timedelta] | None = None,
) -> SuccessRates:
    """Rebuild the table for `source_ids` (one row each, `no_data` if it never ran).

    A source of `expected_every` whose latest run is older than its interval at the end of
    `as_of` (now, for today) is `stale`, whatever its rates: nobody scrapes it any more.
    """
    with engine.begin() as connection:
        connection.execute(sa.delete(source_success_rates))
        insert_select(connection, source_success_rates, _rates(source_ids, as_of, thresholds))
        present = set(connection.execute(sa.select(source_success_rates.c.source_id)).scalars())
        missing = [source_id for source_id in source_ids if source_id not in present]
        if missing:
            connection.execute(
                sa.insert(source_success_rates),
                [_never_ran(source_id, as_of) for source_id in missing],
            )
        _store_anomalies(connection, source_ids, as_of)
        _mark_stale(connection, expected_every or {}, _judged_at(as_of))
        _store_health_reasons(connection)
        return _summarize(connection)


def health_reason(row: dict[str, Any]) -> str:
    """Why a `source_success_rates` row has its health: the rate that decided it first.

    Health is the worse of the event rate and the run rate; the words name that rate with
    the counts it came from, so that a `failing` source beside a 100 % event rate explains
    itself (its runs break off) and a `degraded` one at 100 % too (a run read nothing).
    """
    if row["health"] == Health.STALE.value:
        return f"stale: no run since {row['last_run_at']:%Y-%m-%d %H:%M} UTC"
    if row["health"] == Health.NO_DATA.value:
        last = row["last_run_at"]
        return f"no run in 7 days (last {last:%Y-%m-%d})" if last else "no run yet"
    runs, failed, silent = row["runs_7d"], row["failed_runs_7d"], row["silent_failures_7d"]
    succeeded, failed_events = row["events_succeeded_7d"], row["events_failed_7d"]
    run_rate, event_rate = row["run_success_rate_7d"], row["success_rate_7d"]
    run_words = f"run rate {_percent(run_rate)}"
    broken = [f"{failed} failed"] if failed else []
    broken += [f"{silent} silent"] if silent else []
    run_words += f" ({' + '.join(broken)} of {runs} runs)" if broken else f" ({runs} runs)"
    if event_rate is None:
        return f"{run_words}; no events to judge"
    event_words = (
        f"event rate {_percent(event_rate)} ({failed_events} of "
        f"{succeeded + failed_events} events failed)"
    )
    if run_rate < event_rate:
        lead = "silent failures: " if silent and not failed else ""
        return f"{lead}{run_words}; {event_words}"
    return f"{event_words}; {run_words}"


def _judged_at(as_of: date) -> datetime:
    """The moment freshness is judged at: now for today, else the end of `as_of`."""
    now = datetime.now(UTC)
    return now if as_of >= now.date() else datetime.combine(as_of + timedelta(days=1), time(), UTC)


def _mark_stale(
    connection: sa.Connection, expected_every: Mapping[str, timedelta], judged_at: datetime
) -> None:
    table = source_success_rates.c
    for source_id, interval in expected_every.items():
        connection.execute(
            sa.update(source_success_rates)
            .where(
                table.source_id == source_id,
                table.last_run_at.is_not(None),
                table.last_run_at < judged_at - interval,
            )
            .values(health=Health.STALE.value)
        )


def _percent(rate: float) -> str:
    return f"{rate * 100:.1f} %"


def _store_health_reasons(connection: sa.Connection) -> None:
    table = source_success_rates.c
    rows = connection.execute(sa.select(source_success_rates)).mappings()
    reasons = [{"key": row["source_id"], "health_reason": health_reason(dict(row))} for row in rows]
    connection.execute(
        sa.update(source_success_rates).where(table.source_id == sa.bindparam("key")), reasons
    )


def _store_anomalies(connection: sa.Connection, source_ids: Sequence[str], as_of: date) -> None:
    anomalies = source_anomalies(connection, source_ids, as_of)
    if not anomalies:
        return
    table = source_success_rates.c
    connection.execute(
        # The other keys of each row name the columns set.
        sa.update(source_success_rates).where(table.source_id == sa.bindparam("key")),
        [
            {
                "key": source_id,
                "success_rate_zscore": anomaly.success_rate_zscore,
                "duration_zscore": anomaly.duration_zscore,
                "anomaly": anomaly.label,
            }
            for source_id, anomaly in anomalies.items()
        ],
    )


def _rates(source_ids: Sequence[str], as_of: date, thresholds: HealthThresholds) -> sa.Select[Any]:
    windows = _window_sums(source_ids, as_of)
    durations = _durations(source_ids, as_of)
    last_run = _last_run(source_ids, as_of)
    streak = _streak(source_ids, as_of)
    top_error = _top_error(source_ids, as_of)
    ran = sa.union(sa.select(windows.c.source_id), sa.select(last_run.c.source_id)).subquery()

    rates = {
        name: ratio(windows.c[f"succeeded_{name}"], windows.c[f"judged_{name}"]) for name in WINDOWS
    }
    runs_7d = sa.func.coalesce(windows.c.runs_7d, 0)
    failed_runs_7d = sa.func.coalesce(windows.c.failed_runs_7d, 0)
    silent_7d = sa.func.coalesce(windows.c.silent_failures_7d, 0)
    # Health is the worse of two rates: events that succeeded, and runs that neither failed
    # nor silently failed. A source whose runs break off after a few good events, or whose
    # feed went quiet, is not healthy; without events to judge, the runs alone decide.
    run_rate = ratio(runs_7d - failed_runs_7d - silent_7d, runs_7d)
    event_rate = sa.func.coalesce(rates["7d"], run_rate)
    health_rate = sa.case((event_rate < run_rate, event_rate), else_=run_rate)
    health = sa.case(
        (runs_7d == 0, Health.NO_DATA.value),
        (health_rate >= thresholds.healthy, Health.HEALTHY.value),
        (health_rate >= thresholds.degraded, Health.DEGRADED.value),
        else_=Health.FAILING.value,
    )
    return (
        sa.select(
            ran.c.source_id,
            sa.literal(as_of, sa.Date()).label("as_of"),
            *(rate.label(f"success_rate_{name}") for name, rate in rates.items()),
            (rates["7d"] - rates["prev_7d"]).label("success_rate_change_7d"),
            runs_7d.label("runs_7d"),
            failed_runs_7d.label("failed_runs_7d"),
            sa.func.coalesce(windows.c.succeeded_7d, 0).label("events_succeeded_7d"),
            sa.func.coalesce(windows.c.events_failed_7d, 0).label("events_failed_7d"),
            sa.func.coalesce(windows.c.events_skipped_7d, 0).label("events_skipped_7d"),
            silent_7d.label("silent_failures_7d"),
            durations.c.mean_duration_seconds,
            durations.c.p95_duration_seconds,
            last_run.c.last_run_status,
            last_run.c.last_run_at,
            health.label("health"),
            run_rate.label("run_success_rate_7d"),
            top_error.c.top_error_category,
            top_error.c.top_error_message,
            streak.c.last_success_at,
            sa.case(
                (last_run.c.last_run_status == RunStatus.SUCCESS.value, sa.null()),
                else_=streak.c.failing_since,
            ).label("failing_since"),
        )
        .select_from(ran)
        .outerjoin(windows, windows.c.source_id == ran.c.source_id)
        .outerjoin(durations, durations.c.source_id == ran.c.source_id)
        .outerjoin(last_run, last_run.c.source_id == ran.c.source_id)
        .outerjoin(streak, streak.c.source_id == ran.c.source_id)
        .outerjoin(top_error, top_error.c.source_id == ran.c.source_id)
    )


def _window_sums(source_ids: Sequence[str], as_of: date) -> sa.CTE:
    stats = source_daily_stats.c
    columns = []
    for name, (back, length) in WINDOWS.items():
        last = as_of - timedelta(days=back)
        first = window_start(last, length)
        judged = stats.events_succeeded + stats.events_failed
        columns += [
            sum_between(stats.events_succeeded, stats.day, first, last).label(f"succeeded_{name}"),
            sum_between(judged, stats.day, first, last).label(f"judged_{name}"),
        ]
    week = window_start(as_of, 7)
    columns += [
        sum_between(stats.runs, stats.day, week, as_of).label("runs_7d"),
        sum_between(stats.failed_runs, stats.day, week, as_of).label("failed_runs_7d"),
        sum_between(stats.events_failed, stats.day, week, as_of).label("events_failed_7d"),
        sum_between(stats.events_skipped, stats.day, week, as_of).label("events_skipped_7d"),
        sum_between(stats.silent_failures, stats.day, week, as_of).label("silent_failures_7d"),
    ]
    oldest = min(window_start(as_of - timedelta(days=back), n) for back, n in WINDOWS.values())
    return (
        sa.select(stats.source_id, *columns)
        .where(stats.day.between(oldest, as_of), stats.source_id.in_(source_ids))
        .group_by(stats.source_id)
        .cte("windows")
    )


def _durations(source_ids: Sequence[str], as_of: date) -> sa.Subquery:
    """Mean and nearest-rank p95 (the ceil(0.95 n)-th shortest) of the window's run durations."""
    runs = scrape_runs.c
    position = sa.func.row_number().over(
        partition_by=runs.source_id, order_by=runs.duration_seconds
    )
    ranked = (
        sa.select(
            runs.source_id,
            runs.duration_seconds,
            position.label("position"),
            sa.func.count().over(partition_by=runs.source_id).label("n"),
        )
        .where(
            runs.day.between(window_start(as_of, DURATION_DAYS), as_of),
            runs.source_id.in_(source_ids),
        )
        .subquery("ranked")
    )
    p95_position = (95 * ranked.c.n + 99) // 100  # ceil(0.95 n) in integer arithmetic
    return (
        sa.select(
            ranked.c.source_id,
            sa.func.avg(ranked.c.duration_seconds).label("mean_duration_seconds"),
            sa.func.max(
                sa.case((ranked.c.position == p95_position, ranked.c.duration_seconds))
            ).label("p95_duration_seconds"),
        )
        .group_by(ranked.c.source_id)
        .subquery("durations")
    )


def _last_run(source_ids: Sequence[str], as_of: date) -> sa.CTE:
    runs = scrape_runs.c
    recency = sa.func.row_number().over(
        partition_by=runs.source_id, order_by=(runs.started_at.desc(), runs.run_id.desc())
    )
    ranked = (
        sa.select(runs.source_id, runs.status, runs.started_at, recency.label("recency"))
        .where(runs.day <= as_of, runs.source_id.in_(source_ids), runs.is_retry.is_(False))
        .subquery("ranked_runs")
    )
    return (
        sa.select(
            ranked.c.source_id,
            ranked.c.status.label("last_run_status"),
            ranked.c.started_at.label("last_run_at"),
        )
        .where(ranked.c.recency == 1)
        .cte("last_run")
    )


def _streak(source_ids: Sequence[str], as_of: date) -> sa.Subquery:
    """The latest successful run's start, and the first start after it (of a run that was
    not a success): since when the source has been failing, if its last run did not succeed."""
    runs = scrape_runs.c
    scraped = sa.and_(runs.day <= as_of, runs.source_id.in_(source_ids), runs.is_retry.is_(False))
    successes = (
        sa.select(runs.source_id, sa.func.max(runs.started_at).label("last_success_at"))
        .where(scraped, runs.status == RunStatus.SUCCESS.value)
        .group_by(runs.source_id)
        .subquery("successes")
    )
    after_success = sa.or_(
        successes.c.last_success_at.is_(None), runs.started_at > successes.c.last_success_at
    )
    return (
        sa.select(
            runs.source_id,
            sa.func.max(successes.c.last_success_at).label("last_success_at"),
            sa.func.min(sa.case((after_success, runs.started_at))).label("failing_since"),
        )
        .select_from(scrape_runs)
        .outerjoin(successes, successes.c.source_id == runs.source_id)
        .where(scraped)
        .group_by(runs.source_id)
        .subquery("streak")
    )


def _top_error(source_ids: Sequence[str], as_of: date) -> sa.Subquery:
    """Each source's scrape failure group with most occurrences in the 7 days ending on as_of
    (the table describes scrapes: other stages are in `stage_success_rates`)."""
    days, failures = days_table.c, discovery_event_failures.c
    weekly = (
        sa.select(days.fingerprint, days.source_id, sa.func.sum(days.occurrences).label("n"))
        .where(
            days.day.between(window_start(as_of, 7), as_of),
            days.source_id.in_(source_ids),
            days.stage == SCRAPE_STAGE,
        )
        .group_by(days.fingerprint, days.source_id)
        .subquery("weekly")
    )
    rank = sa.func.row_number().over(
        partition_by=weekly.c.source_id,
        order_by=(weekly.c.n.desc(), failures.last_seen_at.desc(), failures.fingerprint),
    )
    ranked = (
        sa.select(
            weekly.c.source_id,
            failures.error_category.label("top_error_category"),
            failures.error_message.label("top_error_message"),
            rank.label("position"),
        )
        .join_from(weekly, discovery_event_failures, failures.fingerprint == weekly.c.fingerprint)
        .subquery("ranked_errors")
    )
    return (
        sa.select(ranked.c.source_id, ranked.c.top_error_category, ranked.c.top_error_message)
        .where(ranked.c.position == 1)
        .subquery("top_error")
    )


def _never_ran(source_id: str, as_of: date) -> dict[str, object]:
    return {
        "source_id": source_id,
        "as_of": as_of,
        "runs_7d": 0,
        "failed_runs_7d": 0,
        "events_succeeded_7d": 0,
        "events_failed_7d": 0,
        "events_skipped_7d": 0,
        "silent_failures_7d": 0,
        "health": Health.NO_DATA.value,
    }


def _summarize(connection: sa.Connection) -> SuccessRates:
    table = source_success_rates.c
    succeeded, failed = sa.func.sum(table.events_succeeded_7d), sa.func.sum(table.events_failed_7d)
    rows, overall = connection.execute(
        sa.select(sa.func.count(), ratio(succeeded, succeeded + failed))
    ).one()
    by_health = sa.select(table.health, sa.func.count()).group_by(table.health)
    counts = {health: count for health, count in connection.execute(by_health)}
    anomalous = connection.execute(
        sa.select(sa.func.count()).where(table.anomaly.is_not(None))
    ).scalar_one()
    return SuccessRates(
        rows=rows,
        overall_success_rate_7d=overall,
        sources_by_health={health: counts.get(health.value, 0) for health in Health},
        anomalous_sources=anomalous,
    )
