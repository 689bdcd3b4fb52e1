"""Failures the database cannot take right now wait in a local spool, never in memory.

When failtrack's database cannot write (down, read-only, full, locked: an outage),
`FailureRecorder.record` writes the batch to a file (atomically: written, synced, then
renamed into place) instead of losing it. The spool is replayed through `record_failures`
whenever a later batch reaches the database, and by a sensor. Replay is exactly-once by
construction: a batch keeps its (run_id, batch) key in the spool and `record_failures`
counts each key once; and each file is claimed under an exclusive lock, so of the
processes replaying at once only one handles it.

A batch the database refuses for its content (a value too long, a NOT NULL) can never go
in as it is: it goes to `dead_letters/`, with its reason, and the replay moves on. A file
that cannot be read is set aside in `unreadable/`. Neither is ever deleted.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.base.errors import FailtrackError
from failtrack_pipeline.base.scrub import scrub_secrets
from failtrack_pipeline.db.engine import WriteRefusal, write_refusal
from failtrack_pipeline.db.schema import SCRAPE_STAGE
from failtrack_pipeline.tracking.failures import FailureRecord, StageCounts
from failtrack_pipeline.tracking.store import group_failures, record_failures

log = logging.getLogger(__name__)

SPOOL_SUFFIX = ".json"
PARTIAL_SUFFIX = ".partial"
UNREADABLE = "unreadable"
DEAD_LETTERS = "dead_letters"
_LOST_GROUPS_SHOWN = 5


class Recording(StrEnum):
    RECORDED = "recorded"  # counted now
    ALREADY_RECORDED = "already_recorded"  # this (run_id, batch) was counted before
    SPOOLED = "spooled"  # the database cannot write now: waits in the spool
    DEAD_LETTERED = "dead_lettered"  # the database refused its content: kept in dead_letters/


@dataclass(frozen=True)
class ReplayResult:
    recorded: int = 0  # batches counted now
    already_recorded: int = 0  # batches the database had counted before (no double count)
    pending: int = 0  # batches still waiting: the database cannot write now
    unreadable: int = 0  # files set aside
    dead_lettered: int = 0  # batches the database refused for their content


@dataclass(frozen=True)
class DeadLetter:
    """A batch the database refused, as an on-call engineer needs to see it."""

    path: Path
    run_id: str
    batch: str
    failures: int
    source_ids: list[str]
    reason: str  # the error type and the database's one-line explanation, scrubbed
    refused_at: str


class FailuresNotKept(FailtrackError):
    """Neither the database nor the spool took a batch: it is lost, and this says what."""

    category = ErrorCategory.DEPENDENCY


class FailureSpool:
    """A directory of failure batches, one file per (run_id, batch)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def dead_letter_directory(self) -> Path:
        return self.directory / DEAD_LETTERS

    def put(
        self,
        failures: Sequence[FailureRecord],
        *,
        run_id: str,
        batch: str,
        counts: Sequence[StageCounts] = (),
    ) -> Path:
        """Write a batch durably; the same (run_id, batch) again replaces the file."""
        path = self.directory / f"{_batch_key(run_id, batch)}{SPOOL_SUFFIX}"
        _write_durably(path, _document(failures, run_id=run_id, batch=batch, counts=counts))
        return path

    def pending(self) -> list[Path]:
        """Spooled batches, oldest first; files another process removes meanwhile are left out."""
        if not self.directory.is_dir():
            return []
        dated = []
        for entry in self.directory.iterdir():
            if entry.suffix == SPOOL_SUFFIX:
                with suppress(FileNotFoundError):
                    dated.append((entry.stat().st_mtime_ns, entry))
        return [path for _, path in sorted(dated)]

    @contextmanager
    def claim(self, path: Path) -> Iterator[IO[bytes] | None]:
        """`path` open under an exclusive lock, or None if another process holds it or has
        already handled it. The lock ends with the process, so a crash leaves no stale claim."""
        try:
            file = path.open("rb")
        except FileNotFoundError:
            yield None
            return
        with file:
            try:
                fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield None
                return
            try:  # the holder before us may have removed or replaced it meanwhile
                current = os.stat(path).st_ino == os.fstat(file.fileno()).st_ino
            except FileNotFoundError:
                current = False
            yield file if current else None

    def read(self, path: Path) -> tuple[str, str, list[FailureRecord]]:
        """(run_id, batch, failures) of a spooled file."""
        run_id, batch, failures, _ = _parse(path.read_bytes())
        return run_id, batch, failures

    def set_aside(self, path: Path) -> None:
        target = self.directory / UNREADABLE
        target.mkdir(exist_ok=True)
        os.replace(path, target / path.name)

    def dead_letter(
        self,
        failures: Sequence[FailureRecord],
        *,
        run_id: str,
        batch: str,
        error: BaseException,
        counts: Sequence[StageCounts] = (),
    ) -> Path:
        """Keep a batch the database refused, its reason first in the file."""
        reason = {"reason": refusal_reason(error), "refused_at": datetime.now(UTC).isoformat()}
        path = self.dead_letter_directory / f"{_batch_key(run_id, batch)}{SPOOL_SUFFIX}"
        document = _document(failures, run_id=run_id, batch=batch, counts=counts)
        _write_durably(path, reason | document)
        return path

    def dead_letters(self) -> list[DeadLetter]:
        """The batches waiting in `dead_letters/`, oldest refusal first."""
        directory = self.dead_letter_directory
        paths = directory.glob(f"*{SPOOL_SUFFIX}") if directory.is_dir() else []
        letters = [letter for letter in map(_dead_letter, paths) if letter is not None]
        return sorted(letters, key=lambda letter: letter.refused_at)

    def retry_dead_letters(self) -> int:
        """Move every dead letter back into the spool (after the fix), for the next replay."""
        moved = 0
        for letter in self.dead_letters():
            with suppress(FileNotFoundError):
                os.replace(letter.path, self.directory / letter.path.name)
                moved += 1
        return moved

    def sweep_partials(self) -> int:
        """Remove half-written files whose writer has died (a crash, a full disk)."""
        removed = 0
        for directory in (self.directory, self.dead_letter_directory):
            for partial in directory.glob(f"*{PARTIAL_SUFFIX}") if directory.is_dir() else []:
                writer = partial.name.rsplit(".", 2)[-2]
                if not (writer.isdigit() and _alive(int(writer))):
                    partial.unlink(missing_ok=True)
                    removed += 1
        return removed


