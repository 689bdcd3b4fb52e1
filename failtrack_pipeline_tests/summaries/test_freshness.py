"""Freshness: a source nobody scrapes any more turns `stale` on time, fails its check as an
ERROR, and an enabled source with no data fails its check instead of passing."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from failtrack_pipeline.config.policies import HealthThresholds
from failtrack_pipeline.config.sources_file import DEFAULT_EXPECTED_EVERY, SourcesFile
from failtrack_pipeline.db.schema import source_success_rates
from failtrack_pipeline.defs.checks import source_health
from failtrack_pipeline.summaries.rates import build_success_rates
from failtrack_pipeline_tests.summaries.history import add_day, days_ago, scrape_run

LAST_SCRAPE = days_ago(6)  # harbour_festival's last run: 05:00 UTC that day


def health(engine: sa.Engine) -> dict[str, tuple[str, str]]:
    table = source_success_rates.c
    with engine.connect() as connection:
        rows = connection.execute(sa.select(table.source_id, table.health, table.health_reason))
        return {source: (state, reason) for source, state, reason in rows}


def judged_on(engine: sa.Engine, day_offset: int, every: timedelta) -> dict[str, tuple[str, str]]:
    day = LAST_SCRAPE + timedelta(days=day_offset)
    sources = ["harbour_festival", "weekly_market", "never_ran"]
    expected = {"harbour_festival": every, "weekly_market": timedelta(days=8), "never_ran": every}
    build_success_rates(engine, sources, day, HealthThresholds(), expected)
    return health(engine)


def test_a_source_that_stops_being_scraped_turns_stale_on_time(engine: sa.Engine) -> None:
    for back in range(1, 24):  # a month of daily runs up to the last one
        day = LAST_SCRAPE - timedelta(days=back)
        add_day(engine, day, scrape_run("harbour_festival", day, 12, 0))
    last_runs = [
        scrape_run(source, LAST_SCRAPE, 12, 0) for source in ("harbour_festival", "weekly_market")
    ]
    add_day(engine, LAST_SCRAPE, *last_runs)
    # The day of the last run (judged at its end, 19 h later): fresh and healthy.
    assert judged_on(engine, 0, DEFAULT_EXPECTED_EVERY)["harbour_festival"][0] == "healthy"
    # The next day, 43 h after the run: stale, with why, though every rate is 100 %.
    state, reason = judged_on(engine, 1, DEFAULT_EXPECTED_EVERY)["harbour_festival"]
    assert (state, reason) == ("stale", f"stale: no run since {LAST_SCRAPE:%Y-%m-%d} 05:00 UTC")
    # A source expected weekly is fresh for 8 days; one that never ran has no data.
    later = judged_on(engine, 7, DEFAULT_EXPECTED_EVERY)
    assert later["weekly_market"][0] != "stale" and later["never_ran"] == ("no_data", "no run yet")
    assert judged_on(engine, 9, DEFAULT_EXPECTED_EVERY)["weekly_market"][0] == "stale"


def test_stale_errors_and_no_data_warns_in_the_source_checks(engine: sa.Engine) -> None:
    add_day(engine, LAST_SCRAPE, scrape_run("harbour_festival", LAST_SCRAPE, 12, 0))
    judged_on(engine, 1, DEFAULT_EXPECTED_EVERY)
    verdicts = dict(source_health(engine, ["harbour_festival", "never_ran"], HealthThresholds()))
    stale, no_data = verdicts["harbour_festival"], verdicts["never_ran"]
    assert (stale.passed, stale.severity.value) == (False, "ERROR")
    assert (no_data.passed, no_data.severity.value) == (False, "WARN")


def test_only_enabled_sources_are_expected_to_run() -> None:
    sources = SourcesFile.model_validate(
        {
            "path": "sources.yaml",
            "sources": [
                {"id": "daily", "name": "D", "kind": "ics", "url": "file:///d.ics"},
                {"id": "weekly", "name": "W", "kind": "ics", "url": "file:///w.ics",
                 "expected_every": "P7D"},
                {"id": "off", "name": "O", "kind": "ics", "url": "file:///o.ics", "enabled": False},
            ],
        }
    )  # fmt: skip
    assert sources.expected_every() == {"daily": timedelta(hours=26), "weekly": timedelta(days=7)}
