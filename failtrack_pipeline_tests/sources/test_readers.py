from __future__ import annotations

import csv
import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.base.categorize import categorize
from failtrack_pipeline.base.errors import EventError, FeedError
from failtrack_pipeline.config.sources_file import SourceConfig, SourceKind
from failtrack_pipeline.processing.validate import process_records
from failtrack_pipeline.sources.fetch import TIMEOUT
from failtrack_pipeline.sources.readers import read_csv, read_records

NOW = datetime(2026, 11, 25, tzinfo=UTC)
CORE_FIELDS = {"external_id": "id", "title": "name", "starts_at": "start"}


def feed_source(url: str, kind: str, **config: Any) -> SourceConfig:
    if kind == "json":
        config.setdefault("records", "")
    if kind in ("json", "csv"):
        config.setdefault("fields", CORE_FIELDS)
    return SourceConfig(id="feed", name="Feed", kind=SourceKind(kind), url=url, **config)


def file_source(tmp_path: Path, kind: str, content: str | bytes, **config: Any) -> SourceConfig:
    path = tmp_path / f"feed.{kind}"
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return feed_source(path.as_uri(), kind, **config)


def read(source: SourceConfig) -> list[Any]:
    return list(read_records(source))


def messages(items: list[Any]) -> list[tuple[str, str, str | None]]:
    """Each EventError as (category, message, external_id); records stay as they are."""
    return [
        (item.category.value, item.message, item.external_id)
        if isinstance(item, EventError)
        else item
        for item in items
    ]


# --- json -----------------------------------------------------------------------------------

NESTED = {
    "meta": {"count": 2},
    "data": {
        "events": [
            {
                "id": "e1",
                "name": "Quiz",
                "when": {"start": "2027-04-01T19:00:00"},
                "venue": {"name": "Pub", "geo": {"lat": 52.1, "lng": 4.3}},
                "links": [{"href": "https://x.org/e1"}, {"href": "https://x.org/other"}],
                "lineup": ["A", "B"],
            },
            {"id": 2, "when": {}, "venue": "Hall", "links": []},
        ]
    },
}
NESTED_FIELDS = {
    "external_id": "id",
    "title": "name",
    "starts_at": "when.start",
    "venue_name": "venue.name",
    "latitude": "venue.geo.lat",
    "longitude": "venue.geo.lng",
    "url": "links.0.href",
    "performers": "lineup",
}


def test_json_fields_follow_dotted_paths_and_list_indexes(tmp_path: Path) -> None:
    source = file_source(
        tmp_path, "json", json.dumps(NESTED), records="data.events", fields=NESTED_FIELDS
    )
    assert read(source) == [
        {
            "external_id": "e1",
            "title": "Quiz",
            "starts_at": "2027-04-01T19:00:00",
            "venue_name": "Pub",
            "latitude": 52.1,
            "longitude": 4.3,
            "url": "https://x.org/e1",
            "performers": ["A", "B"],
        },
        # Paths the record lacks (a missing key, a key of a string, an index past the end)
        # leave their fields out.
        {"external_id": 2},
    ]


def test_a_field_missing_from_the_feed_ends_as_the_validation_error_for_it(
    tmp_path: Path,
) -> None:
    records = [{"id": "e1", "title": "Quiz", "start": "2027-04-01T19:00:00", "venue": "Pub"}]
    fields = {"external_id": "id", "title": "name", "starts_at": "start", "venue_name": "venue"}
    source = file_source(tmp_path, "json", json.dumps(records), fields=fields)
    (error,) = process_records(read_records(source), source, now=NOW)
    assert isinstance(error, EventError)
    assert (error.category, error.message, error.external_id) == (
        ErrorCategory.VALIDATION,
        "title missing",
        "e1",
    )


def test_an_empty_records_path_reads_a_top_level_list(tmp_path: Path) -> None:
    records = [{"id": "a", "name": "A", "start": "2027-01-01"}, {"id": "b"}]
    source = file_source(tmp_path, "json", json.dumps(records), records="")
    assert read(source) == [
        {"external_id": "a", "title": "A", "starts_at": "2027-01-01"},
        {"external_id": "b"},
    ]


def test_a_json_record_that_is_not_an_object_is_yielded_as_an_error_and_reading_goes_on(
    tmp_path: Path,
) -> None:
    source = file_source(tmp_path, "json", json.dumps([["e1"], {"id": "e2"}, None]))
    assert messages(read(source)) == [
        ("parsing_error", "malformed record #1: list, not an object", None),
        {"external_id": "e2"},
        ("parsing_error", "malformed record #3: NoneType, not an object", None),
    ]


