"""What failure tracking costs a scrape, and what recording per group saves.

    .venv/bin/python bench/bench_tracking.py [--events 100000] [--postgres URL]

Scrapes a synthetic `python` source of N events, 10 % of them failing in a few dozen ways,
on SQLite (and PostgreSQL: the URL given, else a throwaway pgserver if installed), and
prints ratios against baselines measured in the same run:
- tracking on vs off: the same scrape with failures only counted, not described or recorded,
  as the median and range of PAIRS interleaved pairs (target: at most 10 % overhead);
- recording the run's failures grouped (`record_failures` once) against two baselines: one
  transaction with its ledger claim and sample update per failure (the original design),
  and the fair one, one upsert per failure inside a single transaction.
About a quarter of the failures carry a unique value in their message (a time, a URL, an id),
so the normalizer's cache misses as it would on a real feed.

`--scale REPEATS` instead measures describing and recording 100,000 failures at 10, 1,000
and 100,000 groups.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from failtrack_pipeline.base.errors import EventError
from failtrack_pipeline.config.sources_file import SourceConfig, load_sources
from failtrack_pipeline.db.engine import create_db_engine
from failtrack_pipeline.db.migrate import migrate
from failtrack_pipeline.source_scrape import FAILURES_PER_BATCH, SourceScrape
from failtrack_pipeline.testing.postgres import postgres_server
from failtrack_pipeline.tracking import failures as failures_module
from failtrack_pipeline.tracking.failures import FailureRecord, describe_failure
from failtrack_pipeline.tracking.store import (
    claim_batch,
    group_failures,
    record_failures,
    write_groups,
)

NOW = datetime(2026, 11, 25, tzinfo=UTC)
BENCH_SOURCE_ID = "bench"
EVENTS_ENV = "BENCH_EVENTS"  # read by the feed, which the python source kind imports anew
REPEATS = 5
PAIRS = 10  # interleaved tracking on/off pairs
NAIVE_SAMPLE = 1_000  # failures written one by one; enough for a stable per-failure time

# Each bad record fails in one of these ways (k counts the bad records). Values vary, so
# the parameterization is exercised: the raw variants fold into about 30 groups, and the
# unique times and URLs (3 ways of 13) make about a quarter of the messages unique.
FAULTS: list[Callable[[int], dict[str, Any]]] = [
    lambda k: {"title": ""},
    lambda k: {"external_id": None},
    lambda k: {"starts_at": None},
    lambda k: {"starts_at": f"2027-13-{k % 40:02d}T{k // 60 % 24:02d}:{k % 60:02d}:00"},
    lambda k: {"ends_at": f"2027-02-{30 + k % 2} {k // 60 % 24:02d}:{k % 60:02d}"},
    lambda k: {"starts_at": "2027-05-01T10:00:00Z", "ends_at": "2027-04-01T10:00:00Z"},
    lambda k: {"starts_at": f"2024-0{1 + k % 9}-01T10:00:00Z"},
    lambda k: {"latitude": 91 + k % 7},
    lambda k: {"longitude": -181 - k % 7},
    lambda k: {"venue_name": None},
    lambda k: {"category": f"unknown-{k % 12}"},
    lambda k: {"performers": {"nested": k}},
    lambda k: {"url": f"ftp://mirror{(k // len(FAULTS)) % 20}.example.org/e/{k}"},
]


def synthetic_events(source: SourceConfig) -> Iterator[dict[str, Any]]:
    """The bench feed: BENCH_EVENTS records (default 100,000), every tenth one bad."""
    for i in range(events_wanted()):
        record: dict[str, Any] = {
            "external_id": f"ev-{i}",
            "title": f"Concert {i}",
            "starts_at": f"2027-0{1 + i % 9}-{1 + i % 28:02d}T20:00:00",
            "venue_name": f"Hall {i % 50}",
            "category": "music",
            "latitude": 52.37,
            "longitude": 4.89,
        }
        if i % 10 == 0:
            bad = i // 10
            record |= FAULTS[bad % len(FAULTS)](bad)
        yield record


def events_wanted() -> int:
    return int(os.environ.get(EVENTS_ENV, "100000"))


class UntrackedScrape(SourceScrape):
    """The baseline: the same scrape, with failures merely counted."""

    def _fail(self, error: EventError) -> None:
        self.outcome.failed += 1


def fresh_engine(kind: str, postgres_url: str | None, workdir: Path) -> sa.Engine:
    if kind == "sqlite":
        engine = create_db_engine(f"sqlite:///{workdir / f'{uuid.uuid4().hex}.db'}")
    else:
        assert postgres_url
        server = sa.make_url(postgres_url).set(drivername="postgresql+psycopg")
        admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
        name = f"bench_{uuid.uuid4().hex[:10]}"
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        engine = create_db_engine(server.set(database=name))
    migrate(engine)
    return engine


def time_scrape(cls: type[SourceScrape], source: SourceConfig, make_engine: Callable) -> float:
    engine = make_engine()
    started = time.perf_counter()
    outcome = cls(source, engine, run_id=uuid.uuid4().hex, now=NOW).run()
    elapsed = time.perf_counter() - started
    assert outcome.processed == events_wanted(), outcome
    engine.dispose()
    return elapsed


def bench_backend(kind: str, source: SourceConfig, postgres_url: str | None, workdir: Path) -> None:
    def make_engine() -> sa.Engine:
        return fresh_engine(kind, postgres_url, workdir)

    # PAIRS interleaved pairs, the order swapped every pair, so that drift in the machine's
    # load hits both alike; the overhead is each pair's ratio, reported as median and range.
    ratios, off_times, on_times = [], [], []
    for pair in range(PAIRS):
        order = (
            (UntrackedScrape, SourceScrape) if pair % 2 == 0 else (SourceScrape, UntrackedScrape)
        )
        timed = {cls: time_scrape(cls, source, make_engine) for cls in order}
        off_times.append(timed[UntrackedScrape])
        on_times.append(timed[SourceScrape])
        ratios.append(timed[SourceScrape] / timed[UntrackedScrape] - 1)
    off, on = statistics.median(off_times), statistics.median(on_times)

    failures = [describe_failure(source.id, error, seen_at=NOW) for error in _event_errors(source)]
    grouped = statistics.median(_record_grouped(make_engine(), failures) for _ in range(REPEATS))
    per_failure_grouped = grouped / len(failures)
    sample = failures[:NAIVE_SAMPLE]
    per_failure_transaction = _record_one_transaction_each(make_engine(), sample)
    per_failure_upsert = _record_one_upsert_each(make_engine(), sample)

    events = events_wanted()
    quartiles = statistics.quantiles(ratios, n=4)
    print(f"\n== {kind}: {events:,} events, {len(failures):,} failing ==")
    print(f"scrape, tracking off : {off / events * 1e6:8.1f} us/event  (median {off:.2f} s)")
    print(f"scrape, tracking on  : {on / events * 1e6:8.1f} us/event  (median {on:.2f} s)")
    print(
        f"tracking overhead    : {statistics.median(ratios) * 100:+.1f} % median of {PAIRS} pairs, "
        f"quartiles {quartiles[0] * 100:+.1f} / {quartiles[2] * 100:+.1f} %, "
        f"range {min(ratios) * 100:+.1f} to {max(ratios) * 100:+.1f} %  (target <= +10 %)"
    )
    groups = len({failure.fingerprint for failure in failures})
    unique = sum(1 for n in Counter(f.example for f in failures).values() if n == 1)
    print(
        f"record grouped       : {per_failure_grouped * 1e6:8.1f} us/failure "
        f"({grouped * 1e3:.0f} ms for {len(failures):,} failures in {groups} groups; "
        f"{unique / len(failures):.0%} of messages unique)"
    )
    print(
        f"one transaction + ledger claim + sample update per failure: "
        f"{per_failure_transaction * 1e6:8.1f} us/failure, "
        f"{per_failure_transaction / per_failure_grouped:.0f}x grouped (on {len(sample):,})"
    )
    print(
        f"one upsert per failure, one transaction                  : "
        f"{per_failure_upsert * 1e6:8.1f} us/failure, "
        f"{per_failure_upsert / per_failure_grouped:.0f}x grouped (on {len(sample):,})"
    )


def _event_errors(source: SourceConfig) -> list[EventError]:
    from failtrack_pipeline.processing.validate import process_records

    items = process_records(synthetic_events(source), source, now=NOW)
    return [item for item in items if isinstance(item, EventError)]


def _record_grouped(engine: sa.Engine, failures: list[FailureRecord]) -> float:
    started = time.perf_counter()
    record_failures(engine, failures, run_id=uuid.uuid4().hex, batch="events-1")
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def _record_one_transaction_each(engine: sa.Engine, failures: list[FailureRecord]) -> float:
    """Per failure: `record_failures` of that failure alone, its own batch and transaction."""
    run_id = uuid.uuid4().hex
    record_failures(engine, [], run_id=run_id, batch="warm-up")
    started = time.perf_counter()
    for index, failure in enumerate(failures):
        record_failures(engine, [failure], run_id=run_id, batch=str(index))
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed / len(failures)


def _record_one_upsert_each(engine: sa.Engine, failures: list[FailureRecord]) -> float:
    """Per failure: the store's writes for that failure alone, all in one claimed transaction."""
    record_failures(engine, [], run_id="warm-up", batch="warm-up")
    started = time.perf_counter()
    with engine.begin() as connection:
        claim_batch(connection, uuid.uuid4().hex, "events-1")
        for failure in failures:
            write_groups(connection, group_failures([failure]), "bench-run")
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed / len(failures)


