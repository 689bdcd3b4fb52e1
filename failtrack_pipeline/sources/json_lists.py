"""The bytes of a JSON feed's records' list, cut out for ijson's C item builder.

Handing the parser's events to Python one by one cost more than parsing them (45 for a
typical record). So the feed reader parses the document around the records in Python as
before, but the list itself (`[` up to its `]`) is read as a document of its own by
`ijson.items`, all in C. This module finds where the list ends and bounds its depth, a
chunk at a time: brackets outside strings are counted with bytes methods, and only a chunk
where the list ends (or might nest too deep, or a string holds a bracket) is walked bracket
by bracket.

Both read the bytes as JSON: where they are not, the parser fails first, as it is handed
every byte up to and including the one a decision was taken at.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from itertools import accumulate
from typing import Final, Protocol

_ESCAPE: Final = re.compile(rb"\\.", re.DOTALL)
# A string (closed, or open at the chunk's end) or a bracket; a string's rest at a chunk's start.
_TOKEN: Final = re.compile(rb'"(?:[^"\\]|\\.)*("?)|[\[\]{}]', re.DOTALL)
_STRING_REST: Final = re.compile(rb'(?:[^"\\]|\\.)*("?)', re.DOTALL)
_NOT_MARKS: Final = bytes(byte for byte in range(256) if byte not in b'"[]{}')
_STEP: Final = [1 if byte in b"[{" else -1 if byte in b"]}" else 0 for byte in range(256)]
_OPEN_LIST: Final = ord("[")


class Chunks(Protocol):
    """The feed as read for the parser: `read` gives its next chunk (an escape is never cut
    in two), `events` counts what the parser finished, so that reads grow while it finishes
    nothing (see readers._JsonInput)."""

    events: int

    def read(self, size: int = -1) -> bytes: ...


class Strings:
    """Whether the feed's next byte is inside a string, followed chunk by chunk."""

    def __init__(self) -> None:
        self.inside = False

    def brackets(self, chunk: bytes) -> Iterator[int]:
        """The positions of the chunk's brackets outside strings; stopped early, the state
        is that of the last bracket given (outside a string)."""
        position = 0
        if self.inside:
            rest = _STRING_REST.match(chunk)
            assert rest is not None  # it matches the empty text
            if not rest.group(1):
                return
            self.inside, position = False, rest.end()
        for match in _TOKEN.finditer(chunk, position):
            if chunk[match.start()] != ord('"'):
                yield match.start()
            elif not match.group(1):
                self.inside = True
                return

    def levels(self, chunk: bytes, depth: int) -> tuple[int, int, int, int] | None:
        """The lowest, highest and last depth the chunk's brackets outside strings reach
        from `depth`, and how many tokens it ends; None if a string in it holds a bracket.
        The state moves to the chunk's end. In bytes methods, not a loop per byte: of the
        chunk's quotes and brackets, each string's two quotes are then neighbours."""
        unescaped = _ESCAPE.sub(b"", chunk) if b"\\" in chunk else chunk
        marks = unescaped.translate(None, _NOT_MARKS)
        quotes = marks.count(b'"')
        if self.inside:  # the open string's quote, for the pairs to come out right
            marks = b'"' + marks
        if (quotes + self.inside) % 2:  # a string left open at the chunk's end
            marks = marks[: marks.rindex(b'"')]
        outside = marks.replace(b'""', b"")
        if b'"' in outside:
            return None
        ended = quotes + len(outside)
        if not ended and not self.inside:  # no string, no bracket: count what else ends
            ended = chunk.count(b",") + chunk.count(b":")
        self.inside = (quotes + self.inside) % 2 == 1
        depths = list(accumulate(map(_STEP.__getitem__, outside), initial=depth))
        return min(depths), max(depths), depths[-1], ended


class Outside:
    """The feed for the parser of the document around the records' list: until the list is
    found each read ends after a `[`, so that the parser stops where the list may begin."""

    def __init__(self, feed: Chunks, strings: Strings) -> None:
        self.feed = feed
        self.strings = strings
        self.pending = b""  # read from the feed, not yet handed on
        self.cut = True

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # the parser's probe for the stream's type
            return b""
        chunk, self.pending = self.pending or self.feed.read(size), b""
        if self.cut:
            for position in self.strings.brackets(chunk):
                if chunk[position] == _OPEN_LIST:
                    chunk, self.pending = chunk[: position + 1], chunk[position + 1 :]
                    break
        return chunk


class ListBytes:
    """The records' list as a document of its own: `[`, then the feed up to the `]` that
    closes it; what follows it is left in `after`. A bracket that nests deeper than `limit`
    (counted from the list) ends the bytes, and the next read raises `too_deep()`, once the
    parser has finished (or failed on) what came before."""

    def __init__(
        self,
        feed: Chunks,
        strings: Strings,
        pending: bytes,
        limit: int,
        too_deep: Callable[[], Exception],
    ) -> None:
        self.feed = feed
        self.strings = strings
        self.pending = pending
        self.limit = limit
        self.too_deep = too_deep
        self.depth = 1
        self.started = False
        self.after = b""
        self._ended = False
        self._deep = False

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # the parser's probe for the stream's type
            return b""
        if self._deep:
            raise self.too_deep()
        if self._ended:
            return b""
        chunk, self.pending = self.pending or self.feed.read(size), b""
        chunk = self._cut(chunk)
        if not self.started:
            self.started = True
            return b"[" + chunk
        return chunk

    def _cut(self, chunk: bytes) -> bytes:
        if not chunk:
            self._ended = True
            return chunk
        inside = self.strings.inside
        levels = self.strings.levels(chunk, self.depth)
        if levels is not None:
            lowest, highest, last, ended = levels
            self.feed.events += ended
            if lowest > 0 and highest <= self.limit:
                self.depth = last
                return chunk
        else:
            self.feed.events += 1  # it holds a string and a bracket: not one long token
        self.strings.inside = inside  # the list may end here, or nest too deep: walk it
        depth = self.depth
        for position in self.strings.brackets(chunk):
            depth += _STEP[chunk[position]]
            if depth == 0:
                self._ended, self.after = True, chunk[position + 1 :]
                return chunk[: position + 1]
            if depth > self.limit:  # the parser is handed it: perhaps it fails there
                self._deep = True
                return chunk[: position + 1]
        self.depth = depth  # a string held a bracket, and the list goes on
        return chunk
