"""The scrape's shortcuts give the answers of the general code they stand in for (issue 21).

Each shortcut is fuzzed against what it skips: a plain dotted path's direct walk against
JMESPath's interpreter, the clean-text test against the cleaning regex, the plain-URL
pattern against urlsplit, the kept date and performers readings against fresh ones,
UTCDateTime's one-step SQLite text against the text SQLAlchemy's own DATETIME makes,
coverage counted by C loops against a test per field and event, a JSON number's shortcut to
float against its exponent, the events' rows with remembered conversions against rows
converted afresh, the records' list parsed in C against the reader that saw every parse
event, and a CSV row zipped with its field names against the record its paths make.
"""

from __future__ import annotations

import io
import json
import operator
from dataclasses import astuple
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from unittest import mock
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import ijson
import jmespath
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from failtrack_pipeline import source_scrape
from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.base.errors import EventError, FeedError
from failtrack_pipeline.base.events import Event
from failtrack_pipeline.base.paths import _from_dotted, compile_getter
from failtrack_pipeline.config.sources_file import Pagination, SourceConfig, SourceKind
from failtrack_pipeline.db.schema import UTCDateTime
from failtrack_pipeline.db.schema import events as events_table
from failtrack_pipeline.processing import dates, validate
from failtrack_pipeline.processing.validate import _CONTROL, _PLAIN_HTTP_URL, _clean
from failtrack_pipeline.sources import readers
from failtrack_pipeline.sources.mapping import plain, record_mapper, row_mapper
from failtrack_pipeline.tracking.coverage import FieldCoverage

KEYS = st.sampled_from(["a", "b", "0", "1", "item", "Meeting Date", "x y"])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(KEYS, children, max_size=3),
    max_leaves=12,
)


@settings(max_examples=500)
@given(segments=st.lists(KEYS, min_size=1, max_size=4), document=JSON)
def test_a_plain_paths_walk_finds_what_jmespath_finds(segments: list[str], document: Any) -> None:
    path = ".".join(segments)
    assert compile_getter(path)(document) == jmespath.search(_from_dotted(path), document)


TEXT = st.text(
    alphabet=st.sampled_from(["a", "é", " ", "\t", "\n", "\x00", "\x85", "\xa0", "\u2028",
                              "\ud800", "\x9f", "\x1c", "\u3000", "字", "-"]),
    max_size=12,
) | st.text(max_size=12)  # fmt: skip


@settings(max_examples=1000)
@given(text=TEXT)
def test_clean_text_is_what_the_cleaning_regex_makes(text: str) -> None:
    assert _clean(text) == " ".join(_CONTROL.sub("", text).split())


URLS = st.builds(
    "".join,
    st.lists(
        st.sampled_from(["http", "HTTPS", "httpſ", "://", "/", "?", "#", "[", "]", "::1", "é",
                         "a.b", "@", ":80", " ", "x"]),
        max_size=7,
    ),
)  # fmt: skip


@settings(max_examples=1000)
@given(url=URLS)
def test_a_url_taken_without_urlsplit_is_one_urlsplit_accepts(url: str) -> None:
    if _PLAIN_HTTP_URL.match(url):
        parts = urlsplit(url)
        assert parts.scheme.lower() in ("http", "https") and parts.netloc


@given(text=st.sampled_from(["2027-03-01T20:00:00", "2027-03-01", "1 March 2027 24:00", "x"]))
def test_a_cached_date_reading_is_a_fresh_one(text: str) -> None:
    zone = ZoneInfo("Europe/Amsterdam")
    cached = dates.read_date(text, zone)
    assert cached == dates.read_date(text, zone)
    assert cached == dates._read_text.__wrapped__(text, zone, False, ())


@given(names=st.lists(TEXT, max_size=4) | TEXT.map(lambda text: text.replace("a", ";")))
def test_a_kept_performers_reading_is_a_fresh_one(names: list[str] | str) -> None:
    value = names if isinstance(names, str) else list(names)
    cached = validate._performers(value)
    assert validate._performers(value) == cached
    parts = validate._PERFORMER_SEPARATORS.split(names) if isinstance(names, str) else names
    assert cached == tuple(dict.fromkeys(name for name in map(_clean, parts) if name))


@given(
    moment=st.datetimes(timezones=st.just(UTC))
    | st.datetimes(
        min_value=datetime(2, 1, 1), timezones=st.just(timezone(timedelta(hours=-5, minutes=-30)))
    )
    | st.none()
)
def test_a_utc_datetime_binds_on_sqlite_as_sqlalchemy_writes_it(moment: datetime | None) -> None:
    dialect = sqlite.dialect()
    column_type = UTCDateTime().dialect_impl(dialect)
    general = sa.types.TypeDecorator.bind_processor(column_type, dialect)
    assert column_type.bind_processor(dialect)(moment) == general(moment)


