"""Open a feed URL as a binary stream, read as it arrives rather than loaded whole.

httpx's exceptions (timeouts, refused connections, HTTP status errors) become FeedErrors
with the category the categorizer gives them (by type and status code) and a scrubbed
message that keeps httpx's type and wording (`HTTPStatusError: Client error '401 …' for
url '…?api_key=***'`). They are raised `from None`: Dagster logs an op's exception with
its whole chain, and httpx's messages quote the URL, credentials included.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO, Final
from urllib.parse import urlsplit
from urllib.request import url2pathname

import httpx

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.base.categorize import categorize
from failtrack_pipeline.base.errors import FeedError
from failtrack_pipeline.base.scrub import scrub_secrets

TIMEOUT: Final = httpx.Timeout(30.0, connect=10.0)
MAX_MESSAGE_CHARS: Final = 2000
NETWORK: Final = ErrorCategory.NETWORK  # a feed file that is not there is a source out of reach


@contextmanager
def open_feed(url: str) -> Iterator[BinaryIO]:
    """Yield the body of an `http(s)://` or `file://` URL as a readable binary stream.

    An HTTP error status raises a FeedError before anything is read; a file that cannot be
    opened raises a FeedError (network_error) naming its path.
    """
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("http", "https"):
        try:
            with httpx.stream("GET", url, timeout=TIMEOUT, follow_redirects=True) as response:
                response.raise_for_status()
                yield io.BufferedReader(_ChunkReader(response.iter_bytes()))
        except httpx.HTTPError as exc:  # also when the body breaks off while being read
            raise scrubbed_feed_error(exc) from None
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
            yield stream
    else:
        raise FeedError(f"unsupported URL scheme '{scheme}'", category=ErrorCategory.VALIDATION)


def scrubbed_feed_error(error: Exception) -> FeedError:
    """A FeedError standing for `error`: its category, its type and its message scrubbed.

    For errors whose text may quote secrets (URLs, headers); raise it `from None` so the
    original, unscrubbed text is not chained along. The message is bounded: it ends up in
    Dagster's event log, and a foreign error may quote a whole response body.
    """
    message = f"{type(error).__name__}: {scrub_secrets(str(error))}"
    if len(message) > MAX_MESSAGE_CHARS:  # cut after scrubbing: no half secret survives
        message = message[: MAX_MESSAGE_CHARS - 1] + "…"
    return FeedError(message, category=categorize(error))


class _ChunkReader(io.RawIOBase):
    """A raw stream over an iterator of byte chunks, so buffered and text readers work on it."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size
