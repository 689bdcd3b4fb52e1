from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from failtrack_pipeline.db.schema import events as events_table
from failtrack_pipeline.errors import ErrorCategory, EventError, FeedError
from failtrack_pipeline.processing.errors import (
    DuplicateEventError,
    ImplausibleEventError,
    InvalidCoordinatesError,
    InvalidDateError,
    InvalidFieldError,
    InvalidUrlError,
    MissingFieldError,
    PerformerError,
    UnknownCategoryError,
    VenueError,
)
from failtrack_pipeline.processing.events import EVENT_FIELDS, KNOWN_CATEGORIES, Event
from failtrack_pipeline.processing.validate import process_records, to_event
from failtrack_pipeline.sources.readers import read_records
from failtrack_pipeline.sources.registry import DEMO_SOURCES_FILE, SourceConfig, load_sources

NOW = datetime(2026, 11, 25, tzinfo=UTC)
SOURCE = SourceConfig(
    id="src",
    name="Source",
    kind="python",
    callable="scrapers:fetch",
    timezone="Europe/Amsterdam",
    category_map={"Gig": "music"},
)
VALID: dict[str, Any] = {
    "external_id": "e-1",
    "title": "Jazz night",
    "starts_at": "2027-03-01T20:00:00",
    "ends_at": "2027-03-01T23:00:00",
    "venue_name": "Blue Room",
    "venue_address": "Main St 1",
    "latitude": 52.37,
    "longitude": 4.89,
    "category": "music",
    "performers": ["Trio"],
    "url": "https://example.org/e-1",
}
DROP = object()


def record(**changes: Any) -> dict[str, Any]:
    """VALID with `changes` applied (DROP removes a field)."""
    raw = dict(VALID)
    for field, value in changes.items():
        if value is DROP:
            del raw[field]
        else:
            raw[field] = value
    return raw


def test_a_valid_record_becomes_an_event_in_utc_with_cleaned_values() -> None:
    raw = record(
        external_id=" 991 ",
        title="  Jazz \n\t night\x00 ",
        performers="Trio; Guest, Trio",
        category=" GIG ",
        latitude="52.37",
    )
    assert to_event(raw, SOURCE, now=NOW) == Event(
        source_id="src",
        external_id="991",
        title="Jazz night",
        starts_at=datetime(2027, 3, 1, 19, tzinfo=UTC),
        ends_at=datetime(2027, 3, 1, 22, tzinfo=UTC),
        venue_name="Blue Room",
        venue_address="Main St 1",
        latitude=52.37,
        longitude=4.89,
        category="music",
        performers=("Trio", "Guest"),
        url="https://example.org/e-1",
    )


AMSTERDAM = ZoneInfo("Europe/Amsterdam")
ACCEPTED = [
    pytest.param("external_id", 12345, "12345", id="int-id"),
    pytest.param("starts_at", "2027-03-01 20:00", datetime(2027, 3, 1, 19, tzinfo=UTC), id="naive"),
    pytest.param("starts_at", "2027-03-01T20:00+02:00", datetime(2027, 3, 1, 18, tzinfo=UTC), id="offset"),
    pytest.param("starts_at", "March 1, 2027 8:30pm", datetime(2027, 3, 1, 19, 30, tzinfo=UTC), id="prose"),
    pytest.param("starts_at", "20270301T200000Z", datetime(2027, 3, 1, 20, tzinfo=UTC), id="basic"),
    pytest.param("starts_at", date(2027, 3, 1), datetime(2027, 2, 28, 23, tzinfo=UTC), id="date"),
    pytest.param(
        "starts_at",
        datetime(2027, 7, 1, 20, tzinfo=ZoneInfo("America/New_York")),
        datetime(2027, 7, 2, 0, tzinfo=UTC),
        id="aware",
    ),
    pytest.param("starts_at", datetime(2027, 7, 1, 20), datetime(2027, 7, 1, 18, tzinfo=UTC), id="dt"),
    pytest.param("starts_at", NOW - timedelta(days=364), NOW - timedelta(days=364), id="recent-past"),
    pytest.param("ends_at", None, None, id="no-end"),
    pytest.param("ends_at", "", None, id="blank-end"),
    pytest.param("ends_at", "2027-03-01T20:00:00", datetime(2027, 3, 1, 19, tzinfo=UTC), id="zero-length"),
    pytest.param("venue_name", DROP, None, id="address-only"),
    pytest.param("latitude", "-90", -90.0, id="south-pole"),
    pytest.param("longitude", 180, 180.0, id="antimeridian"),
    pytest.param("category", "Theatre", "theatre", id="category-case"),
    pytest.param("category", "", None, id="no-category"),
    pytest.param("performers", None, (), id="no-performers"),
    pytest.param("performers", "A, B;C ;", ("A", "B", "C"), id="performer-text"),
    pytest.param("performers", ["A", " B ", "A", ""], ("A", "B"), id="performer-list"),
    pytest.param("url", "HTTP://Example.org/x?y=1", "HTTP://Example.org/x?y=1", id="url"),
    pytest.param("url", "  ", None, id="no-url"),
]


