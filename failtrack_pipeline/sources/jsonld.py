"""schema.org events from HTML pages: the `<script type="application/ld+json">` blocks.

Extraction is the standard library's HTML tokenizer (`html.parser`) finding those blocks
and `json` reading them: a full extractor (extruct) would bring lxml, rdflib and four more
packages for microdata and RDFa we do not read. Every `Event` (or subtype: MusicEvent,
TheaterEvent, ...) is a record, at the top of a block, in a list or in `@graph`.
Without `fields`, schema.org's names are mapped (DEFAULT_FIELDS); `fields` overrides
them one by one, as JMESPath expressions into the Event object.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any, Final

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.base.errors import EventError
from failtrack_pipeline.config.sources_file import FieldPath, SourceConfig
from failtrack_pipeline.sources.fetch import open_source
from failtrack_pipeline.sources.mapping import RawRecord, Records, map_document

PARSING: Final = ErrorCategory.PARSING

DEFAULT_FIELDS: Final[dict[str, FieldPath]] = {
    "external_id": 'url || "@id"',
    "title": "name",
    "starts_at": "startDate",
    "ends_at": "endDate",
    "venue_name": "location.name || location[0].name",
    "venue_address": "location.address.streetAddress || location.address",
    "latitude": "location.geo.latitude",
    "longitude": "location.geo.longitude",
    "performers": "performer[].name || performer.name",
    "url": "url",
    "status": "eventStatus",
    "online": "eventAttendanceMode",
}
# Any type whose name ends so is an event (Event, MusicEvent, SocialEvent, ...).
_EVENT_SUFFIX: Final = "Event"
MAX_BLOCK_CHARS: Final = 10 * 1024 * 1024


def read_jsonld(source: SourceConfig) -> Records:
    """The events of each page in `url` (one or a list), in page order."""
    fields = {**DEFAULT_FIELDS, **source.fields}
    for url in source.urls:
        with open_source(source, url) as stream:
            html = stream.read().decode("utf-8", "replace")
        for position, block in enumerate(_ld_blocks(html), start=1):
            try:
                document = json.loads(block)
            except ValueError as exc:
                message = f"invalid JSON-LD block #{position}: {exc.args[0] if exc.args else exc}"
                yield EventError(message.split("\n", 1)[0], category=PARSING)
                continue
            for event in _events(document):
                yield _record(map_document(event, fields))


def _record(record: RawRecord) -> RawRecord:
    """schema.org's enumerations as our values: EventCancelled, OnlineEventAttendanceMode."""
    status = record.get("status")
    if isinstance(status, str):
        record["status"] = status.rsplit("/", 1)[-1].removeprefix("Event").lower()
    mode = record.get("online")
    if isinstance(mode, str):
        if mode.rsplit("/", 1)[-1] == "OnlineEventAttendanceMode":
            record["online"] = True
        else:
            del record["online"]  # offline or mixed: a venue is expected
    return record


def _events(document: Any) -> Iterator[dict[str, Any]]:
    if isinstance(document, list):
        for item in document:
            yield from _events(item)
    elif isinstance(document, dict):
        kinds = document.get("@type")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if any(isinstance(kind, str) and kind.endswith(_EVENT_SUFFIX) for kind in kinds):
            yield document
        graph = document.get("@graph")
        if graph is not None:
            yield from _events(graph)


def _ld_blocks(html: str) -> list[str]:
    parser = _LdScripts()
    parser.feed(html)
    parser.close()
    return parser.blocks


class _LdScripts(HTMLParser):
    """Collects the text of `<script type="application/ld+json">` elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self._inside: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        kind = (dict(attrs).get("type") or "").split(";")[0].strip().lower()
        if tag == "script" and kind == "application/ld+json":
            self._inside = []

    def handle_data(self, data: str) -> None:
        if self._inside is not None and sum(map(len, self._inside)) < MAX_BLOCK_CHARS:
            self._inside.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._inside is not None:
            self.blocks.append("".join(self._inside))
            self._inside = None
