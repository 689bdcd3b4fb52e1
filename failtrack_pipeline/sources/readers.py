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
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO, Final, TypeAlias

import ijson
from icalendar import Calendar, Component

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.base.errors import EventError, FailtrackError, FeedError
from failtrack_pipeline.base.scrub import scrub_secrets
from failtrack_pipeline.config.sources_file import SourceConfig, SourceKind
from failtrack_pipeline.sources.fetch import open_feed, scrubbed_feed_error

RawRecord: TypeAlias = dict[str, Any]
Records: TypeAlias = Iterator[RawRecord | EventError]

PARSING: Final = ErrorCategory.PARSING

# iCalendar properties and the fields they fill (CATEGORIES: its first); GEO fills latitude
# and longitude.
ICS_FIELDS: Final[dict[str, str]] = {
    "UID": "external_id",
    "SUMMARY": "title",
    "DTSTART": "starts_at",
    "DTEND": "ends_at",
    "LOCATION": "venue_name",
    "CATEGORIES": "category",
    "URL": "url",
    "STATUS": "status",  # CANCELLED makes the event a skip
}

_MISSING: Final = object()


def read_records(source: SourceConfig) -> Records:
    """The source's records; the feed is opened when the first one is asked for."""
    if source.kind is SourceKind.PYTHON:
        yield from read_python(source)
        return
    assert source.url is not None  # the registry requires it of every feed kind
    with open_feed(source.url) as stream:
        yield from _FEED_READERS[source.kind](source, stream)


def read_json(source: SourceConfig, stream: BinaryIO) -> Records:
    """Records from the list at the dotted `records` path; `fields` are dotted paths too.

    The document is streamed (ijson): one record is in memory at a time, whatever the feed's
    size. The records path follows object keys; in `fields` a segment that is a number also
    indexes a list (`performers.0.name`). A document that breaks off after some records has
    yielded those before the FeedError.
    """
    paths = {name: _split(path) for name, path in source.fields.items()}
    prefix = source.records or ""
    events = ijson.parse(stream, buf_size=JSON_BUFFER_BYTES, use_float=True)
    events = _records_list(_bounded_depth(events), source)
    items = ijson.items(events, f"{prefix}.item" if prefix else "item")
    try:
        for position, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                kind = type(item).__name__
                yield EventError(
                    f"malformed record #{position}: {kind}, not an object", category=PARSING
                )
                continue
            record = {name: _lookup(item, path) for name, path in paths.items()}
            yield {name: value for name, value in record.items() if value is not _MISSING}
    except ijson.JSONError as exc:
        raise FeedError(f"invalid JSON: {_first_line(exc)}", category=PARSING) from None


# Deeper nesting is no event feed, and the parser's bookkeeping grows with depth squared.
MAX_JSON_DEPTH: Final = 256
# The parser works a buffer at a time: small enough that a buffer of `[` stays cheap.
JSON_BUFFER_BYTES: Final = 4096
_JSON_KINDS: Final = {
    "start_map": "dict",
    "start_array": "list",
    "string": "str",
    "number": "number",
    "boolean": "bool",
    "null": "null",
}


def _bounded_depth(events: Iterator[tuple[str, str, Any]]) -> Iterator[tuple[str, str, Any]]:
    depth = 0
    for event in events:
        kind = event[1]
        if kind == "start_map" or kind == "start_array":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise FeedError(
                    f"invalid JSON: nested more than {MAX_JSON_DEPTH} levels deep",
                    category=PARSING,
                )
        elif kind == "end_map" or kind == "end_array":
            depth -= 1
        yield event


def _records_list(
    events: Iterator[tuple[str, str, Any]], source: SourceConfig
) -> Iterator[tuple[str, str, Any]]:
    """The parse events, checking that the records path holds a list when it comes by."""
    prefix = source.records or ""
    for event in events:
        yield event
        if event[0] == prefix and event[1] != "map_key":
            if event[1] != "start_array":
                kind = _JSON_KINDS.get(event[1], event[1])
                message = (
                    f"invalid JSON feed: records path '{source.records}' holds {kind}, not a list"
                )
                raise FeedError(message, category=PARSING)
            yield from events
            return
    raise FeedError(
        f"invalid JSON feed: records path '{source.records}' not found", category=PARSING
    )


