"""Every feed reader on arbitrary input: records end as events, skips or categorized errors.

A feed that cannot be read at all raises a FeedError, and nothing else ever escapes. The
last test runs whole scrapes of fuzzed feeds on SQLite and PostgreSQL and checks that the
run's counts, the events table and the failure table agree.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.base.categorize import categorize
from failtrack_pipeline.base.errors import EventError, FeedError
from failtrack_pipeline.base.events import Event
from failtrack_pipeline.config.sources_file import SourceConfig, SourceKind
from failtrack_pipeline.db.schema import discovery_event_failure_days, discovery_event_failures
from failtrack_pipeline.db.schema import events as events_table
from failtrack_pipeline.processing.skips import Skip
from failtrack_pipeline.processing.validate import process_records
from failtrack_pipeline.source_scrape import SourceScrape
from failtrack_pipeline.sources.readers import read_records

NOW = datetime(2026, 11, 25, tzinfo=UTC)
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FIELDS = {
    "external_id": "id",
    "title": "name",
    "starts_at": "start",
    "ends_at": "end",
    "venue_name": "venue",
    "latitude": "lat",
    "longitude": "lng",
    "category": "kind",
    "performers": "who",
    "url": "link",
}
ODD_DATES = [
    "2027-03-01T20:00:00",
    "2027-03-01 20:00:00+05:30",
    "01/03/2027",
    "March 1st 2027 8pm",
    "20270301T200000Z",
    "2027-13-45",
    "0000-00-00",
    "9999-12-31T23:59:59-14:00",
    "Mon, 01 Mar 2027 20:00:00 GMT",
    "1709323200",
    "yesterday",
    "2027-W09-1",
    "٢٠٢٧-٠٣-٠١",
]
ODD_TEXT = [
    "NaN",
    "-Infinity",
    "1e999",
    "\x00\x01\x1b",
    "\u202eevil\u200b",
    "' OR 1=1 --",
    "x" * 70_000,
]
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(ODD_DATES + ODD_TEXT)
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)
# Mostly records that look like events, so that validation gets far; some pure garbage.
RECORDS = (
    st.fixed_dictionaries(
        {"id": st.text(min_size=1, max_size=8) | JSON_VALUES},
        optional={
            name: JSON_VALUES | st.sampled_from(ODD_DATES)
            for name in FIELDS.values()
            if name != "id"
        },
    )
    | JSON_VALUES
)


def garbled(document: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """The document as is, cut off anywhere, or with random bytes spliced in."""

    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        data = draw(document)
        how = draw(st.sampled_from(["whole", "whole", "cut", "splice"]))
        if how == "whole" or not data:
            return data
        at = draw(st.integers(0, len(data) - 1))
        if how == "cut":
            return data[:at]
        return data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]

    return build()


JSON_FEEDS = garbled(
    st.builds(
        lambda records, wrap: json.dumps(wrap(records)).encode(),
        st.lists(RECORDS, max_size=8),
        st.sampled_from(
            [
                lambda r: {"data": {"events": r}},
                lambda r: {"data": {"events": r}, "meta": {"events": 1}},
                lambda r: {"data": {"events": {"nested": r}}},  # the path holds a dict
                lambda r: {"data": r},  # the path is missing
            ]
        ),
    )
)

CSV_CELLS = (
    st.text(max_size=20).map(str.encode)
    | st.binary(max_size=12)  # invalid UTF-8, NUL bytes, stray quotes
    | st.sampled_from(ODD_DATES + ODD_TEXT).map(lambda text: text.encode("utf-8", "replace"))
)
CSV_HEADER = ",".join(FIELDS.values()).encode()


@st.composite
def csv_feeds(draw: st.DrawFn) -> bytes:
    rows = draw(st.lists(st.lists(CSV_CELLS, min_size=8, max_size=11), max_size=8))
    newline = draw(st.sampled_from([b"\n", b"\r\n", b"\r"]))
    quoted = draw(st.booleans())
    lines = [CSV_HEADER]
    for row in rows:
        cells = [b'"' + c.replace(b'"', b'""') + b'"' if quoted else c for c in row]
        lines.append(b",".join(cells))
    return newline.join(lines) + newline


ICS_PROPERTIES = [
    "UID",
    "SUMMARY",
    "DTSTART",
    "DTSTART;VALUE=DATE",
    "DTSTART;TZID=Europe/Amsterdam",
    "DTSTART;TZID=Nowhere/Land",
    "DTEND",
    "LOCATION",
    "GEO",
    "CATEGORIES",
    "URL",
    "X-ODD",
    "RRULE",
    "RECURRENCE-ID",
    "EXDATE",
    "DURATION",
    "STATUS",
]
ICS_VALUES = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n"), max_size=30
) | st.sampled_from(
    ODD_DATES
    + ["20270301T200000", "20270301", "52.1;4.3", "nan;inf", "a;b;c", "CANCELLED", "PT1H"]
    + ["FREQ=DAILY;COUNT=3", "FREQ=WEEKLY", "FREQ=YEARLY;UNTIL=20300101", "FREQ=NEVER;X=1"]
)
# Components around the events that must never fail the feed, however malformed.
ICS_NOISE = [
    "BEGIN:VTIMEZONE\r\nTZID:Odd/Zone\r\nTZID:UTC\r\nBEGIN:STANDARD\r\nDTSTART:x\r\n"
    "END:STANDARD\r\nEND:VTIMEZONE",
    "BEGIN:VTODO\r\nDUE;VALUE=DATE:never\r\nEND:VTODO",
    "BEGIN:VALARM\r\nTRIGGER:soon\r\nEND:VALARM",
    "BEGIN:VFREEBUSY\r\nFREEBUSY:;;;\r\nEND:VFREEBUSY",
    "X-WR-TIMEZONE:Europe/Berlin",
    "X-WR-TIMEZONE:Not/AZone",
]


@st.composite
def ics_feeds(draw: st.DrawFn) -> bytes:
    events = draw(
        st.lists(
            st.lists(st.tuples(st.sampled_from(ICS_PROPERTIES), ICS_VALUES), max_size=8),
            max_size=5,
        )
    )
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        *draw(st.lists(st.sampled_from(ICS_NOISE), max_size=3)),
    ]
    for properties in events:
        lines += ["BEGIN:VEVENT", *(f"{name}:{value}" for name, value in properties), "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return "\r\n".join(lines).encode()


def feed_source(kind: SourceKind, path: Path) -> SourceConfig:
    mapped = kind in (SourceKind.JSON, SourceKind.CSV)
    return SourceConfig(
        id=f"fuzz_{uuid.uuid4().hex[:10]}",
        name="Fuzzed feed",
        kind=kind,
        url=path.as_uri(),
        timezone="Europe/Amsterdam",
        records="data.events" if kind is SourceKind.JSON else None,
        fields=FIELDS if mapped else {},
        category_map={"gig": "music"},
    )


def assert_events_or_categorized_errors(source: SourceConfig) -> list[Event | EventError | Skip]:
    """Read and validate `source` whole; a FeedError is the only way out, and is returned."""
    try:
        items = list(process_records(read_records(source), source, now=NOW))
    except FeedError as error:
        # A scraper's own bug (a KeyError) may be unknown_error; a feed's fault never is.
        assert error.category in ErrorCategory
        assert source.kind is SourceKind.PYTHON or error.category is not ErrorCategory.UNKNOWN
        assert error.message
        return []
    for item in items:
        assert isinstance(item, Event | EventError | Skip), item
        if isinstance(item, EventError):
            assert categorize(item) is item.category is not ErrorCategory.UNKNOWN
            assert 0 < len(item.message) < 200
    return items


@FUZZ
@given(feed=JSON_FEEDS)
def test_any_json_feed_gives_events_categorized_errors_or_one_feed_error(
    tmp_path: Path, feed: bytes
) -> None:
    path = tmp_path / "feed.json"
    path.write_bytes(feed)
    items = assert_events_or_categorized_errors(feed_source(SourceKind.JSON, path))
    try:
        records = json.loads(feed)["data"]["events"]
    except (ValueError, KeyError, TypeError):
        return
    if isinstance(records, list) and items:
        assert len(items) == len(records)  # one outcome per record, none lost


@FUZZ
@given(feed=garbled(csv_feeds()))
def test_any_csv_feed_gives_events_categorized_errors_or_one_feed_error(
    tmp_path: Path, feed: bytes
) -> None:
    path = tmp_path / "feed.csv"
    path.write_bytes(feed)
    items = assert_events_or_categorized_errors(feed_source(SourceKind.CSV, path))
    text = feed.decode("utf-8", "surrogateescape")
    if items:
        assert len(items) == _csv_rows(text) - 1  # one outcome per row below the header


def _csv_rows(text: str) -> int:
    """Rows `csv` reads, a row it refuses (a field over its limit) counted as one, as the
    reader does."""
    reader, count = csv.reader(io.StringIO(text, newline="")), 0
    while True:
        try:
            count += bool(next(reader))
        except StopIteration:
            return count
        except csv.Error:
            count += 1


@FUZZ
@given(feed=garbled(ics_feeds()))
def test_any_ics_feed_gives_events_categorized_errors_or_one_feed_error(
    tmp_path: Path, feed: bytes
) -> None:
    path = tmp_path / "feed.ics"
    path.write_bytes(feed)
    assert_events_or_categorized_errors(feed_source(SourceKind.ICS, path))


@FUZZ
@given(feed=garbled(ics_feeds()))
def test_any_ics_feed_has_at_most_one_outcome_per_vevent_outside_series(
    tmp_path: Path, feed: bytes
) -> None:
    """Without RRULE or RDATE no occurrence is invented: one outcome per VEVENT at most."""
    path = tmp_path / "feed.ics"
    path.write_bytes(feed)
    items = assert_events_or_categorized_errors(feed_source(SourceKind.ICS, path))
    if b"RRULE" not in feed:
        assert len(items) <= feed.count(b"BEGIN:VEVENT")


BAD_NUMBERS = st.sampled_from([b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e999"])


@FUZZ
@given(records=st.lists(RECORDS, min_size=1, max_size=8), data=st.data())
def test_bad_json_numbers_spliced_anywhere_fail_at_most_their_own_records(
    tmp_path: Path, records: list[Any], data: st.DataObject
) -> None:
    """NaN, Infinity and overflowing numbers put in for values: the feed is still read,
    one outcome per record."""
    document = json.dumps({"data": {"events": records}}).encode()
    for _ in range(data.draw(st.integers(1, 3))):
        values = [i for i in range(len(document)) if document[i : i + 1] in (b"0", b"1", b"2")]
        values = [
            i
            for i in values
            if document[i - 1 : i] in (b" ", b"[") and b'"' not in document[i - 1 : i]
        ]
        if not values:
            break
        at = data.draw(st.sampled_from(values))
        end = at
        while end < len(document) and document[end : end + 1] in b"0123456789.eE+-":
            end += 1
        document = document[:at] + data.draw(BAD_NUMBERS) + document[end:]
    path = tmp_path / "feed.json"
    path.write_bytes(document)
    items = assert_events_or_categorized_errors(feed_source(SourceKind.JSON, path))
    assert len(items) == len(records)


LD_EVENTS = st.fixed_dictionaries(
    {"@type": st.sampled_from(["Event", "MusicEvent", "Place", ["Event", "Thing"], 7])},
    optional={
        "name": JSON_VALUES,
        "startDate": JSON_VALUES | st.sampled_from(ODD_DATES),
        "endDate": JSON_VALUES | st.sampled_from(ODD_DATES),
        "url": JSON_VALUES | st.just("https://x.example/e"),
        "@id": JSON_VALUES,
        "location": JSON_VALUES,
        "performer": JSON_VALUES,
        "eventStatus": st.sampled_from(["https://schema.org/EventCancelled", "EventScheduled"])
        | JSON_VALUES,
        "eventAttendanceMode": st.just("https://schema.org/OnlineEventAttendanceMode")
        | JSON_VALUES,
    },
)


@st.composite
def html_pages(draw: st.DrawFn) -> bytes:
    blocks = []
    for _ in range(draw(st.integers(0, 3))):
        events = draw(st.lists(LD_EVENTS, max_size=4))
        shape = draw(st.sampled_from(["list", "graph", "one", "garbage"]))
        if shape == "garbage":
            text = draw(st.text(max_size=40))
        elif shape == "graph":
            text = json.dumps({"@context": "https://schema.org", "@graph": events})
        elif shape == "one" and events:
            text = json.dumps(events[0])
        else:
            text = json.dumps(events)
        kind = draw(st.sampled_from(["application/ld+json", "APPLICATION/LD+JSON; x=1", "text/js"]))
        blocks.append(f'<script type="{kind}">{text}</script>')
    noise = draw(st.text(max_size=40))
    return f"<html><body>{noise}{''.join(blocks)}<p>{noise}</body>".encode("utf-8", "replace")


@FUZZ
@given(page=garbled(html_pages()))
def test_any_html_page_gives_jsonld_events_categorized_errors_or_one_feed_error(
    tmp_path: Path, page: bytes
) -> None:
    path = tmp_path / "page.html"
    path.write_bytes(page)
    source = SourceConfig(id="fuzz_ld", name="Fuzzed page", kind="jsonld", url=path.as_uri())
    assert_events_or_categorized_errors(source)


@FUZZ
@given(feed=garbled(csv_feeds()), delimiter=st.sampled_from([";", "\t", "|"]))
def test_any_headerless_csv_with_any_delimiter_gives_one_outcome_per_row_or_a_feed_error(
    tmp_path: Path, feed: bytes, delimiter: str
) -> None:
    body = feed.split(b"\n", 1)[-1] if b"\n" in feed else feed  # no header row
    path = tmp_path / "feed.csv"
    path.write_bytes(body.replace(b",", delimiter.encode()))
    source = SourceConfig(
        id="fuzz_csv",
        name="Fuzzed CSV",
        kind="csv",
        url=path.as_uri(),
        header=False,
        fields={"external_id": [0, 1], "title": 1, "starts_at": 2, "venue_name": 4},
    )
    assert_events_or_categorized_errors(source)


SCRAPED: list[Any] = []
SCRAPER_ERRORS = st.sampled_from(
    [None, RuntimeError("upstream said no: token=abc123XYZ"), KeyError("start"), MemoryError()]
)


def fuzzed_scraper(source: SourceConfig) -> Iterator[Any]:
    """A python source's callable: yields what the test put in SCRAPED, then maybe raises."""
    *items, error = SCRAPED
    yield from items
    if error is not None:
        raise error