SCALE_FAILURES = 100_000
SCALE_GROUPS = (10, 1_000, 100_000)
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
# Each group's name: four letters (a word the normalizer keeps), so 10 and 100,000 groups
# read alike; every failure carries its own row number, URL, request UUID and time.
_SCALE_TEMPLATES = (
    "column {word} missing in row {i} of https://api.example.com/v2/events/{i}?page={page} "
    "(request {request}) at {at}",
    "unknown {word} value {i}.{page} for event ev-{i} fetched from https://feeds.example.org/"
    "{page}/{i}.json at {at}",
    "venue {word} not resolvable: lookup {request} for event {i} timed out after {page}.5 s "
    "at {at}",
)


def scale_errors(groups: int, failures: int) -> list[EventError]:
    """`failures` typed errors whose raw messages are all distinct, in `groups` groups."""
    words = ["".join(letters) for letters in itertools.product(_LETTERS, repeat=4)]
    errors = []
    for i in range(failures):
        group = i % groups
        template = _SCALE_TEMPLATES[group % len(_SCALE_TEMPLATES)]
        message = template.format(
            word=words[group * 7 % len(words)],
            i=100_000 + i,
            page=i % 97,
            request=uuid.UUID(int=i * 2654435761 + 1),
            at=f"2026-11-25T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
        )
        errors.append(EventError(message, external_id=f"ev-{i}"))
    return errors