def refusal_reason(error: BaseException) -> str:
    """The error's type and the database's first line, without the SQL or its parameters."""
    cause = getattr(error, "orig", None) or error
    kind = type(error).__name__
    if cause is not error and type(cause).__name__ != kind:
        kind += f" ({type(cause).__name__})"  # e.g. IntegrityError (NotNullViolation)
    detail = str(cause).strip().split("\n", 1)[0]
    return scrub_secrets(f"{kind}: {detail}")[:500]


@dataclass(frozen=True)
class FailureRecorder:
    """`record_failures`, falling back to the spool or the dead letters when it must.

    `connect` is called for every attempt, so a database that was down when the run
    started (its engine could not even be migrated) is still retried later.
    `spool=None` records directly and lets errors propagate (tests, benchmarks).
    """

    connect: Callable[[], sa.Engine]
    spool: FailureSpool | None = None

    def record(
        self,
        failures: Sequence[FailureRecord],
        *,
        run_id: str,
        batch: str,
        counts: Sequence[StageCounts] = (),
    ) -> Recording:
        """Count the batch (and its stage counts), or keep it; raises `FailuresNotKept` if it
        cannot be kept.

        Once the batch is recorded the spool is replayed; whatever goes wrong there is
        logged and left for the next replay, never raised at this caller.
        """
        try:
            result = record_failures(
                self.connect(), failures, run_id=run_id, batch=batch, counts=counts
            )
        except Exception as error:
            refusal = write_refusal(error)
            if self.spool is None or refusal is None:
                raise
            return self._keep(
                failures, run_id=run_id, batch=batch, error=error, refusal=refusal, counts=counts
            )
        if self.spool is not None:
            try:
                self.replay()
            except Exception:
                log.exception("failtrack: the spool replay failed; the next one retries it")
        return Recording.RECORDED if result.recorded else Recording.ALREADY_RECORDED

    def _keep(
        self,
        failures: Sequence[FailureRecord],
        *,
        run_id: str,
        batch: str,
        error: BaseException,
        refusal: WriteRefusal,
        counts: Sequence[StageCounts] = (),
    ) -> Recording:
        assert self.spool is not None
        try:
            if refusal is WriteRefusal.OUTAGE:
                path = self.spool.put(failures, run_id=run_id, batch=batch, counts=counts)
            else:
                path = self.spool.dead_letter(
                    failures, run_id=run_id, batch=batch, error=error, counts=counts
                )
        except OSError as disk_error:
            lost = _lost_message(failures, run_id, batch, error, disk_error, self.spool)
            log.error("failtrack: %s", lost)
            raise FailuresNotKept(lost) from disk_error
        if refusal is WriteRefusal.OUTAGE:
            log.warning(
                "failtrack: the database cannot write now (%s); %d failures of run %s (%s) "
                "spooled to %s",
                refusal_reason(error),
                len(failures),
                run_id,
                batch,
                path,
            )
            return Recording.SPOOLED
        log.error(
            "failtrack: the database refused %d failures of run %s (%s): %s; kept as the "
            "dead letter %s (retry with `failtrack dead-letters --retry` after the fix)",
            len(failures),
            run_id,
            batch,
            refusal_reason(error),
            path,
        )
        return Recording.DEAD_LETTERED

    def replay(self) -> ReplayResult:
        """Record what waits in the spool; stops at the first outage.

        A batch refused for its content becomes a dead letter and the replay goes on;
        any other error (a bug, tables missing) is raised, its file left in the spool.
        """
        if self.spool is None:
            return ReplayResult()
        self.spool.sweep_partials()
        counts: Counter[str] = Counter()
        paths = self.spool.pending()
        for index, path in enumerate(paths):
            with self.spool.claim(path) as file:
                if file is None:
                    continue  # another process replays it, or has
                handled = self._replay_claimed(path, file)
            if handled is None:
                return ReplayResult(**counts, pending=len(paths) - index)
            counts[handled] += 1
        return ReplayResult(**counts)

    def _replay_claimed(self, path: Path, file: IO[bytes]) -> str | None:
        """What became of one claimed spool file (a ReplayResult field); None: an outage."""
        assert self.spool is not None
        try:
            run_id, batch, failures, counts = _parse(file.read())
        except (ValueError, KeyError, TypeError):
            log.error("failtrack: unreadable spool file %s set aside", path)
            self.spool.set_aside(path)
            return "unreadable"
        try:
            result = record_failures(
                self.connect(), failures, run_id=run_id, batch=batch, counts=counts
            )
        except Exception as error:
            refusal = write_refusal(error)
            if refusal is WriteRefusal.OUTAGE:
                return None
            if refusal is None:
                raise
            self._keep(
                failures, run_id=run_id, batch=batch, error=error, refusal=refusal, counts=counts
            )
            path.unlink()
            return "dead_lettered"
        path.unlink()
        return "recorded" if result.recorded else "already_recorded"


