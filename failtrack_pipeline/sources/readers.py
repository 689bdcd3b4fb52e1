"""Feed readers, one per kind: a source becomes raw records keyed by our field names.

Values stay raw (validation is processing's job), and a field the feed lacks is simply
absent from the record. A record that cannot be read at all is yielded as an EventError,
so the others still are; a feed that cannot be read at all raises a FeedError, and
nothing else: parsing_error for a broken format, the categorizer's verdict for HTTP errors
and for whatever a python source's callable raises. Messages that quote the feed or a
foreign error are scrubbed of secrets, and foreign errors are not chained (see fetch.py).
"""

from __future__ import annotations

import csv
import importlib
import io
import itertools
import re
from collections.abc import Callable, Generator, Iterator
from datetime import datetime
from typing import Any, BinaryIO, Final
from urllib.parse import urljoin

import ijson

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.base.errors import EventError, FailtrackError, FeedError
from failtrack_pipeline.base.paths import search
from failtrack_pipeline.base.scrub import scrub_secrets
from failtrack_pipeline.config.sources_file import SourceConfig, SourceKind
from failtrack_pipeline.sources.fetch import open_source, scrubbed_feed_error
from failtrack_pipeline.sources.ics import read_ics
from failtrack_pipeline.sources.json_lists import ListBytes, Outside, Strings
from failtrack_pipeline.sources.jsonld import read_jsonld
from failtrack_pipeline.sources.mapping import (
    RawRecord,
    Records,
    document_mapper,
    map_document,
    row_mapper,
)

__all__ = ["RawRecord", "Records", "read_records"]

PARSING: Final = ErrorCategory.PARSING


def read_records(source: SourceConfig, *, now: datetime | None = None) -> Records:
    """The source's records; the feed is opened when the first one is asked for. `now` is
    the run's moment, around which iCalendar series are expanded."""
    if source.kind is SourceKind.PYTHON:
        yield from read_python(source)
    elif source.kind is SourceKind.JSON:
        yield from read_json(source)
    elif source.kind is SourceKind.CSV:
        with open_source(source, source.urls[0]) as stream:
            yield from read_csv(source, stream)
    elif source.kind is SourceKind.ICS:
        with open_source(source, source.urls[0]) as stream:
            yield from read_ics(source, stream, now=now)
    else:
        yield from read_jsonld(source)


# ---------------------------------------------------------------- JSON

# Deeper nesting is no event feed, and the parser's bookkeeping grows with depth squared.
MAX_JSON_DEPTH: Final = 256
# The parser works a buffer at a time: small enough that a buffer of `[` stays cheap. While
# one token (a long string) spans buffers, each next read doubles, up to this: the parser
# rescans an unfinished token on every read, so fixed-size reads would make it quadratic.
JSON_BUFFER_BYTES: Final = 4096
MAX_JSON_READ_BYTES: Final = 64 * 1024 * 1024
_STARTS: Final = frozenset({"start_map", "start_array"})
_ENDS: Final = frozenset({"end_map", "end_array"})
_JSON_KINDS: Final = {
    "string": "str",
    "number": "number",
    "boolean": "bool",
    "null": "null",
}
# NaN and Infinity are no JSON; outside strings they become this marked string, so that
# only their record fails, not the parser.
_BAD_NUMBER: Final = re.compile(rb'\\.|"|-?Infinity|NaN', re.DOTALL)
_BAD_NUMBER_MARK: Final = "\x00failtrack-bad-number:"
_ESCAPE: Final = re.compile(rb"\\.", re.DOTALL)


def read_json(source: SourceConfig) -> Records:
    """Records from the list (or the one object) at the dotted `records` path, page by page.

    `records` is a dotted path of keys (`''`: the document itself), followed as the
    document streams by: one record is in memory at a time, whatever the feed's size.
    `fields` are JMESPath expressions into each record. With `pagination`, the document
    outside the records is kept to find the next page's URL in. A document that breaks
    off after some records has yielded those before the FeedError.
    """
    url: str | None = source.urls[0]
    visited: set[str] = set()
    pages = source.pagination.max_pages if source.pagination else 1
    while url is not None and url not in visited and len(visited) < pages:
        visited.add(url)
        with open_source(source, url) as stream:
            rest = yield from _json_page(source, stream)
        url = _next_page(source, rest, url)


def _next_page(source: SourceConfig, rest: Any, url: str) -> str | None:
    if source.pagination is None:
        return None
    link = search(source.pagination.next, rest)
    return urljoin(url, link.strip()) if isinstance(link, str) and link.strip() else None