def _clear_message_caches() -> None:
    failures_module._described.cache_clear()


def bench_scale(kind: str, postgres_url: str | None, workdir: Path, repeats: int) -> None:
    """Per-failure cost of describing and recording 100k failures as the scrape does (batches
    of FAILURES_PER_BATCH into a fresh database), at 10, 1,000 and 100,000 groups."""
    print(
        f"\n== {kind}: {SCALE_FAILURES:,} failures, all raw messages distinct; "
        f"median of {repeats} =="
    )
    print(
        f"{'groups':>8} {'describe':>10} {'record':>10} {'record CPU':>11} {'total':>10} "
        f"{'record x':>9} {'total x':>8}   (us/failure; x = against 10 groups)"
    )
    base: tuple[float, float] | None = None
    for groups in SCALE_GROUPS:
        errors = scale_errors(groups, SCALE_FAILURES)
        describe_times, record_times, record_cpu = [], [], []
        for _ in range(repeats):
            _clear_message_caches()
            started = time.perf_counter()
            failures = [describe_failure("bench", error, seen_at=NOW) for error in errors]
            describe_times.append(time.perf_counter() - started)
            assert len({failure.fingerprint for failure in failures}) == groups
            engine = fresh_engine(kind, postgres_url, workdir)
            record_failures(engine, [], run_id="warm-up", batch="0")  # regroup check, pool
            run_id = uuid.uuid4().hex
            started, cpu = time.perf_counter(), time.process_time()
            for batch, start in enumerate(range(0, len(failures), FAILURES_PER_BATCH)):
                chunk = failures[start : start + FAILURES_PER_BATCH]
                record_failures(engine, chunk, run_id=run_id, batch=f"events-{batch:05d}")
            record_cpu.append(time.process_time() - cpu)
            record_times.append(time.perf_counter() - started)
            engine.dispose()
        describe = statistics.median(describe_times) / SCALE_FAILURES * 1e6
        record = statistics.median(record_times) / SCALE_FAILURES * 1e6
        cpu_us = statistics.median(record_cpu) / SCALE_FAILURES * 1e6
        total = describe + record
        base = base or (record, total)
        print(
            f"{groups:>8,} {describe:>10.1f} {record:>10.1f} {cpu_us:>11.1f} {total:>10.1f} "
            f"{record / base[0]:>8.1f}x {total / base[1]:>7.1f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=events_wanted())
    parser.add_argument(
        "--postgres", help="a PostgreSQL URL whose server we may create databases on"
    )
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument(
        "--scale",
        type=int,
        metavar="REPEATS",
        help="instead: recording cost at 10, 1,000 and 100,000 groups, median of REPEATS",
    )
    args = parser.parse_args()
    os.environ[EVENTS_ENV] = str(args.events)

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if args.scale:
            bench_scale("sqlite", None, workdir, args.scale)
            if not args.sqlite_only:
                with postgres_server(args.postgres) as server_url:
                    bench_scale("postgresql", server_url, workdir, args.scale)
            return
        source = load_sources(write_bench_sources(workdir)).get(BENCH_SOURCE_ID)
        bench_backend("sqlite", source, None, workdir)
        if not args.sqlite_only:
            with postgres_server(args.postgres) as server_url:
                bench_backend("postgresql", source, server_url, workdir)


def write_bench_sources(workdir: Path) -> Path:
    """A sources file in `workdir` holding the synthetic `python` source."""
    sources_file = workdir / "sources.yaml"
    sources_file.write_text(
        "sources:\n"
        f"  - id: {BENCH_SOURCE_ID}\n"
        "    name: Synthetic bench feed\n"
        "    kind: python\n"
        f"    callable: {Path(__file__).stem}:synthetic_events\n"
    )
    return sources_file


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    main()
