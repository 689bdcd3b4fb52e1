"""How close the scrape core comes to its floor: parsing the feed and a bare driver upsert.

    .venv/bin/python bench/bench_scrape_floor.py [--records 100000] [--repeats 5]
        [--postgres URL] [--sqlite-only]

Writes one JSON and one CSV feed of N realistic records (nested venue, location, schedule,
performers, links; 3 % fail validation in six ways, 1 % are cancelled) and scrapes each into
SQLite and PostgreSQL (the URL given, else a throwaway pgserver), every run on a fresh,
migrated database. Two contenders, alternated `--repeats` times so that load drift hits both:

- failtrack: `SourceScrape(...).run()`, the whole core (read, validate, upsert events,
  describe and record failures, coverage);
- the floor, "parse + bare driver upsert": `ijson.items` (C backend) or `csv.reader` over the
  same file, the fields picked by plain indexing, a record dropped when its title is missing
  or its start is no ISO date, and the rows upserted with the driver's own `executemany`
  (sqlite3 / psycopg) of the same ON CONFLICT statement, committed every 1,000 rows.

Times are CPU seconds of this process (`time.process_time`: the machine is shared; the
PostgreSQL server's own CPU is not in either figure), wall seconds beside them. Printed: best
and median of each, and the ratio floor / failtrack (the target is at least 35 %).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ijson
import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from failtrack_pipeline.config.sources_file import SourceConfig, load_sources
from failtrack_pipeline.db.engine import create_db_engine
from failtrack_pipeline.db.migrate import migrate
from failtrack_pipeline.db.schema import events as events_table
from failtrack_pipeline.source_scrape import SourceScrape
from failtrack_pipeline.testing.postgres import postgres_server

NOW = datetime(2026, 11, 25, tzinfo=UTC)
ROWS_PER_COMMIT = 1_000
CSV_COLUMNS = (
    "id", "name", "start", "end", "venue", "address", "lat", "lng", "genre", "artists", "url",
    "status",
)  # fmt: skip
GENRES = ("rock", "jazz", "classical", "comedy", "theatre", "film", "family")
# Every 33rd record breaks one rule (k counts the bad ones); every 100th is cancelled.
FAULTS: list[Callable[[int], dict[str, Any]]] = [
    lambda k: {"name": None},
    lambda k: {"start": f"2027-13-{k % 40:02d}T20:00:00"},
    lambda k: {"lat": 90.5 + k % 7},
    lambda k: {"genre": f"polka-{k % 9}"},
    lambda k: {"url": f"ftp://mirror{k % 20}.example.org/e/{k}"},
    lambda k: {"id": f"ev-{max(0, 33 * k - 1)}"},  # a duplicate of an earlier record
]


def records(count: int) -> Iterator[dict[str, Any]]:
    """The feed's records, flat (the JSON writer nests them)."""
    for i in range(count):
        month, day, hour = 1 + i % 12, 1 + i % 28, 17 + i % 5
        record: dict[str, Any] = {
            "id": f"ev-{i}",
            "name": f"{GENRES[i % 7].title()} night with The Band {i % 997}",
            "start": f"2027-{month:02d}-{day:02d}T{hour}:00:00",
            "end": f"2027-{month:02d}-{day:02d}T{hour + 2}:30:00",
            "venue": f"Hall {i % 250}",
            "address": f"Kade {i % 400}, 1011 AB Amsterdam",
            "lat": round(52.3 + (i % 1000) / 10_000, 5),
            "lng": round(4.8 + (i % 997) / 10_000, 5),
            "genre": GENRES[i % 7],
            "artists": [f"Artist {i % 1500}", f"Support {i % 300}"],
            "url": f"https://tickets.example.com/events/{i}",
            "status": "cancelled" if i % 100 == 50 else "scheduled",
        }
        if i % 33 == 32:
            bad = i // 33
            record |= FAULTS[bad % len(FAULTS)](bad)
        yield record


