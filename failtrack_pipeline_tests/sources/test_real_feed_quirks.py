"""Each quirk the real reference feeds showed (issue 15), reproduced in a small fixture."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from failtrack_pipeline.base.errors import ConfigError, EventError, FeedError
from failtrack_pipeline.base.events import Event
from failtrack_pipeline.config.sources_file import SourceConfig, load_sources
from failtrack_pipeline.db.schema import events as events_table
from failtrack_pipeline.processing.skips import Skip
from failtrack_pipeline.processing.validate import process_records
from failtrack_pipeline.source_scrape import SourceScrape
from failtrack_pipeline.sources.readers import read_records
from failtrack_pipeline_tests.sources.test_readers import calendar, file_source

NOW = datetime(2026, 11, 25, tzinfo=UTC)


def outcomes(source: SourceConfig, now: datetime = NOW) -> list[Event | Skip | EventError]:
    return list(process_records(read_records(source, now=now), source, now=now))


def events(source: SourceConfig, now: datetime = NOW) -> dict[str, Event]:
    return {item.external_id: item for item in outcomes(source, now) if isinstance(item, Event)}


def summary(items: list[Any]) -> Counter[str]:
    return Counter(
        f"{item.category.value}: {item.message}"
        if isinstance(item, EventError)
        else f"skip: {item.reason.value}"
        if isinstance(item, Skip)
        else "event"
        for item in items
    )


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# --- dates ----------------------------------------------------------------------------------

DAYFIRST_CSV = "id;title;date;place\nc1;Requiem;06.10.2027;Rudolfinum\nc2;Gala;13.10.2027;Hall\n"


def test_dayfirst_reads_a_czech_date_as_day_then_month(tmp_path: Path) -> None:
    fields = {"external_id": "id", "title": "title", "starts_at": "date", "venue_name": "place"}
    source = file_source(
        tmp_path, "csv", DAYFIRST_CSV, fields=fields, timezone="Europe/Prague", dayfirst=True
    )
    found = events(source)
    assert found["c1"].starts_at == utc(2027, 10, 5, 22)  # midnight in Prague, summer time
    assert found["c2"].starts_at == utc(2027, 10, 12, 22)


def test_without_dayfirst_the_same_date_is_read_month_first(tmp_path: Path) -> None:
    fields = {"external_id": "id", "title": "title", "starts_at": "date", "venue_name": "place"}
    source = file_source(tmp_path, "csv", DAYFIRST_CSV, fields=fields, timezone="Europe/Prague")
    assert events(source)["c1"].starts_at == utc(2027, 6, 9, 22)


def test_date_formats_are_tried_in_order_before_the_generic_parser(tmp_path: Path) -> None:
    records = [{"id": "a", "name": "A", "start": "5|11|2027 20h", "venue": "V"}]
    source = file_source(
        tmp_path,
        "json",
        json.dumps(records),
        fields={"external_id": "id", "title": "name", "starts_at": "start", "venue_name": "venue"},
        date_formats=["%Y-%m-%d", "%d|%m|%Y %Hh"],
    )
    assert events(source)["a"].starts_at == utc(2027, 11, 5, 20)


JSON_FIELDS = {"external_id": "id", "title": "name", "starts_at": "start", "venue_name": "venue"}


def json_source(tmp_path: Path, records: Any, **config: Any) -> SourceConfig:
    config["fields"] = JSON_FIELDS | config.get("fields", {})
    return file_source(tmp_path, "json", json.dumps(records), **config)


def test_epoch_seconds_and_milliseconds_are_recognised(tmp_path: Path) -> None:
    moment = utc(2027, 3, 1, 18)
    records = [
        {"id": "s", "name": "S", "start": int(moment.timestamp()), "venue": "V"},
        {"id": "ms", "name": "M", "start": int(moment.timestamp() * 1000), "venue": "V"},
        {"id": "text", "name": "T", "start": str(int(moment.timestamp() * 1000)), "venue": "V"},
    ]
    found = events(json_source(tmp_path, records))
    assert {key: event.starts_at for key, event in found.items()} == dict.fromkeys(
        ("s", "ms", "text"), moment
    )


def test_a_mapped_timezone_applies_per_record(tmp_path: Path) -> None:
    records = [
        {
            "id": "ny",
            "name": "A",
            "start": "2027-03-01 19:00",
            "venue": "V",
            "tz": "America/New_York",
        },
        {"id": "def", "name": "B", "start": "2027-03-01 19:00", "venue": "V"},
        {"id": "bad", "name": "C", "start": "2027-03-01 19:00", "venue": "V", "tz": "Mars/Olympus"},
    ]
    items = outcomes(
        json_source(tmp_path, records, fields={"timezone": "tz"}, timezone="Europe/Oslo")
    )
    assert [item.starts_at for item in items[:2]] == [utc(2027, 3, 2, 0), utc(2027, 3, 1, 18)]
    assert summary(items[2:]) == {"validation_error: unknown time zone 'Mars/Olympus'": 1}


def test_month_or_year_only_dates_are_an_imprecise_validation_error(tmp_path: Path) -> None:
    records = [
        {"id": "m", "name": "A", "start": "APR 2027", "venue": "V"},
        {"id": "y", "name": "B", "start": "2027", "venue": "V"},
        {"id": "d", "name": "C", "start": "APR 3 2027", "venue": "V"},
    ]
    assert summary(outcomes(json_source(tmp_path, records))) == {
        "validation_error: Invalid date 'APR 2027' for starts_at: imprecise": 1,
        "validation_error: Invalid date '2027' for starts_at: imprecise": 1,
        "event": 1,
    }


def test_a_date_only_end_in_json_lasts_through_that_day(tmp_path: Path) -> None:
    records = [
        {"id": "c", "name": "Conf", "start": "2027-03-04", "end": "2027-03-05", "venue": "V"},
        {
            "id": "t",
            "name": "Talk",
            "start": "2027-03-04 10:00",
            "end": "2027-03-04 11:00",
            "venue": "V",
        },
    ]
    found = events(json_source(tmp_path, records, fields={"ends_at": "end"}))
    assert found["c"].ends_at == utc(2027, 3, 6)
    assert found["t"].ends_at == utc(2027, 3, 4, 11)


def test_an_ical_date_only_dtend_keeps_its_exclusive_meaning(tmp_path: Path) -> None:
    content = calendar(
        "UID:d\nSUMMARY:Day\nDTSTART;VALUE=DATE:20270304\nDTEND;VALUE=DATE:20270305\nLOCATION:Hall"
    )
    assert events(file_source(tmp_path, "ics", content))["d"].ends_at == utc(2027, 3, 5)


def test_24_00_is_the_end_of_that_day(tmp_path: Path) -> None:
    records = [
        {
            "id": "a",
            "name": "A",
            "start": "2027-03-04 20:00",
            "end": "2027-03-04 24:00",
            "venue": "V",
        },
        {
            "id": "b",
            "name": "B",
            "start": "2027-03-04 20H00",
            "end": "2027-03-04 24H00",
            "venue": "V",
        },
    ]
    found = events(json_source(tmp_path, records, fields={"ends_at": "end"}))
    assert {event.ends_at for event in found.values()} == {utc(2027, 3, 5)}


def test_a_mapped_duration_gives_the_end_when_no_end_is_mapped(tmp_path: Path) -> None:
    records = [
        {"id": "iso", "name": "A", "start": "2027-03-04T20:00Z", "d": "PT1H30M", "venue": "V"},
        {"id": "s", "name": "B", "start": "2027-03-04T20:00Z", "d": 5400, "venue": "V"},
        {"id": "ms", "name": "C", "start": "2027-03-04T20:00Z", "d": 5_400_000, "venue": "V"},
        {"id": "bad", "name": "D", "start": "2027-03-04T20:00Z", "d": "soon", "venue": "V"},
    ]
    items = outcomes(json_source(tmp_path, records, fields={"duration": "d"}))
    assert [item.ends_at for item in items[:3]] == [utc(2027, 3, 4, 21, 30)] * 3
    assert summary(items[3:]) == {"validation_error: Invalid duration 'soon'": 1}


# --- mappings -------------------------------------------------------------------------------

SONGKICK = {
    "resultsPage": {
        "results": {
            "event": [
                {
                    "id": 7,
                    "displayName": "Band at Hall",
                    "start": {"date": "2027-04-28", "time": "19:30:00"},
                    "performance": [
                        {"artist": {"displayName": "Band"}},
                        {"artist": {"displayName": "Opener"}},
                    ],
                    "venue": {"displayName": "Hall", "lat": 40.7, "lng": -74.0},
                }
            ]
        }
    }
}


def test_a_list_of_paths_is_joined_and_jmespath_selects_a_list_of_performers(
    tmp_path: Path,
) -> None:
    fields = {
        "external_id": ["id", "start.date"],
        "title": "displayName",
        "starts_at": ["start.date", "start.time"],
        "venue_name": "venue.displayName",
        "latitude": "venue.lat",
        "longitude": "venue.lng",
        "performers": "performance[].artist.displayName",
    }
    source = file_source(
        tmp_path,
        "json",
        json.dumps(SONGKICK),
        records="resultsPage.results.event",
        fields=fields,
        timezone="America/New_York",
    )
    (event,) = events(source).values()
    assert (event.external_id, event.starts_at, event.performers) == (
        "7 2027-04-28",
        utc(2027, 4, 28, 23, 30),
        ("Band", "Opener"),
    )


def test_cancelled_values_may_hold_true_for_a_boolean_flag(tmp_path: Path) -> None:
    records = [
        {"id": "a", "name": "A", "start": "2027-03-04T20:00Z", "venue": "V", "isCancelled": True},
        {"id": "b", "name": "B", "start": "2027-03-04T20:00Z", "venue": "V", "isCancelled": False},
        {"id": "c", "name": "C", "start": "2027-03-04T20:00Z", "venue": "V", "isCancelled": None},
    ]
    source = json_source(
        tmp_path, records, fields={"status": "isCancelled"}, cancelled_values=[True]
    )
    assert summary(outcomes(source)) == {"skip: cancelled": 1, "event": 2}


def test_custom_cancelled_values_match_case_insensitively(tmp_path: Path) -> None:
    records = [
        {"id": "a", "name": "A", "start": "2027-03-04T20:00Z", "venue": "V", "s": "Abgesagt"},
        {"id": "b", "name": "B", "start": "2027-03-04T20:00Z", "venue": "V", "s": "cancelled"},
    ]
    source = json_source(tmp_path, records, fields={"status": "s"}, cancelled_values=["abgesagt"])
    assert summary(outcomes(source)) == {"skip: cancelled": 1, "event": 1}


def test_records_empty_reads_a_single_object_root_as_one_record(tmp_path: Path) -> None:
    meetup = {"id": "m1", "name": "Meetup", "time": 1_806_000_000_000, "venue": "Cafe"}
    source = file_source(
        tmp_path, "json", json.dumps(meetup), fields=JSON_FIELDS | {"starts_at": "time"}
    )
    (event,) = events(source).values()
    assert event.starts_at == datetime.fromtimestamp(1_806_000_000, UTC)


def test_a_source_may_drop_venue_name_from_what_it_requires(tmp_path: Path) -> None:
    records = [{"id": "a", "name": "Standup", "start": "2027-03-04T09:00Z"}]
    strict = json_source(tmp_path, records)
    assert summary(outcomes(strict)) == {"venue_error: venue missing": 1}
    relaxed = json_source(tmp_path, records, required=["title", "starts_at"])
    assert summary(outcomes(relaxed)) == {"event": 1}
    more = json_source(tmp_path, records, required=["title", "starts_at", "url"])
    assert summary(outcomes(more)) == {"validation_error: url missing": 1}


def test_an_online_event_needs_no_venue(tmp_path: Path) -> None:
    records = [{"id": "a", "name": "Webinar", "start": "2027-03-04T09:00Z", "online": True}]
    source = json_source(tmp_path, records, fields={"online": "online"})
    assert summary(outcomes(source)) == {"event": 1}


def test_an_event_that_ended_long_ago_is_an_ended_skip(tmp_path: Path) -> None:
    records = [
        {"id": "a", "name": "Old", "start": "2012-03-04T09:00Z", "venue": "V"},
        {"id": "b", "name": "Epoch zero", "start": "1970-01-01T00:00Z", "venue": "V"},
    ]
    assert summary(outcomes(json_source(tmp_path, records))) == {
        "skip: ended": 1,
        "data_quality_error: starts_at implausible: before 1990": 1,
    }


# --- CSV ------------------------------------------------------------------------------------


def test_a_headerless_semicolon_csv_maps_column_numbers(tmp_path: Path) -> None:
    content = (
        "2027-10-29;Norway;Trondheim;Ni Muser;Trio;;\n2027-11-02;Norway;Oslo;Spasibar;Trio;;\n"
    )
    fields = {"external_id": [0, 3], "title": 4, "starts_at": 0, "venue_name": 3}
    source = file_source(tmp_path, "csv", content, header=False, fields=fields)
    found = events(source)
    assert sorted(found) == ["2027-10-29 Ni Muser", "2027-11-02 Spasibar"]
    assert found["2027-11-02 Spasibar"].venue_name == "Spasibar"


def test_skip_rows_passes_over_a_preamble_and_a_given_delimiter_is_used(tmp_path: Path) -> None:
    content = "Exported 2027-01-01\nby the box office\nid|name|start|venue\na|A|2027-03-04|V\n"
    fields = {"external_id": "id", "title": "name", "starts_at": "start", "venue_name": "venue"}
    source = file_source(tmp_path, "csv", content, skip_rows=2, delimiter="|", fields=fields)
    assert list(events(source)) == ["a"]


def test_a_missing_header_column_names_them_all_and_the_header_seen(tmp_path: Path) -> None:
    content = "2027-10-29;Trondheim;Ni Muser\n2027-11-02;Oslo;Spasibar\n"
    fields = {"external_id": "date", "title": "title", "starts_at": "date", "venue_name": "venue"}
    with pytest.raises(FeedError) as raised:
        list(read_records(file_source(tmp_path, "csv", content, fields=fields)))
    assert raised.value.message == (
        "invalid CSV feed: mapped columns 'date', 'title', 'venue' not in the header "
        "['2027-10-29', 'Trondheim', 'Ni Muser']; for a file without one, set header: false"
    )


# --- iCalendar ------------------------------------------------------------------------------

THUNDERBIRD = calendar(
    "UID:series\nSUMMARY:Daily\nDTSTART:20270301T090000Z\nDTEND:20270301T100000Z\n"
    "RRULE:FREQ=DAILY;COUNT=3\nLOCATION:Hall",
    "UID:series\nRECURRENCE-ID:20270302T090000Z\nSUMMARY:Daily\nDTSTART:20270302T090000Z\n"
    "DTEND:20270302T100000Z\nSTATUS:CANCELLED\nLOCATION:Hall",
)


def test_a_daily_series_is_three_occurrences_and_a_cancelled_override_a_skip(
    tmp_path: Path,
) -> None:
    items = outcomes(file_source(tmp_path, "ics", THUNDERBIRD), now=utc(2027, 2, 1))
    assert sorted(item.external_id for item in items) == [
        "series/20270301T090000Z",
        "series/20270302T090000Z",
        "series/20270303T090000Z",
    ]
    assert summary(items) == {"event": 2, "skip: cancelled": 1}


def test_a_moved_occurrence_replaces_its_own_and_exdate_is_honoured(tmp_path: Path) -> None:
    content = calendar(
        "UID:w\nSUMMARY:Weekly\nDTSTART;TZID=Europe/Berlin:20270301T190000\n"
        "RRULE:FREQ=WEEKLY\nEXDATE;TZID=Europe/Berlin:20270315T190000\nLOCATION:Hall",
        "UID:w\nRECURRENCE-ID;TZID=Europe/Berlin:20270308T190000\nSUMMARY:Weekly (moved)\n"
        "DTSTART;TZID=Europe/Berlin:20270309T200000\nLOCATION:Hall",
    )
    source = file_source(tmp_path, "ics", content, recurrence={"past_days": 0, "future_days": 27})
    items = outcomes(source, now=utc(2027, 2, 28))
    assert summary(items) == {"event": 3}  # Mar 1, the moved Mar 8 and Mar 22; not Mar 15
    moved = next(item for item in items if item.title == "Weekly (moved)")
    assert (moved.external_id, moved.starts_at) == ("w/20270308T180000Z", utc(2027, 3, 9, 19))


def test_an_open_ended_weekly_series_yields_its_occurrences_within_the_window(
    tmp_path: Path,
) -> None:
    content = calendar(
        "UID:m\nSUMMARY:Meetup\nDTSTART:20100105T180000Z\nRRULE:FREQ=WEEKLY\nLOCATION:Pub"
    )
    items = outcomes(file_source(tmp_path, "ics", content), now=NOW)
    assert summary(items)["event"] == 52  # a year ahead (365 days), weekly
    assert summary(items)["skip: ended"] == 5  # the past 30 days: ended, no failure


def test_one_malformed_vtimezone_or_other_component_never_fails_the_calendar(
    tmp_path: Path,
) -> None:
    content = calendar(
        "UID:a\nSUMMARY:A\nDTSTART;TZID=America/Chicago:20270301T190000\nLOCATION:Hall",
        "UID:b\nSUMMARY:B\nDTSTART;VALUE=DATE:20270302\nLOCATION:Hall",
    ).replace(
        "BEGIN:VEVENT",
        "BEGIN:VTIMEZONE\r\nTZID:UTC\r\nTZID:America/Chicago\r\nBEGIN:STANDARD\r\n"
        "DTSTART:bogus\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
        "BEGIN:VTODO\r\nDUE;VALUE=DATE:notadate\r\nEND:VTODO\r\n"
        "BEGIN:VFREEBUSY\r\nFREEBUSY:garbage\r\nEND:VFREEBUSY\r\nBEGIN:VEVENT",
        1,
    )
    found = events(file_source(tmp_path, "ics", content))
    assert found["a"].starts_at == utc(2027, 3, 2, 1)  # the TZID read as a zone name
    assert sorted(found) == ["a", "b"]


def test_a_vevent_without_uid_names_uid_and_a_broken_one_fails_alone(tmp_path: Path) -> None:
    content = calendar(
        "SUMMARY:No id\nDTSTART:20270301T190000Z\nLOCATION:Hall",
        "UID:ok\nSUMMARY:Fine\nDTSTART:20270301T190000Z\nLOCATION:Hall",
    )
    assert summary(outcomes(file_source(tmp_path, "ics", content))) == {
        "validation_error: UID missing": 1,
        "event": 1,
    }


def test_every_categories_value_is_tried_against_the_category_map(tmp_path: Path) -> None:
    content = calendar(
        "UID:c\nSUMMARY:C\nDTSTART:20270301T190000Z\nLOCATION:Hall\nCATEGORIES:Networking,Talk"
    )
    source = file_source(tmp_path, "ics", content, category_map={"talk": "tech"})
    assert events(source)["c"].category == "tech"


def test_google_x_wr_timezone_places_floating_times(tmp_path: Path) -> None:
    content = calendar("UID:g\nSUMMARY:G\nDTSTART:20270301T190000\nLOCATION:Hall").replace(
        "BEGIN:VEVENT", "X-WR-TIMEZONE:America/Los_Angeles\r\nBEGIN:VEVENT", 1
    )
    assert events(file_source(tmp_path, "ics", content))["g"].starts_at == utc(2027, 3, 2, 3)


# --- JSON-LD --------------------------------------------------------------------------------

PAGE = """<!doctype html><html><head><title>Events</title>
<script type="application/ld+json">{"@context": "https://schema.org", "@graph": [
  {"@type": "WebPage", "name": "Listing"},
  {"@type": "MusicEvent", "@id": "https://hall.example/e/1", "name": "Quartet",
   "startDate": "2027-05-01T20:00:00+02:00", "endDate": "2027-05-01T22:00:00+02:00",
   "location": {"@type": "Place", "name": "Small Hall",
                "address": {"streetAddress": "Main St 1"},
                "geo": {"latitude": 52.1, "longitude": 5.1}},
   "performer": [{"name": "Ana"}, {"name": "Ben"}]},
  {"@type": "Event", "url": "https://hall.example/e/2", "name": "Off",
   "startDate": "2027-05-02", "location": {"name": "Small Hall"},
   "eventStatus": "https://schema.org/EventCancelled"}
]}</script></head><body>
<script type="application/ld+json">[{"@type": "Event", "url": "https://hall.example/e/3",
  "name": "Webinar", "startDate": "2027-05-03T10:00:00Z",
  "eventAttendanceMode": "https://schema.org/OnlineEventAttendanceMode"}]</script>