@pytest.mark.parametrize(
    ("content", "records", "message"),
    [
        pytest.param(b'{"data": [', "data", "invalid JSON: parse error: premature", id="truncated"),
        pytest.param(b"<html>502</html>", "", "invalid JSON: lexical error: invalid", id="html"),
        pytest.param(b'["\xff"]', "", "invalid JSON: lexical error: invalid bytes", id="utf8"),
        pytest.param(
            b'{"data": {}}',
            "data.events",
            "invalid JSON feed: records path 'data.events' not found",
            id="path",
        ),
        pytest.param(
            b'{"data": []}',
            "data.0",
            "invalid JSON feed: records path 'data.0' not found",
            id="index",
        ),
        pytest.param(
            b'{"data": "a"}',
            "data",
            "invalid JSON feed: records path 'data' holds str, not a list or an object",
            id="text",
        ),
    ],
)
def test_an_unreadable_json_feed_fails_as_a_parsing_error(
    tmp_path: Path, content: bytes, records: str, message: str
) -> None:
    source = file_source(tmp_path, "json", content, records=records)
    with pytest.raises(FeedError) as raised:
        read(source)
    assert raised.value.category is ErrorCategory.PARSING
    assert categorize(raised.value.message) is ErrorCategory.PARSING  # the text alone says so too
    assert raised.value.message.startswith(message)


# --- csv ------------------------------------------------------------------------------------


def test_csv_columns_map_to_fields_and_an_empty_cell_is_handed_on_empty(tmp_path: Path) -> None:
    content = (
        "\ufeffid, name ,start,place\r\n"
        'e1,"Quiz, with ""friends""",2027-04-01 19:00,"Pub\nback room"\r\n'
        "\r\n"
        "e2,,2027-04-02,\r\n"
    )
    source = file_source(tmp_path, "csv", content, fields=CORE_FIELDS | {"venue_name": "place"})
    assert read(source) == [
        {
            "external_id": "e1",
            "title": 'Quiz, with "friends"',
            "starts_at": "2027-04-01 19:00",
            "venue_name": "Pub\nback room",
        },
        {"external_id": "e2", "title": "", "starts_at": "2027-04-02", "venue_name": ""},
    ]


def test_a_csv_row_with_the_wrong_number_of_columns_is_an_error_and_reading_goes_on(
    tmp_path: Path,
) -> None:
    content = "id,name,start\ne1,A,2027-01-01\ne2,B,2027-01-02,extra\n,C\ne4,D,2027-01-04\n"
    source = file_source(tmp_path, "csv", content)
    assert messages(read(source)) == [
        {"external_id": "e1", "title": "A", "starts_at": "2027-01-01"},
        ("parsing_error", "invalid CSV line 3: 4 columns, expected 3", "e2"),
        ("parsing_error", "invalid CSV line 4: 2 columns, expected 3", None),
        {"external_id": "e4", "title": "D", "starts_at": "2027-01-04"},
    ]


def test_a_csv_row_that_is_not_utf8_is_an_error_and_the_others_are_read(tmp_path: Path) -> None:
    content = "id,name,start\ne1,Caf\xc3\xa9,2027-01-01\ne2,Caf\xe9,2027-01-02\ne3,C,2027-01-03\n"
    source = file_source(tmp_path, "csv", content.encode("latin-1"))
    assert messages(read(source)) == [
        {"external_id": "e1", "title": "Café", "starts_at": "2027-01-01"},
        ("parsing_error", "invalid CSV line 3: not UTF-8", "e2"),
        {"external_id": "e3", "title": "C", "starts_at": "2027-01-03"},
    ]


def test_an_empty_csv_feed_fails_as_a_parsing_error(tmp_path: Path) -> None:
    with pytest.raises(FeedError, match="invalid CSV feed: empty, no header row") as raised:
        read(file_source(tmp_path, "csv", b""))
    assert raised.value.category is ErrorCategory.PARSING
    assert categorize(raised.value.message) is ErrorCategory.PARSING  # the text alone says so too


def test_csv_rows_are_read_as_the_stream_arrives_not_loaded_whole(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["id", "name", "start"])
        writer.writerows([f"e{i}", f"Event {i}", "2027-01-01"] for i in range(50_000))
    source = feed_source(path.as_uri(), "csv")
    with path.open("rb") as stream:
        records = read_csv(source, stream)
        assert next(records) == {"external_id": "e0", "title": "Event 0", "starts_at": "2027-01-01"}
        assert stream.tell() < path.stat().st_size / 20


# --- ics ------------------------------------------------------------------------------------


def calendar(*events: str) -> str:
    body = "".join(f"BEGIN:VEVENT\r\n{event.strip()}\r\nEND:VEVENT\r\n" for event in events)
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{body}END:VCALENDAR\r\n"