def _first_line(error: Exception) -> str:
    """The parser's own words; the lines after them quote the feed, which may hold anything."""
    text = error.args[0] if error.args else ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return str(text).strip().split("\n", 1)[0]


def _split(path: str) -> tuple[str, ...]:
    return tuple(path.split(".")) if path else ()


def _lookup(value: Any, path: tuple[str, ...]) -> Any:
    for segment in path:
        if isinstance(value, dict):
            value = value.get(segment, _MISSING)
        elif isinstance(value, list) and segment.isdecimal() and int(segment) < len(value):
            value = value[int(segment)]
        else:
            return _MISSING
        if value is _MISSING:
            return _MISSING
    return value


def read_csv(source: SourceConfig, stream: BinaryIO) -> Records:
    """Rows under a header row, read as they arrive; `fields` name the columns.

    Bytes that are not UTF-8 survive decoding as lone surrogates, so only the rows that
    hold them are rejected.
    """
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
    reader = csv.reader(text)
    try:
        header = next(reader, None)
        if header is None:
            raise FeedError("invalid CSV feed: empty, no header row", category=PARSING)
        columns: dict[str, int] = {}
        for index, column in enumerate(header):
            columns.setdefault(column.strip(), index)
        wanted = [(name, columns[col]) for name, col in source.fields.items() if col in columns]
        id_column = columns.get(source.fields["external_id"])
        for row in reader:
            if not row:
                continue
            problem = _row_problem(row, len(header))
            if problem:
                external_id = _readable_id(row, id_column)
                message = f"invalid CSV line {reader.line_num}: {problem}"
                yield EventError(message, category=PARSING, external_id=external_id)
                continue
            yield {name: row[index] for name, index in wanted}
    except csv.Error as exc:
        message = f"invalid CSV at line {reader.line_num}: {exc}"
        raise FeedError(message, category=PARSING) from exc


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
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def read_ics(source: SourceConfig, stream: BinaryIO) -> Records:
    """Every VEVENT of every VCALENDAR, mapped by ICS_FIELDS and GEO.

    icalendar keeps a property it cannot parse (`DTSTART:2024-13-45`) as its raw text,
    which is handed on for validation to reject as an event, not as the feed.
    """
    try:
        components = Calendar.from_ical(stream.read(), multiple=True)
    except Exception as exc:  # mostly ValueError, but malformed input can raise others
        message = f"invalid iCalendar: {scrub_secrets(_first_line(exc))}"
        raise FeedError(message, category=PARSING) from None
    calendars = [component for component in components if component.name == "VCALENDAR"]
    if not calendars:
        raise FeedError("invalid iCalendar feed: no VCALENDAR found", category=PARSING)
    for calendar in calendars:
        for event in calendar.walk("VEVENT"):
            yield _ics_record(event)


def _ics_record(event: Component) -> RawRecord | EventError:
    record: RawRecord = {}
    for name in (*ICS_FIELDS, "GEO"):
        if name not in event:
            continue
        try:
            value = _first(event.decoded(name))
        except Exception:  # icalendar raises any type when a value contradicts its VALUE type
            uid = record.get("external_id")
            external_id = uid if isinstance(uid, str) else None
            return EventError(
                f"invalid iCalendar property {name}", category=PARSING, external_id=external_id
            )
        if name == "GEO":
            record["latitude"], record["longitude"] = _geo(value)
        else:
            record[ICS_FIELDS[name]] = value
    return record


def _first(value: Any) -> Any:
    """The first of a repeated property, or of a list-valued one such as CATEGORIES."""
    while isinstance(value, list):
        if not value:
            return None
        value = value[0]
    return value


def _geo(value: Any) -> tuple[Any, Any]:
    """(latitude, longitude); a GEO icalendar could not parse is split raw for validation."""
    if isinstance(value, tuple):
        return value
    latitude, _, longitude = str(value).partition(";")
    return latitude, longitude


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


_FEED_READERS: Final[dict[SourceKind, Callable[[SourceConfig, BinaryIO], Records]]] = {
    SourceKind.JSON: read_json,
    SourceKind.CSV: read_csv,
    SourceKind.ICS: read_ics,
}
