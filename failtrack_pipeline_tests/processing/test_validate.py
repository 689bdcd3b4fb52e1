from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.base.categorize import categorize
from failtrack_pipeline.base.errors import EventError, FeedError
from failtrack_pipeline.base.events import (
    EVENT_FIELDS,
    KNOWN_CATEGORIES,
    READ_ONLY_FIELDS,
    Event,
)
from failtrack_pipeline.config.sources_file import (
    DEMO_SOURCES_FILE,
    SourceConfig,
    SourceKind,
    load_sources,
)
from failtrack_pipeline.db.schema import events as events_table
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
from failtrack_pipeline.processing.skips import Skip, SkipCause
from failtrack_pipeline.processing.validate import process_records, to_event
from failtrack_pipeline.sources.readers import RawRecord, read_records

NOW = datetime(2026, 11, 25, tzinfo=UTC)
SOURCE = SourceConfig(
    id="src",
    name="Source",
    kind=SourceKind.PYTHON,
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
    pytest.param(
        "starts_at", "2027-03-01T20:00+02:00", datetime(2027, 3, 1, 18, tzinfo=UTC), id="offset"
    ),
    pytest.param(
        "starts_at", "March 1, 2027 8:30pm", datetime(2027, 3, 1, 19, 30, tzinfo=UTC), id="prose"
    ),
    pytest.param("starts_at", "20270301T200000Z", datetime(2027, 3, 1, 20, tzinfo=UTC), id="basic"),
    pytest.param("starts_at", date(2027, 3, 1), datetime(2027, 2, 28, 23, tzinfo=UTC), id="date"),
    pytest.param(
        "starts_at",
        datetime(2027, 7, 1, 20, tzinfo=ZoneInfo("America/New_York")),
        datetime(2027, 7, 2, 0, tzinfo=UTC),
        id="aware",
    ),
    pytest.param(
        "starts_at", datetime(2027, 7, 1, 20), datetime(2027, 7, 1, 18, tzinfo=UTC), id="dt"
    ),
    pytest.param("starts_at", NOW + timedelta(minutes=1), NOW + timedelta(minutes=1), id="soon"),
    pytest.param("ends_at", None, None, id="no-end"),
    pytest.param("ends_at", "", None, id="blank-end"),
    pytest.param(
        "ends_at", "2027-03-01T20:00:00", datetime(2027, 3, 1, 19, tzinfo=UTC), id="zero-length"
    ),
    pytest.param("venue_name", DROP, None, id="address-only"),
    pytest.param("latitude", "-90", -90.0, id="south-pole"),
    pytest.param("longitude", 180, 180.0, id="antimeridian"),
    pytest.param("category", "Theatre", "theatre", id="category-case"),
    pytest.param("category", "", None, id="no-category"),
    pytest.param("title", "Jazz\ud800 night\x00", "Jazz night", id="surrogate-title"),
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
    source = SourceConfig(id="utc", name="UTC", kind=SourceKind.PYTHON, callable="scrapers:fetch")
    event = to_event(record(starts_at="2027-03-01 20:00", ends_at=None), source, now=NOW)
    assert event.starts_at == datetime(2027, 3, 1, 20, tzinfo=UTC)


# Each rule family's error class and the category it stands for.
CATEGORY_OF: dict[type[EventError], ErrorCategory] = {
    MissingFieldError: ErrorCategory.VALIDATION,
    InvalidFieldError: ErrorCategory.VALIDATION,
    InvalidDateError: ErrorCategory.VALIDATION,
    InvalidUrlError: ErrorCategory.VALIDATION,
    ImplausibleEventError: ErrorCategory.DATA_QUALITY,
    InvalidCoordinatesError: ErrorCategory.GEOCODING,
    VenueError: ErrorCategory.VENUE,
    PerformerError: ErrorCategory.PERFORMER,
    UnknownCategoryError: ErrorCategory.CATEGORY,
    DuplicateEventError: ErrorCategory.DATA_INTEGRITY,
}


def rejected(name: str, error_type: type[EventError], message: str, **changes: Any) -> Any:
    return pytest.param(changes, error_type, message, id=name)


PERFORMERS = "performers must be text or a list of texts, got"
REJECTED = [
    rejected("no-id", MissingFieldError, "external_id missing", external_id=DROP),
    rejected(
        "5000-digit-date",
        InvalidDateError,
        "Invalid date 'a number of about 5001 digits' for starts_at",
        starts_at=10**5000,
    ),
    rejected("blank-id", MissingFieldError, "external_id missing", external_id=" \t"),
    rejected("float-id", InvalidFieldError, "external_id must be text, got float", external_id=1.5),
    rejected("bool-id", InvalidFieldError, "external_id must be text, got bool", external_id=True),
    rejected(
        "long-id",
        InvalidFieldError,
        "external_id must be at most 200 characters",
        external_id="x" * 201,
    ),
    rejected(
        "zone-name-too-long-for-a-file",
        InvalidFieldError,
        f"unknown time zone 'Europe/{'x' * 53}…'",
        timezone="Europe/" + "x" * 300,
    ),
    rejected("no-title", MissingFieldError, "title missing", title=DROP),
    rejected("empty-title", MissingFieldError, "title missing", title=""),
    rejected("control-title", MissingFieldError, "title missing", title=" \n\x00\x07 "),
    rejected("dict-title", InvalidFieldError, "title must be text, got dict", title={"en": "Jazz"}),
    rejected(
        "long-title", InvalidFieldError, "title must be at most 500 characters", title="t" * 501
    ),
    rejected("no-start", MissingFieldError, "starts_at missing", starts_at=DROP),
    rejected("blank-start", MissingFieldError, "starts_at missing", starts_at=" "),
    rejected(
        "month-13",
        InvalidDateError,
        "Invalid date '2024-13-45' for starts_at",
        starts_at="2024-13-45",
    ),
    rejected(
        "feb-30",
        InvalidDateError,
        "Invalid date '2027-02-30 18:00' for starts_at",
        starts_at="2027-02-30 18:00",
    ),
    rejected(
        "prose",
        InvalidDateError,
        "Invalid date 'tomorrow-ish' for starts_at",
        starts_at="tomorrow-ish",
    ),
    rejected(
        "huge", InvalidDateError, f"Invalid date '{'9' * 60}…' for starts_at", starts_at="9" * 120
    ),
    rejected("bool-date", InvalidDateError, "starts_at must be a date, got bool", starts_at=True),
    rejected(
        "imprecise",
        InvalidDateError,
        "Invalid date 'APR 2027' for starts_at: imprecise",
        starts_at="APR 2027",
    ),
    rejected(
        "overflow",
        InvalidDateError,
        "Invalid date '9999-12-31T23:00-05:00' for starts_at",
        starts_at="9999-12-31T23:00-05:00",
    ),
    rejected("bad-end", InvalidDateError, "Invalid date 'soon' for ends_at", ends_at="soon"),
    rejected("list-end", InvalidDateError, "ends_at must be a date, got list", ends_at=["2027"]),
    rejected(
        "end-first",
        ImplausibleEventError,
        "ends_at before starts_at",
        ends_at="2027-03-01T19:59:59",
    ),
    rejected(
        "before-1990",
        ImplausibleEventError,
        "starts_at implausible: before 1990",
        starts_at="1989-12-31T23:59:59Z",
        ends_at=None,
    ),
    rejected(
        "far-future",
        ImplausibleEventError,
        "starts_at too far in the future: more than 5 years ahead",
        starts_at=NOW + timedelta(days=5 * 365, seconds=1),
        ends_at=None,
    ),
    rejected("no-venue", VenueError, "venue missing", venue_name=DROP, venue_address=DROP),
    rejected("blank-venue", VenueError, "venue missing", venue_name=" ", venue_address=None),
    rejected(
        "dict-venue", VenueError, "venue_name must be text, got dict", venue_name={"name": "Hall"}
    ),
    rejected("lat-range", InvalidCoordinatesError, "latitude 123.4 out of range", latitude=123.4),
    rejected(
        "lon-range", InvalidCoordinatesError, "longitude -180.5 out of range", longitude="-180.5"
    ),
    rejected(
        "lat-text", InvalidCoordinatesError, "latitude 'north' is not a number", latitude="north"
    ),
    rejected(
        "nan",
        InvalidCoordinatesError,
        "latitude must be a finite number, got nan",
        latitude=math.nan,
    ),
    rejected(
        "inf",
        InvalidCoordinatesError,
        "longitude must be a finite number, got -inf",
        longitude="-inf",
    ),
    rejected(
        "huge-int",
        InvalidCoordinatesError,
        "latitude must be a finite number, got inf",
        latitude=10**400,
    ),
    rejected(
        "bool-lat", InvalidCoordinatesError, "latitude must be a number, got bool", latitude=True
    ),
    rejected(
        "list-lat", InvalidCoordinatesError, "latitude must be a number, got list", latitude=[52.3]
    ),
    rejected("no-lon", InvalidCoordinatesError, "latitude without longitude", longitude=DROP),
    rejected("no-lat", InvalidCoordinatesError, "longitude without latitude", latitude=""),
    rejected("category", UnknownCategoryError, "unknown category 'karaoke'", category="karaoke"),
    rejected(
        "list-category", UnknownCategoryError, "unknown category 'karaoke'", category=["karaoke"]
    ),
    rejected(
        "dict-category", UnknownCategoryError, "category must be text, got dict", category={"a": 1}
    ),
    rejected("dict-performers", PerformerError, f"{PERFORMERS} dict", performers={"name": "Trio"}),
    rejected(
        "nested-performers",
        PerformerError,
        f"{PERFORMERS} list of dict, int",
        performers=[{"name": "Trio"}, 3],
    ),
    rejected("int-performers", PerformerError, f"{PERFORMERS} int", performers=7),
    rejected(
        "ftp",
        InvalidUrlError,
        "url 'ftp://example.org/e' must be an http(s) URL",
        url="ftp://example.org/e",
    ),
    rejected(
        "no-scheme",
        InvalidUrlError,
        "url 'www.example.org' must be an http(s) URL",
        url="www.example.org",
    ),
    rejected(
        "bad-ipv6", InvalidUrlError, "url 'http://[::1' must be an http(s) URL", url="http://[::1"
    ),
    rejected("float-url", InvalidUrlError, "url must be text, got float", url=42.0),
]


@pytest.mark.parametrize(("changes", "error_type", "message"), REJECTED)
def test_a_record_breaking_a_rule_raises_that_rules_typed_error(
    changes: dict[str, Any], error_type: type[EventError], message: str
) -> None:
    with pytest.raises(EventError) as raised:
        to_event(record(**changes), SOURCE, now=NOW)
    error = raised.value
    assert (type(error), error.message) == (error_type, message)
    assert error.category is CATEGORY_OF[error_type]
    known_id = "external_id" not in changes
    assert error.external_id == ("e-1" if known_id else None)


@pytest.mark.parametrize(("changes", "error_type", "message"), REJECTED)
def test_a_rule_message_alone_still_gets_its_category_from_the_default_rules(
    changes: dict[str, Any], error_type: type[EventError], message: str
) -> None:
    # What survives when only the text of an error is left (Dagster's serialized errors).
    assert categorize(message) is CATEGORY_OF[error_type]


@pytest.mark.parametrize(("error_type", "category"), CATEGORY_OF.items())
def test_each_error_class_carries_its_category(
    error_type: type[EventError], category: ErrorCategory
) -> None:
    assert error_type("x").category is category


def test_process_records_yields_events_and_errors_and_flags_later_duplicates() -> None:
    reader_error = EventError("invalid CSV line 3: not UTF-8", category=ErrorCategory.PARSING)
    records: list[RawRecord | EventError] = [
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
    assert isinstance(duplicate, EventError)
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
    assert set(EVENT_FIELDS) == set(row) - {"source_id"} | set(READ_ONLY_FIELDS)


IGNORING = SOURCE.model_copy(update={"ignored_categories": frozenset({"gig", "sports"})})
SKIPPED = [
    pytest.param(SOURCE, {"status": " Cancelled "}, SkipCause.CANCELLED, id="cancelled"),
    pytest.param(SOURCE, {"status": "CANCELED"}, SkipCause.CANCELLED, id="canceled"),
    # Skips are judged before validation: a cancelled record is never a failure.
    pytest.param(SOURCE, {"status": "cancelled", "title": ""}, SkipCause.CANCELLED, id="bad"),
    pytest.param(IGNORING, {"category": "Sports"}, SkipCause.IGNORED_CATEGORY, id="ours"),
    pytest.param(IGNORING, {"category": "GIG"}, SkipCause.IGNORED_CATEGORY, id="feed-word"),
    pytest.param(IGNORING, {"category": "Gig "}, SkipCause.IGNORED_CATEGORY, id="trimmed"),
    pytest.param(IGNORING, {"category": "music"}, None, id="not-ignored"),
    pytest.param(SOURCE, {"status": "scheduled"}, None, id="scheduled"),
    pytest.param(SOURCE, {"status": ["cancelled"]}, None, id="status-not-text"),
    pytest.param(
        SOURCE,
        {"starts_at": NOW - timedelta(days=2), "ends_at": NOW - timedelta(seconds=1)},
        SkipCause.ENDED,
        id="ended",
    ),
    pytest.param(
        SOURCE,
        {"starts_at": NOW - timedelta(days=364), "ends_at": None, "venue_name": DROP},
        SkipCause.ENDED,
        id="started-364-days-ago",
    ),
    pytest.param(
        SOURCE,
        {"starts_at": NOW - timedelta(hours=2), "ends_at": NOW + timedelta(hours=1)},
        None,
        id="running",
    ),
]


@pytest.mark.parametrize(("source", "changes", "reason"), SKIPPED)
def test_a_cancelled_ended_or_ignored_record_is_skipped_not_failed(
    source: SourceConfig, changes: dict[str, Any], reason: SkipCause | None
) -> None:
    outcome = to_event(record(**changes), source, now=NOW)
    if reason is None:
        assert isinstance(outcome, Event)
    else:
        assert outcome == Skip("e-1", reason)


def test_an_implausible_past_date_stays_a_failure_not_an_ended_skip() -> None:
    with pytest.raises(ImplausibleEventError):
        to_event(record(starts_at="1970-01-01T00:00:00Z", ends_at=None), SOURCE, now=NOW)


def test_an_event_that_ended_years_ago_is_an_ended_skip_not_a_failure() -> None:
    ten_years_ago = NOW - timedelta(days=3650)
    outcome = to_event(record(starts_at=ten_years_ago, ends_at=None), SOURCE, now=NOW)
    assert outcome == Skip("e-1", SkipCause.ENDED)


def test_skipped_records_pass_through_and_do_not_make_later_ones_duplicates() -> None:
    records: list[RawRecord | EventError] = [
        record(external_id="a", status="cancelled"),
        record(external_id="a"),
    ]
    items = list(process_records(records, SOURCE, now=NOW))
    assert items[0] == Skip("a", SkipCause.CANCELLED)
    assert isinstance(items[1], Event)


# Anything a feed or a scraper could hand over, garbage included.
DATE_LIKE = r"\d{4}-\d{1,2}-\d{1,2}([T ]\d{1,2}:\d{2}(:\d{2})?)?([+-]\d{2}:\d{2}|Z)?"
TRICKY = ["nan", "-inf", "1e999", "2024-13-45", "\x00" * 10, "\ud800", "karaoke", "ftp://x.org"]
TRICKY += ["http://[::1", " ; , ", *sorted(KNOWN_CATEGORIES)]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(),
    # Lone surrogates (which st.text never draws) among control and other characters.
    st.lists(
        st.integers(0, 0x1F).map(chr) | st.integers(0xD800, 0xDFFF).map(chr) | st.characters()
    ).map("".join),
    st.binary(max_size=20),
    st.dates(),
    st.datetimes(timezones=st.none() | st.timezones()),
    st.datetimes().map(str),
    st.from_regex(DATE_LIKE, fullmatch=True),
    st.sampled_from(TRICKY),
    st.integers(0, 3).map(lambda n: "x" * 100_000 + "9" * n),  # built, so never printed whole
    st.integers(0, 3).map(lambda n: 10 ** (5000 + n)),
)
ANY_VALUE = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from([{}, VALID]),
    changes=st.dictionaries(st.sampled_from(EVENT_FIELDS), ANY_VALUE, max_size=4),
)
def test_any_record_becomes_an_event_a_skip_or_an_event_error_and_nothing_else(
    base: dict[str, Any], changes: dict[str, Any]
) -> None:
    try:
        event = to_event(base | changes, SOURCE, now=NOW)
    except EventError as error:
        assert error.category in ErrorCategory
        assert 0 < len(error.message) < 200
        return
    if isinstance(event, Skip):
        assert event.reason in SkipCause and 0 < len(event.external_id) <= 200
        return
    assert event.starts_at.utcoffset() == timedelta(0)
    assert 0 < len(event.title) <= 500 and 0 < len(event.external_id) <= 200
    assert event.category is None or event.category in KNOWN_CATEGORIES
    assert event.venue_name or event.venue_address
    assert all(isinstance(name, str) and name for name in event.performers)


