"""A record's fields from a feed's document, by the source's `fields` mapping.

Values stay raw (validation is processing's job) except where several paths are joined:
a field mapped to a list of paths is their values joined with one space, the missing ones
left out (`starts_at: [start.date, start.time]`). A field whose path finds nothing is
absent from the record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any, TypeAlias

from failtrack_pipeline.base.errors import EventError
from failtrack_pipeline.base.paths import search
from failtrack_pipeline.config.sources_file import FieldPath

RawRecord: TypeAlias = dict[str, Any]
Records: TypeAlias = Iterator[RawRecord | EventError]


def map_document(document: Any, fields: Mapping[str, FieldPath]) -> RawRecord:
    """The record `fields` (JMESPath expressions) select from one JSON document."""
    return map_fields(fields, lambda path: search(str(path), document))


def map_fields(fields: Mapping[str, FieldPath], lookup: Callable[[str | int], Any]) -> RawRecord:
    """The record of `fields`, each path's value found by `lookup` (None: not there)."""
    record: RawRecord = {}
    for name, spec in fields.items():
        if isinstance(spec, list):
            value = joined(lookup(path) for path in spec)
        else:
            value = plain(lookup(spec))
        if value is not None:
            record[name] = value
    return record


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
        exponent = value.as_tuple().exponent
        if exponent == 0 or (exponent in range(1, 30) and value.adjusted() < 30):
            return int(value)  # as written, or a short 1e3: never a 10**400 built from "1e400"
        return float(value)
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value