def test_ics_properties_map_to_our_fields(tmp_path: Path) -> None:
    content = calendar(
        """
UID:m1@meetups
SUMMARY:Python night
DTSTART;TZID=Europe/Amsterdam:20270301T190000
DTEND:20270301T210000Z
LOCATION:Hall 3\\, Main St 1
GEO:52.37;4.89
CATEGORIES:Tech,Meetup
CATEGORIES:Social
URL:https://meetups.example/m1
STATUS:CONFIRMED
""",
        "UID:m2\nSUMMARY:All day\nDTSTART;VALUE=DATE:20270401\nDTEND:20270401T120000",
    )
    first, second = read(file_source(tmp_path, "ics", content))
    assert first == {
        "external_id": "m1@meetups",
        "title": "Python night",
        "starts_at": datetime(2027, 3, 1, 19, tzinfo=ZoneInfo("Europe/Amsterdam")),
        "ends_at": datetime(2027, 3, 1, 21, tzinfo=UTC),
        "venue_name": "Hall 3, Main St 1",
        "latitude": 52.37,
        "longitude": 4.89,
        "category": ["Tech", "Meetup", "Social"],
        "url": "https://meetups.example/m1",
        "status": "CONFIRMED",
    }
    # A date is handed on as a date, a floating time as a naive datetime.
    assert second == {
        "external_id": "m2",
        "title": "All day",
        "starts_at": date(2027, 4, 1),
        "ends_at": datetime(2027, 4, 1, 12),
    }


def test_an_unparseable_dtstart_fails_its_event_as_a_parsing_error_not_the_feed(
    tmp_path: Path,
) -> None:
    content = calendar(
        "UID:bad\nSUMMARY:Broken\nDTSTART:2024-13-45\nLOCATION:Hall",
        "UID:ok\nSUMMARY:Fine\nDTSTART:20270301T190000Z\nLOCATION:Hall",
        "UID:geo\nSUMMARY:Half a place\nDTSTART:20270301T190000Z\nLOCATION:Hall\nGEO:52.1",
        "UID:tz\nSUMMARY:Odd zone\nDTSTART;TZID=(UTC-05:00) Eastern:20270301T190000\nLOCATION:Hall",
    )
    source = file_source(tmp_path, "ics", content)
    bad, ok, geo, tz = process_records(read_records(source), source, now=NOW)
    assert messages([bad, geo, tz]) == [
        ("parsing_error", "invalid iCalendar property DTSTART '2024-13-45'", "bad"),
        ("geocoding_error", "latitude without longitude", "geo"),
        # An unquoted TZID holding a colon: a parsing error, not "starts_at missing".
        ("parsing_error", "invalid iCalendar property DTSTART '00) Eastern:20270301T190000'", "tz"),
    ]
    assert not isinstance(ok, EventError)
    assert ok.starts_at == datetime(2027, 3, 1, 19, tzinfo=UTC)


def test_a_property_icalendar_cannot_decode_fails_its_event_not_the_feed(tmp_path: Path) -> None:
    content = calendar(
        "UID:odd\nSUMMARY:Odd\nDTSTART:20270301T190000Z\nGEO;VALUE=DATE:20270101",
        "UID:ok\nSUMMARY:Fine\nDTSTART:20270301T190000Z",
    )
    odd, ok = read(file_source(tmp_path, "ics", content))
    assert messages([odd]) == [("parsing_error", "invalid iCalendar property GEO", "odd")]
    assert ok["external_id"] == "ok"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param("hello world", "invalid iCalendar", id="text"),
        pytest.param('{"events": []}', "invalid iCalendar", id="json"),
        pytest.param("", "invalid iCalendar feed: no VCALENDAR found", id="empty"),
        pytest.param("BEGIN:VEVENT\r\nUID:x\r\nEND:VEVENT\r\n", "no VCALENDAR", id="bare-event"),
    ],
)
def test_a_feed_that_is_not_icalendar_fails_as_a_parsing_error(
    tmp_path: Path, content: str, message: str
) -> None:
    with pytest.raises(FeedError, match=message) as raised:
        read(file_source(tmp_path, "ics", content))
    assert raised.value.category is ErrorCategory.PARSING
    assert categorize(raised.value.message) is ErrorCategory.PARSING  # the text alone says so too


# --- python ---------------------------------------------------------------------------------


def listing_scraper(source: SourceConfig) -> Iterator[object]:
    """The callable of the python-kind tests: it is given its own SourceConfig."""
    yield {"external_id": f"{source.id}-1", "title": "Quiz"}
    yield ("not", "a", "dict")
    yield {"external_id": f"{source.id}-3"}


def test_a_python_source_calls_its_callable_with_its_config() -> None:
    source = SourceConfig(
        id="scraped",
        name="Scraped",
        kind=SourceKind.PYTHON,
        callable="failtrack_pipeline_tests.sources.test_readers:listing_scraper",
    )
    assert messages(read(source)) == [
        {"external_id": "scraped-1", "title": "Quiz"},
        ("parsing_error", "malformed record #2: tuple, not a dict", None),
        {"external_id": "scraped-3"},
    ]


