"""How building the dashboard tables grows with the length of the history.

    .venv/bin/python bench/bench_summaries.py [--sources 200] [--postgres URL]

For 30, 60 and 90 days of synthetic history (every source scraped once a day, a few failure
groups each, written straight into scrape_runs and the failure tables) on SQLite (and
PostgreSQL: the URL given, else a throwaway pgserver if installed), times what the dashboard
does, with the same functions its assets call:
- backfill: `source_daily_stats` for every day of the history (grows with the days: linear
  is the target);
- daily refresh: what the daily schedule's run does (harvest and aggregate yesterday and
  today, then source_success_rates, error_category_breakdown, top_failure_groups); its
  windows are at most 30 days, so it should barely grow with the history.
Each time is the median of a few repetitions; ratios are against the 30-day history
measured in the same run. Harvesting from Dagster's run records is not included: it reads
one day's runs through an indexed range query, whatever the history.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from functools import partial
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.config.policies import HealthThresholds
from failtrack_pipeline.db.engine import create_db_engine
from failtrack_pipeline.db.migrate import migrate
from failtrack_pipeline.db.schema import (
    discovery_event_failure_days,
    discovery_event_failures,
    scrape_runs,
)
from failtrack_pipeline.summaries.breakdown import build_error_category_breakdown
from failtrack_pipeline.summaries.daily import rebuild_daily_stats, refresh_day
from failtrack_pipeline.summaries.groups import build_top_failure_groups
from failtrack_pipeline.summaries.rates import build_success_rates
from failtrack_pipeline.testing.postgres import postgres_server

AS_OF = date(2026, 11, 25)
HISTORIES = (30, 60, 90)
REPEATS = 3
GROUPS_PER_SOURCE = 6
_CHUNK = 2_000


@dataclass(frozen=True)
class Timing:
    days: int
    runs: int
    failure_days: int
    backfill: float
    daily_refresh: float


def source_ids(count: int) -> list[str]:
    return [f"source_{i:03d}" for i in range(count)]


def load_history(engine: sa.Engine, sources: list[str], days: int, seed: int = 7) -> int:
    """Write `days` days of runs and failures ending on AS_OF; returns the failure-day rows."""
    rng = random.Random(seed)
    runs: list[dict[str, Any]] = []
    day_rows: list[dict[str, Any]] = []
    groups: dict[str, dict[str, Any]] = {}
    categories = list(ErrorCategory)
    for s, source_id in enumerate(sources):
        failure_share = rng.choice([0.0, 0.01, 0.03, 0.1, 0.3])
        for back in range(days):
            day = AS_OF - timedelta(days=back)
            started = datetime.combine(day, clock(5), tzinfo=UTC) + timedelta(seconds=s)
            feed_down = rng.random() < 0.03
            processed = 0 if feed_down else rng.randint(50, 500)
            failed = round(processed * failure_share * rng.uniform(0.5, 1.5))
            status = "failed" if feed_down else ("partial" if failed else "success")
            runs.append(
                {
                    "run_id": uuid.uuid4().hex,
                    "source_id": source_id,
                    "day": day,
                    "status": status,
                    "events_processed": processed,
                    "events_succeeded": processed - failed,
                    "events_failed": failed,
                    "started_at": started,
                    "ended_at": started + timedelta(seconds=rng.uniform(5, 120)),
                    "duration_seconds": 0.0,
                }
            )
            for g in range(GROUPS_PER_SOURCE):
                if rng.random() > 0.6:
                    continue
                fingerprint = f"{source_id}-{g}".ljust(64, "0")
                occurrences = rng.randint(1, 40)
                seen = datetime.combine(day, clock(5), tzinfo=UTC)
                group = groups.setdefault(
                    fingerprint,
                    {
                        "id": len(groups) + 1,
                        "fingerprint": fingerprint,
                        "source_id": source_id,
                        "error_category": categories[(s + g) % len(categories)].value,
                        "error_message": f"failure kind {g} at <int>",
                        "example_message": f"failure kind {g} at 42",
                        "sample_external_ids": [f"ev-{g}-{i}" for i in range(3)],
                        "occurrence_count": 0,
                        "first_seen_at": seen,
                        "last_seen_at": seen,
                    },
                )
                group["occurrence_count"] += occurrences
                group["first_seen_at"] = min(group["first_seen_at"], seen)
                group["last_seen_at"] = max(group["last_seen_at"], seen)
                day_rows.append(
                    {
                        "group_id": group["id"],
                        "fingerprint": fingerprint,
                        "day": day,
                        "source_id": source_id,
                        "occurrences": occurrences,
                    }
                )
    for run in runs:
        run["duration_seconds"] = (run["ended_at"] - run["started_at"]).total_seconds()
    with engine.begin() as connection:
        for table, rows in (
            (scrape_runs, runs),
            (discovery_event_failures, list(groups.values())),
            (discovery_event_failure_days, day_rows),
        ):
            for start in range(0, len(rows), _CHUNK):
                connection.execute(sa.insert(table), rows[start : start + _CHUNK])
    return len(day_rows)


def backfill(engine: sa.Engine, days: int) -> None:
    for back in range(days):
        with engine.begin() as connection:
            rebuild_daily_stats(connection, AS_OF - timedelta(days=back))


def daily_refresh(engine: sa.Engine, sources: list[str]) -> None:
    for day in (AS_OF - timedelta(days=1), AS_OF):
        refresh_day(engine, day, [])  # the day's runs are already harvested
    build_success_rates(engine, sources, AS_OF, HealthThresholds())
    build_error_category_breakdown(engine)
    build_top_failure_groups(engine, AS_OF)


def median_seconds(action: Callable[[], None], repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(new_engine: Callable[[], sa.Engine], sources: list[str]) -> list[Timing]:
    timings = []
    for days in HISTORIES:
        engine = new_engine()
        migrate(engine)
        failure_days = load_history(engine, sources, days)
        backfill_time = median_seconds(partial(backfill, engine, days))
        refresh_time = median_seconds(partial(daily_refresh, engine, sources))
        timings.append(Timing(days, days * len(sources), failure_days, backfill_time, refresh_time))
        engine.dispose()
    return timings


def report(backend: str, sources: int, timings: list[Timing]) -> None:
    base = timings[0]
    print(f"\n{backend}: {sources} sources, one run per source and day")
    print(f"{'history':>8} {'runs':>7} {'fail-days':>9} {'backfill':>17} {'daily refresh':>17}")
    for t in timings:
        backfill_ratio = t.backfill / base.backfill
        refresh_ratio = t.daily_refresh / base.daily_refresh
        print(
            f"{t.days:>5} d {t.runs:>7} {t.failure_days:>9} "
            f"{t.backfill:>8.2f} s ({backfill_ratio:4.2f}x) "
            f"{t.daily_refresh:>8.3f} s ({refresh_ratio:4.2f}x)"
        )
    print(f"(ratios: against {base.days} days; history grows {timings[-1].days / base.days:.0f}x)")


def postgres_engines(server_url: str) -> Callable[[], sa.Engine]:
    """A fresh database on the server for each history length."""
    admin_url = make_url(server_url).set(drivername="postgresql+psycopg")
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)

    def new_engine() -> sa.Engine:
        name = f"bench_{uuid.uuid4().hex[:10]}"
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        return create_db_engine(admin_url.set(database=name))

    return new_engine


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=200)
    parser.add_argument("--postgres", help="a PostgreSQL server URL (default: pgserver)")
    args = parser.parse_args()
    sources = source_ids(args.sources)
    with tempfile.TemporaryDirectory(prefix="bench-sqlite-") as folder:
        counter = iter(range(len(HISTORIES)))

        def sqlite_engine() -> sa.Engine:
            return create_db_engine(f"sqlite:///{folder}/bench-{next(counter)}.db")

        report("SQLite", args.sources, measure(sqlite_engine, sources))
    with postgres_server(args.postgres) as server_url:
        report("PostgreSQL", args.sources, measure(postgres_engines(server_url), sources))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