@pytest.mark.parametrize(("field", "value", "expected"), ACCEPTED)
def test_an_accepted_value_is_normalized(field: str, value: Any, expected: Any) -> None:
    raw = record(**{field: value})
    if field == "starts_at":
        raw["ends_at"] = None
    assert getattr(to_event(raw, SOURCE, now=NOW), field) == expected


def test_naive_times_are_utc_when_the_source_names_no_timezone() -> None:
    source = SourceConfig(id="utc", name="UTC", kind="python", callable="scrapers:fetch")
    event = to_event(record(starts_at="2027-03-01 20:00", ends_at=None), source, now=NOW)
    assert event.starts_at == datetime(2027, 3, 1, 20, tzinfo=UTC)


V, Q, C = ErrorCategory.VALIDATION, ErrorCategory.DATA_QUALITY, ErrorCategory.GEOCODING
REJECTED = [
    # external_id
    pytest.param({"external_id": DROP}, MissingFieldError, V, "external_id missing", id="no-id"),
    pytest.param({"external_id": " \t"}, MissingFieldError, V, "external_id missing", id="blank-id"),
    pytest.param({"external_id": 1.5}, InvalidFieldError, V, "external_id must be text, got float", id="float-id"),
    pytest.param({"external_id": True}, InvalidFieldError, V, "external_id must be text, got bool", id="bool-id"),
    pytest.param({"external_id": "x" * 201}, InvalidFieldError, V, "external_id longer than 200 characters", id="long-id"),
    # title
    pytest.param({"title": DROP}, MissingFieldError, V, "title missing", id="no-title"),
    pytest.param({"title": ""}, MissingFieldError, V, "title missing", id="empty-title"),
    pytest.param({"title": " \n\x00\x07 "}, MissingFieldError, V, "title missing", id="control-title"),
    pytest.param({"title": {"en": "Jazz"}}, InvalidFieldError, V, "title must be text, got dict", id="dict-title"),
    pytest.param({"title": "t" * 501}, InvalidFieldError, V, "title longer than 500 characters", id="long-title"),
    # dates
    pytest.param({"starts_at": DROP}, MissingFieldError, V, "starts_at missing", id="no-start"),
    pytest.param({"starts_at": " "}, MissingFieldError, V, "starts_at missing", id="blank-start"),
    pytest.param({"starts_at": "2024-13-45"}, InvalidDateError, V, "Invalid date '2024-13-45' for starts_at", id="month-13"),
    pytest.param({"starts_at": "2027-02-30 18:00"}, InvalidDateError, V, "Invalid date '2027-02-30 18:00' for starts_at", id="feb-30"),
    pytest.param({"starts_at": "tomorrow-ish"}, InvalidDateError, V, "Invalid date 'tomorrow-ish' for starts_at", id="prose"),
    pytest.param({"starts_at": "9" * 120}, InvalidDateError, V, f"Invalid date '{'9' * 60}…' for starts_at", id="huge"),
    pytest.param({"starts_at": 1_800_000_000}, InvalidDateError, V, "starts_at must be a date, got int", id="epoch"),
    pytest.param({"starts_at": "9999-12-31T23:00-05:00"}, InvalidDateError, V, "Invalid date '9999-12-31T23:00-05:00' for starts_at", id="overflow"),
    pytest.param({"ends_at": "soon"}, InvalidDateError, V, "Invalid date 'soon' for ends_at", id="bad-end"),
    pytest.param({"ends_at": ["2027"]}, InvalidDateError, V, "ends_at must be a date, got list", id="list-end"),
    # plausibility
    pytest.param({"ends_at": "2027-03-01T19:59:59"}, ImplausibleEventError, Q, "ends_at before starts_at", id="end-first"),
    pytest.param(
        {"starts_at": NOW - timedelta(days=365, seconds=1), "ends_at": None},
        ImplausibleEventError, Q, "starts_at more than 365 days in the past", id="far-past",
    ),
    pytest.param(
        {"starts_at": NOW + timedelta(days=5 * 365, seconds=1), "ends_at": None},
        ImplausibleEventError, Q, "starts_at more than 5 years in the future", id="far-future",
    ),
    # venue
    pytest.param({"venue_name": DROP, "venue_address": DROP}, VenueError, ErrorCategory.VENUE, "venue missing", id="no-venue"),
    pytest.param({"venue_name": " ", "venue_address": None}, VenueError, ErrorCategory.VENUE, "venue missing", id="blank-venue"),
    pytest.param({"venue_name": {"name": "Hall"}}, VenueError, ErrorCategory.VENUE, "venue_name must be text, got dict", id="dict-venue"),
    # coordinates
    pytest.param({"latitude": 123.4}, InvalidCoordinatesError, C, "latitude 123.4 out of range", id="lat-range"),
    pytest.param({"longitude": "-180.5"}, InvalidCoordinatesError, C, "longitude -180.5 out of range", id="lon-range"),
    pytest.param({"latitude": "north"}, InvalidCoordinatesError, C, "latitude 'north' is not a number", id="lat-text"),
    pytest.param({"latitude": math.nan}, InvalidCoordinatesError, C, "latitude must be a finite number, got nan", id="nan"),
    pytest.param({"longitude": "-inf"}, InvalidCoordinatesError, C, "longitude must be a finite number, got -inf", id="inf"),
    pytest.param({"latitude": 10**400}, InvalidCoordinatesError, C, "latitude must be a finite number, got inf", id="huge-int"),
    pytest.param({"latitude": True}, InvalidCoordinatesError, C, "latitude must be a number, got bool", id="bool-lat"),
    pytest.param({"latitude": [52.3]}, InvalidCoordinatesError, C, "latitude must be a number, got list", id="list-lat"),
    pytest.param({"longitude": DROP}, InvalidCoordinatesError, C, "latitude without longitude", id="no-lon"),
    pytest.param({"latitude": ""}, InvalidCoordinatesError, C, "longitude without latitude", id="no-lat"),
    # category, performers, url
    pytest.param({"category": "karaoke"}, UnknownCategoryError, ErrorCategory.CATEGORY, "unknown category 'karaoke'", id="category"),
    pytest.param({"category": ["music"]}, UnknownCategoryError, ErrorCategory.CATEGORY, "category must be text, got list", id="list-category"),
    pytest.param({"performers": {"name": "Trio"}}, PerformerError, ErrorCategory.PERFORMER, "performers must be text or a list of texts, got dict", id="dict-performers"),
    pytest.param({"performers": [{"name": "Trio"}, 3]}, PerformerError, ErrorCategory.PERFORMER, "performers must be text or a list of texts, got list of dict, int", id="nested-performers"),
    pytest.param({"performers": 7}, PerformerError, ErrorCategory.PERFORMER, "performers must be text or a list of texts, got int", id="int-performers"),
    pytest.param({"url": "ftp://example.org/e"}, InvalidUrlError, V, "url 'ftp://example.org/e' is not an http(s) URL", id="ftp"),
    pytest.param({"url": "www.example.org"}, InvalidUrlError, V, "url 'www.example.org' is not an http(s) URL", id="no-scheme"),
    pytest.param({"url": "http://[::1"}, InvalidUrlError, V, "url 'http://[::1' is not an http(s) URL", id="bad-ipv6"),
    pytest.param({"url": 42.0}, InvalidUrlError, V, "url must be text, got float", id="float-url"),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "error_type", "category", "message"), REJECTED)