def write_feeds(workdir: Path, count: int) -> tuple[Path, Path]:
    json_path, csv_path = workdir / "feed.json", workdir / "feed.csv"
    with json_path.open("w") as out:
        out.write('{"data": {"count": ' + str(count) + ', "events": [\n')
        for i, r in enumerate(records(count)):
            nested = {
                "id": r["id"],
                "name": r["name"],
                "schedule": {"start": r["start"], "end": r["end"]},
                "venue": {"name": r["venue"], "address": r["address"]},
                "location": {"lat": r["lat"], "lng": r["lng"]},
                "genre": r["genre"],
                "artists": r["artists"],
                "links": [{"rel": "tickets", "href": r["url"]}],
                "status": r["status"],
            }
            out.write(("," if i else "") + json.dumps(nested) + "\n")
        out.write("]}}\n")
    with csv_path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for r in records(count):
            row = dict(r, artists="; ".join(r["artists"]))
            writer.writerow("" if row[c] is None else row[c] for c in CSV_COLUMNS)
    return json_path, csv_path


def write_sources(workdir: Path) -> Path:
    common = (
        "    timezone: Europe/Amsterdam\n"
        "    category_map: {rock: music, jazz: music, classical: music, theatre: theatre}\n"
    )
    path = workdir / "sources.yaml"
    path.write_text(
        "sources:\n"
        "  - id: bench_json\n    name: Bench JSON\n    kind: json\n    url: feed.json\n"
        "    records: data.events\n" + common + "    fields:\n"
        "      external_id: id\n      title: name\n      starts_at: schedule.start\n"
        "      ends_at: schedule.end\n      venue_name: venue.name\n"
        "      venue_address: venue.address\n      latitude: location.lat\n"
        "      longitude: location.lng\n      category: genre\n      performers: artists\n"
        "      url: links.0.href\n      status: status\n"
        "  - id: bench_csv\n    name: Bench CSV\n    kind: csv\n    url: feed.csv\n"
        "    delimiter: ','\n" + common + "    fields:\n"
        "      external_id: id\n      title: name\n      starts_at: start\n      ends_at: end\n"
        "      venue_name: venue\n      venue_address: address\n      latitude: lat\n"
        "      longitude: lng\n      category: genre\n      performers: artists\n"
        "      url: url\n      status: status\n"
    )
    return path


# ---------------------------------------------------------------- the floor


def floor_rows_json(path: Path, source_id: str) -> Iterator[tuple[Any, ...]]:
    with path.open("rb") as stream:
        for r in ijson.items(stream, "data.events.item", use_float=True):
            venue, location, schedule = r["venue"], r["location"], r["schedule"]
            yield _floor_row(
                source_id, r["id"], r["name"], schedule["start"], schedule["end"],
                venue["name"], venue["address"], location["lat"], location["lng"],
                r["genre"], json.dumps(r["artists"]), r["links"][0]["href"],
            )  # fmt: skip


def floor_rows_csv(path: Path, source_id: str) -> Iterator[tuple[Any, ...]]:
    with path.open(newline="") as stream:
        reader = csv.reader(stream)
        next(reader)
        for r in reader:
            artists = json.dumps([name.strip() for name in r[9].split(";")])
            yield _floor_row(source_id, *r[:9], artists, r[10])


def _floor_row(source_id: str, external_id: str, title: str | None, start: str, *rest: Any) -> Any:
    if not title:
        return None
    try:
        datetime.fromisoformat(start)
    except ValueError:
        return None
    return (source_id, external_id, title, start, *rest, NOW_TEXT, NOW_TEXT, RUN_ID)


NOW_TEXT = NOW.strftime("%Y-%m-%d %H:%M:%S.%f")
RUN_ID = "floor"


def upsert_statement(dialect: sa.Dialect) -> str:
    """The events upsert, compiled once with positional parameters for the bare driver."""
    module = postgresql if dialect.name == "postgresql" else sqlite
    insert = module.insert(events_table)
    keys = ("source_id", "external_id", "first_seen_at")
    statement = insert.on_conflict_do_update(
        index_elements=["source_id", "external_id"],
        set_={c.name: insert.excluded[c.name] for c in events_table.columns if c.name not in keys},
    )
    return str(statement.compile(dialect=dialect))