<script type="application/ld+json">{not json</script>
</body></html>"""


def test_jsonld_events_are_read_from_html_with_schema_org_defaults(tmp_path: Path) -> None:
    (tmp_path / "page1.html").write_text(PAGE)
    (tmp_path / "page2.html").write_text(PAGE.replace("hall.example/e/", "hall.example/p2/"))
    pages = [(tmp_path / name).as_uri() for name in ("page1.html", "page2.html")]
    source = SourceConfig(id="hall", name="Hall", kind="jsonld", url=pages)
    items = outcomes(source)
    assert summary(items) == {
        "event": 4,
        "skip: cancelled": 2,
        "parsing_error: invalid JSON-LD block #3: Expecting property name enclosed in double "
        "quotes: line 1 column 2 (char 1)": 2,
    }
    quartet = next(item for item in items if getattr(item, "title", None) == "Quartet")
    assert (quartet.external_id, quartet.starts_at, quartet.venue_address, quartet.performers) == (
        "https://hall.example/e/1",
        utc(2027, 5, 1, 18),
        "Main St 1",
        ("Ana", "Ben"),
    )
    webinar = next(item for item in items if getattr(item, "title", None) == "Webinar")
    assert webinar.venue_name is None


# --- HTTP: pagination and headers -----------------------------------------------------------


class PagedHandler(BaseHTTPRequestHandler):
    """Three pages linked by `_links.next.href`; each needs the API key header."""

    def do_GET(self) -> None:
        if self.headers.get("X-Api-Key") != "s3cret-key":
            self.send_error(401)
            return
        page = int(self.path.rsplit("=", 1)[-1]) if "=" in self.path else 0
        body: dict[str, Any] = {
            "_embedded": {
                "events": [{"id": f"p{page}", "name": "E", "start": "2027-01-01", "venue": "V"}]
            }
        }
        if page < 2:
            body["_links"] = {"next": {"href": f"/events?page={page + 1}"}}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def paged_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), PagedHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/events"
    server.shutdown()
    server.server_close()


def write_sources(tmp_path: Path, url: str, extra: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(
        f"""sources:
  - id: paged
    name: Paged
    kind: json
    url: {url}
    records: _embedded.events
    fields: {{external_id: id, title: name, starts_at: start, venue_name: venue}}
{extra}"""
    )
    return path


def test_pagination_follows_next_links_with_the_headers_up_to_max_pages(
    tmp_path: Path, paged_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_API_KEY", "s3cret-key")
    headers = "    headers: {X-Api-Key: '${TEST_API_KEY}'}\n"
    every = load_sources(
        write_sources(
            tmp_path, paged_server, headers + "    pagination: {next: _links.next.href}\n"
        )
    )
    assert [item["external_id"] for item in read_records(every.get("paged"))] == ["p0", "p1", "p2"]
    two = load_sources(
        write_sources(
            tmp_path,
            paged_server,
            headers + "    pagination: {next: _links.next.href, max_pages: 2}\n",
        )
    )
    assert len(list(read_records(two.get("paged")))) == 2
    assert "s3cret-key" not in repr(two.get("paged"))


def test_a_rejected_header_is_not_quoted_by_the_error(
    tmp_path: Path, paged_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_API_KEY", "wrong-key-4711")
    path = write_sources(tmp_path, paged_server, "    headers: {X-Api-Key: '${TEST_API_KEY}'}\n")
    with pytest.raises(FeedError) as raised:
        list(read_records(load_sources(path).get("paged")))
    assert "401" in raised.value.message
    assert "wrong-key-4711" not in raised.value.message
    assert raised.value.__cause__ is None and raised.value.__context__ is None


def test_a_header_variable_that_is_not_set_fails_at_load_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_API_KEY", raising=False)
    path = write_sources(
        tmp_path, "http://127.0.0.1:9/x", "    headers: {X-Api-Key: 'k-${TEST_API_KEY}'}\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_sources(path)
    assert "environment variable TEST_API_KEY is not set (for headers.X-Api-Key)" in str(
        raised.value
    )
    assert "field 'headers'" in str(raised.value)


# --- stored events --------------------------------------------------------------------------


def test_quirky_feeds_store_their_events_at_the_right_moments(
    engine: sa.Engine, tmp_path: Path
) -> None:
    fields = {"external_id": "id", "title": "title", "starts_at": "date", "venue_name": "place"}
    czech = file_source(
        tmp_path, "csv", DAYFIRST_CSV, fields=fields, timezone="Europe/Prague", dayfirst=True
    )
    SourceScrape(czech, engine, run_id="r1", now=NOW).run()
    ics_path = tmp_path / "series"
    ics_path.mkdir()
    series = file_source(ics_path, "ics", THUNDERBIRD)
    SourceScrape(series, engine, run_id="r2", now=utc(2027, 2, 1)).run()
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(events_table.c.external_id, events_table.c.starts_at).order_by(
                events_table.c.external_id
            )
        ).all()
    assert [(external_id, starts_at.astimezone(UTC)) for external_id, starts_at in rows] == [
        ("c1", utc(2027, 10, 5, 22)),
        ("c2", utc(2027, 10, 12, 22)),
        ("series/20270301T090000Z", utc(2027, 3, 1, 9)),
        ("series/20270303T090000Z", utc(2027, 3, 3, 9)),
    ]