def test_a_record_breaking_a_rule_raises_that_rules_typed_error(
    changes: dict[str, Any], error_type: type[EventError], category: ErrorCategory, message: str
) -> None:
    with pytest.raises(EventError) as raised:
        to_event(record(**changes), SOURCE, now=NOW)
    error = raised.value
    assert (type(error), error.category, error.message) == (error_type, category, message)
    known_id = "external_id" not in changes
    assert error.external_id == ("e-1" if known_id else None)


def test_process_records_yields_events_and_errors_and_flags_later_duplicates() -> None:
    reader_error = EventError("line 3 is not valid UTF-8", category=ErrorCategory.PARSING)
    records = [
        record(external_id="a"),
        record(external_id="b", title=""),
        reader_error,
        record(external_id="b"),
        record(external_id="a", title="Encore"),
        record(external_id=" a "),
    ]
    items = list(process_records(records, SOURCE, now=NOW))
    assert [type(item) for item in items] == [
        Event,
        MissingFieldError,
        EventError,
        Event,
        DuplicateEventError,
        DuplicateEventError,
    ]
    assert items[2] is reader_error
    duplicate = items[4]
    assert (duplicate.category, duplicate.message, duplicate.external_id) == (
        ErrorCategory.DATA_INTEGRITY,
        "duplicate external_id 'a'",
        "a",
    )


