"""One clock: a scrape judging its events `as_of` another day still stamps what it saw now."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from failtrack_pipeline.config.sources_file import load_sources
from failtrack_pipeline.db.schema import discovery_event_failure_days, discovery_event_failures
from failtrack_pipeline.db.schema import events as events_table
from failtrack_pipeline.source_scrape import SourceScrape

SOURCES_YAML = """
sources:
  - id: shows
    name: Shows
    kind: json
    url: shows.json
    records: items
    fields: {external_id: id, title: title, starts_at: when, venue_name: venue}
"""
AS_OF = datetime(2026, 11, 25, 6, tzinfo=UTC)


def test_failures_and_events_carry_the_time_they_were_seen_not_as_of(
    engine: sa.Engine, tmp_path: Path
) -> None:
    items = [
        {"id": "s1", "title": "Opera", "when": "2027-05-01 19:00", "venue": "Hall"},
        {"id": "s2", "title": "", "when": "2027-05-02 19:00", "venue": "Hall"},  # no title
    ]
    (tmp_path / "shows.json").write_text(json.dumps({"items": items}))
    (tmp_path / "sources.yaml").write_text(SOURCES_YAML)
    source = load_sources(tmp_path / "sources.yaml").get("shows")

    before = datetime.now(UTC)
    outcome = SourceScrape(source, engine, run_id="r1", now=AS_OF).run()
    after = datetime.now(UTC)

    assert (outcome.succeeded, outcome.failed) == (1, 1)
    failures, days = discovery_event_failures.c, discovery_event_failure_days.c
    with engine.connect() as connection:
        first, last = connection.execute(
            sa.select(failures.first_seen_at, failures.last_seen_at)
        ).one()
        (day,) = connection.execute(sa.select(days.day)).scalars()
        stored = connection.execute(sa.select(events_table.c.first_seen_at)).scalar_one()
    assert before <= first <= last <= after
    assert day == before.date() != AS_OF.date()
    assert before <= stored <= after