def _json_page(
    source: SourceConfig, stream: BinaryIO
) -> Generator[RawRecord | EventError, None, Any]:
    """One document's records; returns the document outside them (for pagination).

    The document is parsed event by event, this loop bounding the depth and finding the
    records; their list is cut out and handed to ijson's C item builder as a document of
    its own (see json_lists), a records' object is fed to the builder event by event.
    """
    prefix = source.records or ""
    feed = _JsonInput(stream)
    strings = Strings()
    outside = Outside(feed, strings)
    finish = _Finisher(source, feed)
    rest = ijson.ObjectBuilder() if source.pagination else None
    state = "before"  # then "object" (its events go to the builder), then "after"
    built = ijson.sendable_list()  # the record the builder just finished
    send: Any = None  # in the records' object: the send of ijson's item builder
    starts, ends = _STARTS, _ENDS  # looked up per event: local names are the cheapest
    depth = 0
    try:
        for event in ijson.parse(outside, buf_size=JSON_BUFFER_BYTES):
            feed.events += 1
            kind = event[1]
            if kind in starts:
                depth += 1
                if depth > MAX_JSON_DEPTH:
                    raise _too_deep()
            elif kind in ends:
                depth -= 1
            if send is not None:
                send(event)
                if built:
                    state, send = "after", None
                    if rest is not None:
                        rest.event("start_map", None)
                        rest.event("end_map", None)
                    yield finish(built.pop())
                continue
            if state == "before" and event[0] == prefix and kind != "map_key":
                if kind == "start_array":  # the parser read up to this `[`, not beyond
                    state, outside.cut = "after", False
                    limit = MAX_JSON_DEPTH - depth + 1
                    records = ListBytes(feed, strings, outside.pending, limit, _too_deep)
                    for item in ijson.items(records, "item", buf_size=JSON_BUFFER_BYTES):
                        yield finish(item)
                    outside.pending = b"]" + records.after  # the parser sees an empty list
                elif kind == "start_map":
                    state, send, outside.cut = "object", _ITEMS(built, prefix).send, False
                    send(event)
                    continue
                else:
                    message = (
                        f"invalid JSON feed: records path '{prefix}' holds "
                        f"{_JSON_KINDS.get(kind, kind)}, not a list or an object"
                    )
                    raise FeedError(message, category=PARSING)
            if rest is not None:
                rest.event(kind, event[2])
    except ijson.JSONError as exc:
        raise FeedError(f"invalid JSON: {_first_line(exc)}", category=PARSING) from None
    if state == "before":
        raise FeedError(f"invalid JSON feed: records path '{prefix}' not found", category=PARSING)
    return rest.value if rest is not None else None


def _too_deep() -> FeedError:
    return FeedError(
        f"invalid JSON: nested more than {MAX_JSON_DEPTH} levels deep", category=PARSING
    )


class _Finisher:
    """Each record the item builder finished, numbered, as the RawRecord or the EventError
    it makes."""

    def __init__(self, source: SourceConfig, feed: _JsonInput) -> None:
        self._source = source
        self._feed = feed
        self._mapped = document_mapper(source.fields)
        self._position = 0
        self._marks_found = 0

    def __call__(self, item: Any) -> RawRecord | EventError:
        self._position += 1
        if self._feed.marks > self._marks_found:
            bad = _bad_numbers(item)
            self._marks_found += len(bad)
            if bad:
                return _bad_number_error(item, self._source, bad[0], self._position)
        return _json_record(item, self._mapped, self._position)


# ijson's C builder of the values at one path, fed parse events (`ijson.items` minus the
# parser): it sends each finished value to its target.
_ITEMS: Final = ijson.get_backend("yajl2_c").items_basecoro


def _json_record(
    item: Any, mapped: Callable[[Any], RawRecord], position: int
) -> RawRecord | EventError:
    if not isinstance(item, dict):
        kind = type(item).__name__
        return EventError(f"malformed record #{position}: {kind}, not an object", category=PARSING)
    return mapped(item)


def _bad_number_error(item: Any, source: SourceConfig, token: str, position: int) -> EventError:
    external_id = None
    if isinstance(item, dict):
        found = map_document(item, {"external_id": source.fields["external_id"]})
        candidate = found.get("external_id")
        external_id = candidate if isinstance(candidate, str | int) else None
    message = f"invalid JSON number {token} in record #{position}"
    return EventError(
        message, category=PARSING, external_id=None if external_id is None else str(external_id)
    )


def _bad_numbers(value: Any) -> list[str]:
    """The NaN and Infinity tokens marked in `value`, depth first."""
    if isinstance(value, str):
        return [value[len(_BAD_NUMBER_MARK) :]] if value.startswith(_BAD_NUMBER_MARK) else []
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return [token for item in value for token in _bad_numbers(item)]
    return []


