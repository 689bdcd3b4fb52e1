"""Open a feed URL as a binary stream, read as it arrives rather than loaded whole.

Every fetch has a total deadline and a byte cap (a source's `timeout_seconds` and
`max_bytes`, counted after decompression): past the deadline the read fails as a
network_error, past the cap as a parsing_error, each naming the limit. httpx's own timeouts
only bound each network read, so a server trickling one byte at a time, or sending forever,
would otherwise hold the run. The HTTP exchange runs in a helper thread handing chunks over
a small queue: the reader waits on the queue no longer than the deadline allows, whatever
the server does.

httpx's exceptions (timeouts, refused connections, HTTP status errors) become FeedErrors
with the category the categorizer gives them (by type and status code) and a scrubbed
message that keeps httpx's type and wording (`HTTPStatusError: Client error '401 …' for
url '…?api_key=***'`). They are raised `from None`: Dagster logs an op's exception with
its whole chain, and httpx's messages quote the URL, credentials included.
"""

from __future__ import annotations

import io
import queue
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import BinaryIO, Final
from urllib.parse import urlsplit
from urllib.request import url2pathname

import httpx

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.base.categorize import categorize
from failtrack_pipeline.base.errors import FeedError
from failtrack_pipeline.base.scrub import scrub_secrets
from failtrack_pipeline.base.text import truncate
from failtrack_pipeline.config.sources_file import SourceConfig

TIMEOUT: Final = httpx.Timeout(30.0, connect=10.0)
MAX_MESSAGE_CHARS: Final = 2000
NETWORK: Final = ErrorCategory.NETWORK  # a feed file that is not there is a source out of reach
FILE_CHUNK_BYTES: Final = 64 * 1024
QUEUED_CHUNKS: Final = 4  # what the helper thread may read ahead: memory stays bounded


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """How long one fetch may take in all, and how many (decompressed) bytes it may yield."""

    timeout_seconds: float = 300.0
    max_bytes: int = 512 * 1024 * 1024


def open_source(source: SourceConfig, url: str) -> AbstractContextManager[BinaryIO]:
    """One page of `source`, with its headers, deadline and byte cap."""
    limits = FetchLimits(timeout_seconds=source.timeout_seconds, max_bytes=source.max_bytes)
    return open_feed(url, limits, source.headers)


@contextmanager
def open_feed(
    url: str,
    limits: FetchLimits = FetchLimits(),  # noqa: B008 - frozen, so one shared default is safe
    headers: Mapping[str, str] | None = None,
) -> Iterator[BinaryIO]:
    """Yield the body of an `http(s)://` or `file://` URL as a readable binary stream.

    An HTTP error status raises a FeedError before anything is read; a file that cannot be
    opened raises a FeedError (network_error) naming its path. `headers` are secrets: no
    message quotes them.
    """
    deadline = time.monotonic() + limits.timeout_seconds
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("http", "https"):
        with _http_chunks(url, dict(headers or {}), limits, deadline) as chunks:
            yield io.BufferedReader(_LimitedReader(chunks, limits, deadline))
    elif scheme == "file":
        path = url2pathname(urlsplit(url).path)
        try:
            stream = open(path, "rb")  # noqa: SIM115 - closed by the with below
        except FileNotFoundError as exc:
            raise FeedError(f"feed file not found: '{path}'", category=NETWORK) from exc
        except OSError as exc:
            message = f"cannot open feed file '{path}': {exc.strerror}"
            raise FeedError(message, category=NETWORK) from exc
        with stream:
            chunks = iter(lambda: stream.read(FILE_CHUNK_BYTES), b"")
            yield io.BufferedReader(_LimitedReader(chunks, limits, deadline))
    else:
        raise FeedError(f"unsupported URL scheme '{scheme}'", category=ErrorCategory.VALIDATION)


def scrubbed_feed_error(error: Exception) -> FeedError:
    """A FeedError standing for `error`: its category, its type and its message scrubbed.

    For errors whose text may quote secrets (URLs, headers); raise it `from None` so the
    original, unscrubbed text is not chained along. The message is bounded: it ends up in
    Dagster's event log, and a foreign error may quote a whole response body.
    """
    message = truncate(f"{type(error).__name__}: {scrub_secrets(str(error))}", MAX_MESSAGE_CHARS)
    return FeedError(message, category=categorize(error), retry_after=_retry_after(error))


def _retry_after(error: Exception) -> float | None:
    """The seconds an HTTP response's `Retry-After` asks for (a number or an HTTP date)."""
    response = getattr(error, "response", None) if isinstance(error, httpx.HTTPError) else None
    value = response.headers.get("retry-after", "").strip() if response is not None else ""
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def deadline_error(limits: FetchLimits) -> FeedError:
    return FeedError(
        f"fetch took longer than timeout_seconds ({limits.timeout_seconds:g} s)", category=NETWORK
    )


@contextmanager
def _http_chunks(
    url: str, headers: dict[str, str], limits: FetchLimits, deadline: float
) -> Iterator[Iterator[bytes]]:
    """The response body's chunks as the helper thread receives them.

    The status is checked before this yields. On leaving, the thread is told to stop; one
    stuck in a read ends at httpx's read timeout, without holding the run.
    """
    handoff: queue.Queue[bytes | Exception | None] = queue.Queue(QUEUED_CHUNKS)
    stop = threading.Event()

    def put(item: bytes | Exception | None) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def fetch() -> None:
        try:
            with httpx.stream(
                "GET", url, headers=headers, timeout=TIMEOUT, follow_redirects=True
            ) as response:
                response.raise_for_status()
                if not put(b""):  # the status is fine: the body follows
                    return
                for chunk in response.iter_bytes():
                    if chunk and not put(chunk):
                        return
            put(None)
        except Exception as exc:  # handed to the reader, which raises it scrubbed
            put(exc)

    def take() -> bytes | None:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _DeadlinePassed
            try:
                item = handoff.get(timeout=left)
            except queue.Empty:
                continue
            if isinstance(item, Exception):
                raise scrubbed_feed_error(item) from None
            return item

    def chunks() -> Iterator[bytes]:
        while (chunk := take()) is not None:
            yield chunk

    thread = threading.Thread(target=fetch, name="failtrack-fetch", daemon=True)
    thread.start()
    try:
        try:
            take()  # the status line and headers, or the error instead of them
        except _DeadlinePassed:
            raise deadline_error(limits) from None
        yield chunks()
    finally:
        stop.set()


class _DeadlinePassed(Exception):
    """Raised where the deadline passes; _LimitedReader names the limit."""


class _LimitedReader(io.RawIOBase):
    """A raw stream over byte chunks that enforces a fetch's deadline and byte cap."""

    def __init__(self, chunks: Iterator[bytes], limits: FetchLimits, deadline: float) -> None:
        self._chunks = chunks
        self._limits = limits
        self._deadline = deadline
        self._pending = memoryview(b"")
        self._received = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            if time.monotonic() > self._deadline:
                raise deadline_error(self._limits)
            try:
                chunk = next(self._chunks, None)
            except _DeadlinePassed:
                raise deadline_error(self._limits) from None
            if chunk is None:
                return 0
            self._received += len(chunk)
            if self._received > self._limits.max_bytes:
                raise FeedError(
                    f"feed larger than max_bytes ({self._limits.max_bytes} bytes)",
                    category=ErrorCategory.PARSING,
                )
            self._pending = memoryview(chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size
