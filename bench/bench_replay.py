"""What replaying the spool costs over recording the same batches directly.

    .venv/bin/python bench/bench_replay.py [--batches 1600] [--postgres URL] [--sqlite-only]

Spools N batches (1-3 failures each, as an outage leaves them), then replays them: by one
process, and by 8 processes at once (each claims files under a lock, so each batch is
recorded by one of them). The baseline, measured in the same run on a fresh database, is
`record_failures` called directly for the same batches: the ratio is the spool's own cost
(reading, claiming, removing each file).
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from failtrack_pipeline.db.engine import create_db_engine
from failtrack_pipeline.db.migrate import migrate
from failtrack_pipeline.tracking.failures import FailureRecord, describe_failure
from failtrack_pipeline.tracking.spool import FailureRecorder, FailureSpool
from failtrack_pipeline.tracking.store import record_failures

NOW = datetime(2026, 11, 25, tzinfo=UTC)
REPLAYERS = 8


def batches(count: int) -> list[list[FailureRecord]]:
    return [
        [
            describe_failure("bench", f"Missing field {index % 7}", seen_at=NOW)
            for _ in range(1 + index % 3)
        ]
        for index in range(count)
    ]


def replay_in_process(url: str, directory: str) -> None:
    engine = create_db_engine(url)
    FailureRecorder(lambda: engine, FailureSpool(Path(directory))).replay()
    engine.dispose()


def fresh_url(kind: str, postgres_url: str | None, workdir: Path) -> str:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    if kind == "sqlite":
        url = f"sqlite:///{workdir / f'{name}.db'}"
    else:
        assert postgres_url is not None
        admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        admin.dispose()
        url = sa.make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    engine = create_db_engine(url)
    migrate(engine)
    engine.dispose()
    return url


def bench_backend(kind: str, count: int, postgres_url: str | None, workdir: Path) -> None:
    work = batches(count)
    engine = create_db_engine(fresh_url(kind, postgres_url, workdir))
    start = time.perf_counter()
    for index, failures in enumerate(work):
        record_failures(engine, failures, run_id=f"run-{index}", batch="events-00001")
    direct = time.perf_counter() - start
    engine.dispose()

    timings = {}
    for replayers in (1, REPLAYERS):
        url = fresh_url(kind, postgres_url, workdir)
        spool = FailureSpool(workdir / f"spool-{kind}-{replayers}")
        for index, failures in enumerate(work):
            spool.put(failures, run_id=f"run-{index}", batch="events-00001")
        context = multiprocessing.get_context("fork")
        processes = [
            context.Process(target=replay_in_process, args=(url, str(spool.directory)))
            for _ in range(replayers)
        ]
        start = time.perf_counter()
        for process in processes:
            process.start()
        for process in processes:
            process.join()
        timings[replayers] = time.perf_counter() - start
        assert spool.pending() == [], "the replay left batches behind"

    print(f"\n== {kind}: {count:,} spooled batches ==")
    print(f"record_failures directly (baseline): {direct / count * 1e3:6.2f} ms/batch")
    for replayers, seconds in timings.items():
        label = f"replay by {replayers} process{'es' if replayers > 1 else ''}"
        print(
            f"{label:<36}: {seconds / count * 1e3:6.2f} ms/batch"
            f"  ({seconds / direct:.2f}x the baseline)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=1_600)
    parser.add_argument("--postgres", help="a PostgreSQL URL to create databases in")
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp:
        workdir = Path(tmp)
        bench_backend("sqlite", args.batches, None, workdir)
        if args.sqlite_only:
            return
        postgres_url = args.postgres
        server = None
        if postgres_url is None:
            import pgserver

            server = pgserver.get_server(workdir / "pg", cleanup_mode="stop")
            postgres_url = server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
        try:
            bench_backend("postgresql", args.batches, postgres_url, workdir)
        finally:
            if server is not None:
                server.cleanup()


if __name__ == "__main__":
    main()