class _JsonInput:
    """The feed as the JSON parser reads it: reads grow while a token spans them, and NaN
    or Infinity outside strings are marked (see _BAD_NUMBER_MARK).

    Whether a byte is inside a string is tracked by counting unescaped quotes, in C
    (bytes.count); only a chunk holding one of the tokens is scanned byte by byte.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._size = JSON_BUFFER_BYTES
        self._events_at_last_read = -1
        self._in_string = False
        self._carry = b""
        self.events = 0  # parse events so far, counted by _json_page
        self.marks = 0

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # the parser's probe for the stream's type
            return b""
        if self.events == self._events_at_last_read:  # the last read finished no token
            self._size = min(self._size * 2, MAX_JSON_READ_BYTES)
        else:
            self._size = max(size, JSON_BUFFER_BYTES)
        self._events_at_last_read = self.events
        while True:
            data = self._stream.read(self._size)
            chunk = self._carry + data
            if not data:
                self._carry = b""
                return self._filtered(chunk)
            keep = _unfinished_tail(chunk)
            self._carry = chunk[len(chunk) - keep :] if keep else b""
            if keep < len(chunk):
                return self._filtered(chunk[: len(chunk) - keep])

    def _filtered(self, chunk: bytes) -> bytes:
        if b"NaN" not in chunk and b"Infinity" not in chunk:
            unescaped = _ESCAPE.sub(b"", chunk) if b"\\" in chunk else chunk
            self._in_string ^= unescaped.count(b'"') % 2 == 1
            return chunk
        parts: list[bytes] = []
        start = 0
        for match in _BAD_NUMBER.finditer(chunk):
            token = match.group()
            if token == b'"':
                self._in_string = not self._in_string
            elif not token.startswith(b"\\") and not self._in_string:
                parts.append(chunk[start : match.start()])
                mark = (_BAD_NUMBER_MARK.replace("\x00", "\\u0000") + token.decode()).encode()
                parts.append(b'"' + mark + b'"')
                start = match.end()
                self.marks += 1
        parts.append(chunk[start:])
        return b"".join(parts)


def _unfinished_tail(chunk: bytes) -> int:
    """How many bytes at the end may be cut short: an escape's backslash, or up to the
    length of `-Infinity` of letters that may begin a token."""
    backslashes = len(chunk) - len(chunk.rstrip(b"\\"))
    if backslashes:
        return backslashes % 2
    tail = chunk[-9:]
    return len(tail) - len(tail.rstrip(b"-AINafinty"))


def _first_line(error: Exception) -> str:
    """The parser's own words; the lines after them quote the feed, which may hold anything."""
    text = error.args[0] if error.args else ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return str(text).strip().split("\n", 1)[0]


# ---------------------------------------------------------------- CSV

# A field longer than this fails its record (the csv module's own limit); a physical line
# longer than MAX_CSV_LINE_CHARS is dropped, failing its record, without being held whole.
MAX_CSV_FIELD_CHARS: Final = csv.field_size_limit()
MAX_CSV_LINE_CHARS: Final = 1024 * 1024
SNIFFED_LINES: Final = 20
SNIFFED_DELIMITERS: Final = ",;\t|"
SHOWN_HEADER_CHARS: Final = 200


def read_csv(source: SourceConfig, stream: BinaryIO) -> Records:
    """Rows, read as they arrive; `fields` name the header's columns, or with
    `header: false` their 0-based numbers. `skip_rows` lines of preamble come first.

    The delimiter is the source's, or sniffed among `,` `;` tab `|` from the first lines.
    Bytes that are not UTF-8 survive decoding as lone surrogates, so only the rows that
    hold them are rejected.
    """
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
    lines = _BoundedLines(text)
    for _ in range(source.skip_rows):
        next(lines, None)
    sample = list(itertools.islice(lines, SNIFFED_LINES))
    reader = csv.reader(itertools.chain(sample, lines), delimiter=_delimiter(source, sample))
    rows = _rows(reader)
    first = next(rows, None)
    if first is None:
        raise FeedError("invalid CSV feed: empty, no header row", category=PARSING)
    if isinstance(first, EventError):
        raise FeedError(f"invalid CSV feed: first row unreadable: {first}", category=PARSING)
    if source.header:
        columns: dict[str | int, int] = {}
        for index, column in enumerate(first):
            columns.setdefault(column.strip(), index)
        width = len(first)
    else:
        columns = {index: index for index in range(len(first))}
        width = len(first)
        rows = itertools.chain([first], rows)
    _check_columns(source, columns, first)
    id_spec = source.fields["external_id"]
    id_column = None if isinstance(id_spec, list) else columns.get(_key(id_spec))
    mapped = row_mapper(source.fields, lambda path: columns[_key(path)])
    for row in rows:
        if isinstance(row, EventError):
            yield row
            continue
        if not row:
            continue
        problem = _row_problem(row, width)
        if problem:
            message = f"invalid CSV line {reader.line_num}: {problem}"
            yield EventError(message, category=PARSING, external_id=_readable_id(row, id_column))
            continue
        yield mapped(row)