AMSTERDAM = ZoneInfo("Europe/Amsterdam")
# Equal values that convert differently: wall times of the autumn fold (same zone, so equal)
# an hour apart, and numbers that JSON writes as 1, true and 1.0.
MOMENTS = st.sampled_from(
    [
        datetime(2026, 10, 25, 2, 30, tzinfo=AMSTERDAM),
        datetime(2026, 10, 25, 2, 30, tzinfo=AMSTERDAM, fold=1),
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
        datetime(2027, 3, 1, 19, 0, tzinfo=UTC),
    ]
) | st.datetimes(timezones=st.just(UTC))
PERFORMERS = st.sampled_from([(), ("",), ("a",), ("a", "b"), (1,), (True,), (1.0,)]) | st.tuples(
    st.text(max_size=3)
)
EVENTS = st.builds(
    Event,
    source_id=st.just("s"),
    external_id=st.text(min_size=1, max_size=3),
    title=st.just("t"),
    starts_at=MOMENTS,
    ends_at=st.none() | MOMENTS,
    venue_name=st.sampled_from([None, "", "Hall"]),
    venue_address=st.sampled_from([None, "", "Kade 1"]),
    latitude=st.sampled_from([None, 0.0, -0.0, 52.3]),
    longitude=st.sampled_from([None, 0.0, 4.8]),
    category=st.sampled_from([None, "", "music"]),
    performers=PERFORMERS,
    url=st.sampled_from([None, "", "https://x.org"]),
)
FILLED_BY_FIELD = {  # the rule as it read before coverage was counted by C loops
    "ends_at": lambda event: event.ends_at is not None,
    "venue_name": lambda event: bool(event.venue_name),
    "venue_address": lambda event: bool(event.venue_address),
    "coordinates": lambda event: event.latitude is not None and event.longitude is not None,
    "category": lambda event: bool(event.category),
    "performers": lambda event: bool(event.performers),
    "url": lambda event: bool(event.url),
}


@settings(max_examples=300)
@given(events=st.lists(EVENTS, max_size=8))
def test_coverage_counted_a_batch_at_a_time_is_a_test_per_field_and_event(
    events: list[Event],
) -> None:
    coverage = FieldCoverage()
    coverage.add(events[:3])
    coverage.add(events[3:])
    assert coverage.accepted == len(events)
    assert coverage.filled == {
        name: sum(map(is_filled, events)) for name, is_filled in FILLED_BY_FIELD.items()
    }


DECIMALS = st.decimals(allow_nan=False, allow_infinity=False) | st.sampled_from(
    [Decimal(text) for text in ("1e3", "0e5", "1.0", "-0.0", "10e-1", "1E400", "12.5e1", "-7")]
)


@settings(max_examples=1000)
@given(number=DECIMALS)
def test_a_json_fraction_to_float_is_what_its_exponent_makes(number: Decimal) -> None:
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)
    whole = exponent == 0 or (exponent in range(1, 30) and number.adjusted() < 30)
    expected = int(number) if whole else float(number)
    assert repr(plain(number)) == repr(expected)


@settings(max_examples=300)
@given(events=st.lists(EVENTS, max_size=12), dialect=st.sampled_from(["sqlite", "postgresql"]))
def test_rows_with_remembered_conversions_are_rows_converted_afresh(
    events: list[Event], dialect: str
) -> None:
    engine_dialect = sqlite.dialect() if dialect == "sqlite" else postgresql.psycopg.dialect()
    processors = [
        column.type.dialect_impl(engine_dialect).bind_processor(engine_dialect)
        for column in events_table.columns
    ]
    now = datetime(2026, 11, 25, tzinfo=UTC)
    fresh = [
        tuple(
            value if process is None else process(value)
            for value, process in zip(astuple(event), processors, strict=False)
        )
        for event in events
    ]
    upsert = source_scrape._EventsUpsert(engine_dialect)
    rows = upsert.rows(events, now, "run") + upsert.rows(events[::-1], now, "run")
    stamp = upsert.stamp(now)
    expected = [(*row, stamp, stamp, "run") for row in fresh + fresh[::-1]]
    assert [_comparable(row) for row in rows] == [_comparable(row) for row in expected]


def _comparable(row: tuple[Any, ...]) -> list[str]:
    """Each value's type and repr; psycopg's JSON wrapper by what it wraps (1 and True apart)."""
    return [
        f"{type(value).__name__}:{value.obj if hasattr(value, 'obj') else value!r}" for value in row
    ]


