"""Failures the database cannot take right now wait in a local spool, never in memory.

When failtrack's database does not answer, `FailureRecorder.record` writes the batch to a
file (atomically: written, synced, then renamed into place) instead of losing it. The
spool is replayed through `record_failures` whenever a later batch reaches the database,
and by a sensor. Replay is exactly-once by construction: a batch keeps its
(run_id, batch) key in the spool, and `record_failures` counts each key once, so a replay
that is interrupted after its commit (or runs twice, from two processes) counts nothing
twice. A file that cannot be read is set aside in `unreadable/`, never deleted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from failtrack_pipeline.errors import ErrorCategory
from failtrack_pipeline.tracking.failures import Failure
from failtrack_pipeline.tracking.store import record_failures

log = logging.getLogger(__name__)

SPOOL_SUFFIX = ".json"
UNREADABLE = "unreadable"


class Recording(StrEnum):
    RECORDED = "recorded"  # counted now
    ALREADY_RECORDED = "already_recorded"  # this (run_id, batch) was counted before
    SPOOLED = "spooled"  # the database did not answer: waits in the spool


@dataclass(frozen=True)
class ReplayResult:
    recorded: int = 0  # batches counted now
    already_recorded: int = 0  # batches the database had counted before (no double count)
    pending: int = 0  # batches still waiting: the database did not answer
    unreadable: int = 0  # files set aside


def database_unreachable(error: BaseException) -> bool:
    """Whether `error` means the database could not be reached (worth retrying later)."""
    if isinstance(error, sa.exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, sa.exc.OperationalError | sa.exc.InterfaceError | sa.exc.TimeoutError)


class FailureSpool:
    """A directory of failure batches, one file per (run_id, batch)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def put(self, failures: Sequence[Failure], *, run_id: str, batch: str) -> Path:
        """Write a batch durably; the same (run_id, batch) again replaces the file."""
        self.directory.mkdir(parents=True, exist_ok=True)
        key = hashlib.sha256(f"{run_id}\x1f{batch}".encode()).hexdigest()[:32]
        path = self.directory / f"{key}{SPOOL_SUFFIX}"
        partial = path.with_suffix(f".{os.getpid()}.partial")
        document = {
            "run_id": run_id,
            "batch": batch,
            "failures": [_failure_to_json(failure) for failure in failures],
        }
        with partial.open("w", encoding="utf-8") as file:
            json.dump(document, file)  # ASCII: lone surrogates survive the round trip
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, path)
        _sync_directory(self.directory)
        return path

    def pending(self) -> list[Path]:
        """Spooled batches, oldest first."""
        if not self.directory.is_dir():
            return []
        paths = [entry for entry in self.directory.iterdir() if entry.suffix == SPOOL_SUFFIX]
        return sorted(paths, key=lambda path: path.stat().st_mtime_ns)

    def read(self, path: Path) -> tuple[str, str, list[Failure]]:
        """(run_id, batch, failures) of a spooled file."""
        document = json.loads(path.read_text(encoding="utf-8"))
        failures = [_failure_from_json(item) for item in document["failures"]]
        return str(document["run_id"]), str(document["batch"]), failures

    def set_aside(self, path: Path) -> None:
        target = self.directory / UNREADABLE
        target.mkdir(exist_ok=True)
        os.replace(path, target / path.name)


@dataclass(frozen=True)
class FailureRecorder:
    """`record_failures`, falling back to the spool when the database does not answer.

    `connect` is called for every attempt, so a database that was down when the run
    started (its engine could not even be migrated) is still retried later.
    `spool=None` records directly and lets errors propagate (tests, benchmarks).
    """

    connect: Callable[[], sa.Engine]
    spool: FailureSpool | None = None

    def record(self, failures: Sequence[Failure], *, run_id: str, batch: str) -> Recording:
        try:
            result = record_failures(self.connect(), failures, run_id=run_id, batch=batch)
        except Exception as error:
            if self.spool is None or not database_unreachable(error):
                raise
            path = self.spool.put(failures, run_id=run_id, batch=batch)
            log.warning(
                "failtrack: database unreachable, %d failures of run %s (%s) spooled to %s",
                len(failures),
                run_id,
                batch,
                path,
            )
            return Recording.SPOOLED
        if self.spool is not None:
            self.replay()
        return Recording.RECORDED if result.recorded else Recording.ALREADY_RECORDED

    def replay(self) -> ReplayResult:
        """Record what waits in the spool; stops at the first batch the database refuses."""
        if self.spool is None:
            return ReplayResult()
        counts = {"recorded": 0, "already_recorded": 0, "unreadable": 0}
        paths = self.spool.pending()
        for index, path in enumerate(paths):
            try:
                run_id, batch, failures = self.spool.read(path)
            except FileNotFoundError:
                continue  # another process replayed it
            except (ValueError, KeyError, TypeError):
                log.error("failtrack: unreadable spool file %s set aside", path)
                self.spool.set_aside(path)
                counts["unreadable"] += 1
                continue
            try:
                result = record_failures(self.connect(), failures, run_id=run_id, batch=batch)
            except Exception as error:
                if not database_unreachable(error):
                    raise
                return ReplayResult(**counts, pending=len(paths) - index)
            counts["recorded" if result.recorded else "already_recorded"] += 1
            path.unlink(missing_ok=True)
        return ReplayResult(**counts)


def _failure_to_json(failure: Failure) -> dict[str, Any]:
    return {
        "source_id": failure.source_id,
        "category": failure.category.value,
        "message": failure.message,
        "example": failure.example,
        "external_id": failure.external_id,
        "seen_at": failure.seen_at.isoformat(),
        "grouping_version": failure.grouping_version,
    }


def _failure_from_json(item: dict[str, Any]) -> Failure:
    return Failure(
        source_id=item["source_id"],
        category=ErrorCategory(item["category"]),
        message=item["message"],
        example=item["example"],
        external_id=item["external_id"],
        seen_at=datetime.fromisoformat(item["seen_at"]),
        grouping_version=item.get("grouping_version", 1),  # spooled before versions: 1
    )


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