def _rows(reader: Any) -> Iterator[list[str] | EventError]:
    """The reader's rows; a row with an oversized field or line is an EventError."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            problem = str(exc)
            if "field larger than field limit" in problem:
                problem = f"a field longer than {MAX_CSV_FIELD_CHARS} characters"
            yield EventError(f"invalid CSV line {reader.line_num}: {problem}", category=PARSING)
            continue
        if row == [_DROPPED_LINE]:
            message = (
                f"invalid CSV line {reader.line_num}: longer than {MAX_CSV_LINE_CHARS} characters"
            )
            yield EventError(message, category=PARSING)
            continue
        yield row


_DROPPED_LINE: Final = "\x00failtrack: line dropped"


class _BoundedLines:
    """Physical lines, none longer than MAX_CSV_LINE_CHARS: a longer one is read through
    in pieces and stands as a line holding only _DROPPED_LINE."""

    def __init__(self, text: io.TextIOWrapper) -> None:
        self._text = text

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = self._text.readline(MAX_CSV_LINE_CHARS)
        if not line:
            raise StopIteration
        if len(line) < MAX_CSV_LINE_CHARS or line.endswith("\n"):
            return line
        while (piece := self._text.readline(MAX_CSV_LINE_CHARS)) and not piece.endswith("\n"):
            pass
        return _DROPPED_LINE + "\n"


def _delimiter(source: SourceConfig, sample: list[str]) -> str:
    if source.delimiter is not None:
        return source.delimiter
    try:
        return csv.Sniffer().sniff("".join(sample), delimiters=SNIFFED_DELIMITERS).delimiter
    except csv.Error:  # nothing tells: one column, or too little text
        return ","


def _check_columns(source: SourceConfig, columns: dict[str | int, int], first: list[str]) -> None:
    """Mapped columns the first row lacks fail the feed in one message naming them."""
    wanted = [
        path
        for spec in source.fields.values()
        for path in (spec if isinstance(spec, list) else [spec])
    ]
    missing = [path for path in dict.fromkeys(wanted) if _key(path) not in columns]
    if not missing:
        return
    names = ", ".join(repr(path) for path in missing)
    if source.header:
        seen = ", ".join(repr(column.strip()) for column in first)
        if len(seen) > SHOWN_HEADER_CHARS:
            seen = seen[:SHOWN_HEADER_CHARS] + "…"
        message = f"invalid CSV feed: mapped columns {names} not in the header [{seen}]"
        message += "; for a file without one, set header: false"
    else:
        message = f"invalid CSV feed: mapped columns {names} beyond the first row's {len(first)}"
    raise FeedError(scrub_secrets(message), category=PARSING)


def _key(path: str | int) -> str | int:
    return path.strip() if isinstance(path, str) else path


def _row_problem(row: list[str], width: int) -> str | None:
    if len(row) != width:
        return f"{len(row)} columns, expected {width}"
    if not _is_utf8("".join(row)):
        return "not UTF-8"
    return None


def _readable_id(row: list[str], column: int | None) -> str | None:
    """The row's external_id if its cell is there and readable: errors should name it."""
    if column is None or column >= len(row):
        return None
    value = row[column].strip()
    return value if value and _is_utf8(value) else None


def _is_utf8(text: str) -> bool:
    if text.isascii():  # the common case, found without encoding
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# ---------------------------------------------------------------- python


def read_python(source: SourceConfig) -> Records:
    """Call the source's `callable` with its SourceConfig: it returns dicts in our names."""
    assert source.callable is not None  # the registry requires it of python sources
    module_name, _, function_name = source.callable.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as exc:
        message = f"cannot load callable '{source.callable}': {scrub_secrets(str(exc))}"
        raise FeedError(message, category=ErrorCategory.DEPENDENCY) from None
    try:
        for position, item in enumerate(function(source), start=1):
            if isinstance(item, dict):
                yield item
            else:
                kind = type(item).__name__
                message = f"malformed record #{position}: {kind}, not a dict"
                yield EventError(message, category=PARSING)
    except FailtrackError:
        raise
    except Exception as exc:  # the scraper's own failure, whatever it is
        raise scrubbed_feed_error(exc) from None
