"""Where failtrack's tables live and how to connect to them safely."""

from __future__ import annotations

import os
import sqlite3
import time
from enum import StrEnum
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url

from failtrack_pipeline.base.errors import ConfigError
from failtrack_pipeline.config.environment import DATABASE_URL_ENV

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Pages the WAL may hold before a commit copies them into the database (SQLite's default is
# 1,000, 4 MB). A batch of new failure groups rewrites pages all over the fingerprint index
# and each commit appends them again: checkpointing every 40 MB copies each page's last
# version once, where every commit's checkpoint copied them all (commit 8.3 -> 5.4 µs per
# failure at 100k groups, bench/README.md).
SQLITE_WAL_AUTOCHECKPOINT_PAGES = 10_000


def database_url_from_env() -> str:
    """`FAILTRACK_DATABASE_URL`, or a SQLite file under the Dagster home (the embedded default)."""
    url = os.environ.get(DATABASE_URL_ENV, "").strip()
    if url:
        return url
    home = os.environ.get("DAGSTER_HOME", "").strip()
    if not home:
        raise RuntimeError(
            f"Set {DATABASE_URL_ENV} (a SQLAlchemy URL) or DAGSTER_HOME "
            "(failtrack then keeps its tables in $DAGSTER_HOME/failtrack.db)."
        )
    return f"sqlite:///{Path(home).resolve() / 'failtrack.db'}"


def normalize_url(url: str | URL) -> URL:
    """Parse a database URL, sending plain `postgresql://` URLs through psycopg 3.

    A URL that is no use raises one ConfigError naming the variable; it never quotes the
    URL, nor chains the parser's error, which may.
    """
    try:
        parsed = make_url(url)
    except (sa.exc.ArgumentError, ValueError):  # ValueError: a port that is no number
        raise _url_error("not a SQLAlchemy database URL (e.g. postgresql+psycopg://…)") from None
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise _url_error(
            f"unsupported database '{backend}' (use sqlite:/// or postgresql+psycopg://)"
        )
    try:
        parsed.get_dialect()
    except sa.exc.NoSuchModuleError:
        raise _url_error(f"unknown driver '{parsed.drivername}' (use postgresql+psycopg)") from None
    return parsed


def _url_error(problem: str) -> ConfigError:
    return ConfigError(DATABASE_URL_ENV, None, None, problem)


def redacted(url: str | URL) -> str:
    """The URL as it may appear in logs and the UI: never with its password."""
    return normalize_url(url).render_as_string(hide_password=True)


def create_db_engine(url: str | URL) -> sa.Engine:
    """An engine for failtrack's tables.

    SQLite gets WAL (readers never block the writer), a busy timeout, and `BEGIN IMMEDIATE`
    so that concurrent writers queue up instead of failing on a lock upgrade.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    return sa.create_engine(parsed, pool_pre_ping=True, pool_size=2, max_overflow=4)


def _sqlite_engine(url: URL) -> sa.Engine:
    if url.database and url.database != ":memory:" and not url.query.get("uri"):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let the "begin" listener below open transactions
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        _use_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT_PAGES}")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _use_wal(cursor: sqlite3.Cursor) -> None:
    """Switch the file to WAL (it stays so); retried, as the switch ignores the busy timeout.

    Changing the journal mode needs an exclusive lock and SQLite reports "database is
    locked" at once when processes open a fresh file together.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def dialect_insert(bind: sa.Connection | sa.Dialect, table: sa.Table) -> Any:
    """The connection's (or dialect's) INSERT, which knows ON CONFLICT (an upsert)."""
    name = bind.dialect.name if isinstance(bind, sa.Connection) else bind.name
    return (postgresql if name == "postgresql" else sqlite).insert(table)


class WriteRefusal(StrEnum):
    """Why the database did not take a write: what the writer should do with the batch."""

    OUTAGE = "outage"  # it cannot write now (down, read-only, full, locked): keep, retry later
    CONTENT = "content"  # it refuses these values: the same batch can never go in as it is


_OUTAGE, _CONTENT = WriteRefusal.OUTAGE, WriteRefusal.CONTENT
# PostgreSQL SQLSTATE codes, or their two-character classes (errcodes appendix of its manual).
_POSTGRES_REFUSALS: dict[str, WriteRefusal] = {
    "08": _OUTAGE,  # connection exception
    "25006": _OUTAGE,  # read_only_sql_transaction: a replica, default_transaction_read_only
    "25P03": _OUTAGE,  # idle_in_transaction_session_timeout
    "40": _OUTAGE,  # transaction rollback: serialization failure, deadlock
    "53": _OUTAGE,  # insufficient resources: disk full, out of memory, too many connections
    "55P03": _OUTAGE,  # lock_not_available
    "57": _OUTAGE,  # operator intervention: shutting down, in recovery, statement timeout
    "58": _OUTAGE,  # system error: I/O error
    "22": _CONTENT,  # data exception: value too long, out of range, NUL, bad encoding
    "23": _CONTENT,  # integrity constraint violation: NOT NULL, CHECK, foreign key
    "54": _CONTENT,  # program limit exceeded: a row or index entry too large
}
# SQLite primary result codes (the low byte of the extended code).
_SQLITE_REFUSALS: dict[int, WriteRefusal] = {
    sqlite3.SQLITE_BUSY: _OUTAGE,  # locked past the busy timeout
    sqlite3.SQLITE_LOCKED: _OUTAGE,
    sqlite3.SQLITE_READONLY: _OUTAGE,  # a read-only file, folder or connection
    sqlite3.SQLITE_IOERR: _OUTAGE,
    sqlite3.SQLITE_FULL: _OUTAGE,  # disk full
    sqlite3.SQLITE_CANTOPEN: _OUTAGE,
    sqlite3.SQLITE_NOMEM: _OUTAGE,
    sqlite3.SQLITE_PROTOCOL: _OUTAGE,
    sqlite3.SQLITE_PERM: _OUTAGE,
    sqlite3.SQLITE_ABORT: _OUTAGE,
    sqlite3.SQLITE_INTERRUPT: _OUTAGE,
    sqlite3.SQLITE_CORRUPT: _OUTAGE,  # until the file is restored
    sqlite3.SQLITE_NOTADB: _OUTAGE,
    sqlite3.SQLITE_CONSTRAINT: _CONTENT,
    sqlite3.SQLITE_TOOBIG: _CONTENT,
    sqlite3.SQLITE_MISMATCH: _CONTENT,
    sqlite3.SQLITE_RANGE: _CONTENT,
}


def write_refusal(error: BaseException) -> WriteRefusal | None:
    """Whether `error` is an outage, a refusal of the content, or neither (a bug: raise it).

    The database's own error code decides where there is one (PostgreSQL's SQLSTATE,
    SQLite's result code); otherwise the kind of exception does.
    """
    if isinstance(error, sa.exc.DBAPIError):
        if error.connection_invalidated:
            return _OUTAGE
        code = getattr(error.orig, "sqlstate", None)
        if isinstance(code, str):
            known = _POSTGRES_REFUSALS.get(code) or _POSTGRES_REFUSALS.get(code[:2])
            if known:
                return known
        code = getattr(error.orig, "sqlite_errorcode", None)
        if isinstance(code, int) and code & 0xFF in _SQLITE_REFUSALS:
            return _SQLITE_REFUSALS[code & 0xFF]
        if isinstance(error, sa.exc.OperationalError | sa.exc.InterfaceError):
            return (
                None if isinstance(code, int) else _OUTAGE
            )  # a coded one is ours: "no such table"
        if isinstance(error, sa.exc.DataError | sa.exc.IntegrityError):
            return _CONTENT
        return None
    if isinstance(error, sa.exc.TimeoutError):  # no connection free in the pool
        return _OUTAGE
    if isinstance(error, sa.exc.StatementError) and isinstance(error.orig, ValueError | TypeError):
        return _CONTENT  # a value no column type could bind, e.g. a naive datetime
    return None
