"""A 200 MB feed is streamed: memory stays bounded while it is read, validated and stored.

Each feed is written a record at a time, then read in a fresh interpreter that reports its
peak resident memory above what it held before reading (ru_maxrss): a reader that loaded the
document whole would need several times the file's size.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

FEED_BYTES = 200 * 1024 * 1024
MAX_GROWTH_BYTES = 64 * 1024 * 1024
# Long records keep the count (and so the run time) down; every 10th has a bad date.
DESCRIPTION = "Live music, food trucks and late-night stalls by the river. " * 30
FIELDS = {"external_id": "id", "title": "name", "starts_at": "start", "venue_name": "venue"}


def record(index: int) -> dict[str, str]:
    start = "2027-13-45" if index % 10 == 0 else "2027-03-01T20:00:00"
    return {
        "id": f"e{index}",
        "name": f"Event {index}",
        "start": start,
        "venue": "Blue Room",
        "description": DESCRIPTION,
    }


def write_json_feed(path: Path) -> int:
    """{"data": {"events": [...]}} of about FEED_BYTES; returns the number of records."""
    count = 0
    with path.open("w", encoding="utf-8") as feed:
        feed.write('{"data": {"events": [')
        while feed.tell() < FEED_BYTES:
            feed.write(("," if count else "") + json.dumps(record(count)))
            count += 1
        feed.write("]}}")
    return count


def write_csv_feed(path: Path) -> int:
    count = 0
    with path.open("w", encoding="utf-8", newline="") as feed:
        rows = csv.writer(feed)
        rows.writerow(record(0))
        while feed.tell() < FEED_BYTES:
            rows.writerow(record(count).values())
            count += 1
    return count


def expected(count: int) -> tuple[int, int]:
    """(events, failures) of a feed of `count` records."""
    failures = (count + 9) // 10
    return count - failures, failures


# Run in a fresh interpreter: reads the feed (and with a database URL, scrapes it through
# SourceScrape), then prints its counts and how far the peak RSS rose while doing so.
READ_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    from datetime import UTC, datetime
    from failtrack_pipeline.base.events import Event
    from failtrack_pipeline.processing.validate import process_records
    from failtrack_pipeline.source_scrape import SourceScrape
    from failtrack_pipeline.sources.readers import read_records
    from failtrack_pipeline.config.sources_file import SourceConfig
    from failtrack_pipeline.db.engine import create_db_engine
    from failtrack_pipeline.db.migrate import migrate

    config, db_url = json.loads(sys.argv[1]), sys.argv[2]
    source = SourceConfig(**config)
    now = datetime(2026, 11, 25, tzinfo=UTC)
    engine = None
    if db_url:
        engine = create_db_engine(db_url)
        migrate(engine)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if engine is None:
        events = failures = 0
        for item in process_records(read_records(source), source, now=now):
            if isinstance(item, Event):
                events += 1
            else:
                failures += 1
    else:
        outcome = SourceScrape(source, engine, run_id="big", now=now).run()
        events, failures = outcome.succeeded, outcome.failed
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"events": events, "failures": failures, "growth": peak - before}))
    """
)


def read_in_subprocess(config: dict[str, object], db_url: str = "") -> dict[str, int]:
    done = subprocess.run(
        [sys.executable, "-c", READ_SCRIPT, json.dumps(config), db_url],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["json", "csv"])
def test_a_200_mb_feed_is_read_and_validated_in_bounded_memory(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"big.{kind}"
    count = write_json_feed(path) if kind == "json" else write_csv_feed(path)
    config = {
        "id": "big",
        "name": "Big feed",
        "kind": kind,
        "url": path.as_uri(),
        "fields": FIELDS,
        **({"records": "data.events"} if kind == "json" else {}),
    }
    result = read_in_subprocess(config)
    assert path.stat().st_size >= FEED_BYTES
    assert (result["events"], result["failures"]) == expected(count)
    assert result["growth"] < MAX_GROWTH_BYTES, result


@pytest.mark.slow
def test_a_200_mb_feed_is_scraped_into_the_database_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    count = write_json_feed(path)
    config = {
        "id": "big",
        "name": "Big feed",
        "kind": "json",
        "url": path.as_uri(),
        "records": "data.events",
        "fields": FIELDS,
    }
    result = read_in_subprocess(config, f"sqlite:///{tmp_path / 'failtrack.db'}")
    assert (result["events"], result["failures"]) == expected(count)
    assert result["growth"] < MAX_GROWTH_BYTES, result