@pytest.mark.parametrize(
    "target",
    ["failtrack_pipeline_tests.sources.test_readers:no_such_function", "no_such_module:fetch"],
)
def test_a_callable_that_cannot_be_loaded_fails_the_feed_naming_it(target: str) -> None:
    source = SourceConfig(id="scraped", name="Scraped", kind=SourceKind.PYTHON, callable=target)
    with pytest.raises(FeedError, match=f"cannot load callable '{target}'") as raised:
        read(source)
    assert raised.value.category is ErrorCategory.DEPENDENCY


# --- fetching -------------------------------------------------------------------------------


class FeedHandler(SimpleHTTPRequestHandler):
    """Serves the feed folder; /status/<code> answers with that HTTP status."""

    def do_GET(self) -> None:
        if self.path.startswith("/status/"):
            self.send_error(int(self.path.removeprefix("/status/")))
        else:
            super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def feed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(base URL, folder it serves): a real HTTP server on a free local port."""
    folder = tmp_path_factory.mktemp("served")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(FeedHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", folder
    server.shutdown()
    server.server_close()


HTTP_FEEDS = {
    "json": json.dumps([{"id": "j1", "name": "Quiz", "start": "2027-01-01"}]),
    "csv": "id,name,start\nc1,Quiz,2027-01-01\n",
    "ics": calendar("UID:i1\nSUMMARY:Quiz\nDTSTART;VALUE=DATE:20270101"),
}


@pytest.mark.parametrize("kind", HTTP_FEEDS)
def test_every_feed_kind_is_read_over_http(feed_server: tuple[str, Path], kind: str) -> None:
    base, folder = feed_server
    (folder / f"events.{kind}").write_text(HTTP_FEEDS[kind])
    (record,) = read(feed_source(f"{base}/events.{kind}", kind))
    assert record["title"] == "Quiz"
    assert record["starts_at"] in ("2027-01-01", date(2027, 1, 1))


def test_a_large_csv_over_http_arrives_whole_across_chunks(feed_server: tuple[str, Path]) -> None:
    base, folder = feed_server
    rows = "".join(f"e{i},Événement {i},2027-01-01\n" for i in range(20_000))
    (folder / "big.csv").write_text("id,name,start\n" + rows, encoding="utf-8")
    records = read(feed_source(f"{base}/big.csv", "csv"))
    assert len(records) == 20_000
    assert records[-1] == {
        "external_id": "e19999",
        "title": "Événement 19999",
        "starts_at": "2027-01-01",
    }


@pytest.mark.parametrize(
    ("status", "category"),
    [
        (429, ErrorCategory.RATE_LIMIT),
        (401, ErrorCategory.AUTHENTICATION),
        (404, ErrorCategory.NETWORK),
        (500, ErrorCategory.NETWORK),
    ],
)
def test_an_http_error_status_is_a_feed_error_categorized_by_its_status(
    feed_server: tuple[str, Path], status: int, category: ErrorCategory
) -> None:
    base, _ = feed_server
    with pytest.raises(FeedError) as raised:
        read(feed_source(f"{base}/status/{status}", "json"))
    assert raised.value.message.startswith("HTTPStatusError: ")
    assert f" error '{status} " in raised.value.message
    assert raised.value.category is category
    assert categorize(raised.value.message) is category  # the text alone says so too


def test_a_refused_connection_is_a_network_feed_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FeedError) as raised:
        read(feed_source(f"http://127.0.0.1:{port}/events.ics", "ics"))
    assert raised.value.message.startswith("ConnectError: ")
    assert raised.value.category is ErrorCategory.NETWORK


def test_http_feeds_wait_10s_to_connect_and_30s_to_read() -> None:
    assert (TIMEOUT.connect, TIMEOUT.read) == (10.0, 30.0)


def test_a_missing_feed_file_is_a_network_error_naming_its_path(tmp_path: Path) -> None:
    path = tmp_path / "gone.json"
    with pytest.raises(FeedError) as raised:
        read(feed_source(path.as_uri(), "json"))
    assert raised.value.category is ErrorCategory.NETWORK
    assert raised.value.message == f"feed file not found: '{path}'"


def test_reading_a_file_feed_lazily_opens_it_only_when_records_are_asked_for(
    tmp_path: Path,
) -> None:
    records = read_records(feed_source((tmp_path / "later.csv").as_uri(), "csv"))
    (tmp_path / "later.csv").write_text("id,name,start\ne1,A,2027-01-01\n")
    assert list(records) == [{"external_id": "e1", "title": "A", "starts_at": "2027-01-01"}]