# A python source hands over records in our field names, or anything else.
SCRAPED_ITEMS = st.lists(
    st.fixed_dictionaries(
        {"external_id": st.text(min_size=1, max_size=8) | JSON_VALUES},
        optional={
            name: JSON_VALUES | st.sampled_from(ODD_DATES)
            for name in FIELDS
            if name != "external_id"
        },
    )
    | JSON_VALUES,
    max_size=8,
)


@FUZZ
@given(items=SCRAPED_ITEMS, error=SCRAPER_ERRORS)
def test_any_python_source_gives_events_categorized_errors_or_one_feed_error(
    items: list[Any], error: BaseException | None
) -> None:
    SCRAPED[:] = [*items, error]
    source = SourceConfig(
        id="fuzz_python",
        name="Fuzzed scraper",
        kind=SourceKind.PYTHON,
        callable=f"{__name__}:fuzzed_scraper",
    )
    assert_events_or_categorized_errors(source)


def test_fuzzed_scrapes_keep_counts_events_and_failure_rows_consistent(
    engine: sa.Engine, tmp_path: Path
) -> None:
    examples = 30 if engine.dialect.name == "sqlite" else 8

    @settings(FUZZ, max_examples=examples)
    @given(kind=st.sampled_from([SourceKind.JSON, SourceKind.CSV]), data=st.data())
    def check(kind: SourceKind, data: st.DataObject) -> None:
        feed = data.draw(JSON_FEEDS if kind is SourceKind.JSON else garbled(csv_feeds()))
        path = tmp_path / f"feed.{kind}"
        path.write_bytes(feed)
        source = feed_source(kind, path)
        scrape = SourceScrape(source, engine, run_id=uuid.uuid4().hex, now=NOW)
        with contextlib.suppress(FeedError):  # what was gathered is written all the same
            scrape.run()
        outcome = scrape.outcome
        assert stored(engine, source.id) == (outcome.succeeded, outcome.failed, outcome.failed)

    check()