def floor(kind: str, fmt: str, feed: Path, url: str) -> int:
    rows = (floor_rows_json if fmt == "json" else floor_rows_csv)(feed, f"bench_{fmt}")
    if kind == "sqlite":
        connection: Any = sqlite3.connect(sa.make_url(url).database)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        statement = upsert_statement(sqlite.dialect(paramstyle="qmark"))
    else:
        plain_url = sa.make_url(url).set(drivername="postgresql")
        connection = psycopg.connect(plain_url.render_as_string(hide_password=False))
        statement = upsert_statement(postgresql.psycopg.dialect(paramstyle="format"))
    written = 0
    with connection:
        cursor = connection.cursor()
        chunk: list[tuple[Any, ...]] = []
        for row in rows:
            if row is not None:
                chunk.append(row)
                if len(chunk) == ROWS_PER_COMMIT:
                    written += _commit(connection, cursor, statement, chunk)
        written += _commit(connection, cursor, statement, chunk)
    connection.close()
    return written


def _commit(connection: Any, cursor: Any, statement: str, chunk: list[tuple[Any, ...]]) -> int:
    cursor.executemany(statement, chunk)
    connection.commit()
    count = len(chunk)
    chunk.clear()
    return count


# ---------------------------------------------------------------- the run


def fresh_database(kind: str, server: str | None, workdir: Path) -> str:
    if kind == "sqlite":
        url = f"sqlite:///{workdir / f'{uuid.uuid4().hex}.db'}"
    else:
        assert server
        admin_url = sa.make_url(server).set(drivername="postgresql+psycopg")
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
        name = f"bench_{uuid.uuid4().hex[:10]}"
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        admin.dispose()
        url = admin_url.set(database=name).render_as_string(hide_password=False)
    engine = create_db_engine(url)
    migrate(engine)
    engine.dispose()
    return url


def failtrack(source: SourceConfig, url: str) -> int:
    engine = create_db_engine(url)
    outcome = SourceScrape(source, engine, run_id=uuid.uuid4().hex, now=NOW).run()
    engine.dispose()
    return outcome.succeeded


def timed(work: Callable[[str], int], url: str) -> tuple[float, float, int]:
    cpu, wall = time.process_time(), time.perf_counter()
    result = work(url)
    return time.process_time() - cpu, time.perf_counter() - wall, result


def bench(kind: str, fmt: str, source: SourceConfig, feed: Path, args: Any, workdir: Path,
          server: str | None) -> None:  # fmt: skip
    contenders: dict[str, Callable[[str], int]] = {
        "floor": lambda url: floor(kind, fmt, feed, url),
        "failtrack": lambda url: failtrack(source, url),
    }
    results: dict[str, list[tuple[float, float, int]]] = {name: [] for name in contenders}
    for _ in range(args.repeats):
        for name, work in contenders.items():
            results[name].append(timed(work, fresh_database(kind, server, workdir)))
    print(f"\n== {fmt.upper()} -> {kind}: {args.records:,} records, best / median of "
          f"{args.repeats} ==")  # fmt: skip
    summary = {}
    for name, runs in results.items():
        cpu = [run[0] for run in runs]
        wall = [run[1] for run in runs]
        summary[name] = (min(cpu), statistics.median(cpu))
        print(f"{name:10s}: CPU {min(cpu):6.2f} / {statistics.median(cpu):6.2f} s   "
              f"wall {min(wall):6.2f} / {statistics.median(wall):6.2f} s   "
              f"{runs[0][2]:,} events stored")  # fmt: skip
    best = summary["floor"][0] / summary["failtrack"][0]
    median = summary["floor"][1] / summary["failtrack"][1]
    print(f"floor / failtrack (CPU): best {best:.0%}, median {median:.0%}  (target >= 35 %)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--postgres", help="a PostgreSQL URL whose server we may create databases on"
    )
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--formats", nargs="+", default=["json", "csv"], choices=["json", "csv"])
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        feeds = dict(zip(("json", "csv"), write_feeds(workdir, args.records), strict=True))
        sources = load_sources(write_sources(workdir))
        for fmt in args.formats:
            bench("sqlite", fmt, sources.get(f"bench_{fmt}"), feeds[fmt], args, workdir, None)
        if not args.sqlite_only:
            with postgres_server(args.postgres) as server:
                for fmt in args.formats:
                    source = sources.get(f"bench_{fmt}")
                    bench("postgresql", fmt, source, feeds[fmt], args, workdir, server)
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")


if __name__ == "__main__":
    main()
