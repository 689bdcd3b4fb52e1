"""Open a feed URL as a binary stream, read as it arrives rather than loaded whole.

httpx's own exceptions (timeouts, refused connections, HTTP status errors) propagate
unwrapped: the categorizer knows their types and status codes.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO, Final
from urllib.parse import urlsplit
from urllib.request import url2pathname

import httpx

from failtrack_pipeline.errors import ErrorCategory, FeedError

TIMEOUT: Final = httpx.Timeout(30.0, connect=10.0)
NETWORK: Final = ErrorCategory.NETWORK  # a feed file that is not there is a source out of reach


@contextmanager
def open_feed(url: str) -> Iterator[BinaryIO]:
    """Yield the body of an `http(s)://` or `file://` URL as a readable binary stream.

    An HTTP error status raises `httpx.HTTPStatusError` before anything is read; a file
    that cannot be opened raises a FeedError (network_error) naming its path.
    """
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("http", "https"):
        with httpx.stream("GET", url, timeout=TIMEOUT, follow_redirects=True) as response:
            response.raise_for_status()
            yield io.BufferedReader(_ChunkReader(response.iter_bytes()))
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