def stored(engine: sa.Engine, source_id: str) -> tuple[int, int, int]:
    """(events, failure occurrences, per-day occurrences) stored for `source_id`."""
    failures, days = discovery_event_failures, discovery_event_failure_days
    with engine.connect() as connection:
        return (
            connection.execute(
                sa.select(sa.func.count()).where(events_table.c.source_id == source_id)
            ).scalar_one(),
            connection.execute(
                sa.select(sa.func.coalesce(sa.func.sum(failures.c.occurrence_count), 0)).where(
                    failures.c.source_id == source_id
                )
            ).scalar_one(),
            connection.execute(
                sa.select(sa.func.coalesce(sa.func.sum(days.c.occurrences), 0)).where(
                    days.c.source_id == source_id
                )
            ).scalar_one(),
        )


def test_json_nested_deeper_than_any_feed_fails_fast_as_a_parsing_error(tmp_path: Path) -> None:
    """100 KB of `[`: the parser's bookkeeping grows with depth squared (gigabytes here)."""
    path = tmp_path / "feed.json"
    path.write_bytes(b'{"data": {"events": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}}")
    try:
        list(read_records(feed_source(SourceKind.JSON, path)))
    except FeedError as error:
        assert error.category is ErrorCategory.PARSING
        assert error.message == "invalid JSON: nested more than 256 levels deep"
    else:
        raise AssertionError("a 100,000-deep document was read")