def test_an_events_row_fills_the_events_table_columns() -> None:
    row = to_event(record(), SOURCE, now=NOW).as_row()
    set_by_the_store = {"first_seen_at", "updated_at", "last_run_id"}
    assert set(row) == {column.name for column in events_table.columns} - set_by_the_store
    assert row["performers"] == ["Trio"]
    assert set(EVENT_FIELDS) == set(row) - {"source_id"}


# Anything a feed or a scraper could hand over, garbage included.
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(),
    st.text(st.characters(codec=None, exclude_categories=())),  # controls and surrogates
    st.binary(max_size=20),
    st.dates(),
    st.datetimes(timezones=st.none() | st.timezones()),
    st.datetimes().map(str),
    st.from_regex(r"\d{4}-\d{1,2}-\d{1,2}([T ]\d{1,2}:\d{2}(:\d{2})?)?([+-]\d{2}:\d{2}|Z)?", fullmatch=True),
    st.sampled_from(
        ["nan", "-inf", "1e999", "2024-13-45", "\x00" * 10, "\ud800", "karaoke", "ftp://x.org",
         "http://[::1", " ; , ", *sorted(KNOWN_CATEGORIES)]
    ),
    st.integers(0, 3).map(lambda n: "x" * 100_000 + "9" * n),  # built, so never printed whole
    st.integers(0, 3).map(lambda n: 10 ** (5000 + n)),
)  # fmt: skip
ANY_VALUE = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3),
    max_leaves=6,
)  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=st.sampled_from([{}, VALID]), changes=st.dictionaries(st.sampled_from(EVENT_FIELDS), ANY_VALUE))
def test_any_record_becomes_an_event_or_an_event_error_and_nothing_else(
    base: dict[str, Any], changes: dict[str, Any]
) -> None:
    try:
        event = to_event(base | changes, SOURCE, now=NOW)
    except EventError as error:
        assert error.category in ErrorCategory
        assert 0 < len(error.message) < 200
        return
    assert event.starts_at.utcoffset() == timedelta(0)
    assert 0 < len(event.title) <= 500 and 0 < len(event.external_id) <= 200
    assert event.category is None or event.category in KNOWN_CATEGORIES
    assert event.venue_name or event.venue_address
    assert all(isinstance(name, str) and name for name in event.performers)


def demo_outcome(source_id: str) -> tuple[int, int, Counter[tuple[str, str]]]:
    source = load_sources(DEMO_SOURCES_FILE).get(source_id)
    items = list(process_records(read_records(source), source, now=NOW))
    failures = Counter(
        (item.category.value, item.message) for item in items if isinstance(item, EventError)
    )
    return len(items), len(items) - failures.total(), failures


DEMO_OUTCOMES = {
    "city_concerts": (30, 25, {
        ("validation_error", "title missing"): 3,
        ("category_error", "unknown category 'karaoke'"): 1,
        ("data_quality_error", "starts_at more than 365 days in the past"): 1,
    }),
    "metro_meetups": (20, 17, {
        ("validation_error", "Invalid date '2024-13-45' for starts_at"): 1,
        ("validation_error", "Invalid date '20270231T183000' for starts_at"): 1,
        ("data_quality_error", "ends_at before starts_at"): 1,
    }),
    "riverside_theatre": (25, 21, {
        ("geocoding_error", "latitude 152.3 out of range"): 1,
        ("geocoding_error", "longitude 212.8 out of range"): 1,
        ("data_integrity_error", "duplicate external_id 'rt-3011'"): 1,
        ("venue_error", "venue missing"): 1,
    }),
    "harbour_festival": (12, 12, {}),
    "box_office": (10, 8, {
        ("performer_error", "performers must be text or a list of texts, got dict"): 1,
        ("validation_error", "url 'ftp://files.boxoffice.example/listings/7007.pdf' is not an http(s) URL"): 1,
    }),
    "legacy_listings": (4, 0, {("data_quality_error", "starts_at more than 365 days in the past"): 4}),
}  # fmt: skip


@pytest.mark.parametrize("source_id", DEMO_OUTCOMES)
def test_each_readable_demo_source_has_its_planted_faults(source_id: str) -> None:
    processed, succeeded, failures = DEMO_OUTCOMES[source_id]
    assert demo_outcome(source_id) == (processed, succeeded, Counter(failures))


def test_the_broken_demo_feeds_fail_whole_for_the_planted_reason() -> None:
    with pytest.raises(FeedError) as broken:
        demo_outcome("broken_json_feed")
    assert broken.value.category is ErrorCategory.PARSING
    assert broken.value.message.startswith("invalid JSON: Unterminated string")
    with pytest.raises(httpx.ConnectError):
        demo_outcome("offline_calendar")
