"""A record's fields from a feed's document, by the source's `fields` mapping.

Values stay raw (validation is processing's job) except where several paths are joined:
a field mapped to a list of paths is their values joined with one space, the missing ones
left out (`starts_at: [start.date, start.time]`). A field whose path finds nothing is
absent from the record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from operator import itemgetter
from typing import Any, TypeAlias

from failtrack_pipeline.base.errors import EventError
from failtrack_pipeline.base.paths import compile_getter
from failtrack_pipeline.config.sources_file import FieldPath

RawRecord: TypeAlias = dict[str, Any]
Records: TypeAlias = Iterator[RawRecord | EventError]
Getter: TypeAlias = Callable[[Any], Any]


def map_document(document: Any, fields: Mapping[str, FieldPath]) -> RawRecord:
    """The record `fields` (JMESPath expressions) select from one JSON document."""
    return document_mapper(fields)(document)


def document_mapper(fields: Mapping[str, FieldPath]) -> Callable[[Any], RawRecord]:
    """`map_document` for many documents of one feed, the paths compiled once."""
    return record_mapper(fields, lambda path: compile_getter(str(path)))


def record_mapper(
    fields: Mapping[str, FieldPath], getter: Callable[[str | int], Getter]
) -> Callable[[Any], RawRecord]:
    """A function giving the record of `fields` from a feed's item, each path's value found
    by the function `getter` made for it (returning None: not there). Built once per feed,
    so the per-record work is one call per path."""
    plan: list[tuple[str, bool, Any]] = [  # name, joined?, getter (a tuple of them if joined)
        (name, True, tuple(getter(path) for path in spec))
        if isinstance(spec, list)
        else (name, False, getter(spec))
        for name, spec in fields.items()
    ]

    def mapped(item: Any) -> RawRecord:
        record: RawRecord = {}
        for name, join, get in plan:
            if join:
                value = joined(path_get(item) for path_get in get)
            else:
                value = get(item)
                if value is not None and value.__class__ is not str:
                    value = plain(value)
            if value is not None:
                record[name] = value
        return record

    return mapped


def row_mapper(
    fields: Mapping[str, FieldPath], column: Callable[[str | int], int]
) -> Callable[[Sequence[str]], RawRecord]:
    """`record_mapper` for rows of texts (a CSV file's), `column` giving each path's index.

    A text is never None nor converted: without joined fields the record is the row's cells
    zipped with their names, picked by one itemgetter, all in C."""
    if len(fields) < 2 or any(isinstance(spec, list) for spec in fields.values()):
        return record_mapper(fields, lambda path: itemgetter(column(path)))
    names = tuple(fields)
    cells = itemgetter(*(column(spec) for spec in fields.values()))  # type: ignore[arg-type]
    return lambda row: dict(zip(names, cells(row), strict=True))


def joined(values: Iterator[Any]) -> Any:
    """Texts and numbers joined with one space; anything else is handed on for validation
    to reject, and nothing found is None."""
    parts = [plain(value) for value in values]
    present = [value for value in parts if value is not None and value != ""]
    if not present:
        return None
    if any(
        isinstance(value, bool) or not isinstance(value, str | int | float) for value in present
    ):
        return present
    return " ".join(str(value).strip() for value in present)


def plain(value: Any) -> Any:
    """JSON numbers arrive as Decimal (exact, and 1e400 does not stop the parser): an int
    when whole, else a float (perhaps inf, which validation rejects for that record)."""
    if isinstance(value, Decimal):
        if value != value.to_integral_value():  # a fraction: its exponent is negative
            return float(value)
        exponent = value.as_tuple().exponent
        if exponent == 0 or (exponent in range(1, 30) and value.adjusted() < 30):
            return int(value)  # as written, or a short 1e3: never a 10**400 built from "1e400"
        return float(value)
    if isinstance(value, list):
        return [item if item.__class__ is str else plain(item) for item in value]
    return value