def _event_by_event_page(source: SourceConfig, stream: io.BytesIO) -> Any:
    """The JSON page reader as it was before the records' list went to C: every parse event
    through this loop, the list's too (the code the shortcut stands in for)."""
    prefix = source.records or ""
    feed = readers._JsonInput(stream)
    finish = readers._Finisher(source, feed)
    rest = ijson.ObjectBuilder() if source.pagination else None
    state, built, send, floor, depth = "before", ijson.sendable_list(), None, 0, 0
    try:
        for event in ijson.parse(feed, buf_size=readers.JSON_BUFFER_BYTES):
            feed.events += 1
            kind = event[1]
            if kind in ("start_map", "start_array"):
                depth += 1
                if depth > readers.MAX_JSON_DEPTH:
                    raise readers._too_deep()
            elif kind in ("end_map", "end_array"):
                depth -= 1
            if send is not None:
                if depth < floor:
                    state, send = "after", None
                    if rest is not None:
                        rest.event(kind, event[2])
                    continue
                send(event)
                if built:
                    if state == "object":
                        state, send = "after", None
                        if rest is not None:
                            rest.event("start_map", None)
                            rest.event("end_map", None)
                    yield finish(built.pop())
                continue
            if state == "before" and event[0] == prefix and kind != "map_key":
                if kind == "start_array":
                    item_prefix = f"{prefix}.item" if prefix else "item"
                    state, send, floor = "list", readers._ITEMS(built, item_prefix).send, depth
                elif kind == "start_map":
                    state, send, floor = "object", readers._ITEMS(built, prefix).send, depth - 1
                    send(event)
                    continue
                else:
                    holds = readers._JSON_KINDS.get(kind, kind)
                    message = f"invalid JSON feed: records path '{prefix}' holds {holds}, "
                    raise FeedError(
                        message + "not a list or an object", category=ErrorCategory.PARSING
                    )
            if rest is not None:
                rest.event(kind, event[2])
    except ijson.JSONError as exc:
        raise FeedError(
            f"invalid JSON: {readers._first_line(exc)}", category=ErrorCategory.PARSING
        ) from None
    if state == "before":
        raise FeedError(
            f"invalid JSON feed: records path '{prefix}' not found", category=ErrorCategory.PARSING
        )
    return rest.value if rest is not None else None


def _outcome(page: Any) -> tuple[list[Any], tuple[Any, ...]]:
    """What a page reader yields, then what it returns or raises."""
    items: list[Any] = []
    try:
        while True:
            item = next(page)
            if isinstance(item, EventError):
                item = (item.category, item.message, item.external_id)
            items.append(item)
    except StopIteration as stop:
        return items, ("returned", stop.value)
    except FeedError as error:
        return items, ("raised", error.category, str(error))


JSON_KEYS = st.sampled_from(["data", "events", "item", "id", "next", "x"])
JSON_TEXT = st.text(alphabet=st.sampled_from(list('ab[]{}",:\\ NaN\u00e9')), max_size=5)
DOCUMENTS = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(width=16) | JSON_TEXT,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(JSON_KEYS, children, max_size=4)
    ),
    max_leaves=30,
).map(json.dumps) | st.builds(
    '{{"data": {{"events": {}, "events": {}}}, "next": 1}}'.format,
    st.just("[]") | st.just('{"id": 1}') | st.just('[{"id": 2}]'),
    st.just('[{"id": 3}]') | st.just("4"),
)
BREAKS = st.sampled_from([b"[", b"]", b"{", b"}", b'"', b"\\", b",", b"NaN", b"x", b"[" * 9])


@settings(max_examples=2000, deadline=None)
@given(
    document=DOCUMENTS,
    records=st.sampled_from(["", "data", "data.events", "events", "item"]),
    cut=st.none() | st.integers(0, 300),
    broken=st.none() | st.tuples(st.integers(0, 300), BREAKS),
    buffer=st.sampled_from([1, 2, 3, 5, 8, 64, 4096]),
    depth=st.sampled_from([2, 3, 4, 6, 256]),
    paged=st.booleans(),
)
def test_a_records_list_parsed_in_c_reads_as_event_by_event(
    document: str,
    records: str,
    cut: int | None,
    broken: tuple[int, bytes] | None,
    buffer: int,
    depth: int,
    paged: bool,
) -> None:
    raw = document.encode()
    if broken is not None:
        raw = raw[: broken[0]] + broken[1] + raw[broken[0] :]
    if cut is not None:
        raw = raw[:cut]
    source = SourceConfig(
        id="feed",
        name="Feed",
        kind=SourceKind.JSON,
        url="https://feed.example/",
        records=records,
        fields={"external_id": "id", "title": "x", "starts_at": "x"},
        pagination=Pagination(next="next") if paged else None,
    )
    with (
        mock.patch.object(readers, "JSON_BUFFER_BYTES", buffer),
        mock.patch.object(readers, "MAX_JSON_DEPTH", depth),
    ):
        expected = _outcome(_event_by_event_page(source, io.BytesIO(raw)))
        assert _outcome(readers._json_page(source, io.BytesIO(raw))) == expected


CELLS = st.lists(st.text(alphabet="ab ,é", max_size=3), min_size=4, max_size=4)
FIELD_PATHS = st.dictionaries(
    st.sampled_from(["external_id", "title", "starts_at", "venue_name", "url"]),
    st.integers(0, 3) | st.lists(st.integers(0, 3), min_size=1, max_size=3),
    max_size=5,
)


@settings(max_examples=500)
@given(fields=FIELD_PATHS, row=CELLS)
def test_a_csv_row_zipped_with_its_names_is_the_record_its_paths_make(
    fields: dict[str, Any], row: list[str]
) -> None:
    by_paths = record_mapper(fields, lambda path: operator.itemgetter(path))
    assert row_mapper(fields, lambda path: path)(row) == by_paths(row)