def _batch_key(run_id: str, batch: str) -> str:
    return hashlib.sha256(f"{run_id}\x1f{batch}".encode()).hexdigest()[:32]


def _document(
    failures: Sequence[FailureRecord],
    *,
    run_id: str,
    batch: str,
    counts: Sequence[StageCounts] = (),
) -> dict[str, Any]:
    document = {
        "run_id": run_id,
        "batch": batch,
        "failures": [_failure_to_json(failure) for failure in failures],
    }
    if counts:
        document["stage_counts"] = [dataclasses.asdict(c) for c in counts]
    return document


def _parse(content: bytes) -> tuple[str, str, list[FailureRecord], list[StageCounts]]:
    document = json.loads(content.decode("utf-8"))
    failures = [_failure_from_json(item) for item in document["failures"]]
    counts = [StageCounts(**item) for item in document.get("stage_counts", [])]
    return str(document["run_id"]), str(document["batch"]), failures, counts


def _dead_letter(path: Path) -> DeadLetter | None:
    """A dead letter as read from its file; None if it went meanwhile (retried)."""
    try:
        document = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        return None
    except ValueError as error:
        document = {"reason": f"unreadable dead letter: {error}"}
    failures = document.get("failures") or []
    sources = {str(item.get("source_id")) for item in failures if isinstance(item, dict)}
    return DeadLetter(
        path=path,
        run_id=str(document.get("run_id", "?")),
        batch=str(document.get("batch", "?")),
        failures=len(failures),
        source_ids=sorted(sources),
        reason=str(document.get("reason", "?")),
        refused_at=str(document.get("refused_at", "")),
    )


def _write_durably(path: Path, document: dict[str, Any]) -> None:
    """Write `document` to `path` atomically and durably; a failed write leaves nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}{PARTIAL_SUFFIX}")
    try:
        with partial.open("w", encoding="utf-8") as file:
            json.dump(document, file)  # ASCII: lone surrogates survive the round trip
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    _sync_directory(path.parent)


def _lost_message(
    failures: Sequence[FailureRecord],
    run_id: str,
    batch: str,
    error: BaseException,
    disk_error: OSError,
    spool: FailureSpool,
) -> str:
    groups = sorted(group_failures(failures), key=lambda group: -group.count)
    shown = "; ".join(
        f"{group.count} x {group.source_id} {group.category.value} '{group.message}'"
        for group in groups[:_LOST_GROUPS_SHOWN]
    )
    hidden = len(groups) - _LOST_GROUPS_SHOWN
    more = f"; and {hidden} more groups" if hidden > 0 else ""
    return (
        f"LOST {len(failures)} failures of run {run_id} ({batch}): the database did not take "
        f"them ({refusal_reason(error)}) and the spool {spool.directory} could not keep them "
        f"({disk_error.strerror or disk_error}); lost: {shown}{more}"
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _failure_to_json(failure: FailureRecord) -> dict[str, Any]:
    return {
        "source_id": failure.source_id,
        "category": failure.category.value,
        "message": failure.message,
        "example": failure.example,
        "external_id": failure.external_id,
        "seen_at": failure.seen_at.isoformat(),
        "grouping_version": failure.grouping_version,
        "stage": failure.stage,
    }


def _failure_from_json(item: dict[str, Any]) -> FailureRecord:
    return FailureRecord(
        source_id=item["source_id"],
        category=ErrorCategory(item["category"]),
        message=item["message"],
        example=item["example"],
        external_id=item["external_id"],
        seen_at=datetime.fromisoformat(item["seen_at"]),
        grouping_version=item.get("grouping_version", 1),  # spooled before versions: 1
        stage=item.get("stage", SCRAPE_STAGE),  # spooled before stages: a scrape
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
