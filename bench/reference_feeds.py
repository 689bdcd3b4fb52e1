"""Every reference feed through the real scrape job: what each holds, reads and yields.

    .venv/bin/python bench/reference_feeds.py [FOLDER] [--sources bench/reference_feeds.yaml]

FOLDER defaults to ../shared/reference-data/real-feeds (read in place, never copied); the
sources file maps each feed (its relative urls are pointed at FOLDER) and FOLDER's
asof.json gives each run's `as_of`. Each source is one run of `scrape_sources_job` on a
temporary Dagster instance and SQLite database. Per feed it prints: the records truly in
the file by a count of our own (VEVENTs; the JSON list's length; CSV rows), the records
read (events + skips + failures), events, skips by reason and failures by category (from
the failure table). Not a benchmark: nothing is timed.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

HERE = Path(__file__).resolve().parent
DEFAULT_FOLDER = HERE.parents[0].parent / "shared" / "reference-data" / "real-feeds"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--sources", type=Path, default=HERE / "reference_feeds.yaml")
    args = parser.parse_args()
    if not args.folder.is_dir():
        print(f"skipped: no reference feeds at {args.folder}")
        return 0
    with tempfile.TemporaryDirectory() as home:
        os.environ["DAGSTER_HOME"] = home
        os.environ.pop("FAILTRACK_DATABASE_URL", None)
        sources_path = Path(home) / "sources.yaml"
        document = yaml.safe_load(args.sources.read_text(encoding="utf-8"))
        for source in document["sources"]:
            source["url"] = (args.folder / source["url"]).resolve().as_uri()
        sources_path.write_text(yaml.safe_dump(document), encoding="utf-8")
        os.environ["FAILTRACK_SOURCES_FILE"] = str(sources_path)
        as_of = json.loads((args.folder / "asof.json").read_text(encoding="utf-8"))
        rows = run_all(document["sources"], sources_path, as_of, args.folder)
    print_table(rows)
    return 0


def run_all(
    sources: list[dict[str, Any]], sources_path: Path, as_of: dict[str, str], folder: Path
) -> list[dict[str, str]]:
    from dagster import DagsterInstance

    from failtrack_pipeline.config.sources_file import load_sources
    from failtrack_pipeline.db.engine import create_db_engine, database_url_from_env
    from failtrack_pipeline.db.schema import discovery_event_failures as failures
    from failtrack_pipeline.definitions import build_definitions
    from failtrack_pipeline.defs.run_tags import tagged_counts
    from failtrack_pipeline.tracking.outcome import format_skip_reasons

    loaded = load_sources(sources_path)
    job = build_definitions(loaded).get_job_def("scrape_sources_job")
    rows = []
    with DagsterInstance.get() as instance:
        for source in loaded.sources:
            config = {"ops": {"scrape_source": {"config": {"as_of": as_of[source.id]}}}}
            result = job.execute_in_process(
                partition_key=source.id, instance=instance, raise_on_error=False, run_config=config
            )
            tags = instance.get_run_by_id(result.run_id).tags
            engine = create_db_engine(database_url_from_env())
            with engine.connect() as connection:
                query = (
                    sa.select(failures.c.error_category, sa.func.sum(failures.c.occurrence_count))
                    .where(failures.c.source_id == source.id)
                    .group_by(failures.c.error_category)
                )
                by_category = dict(connection.execute(query).all())
            engine.dispose()
            raw = next(item for item in sources if item["id"] == source.id)
            counts = tagged_counts(tags)
            rows.append(
                {
                    "feed": source.id,
                    "in file": str(count_records(raw, folder)),
                    "read": str(counts.processed),
                    "events": str(counts.succeeded),
                    "skips": format_skip_reasons(counts.skip_reasons),
                    "failures": ", ".join(f"{c} {n}" for c, n in sorted(by_category.items())),
                    "status": tags.get("failtrack/status", "?"),
                }
            )
    return rows


def count_records(source: dict[str, Any], folder: Path) -> int:
    """The records a file truly holds, counted without failtrack's readers."""
    path = folder / Path(source["url"].removeprefix("file://")).name
    if source["kind"] == "ics":
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        return sum(1 for line in lines if line.strip().upper() == "BEGIN:VEVENT")
    if source["kind"] == "json":
        document: Any = json.loads(path.read_text(encoding="utf-8"))
        for key in filter(None, (source.get("records") or "").split(".")):
            document = document[key]
        return len(document) if isinstance(document, list) else 1
    with path.open(encoding="utf-8-sig", newline="") as stream:
        sample = stream.read(65536)
        stream.seek(0)
        delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
        rows = [row for row in csv.reader(stream, delimiter=delimiter) if row]
    return len(rows) - (1 if source.get("header", True) else 0)


def print_table(rows: list[dict[str, str]]) -> None:
    columns = list(rows[0])
    widths = {name: max(len(name), *(len(row[name]) for row in rows)) for name in columns}
    print("| " + " | ".join(name.ljust(widths[name]) for name in columns) + " |")
    print("| " + " | ".join("-" * widths[name] for name in columns) + " |")
    for row in rows:
        print("| " + " | ".join(row[name].ljust(widths[name]) for name in columns) + " |")
    totals = Counter()
    for row in rows:
        totals["in file"] += int(row["in file"])
        totals["read"] += int(row["read"])
        totals["events"] += int(row["events"])
    print(f"\ntotal: {dict(totals)}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