def demo_outcome(source_id: str) -> tuple[int, int, Counter[str], Counter[tuple[str, str]]]:
    """(records, events, skips by reason, failures by category and message)."""
    source = load_sources(DEMO_SOURCES_FILE).get(source_id)
    items = list(process_records(read_records(source), source, now=NOW))
    failures = Counter(
        (item.category.value, item.message) for item in items if isinstance(item, EventError)
    )
    skips = Counter(item.reason.value for item in items if isinstance(item, Skip))
    events = len(items) - failures.total() - skips.total()
    return len(items), events, skips, failures


BOX_OFFICE_FTP = "ftp://files.boxoffice.example/listings/7007.pdf"
DEMO_OUTCOMES = {
    "city_concerts": (31, 25, {"cancelled": 1, "ended": 1}, {
        ("validation_error", "title missing"): 3,
        ("category_error", "unknown category 'karaoke'"): 1,
    }),
    "metro_meetups": (20, 17, {}, {
        ("parsing_error", "invalid iCalendar property DTSTART '2024-13-45'"): 1,
        ("parsing_error", "invalid iCalendar property DTSTART '20270231T183000'"): 1,
        ("data_quality_error", "ends_at before starts_at"): 1,
    }),
    "riverside_theatre": (25, 20, {"ignored_category": 1}, {
        ("geocoding_error", "latitude 152.3 out of range"): 1,
        ("geocoding_error", "longitude 212.8 out of range"): 1,
        ("data_integrity_error", "duplicate external_id 'rt-3011'"): 1,
        ("venue_error", "venue missing"): 1,
    }),
    "harbour_festival": (12, 12, {}, {}),
    "night_markets": (0, 0, {}, {}),
    "box_office": (10, 8, {}, {
        ("performer_error", "performers must be text or a list of texts, got dict"): 1,
        ("validation_error", f"url '{BOX_OFFICE_FTP}' must be an http(s) URL"): 1,
    }),
    "legacy_listings": (4, 0, {"ended": 4}, {}),
}  # fmt: skip


@pytest.mark.parametrize("source_id", DEMO_OUTCOMES)
def test_each_readable_demo_source_has_its_planted_faults(source_id: str) -> None:
    processed, succeeded, skips, failures = DEMO_OUTCOMES[source_id]
    assert demo_outcome(source_id) == (processed, succeeded, Counter(skips), Counter(failures))


def test_the_broken_demo_feeds_fail_whole_for_the_planted_reason() -> None:
    with pytest.raises(FeedError) as broken:
        demo_outcome("broken_json_feed")
    assert broken.value.category is ErrorCategory.PARSING
    assert broken.value.message.startswith("invalid JSON: parse error: premature EOF")
    with pytest.raises(FeedError) as offline:
        demo_outcome("offline_calendar")
    assert offline.value.category is ErrorCategory.NETWORK
    assert offline.value.message.startswith("ConnectError: ")
