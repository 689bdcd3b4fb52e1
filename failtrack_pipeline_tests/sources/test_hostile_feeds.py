"""Issue 14, items 4-7: hostile feeds end within their limits, and one bad value fails alone.

The HTTP cases run against a real server on 127.0.0.1 that misbehaves on purpose; each run
must end within its deadline plus a few seconds (SLACK).
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.base.errors import EventError, FeedError
from failtrack_pipeline.config.sources_file import SourceConfig, SourceKind
from failtrack_pipeline.processing.seen import SeenIds
from failtrack_pipeline.processing.validate import process_records
from failtrack_pipeline.sources.readers import read_records
from failtrack_pipeline_tests.conftest import Backend
from failtrack_pipeline_tests.defs.test_scrape_job import failure_rows, run_source
from failtrack_pipeline_tests.sources.test_readers import CORE_FIELDS, NOW, file_source

SLACK = 5.0  # seconds a run may take past its deadline
DEADLINE = 2.0


def trickle(connection: socket.socket) -> None:
    """Slowloris: a valid start, then one byte every half second, forever."""
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n[")
    while True:
        connection.sendall(b" ")
        time.sleep(0.5)


def endless_body(connection: socket.socket) -> None:
    connection.sendall(b"HTTP/1.1 200 OK\r\n\r\n")
    row = b"e,Endless,2027-01-01\n" * 5000
    connection.sendall(b"id,name,start\n")
    while True:
        connection.sendall(row)


def whitespace_forever(connection: socket.socket) -> None:
    connection.sendall(b"HTTP/1.1 200 OK\r\n\r\n[")
    blank = b" " * 65536
    while True:
        connection.sendall(blank)


def gzip_bomb(connection: socket.socket) -> None:
    """A few KB of gzip that inflate to gigabytes of spaces."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n")
    connection.sendall(compressor.compress(b"[" + b" " * 1024))
    block = compressor.compress(b" " * (1 << 20))
    while True:
        connection.sendall(block + compressor.flush(zlib.Z_SYNC_FLUSH))
        block = compressor.compress(b" " * (1 << 20))


def slow_headers(connection: socket.socket) -> None:
    """Slowloris on the status line and headers themselves."""
    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000:
        connection.sendall(bytes([byte]))
        time.sleep(0.5)


@pytest.fixture
def hostile_server() -> Iterator[Callable[[Callable[[socket.socket], None]], str]]:
    """Serve one behaviour per connection on a free loopback port; returns its URL."""
    listeners: list[socket.socket] = []

    def serve(behaviour: Callable[[socket.socket], None]) -> str:
        listener = socket.create_server(("127.0.0.1", 0))
        listeners.append(listener)

        def accept() -> None:
            while True:
                try:
                    connection, _ = listener.accept()
                except OSError:
                    return
                threading.Thread(target=run, args=(connection,), daemon=True).start()

        def run(connection: socket.socket) -> None:
            with connection:
                connection.recv(65536)
                with contextlib.suppress(OSError):  # the client gave up: that is the point
                    behaviour(connection)

        threading.Thread(target=accept, daemon=True).start()
        return f"http://127.0.0.1:{listener.getsockname()[1]}/feed"

    yield serve
    for listener in listeners:
        listener.close()


def http_source(url: str, kind: str = "json", **limits: float | int) -> SourceConfig:
    config = {"records": ""} if kind == "json" else {}
    return SourceConfig(
        id="hostile", name="Hostile", kind=SourceKind(kind), url=url, fields=CORE_FIELDS,
        **config, **limits,
    )  # fmt: skip


def failure_within(source: SourceConfig, seconds: float) -> FeedError:
    started = time.monotonic()
    with pytest.raises(FeedError) as raised:
        list(read_records(source))
    assert time.monotonic() - started < seconds
    return raised.value


@pytest.mark.parametrize(
    ("behaviour", "kind"),
    [
        pytest.param(trickle, "json", id="slowloris-body"),
        pytest.param(slow_headers, "json", id="slowloris-headers"),
    ],
)
def test_a_trickling_server_fails_the_run_at_its_deadline_as_a_network_error(
    hostile_server: Callable[[Callable[[socket.socket], None]], str],
    behaviour: Callable[[socket.socket], None],
    kind: str,
) -> None:
    source = http_source(hostile_server(behaviour), kind, timeout_seconds=DEADLINE)
    error = failure_within(source, DEADLINE + SLACK)
    assert error.category is ErrorCategory.NETWORK
    assert error.message == "fetch took longer than timeout_seconds (2 s)"


@pytest.mark.parametrize(
    ("behaviour", "kind"),
    [
        pytest.param(endless_body, "csv", id="endless-body"),
        pytest.param(whitespace_forever, "json", id="whitespace-forever"),
        pytest.param(gzip_bomb, "json", id="gzip-bomb"),
    ],
)
def test_a_body_past_max_bytes_fails_the_run_as_a_parsing_error_naming_the_cap(
    hostile_server: Callable[[Callable[[socket.socket], None]], str],
    behaviour: Callable[[socket.socket], None],
    kind: str,
) -> None:
    cap = 8 * 1024 * 1024
    source = http_source(hostile_server(behaviour), kind, timeout_seconds=30, max_bytes=cap)
    error = failure_within(source, 30 + SLACK)
    assert error.category is ErrorCategory.PARSING
    assert error.message == f"feed larger than max_bytes ({cap} bytes)"


def test_an_endless_body_without_a_byte_cap_still_ends_at_the_deadline(
    hostile_server: Callable[[Callable[[socket.socket], None]], str],
) -> None:
    source = http_source(hostile_server(whitespace_forever), timeout_seconds=DEADLINE)
    assert failure_within(source, DEADLINE + SLACK).category is ErrorCategory.NETWORK


def test_the_byte_cap_is_counted_after_decompression(tmp_path: Path) -> None:
    """A gzip file feed is read as stored; over HTTP the cap counts what httpx inflates."""
    body = b"[" + b" " * 4096 + b"]"
    assert len(gzip.compress(body)) < 100
    source = file_source(tmp_path, "json", body, max_bytes=len(body) - 1)
    with pytest.raises(FeedError, match="max_bytes"):
        list(read_records(source))


# --- item 5: one long JSON string is linear --------------------------------------------------


def test_a_long_json_string_is_read_in_reads_that_grow(tmp_path: Path) -> None:
    """The parser rescans an unfinished token on every read: reads double while one spans
    them, so a 64 MB title takes a few dozen reads, not 16,000 (bench_long_json measures)."""
    title = "x" * (64 * 1024 * 1024)
    path = tmp_path / "long.json"
    path.write_text(f'[{{"id": "a", "name": "{title}", "start": "2027-01-01"}}]')
    source = file_source(tmp_path, "json", path.read_bytes())
    reads: list[int] = []
    from failtrack_pipeline.sources import readers

    original = readers._JsonInput.read

    def counted(self: readers._JsonInput, size: int = -1) -> bytes:
        data = original(self, size)
        reads.append(len(data))
        return data

    readers._JsonInput.read = counted  # type: ignore[method-assign]
    try:
        (record,) = list(read_records(source))
    finally:
        readers._JsonInput.read = original  # type: ignore[method-assign]
    assert len(record["title"]) == len(title)
    assert len(reads) < 40


# --- item 6: bounded memory ----------------------------------------------------------------


def test_a_csv_field_past_the_cap_fails_its_record_and_the_rest_are_read(tmp_path: Path) -> None:
    huge = "y" * (200 * 1024)
    content = f'id,name,start\na,"{huge}",2027-01-01\nb,Fine,2027-01-01\n'
    items = list(read_records(file_source(tmp_path, "csv", content)))
    assert isinstance(items[0], EventError)
    assert items[0].message == "invalid CSV line 2: a field longer than 131072 characters"
    assert items[1]["external_id"] == "b"


def test_a_csv_line_past_the_cap_is_dropped_without_being_held_whole(tmp_path: Path) -> None:
    huge = "y" * (3 * 1024 * 1024)
    content = f"id,name,start\na,{huge},2027-01-01\nb,Fine,2027-01-01\n"
    items = list(read_records(file_source(tmp_path, "csv", content)))
    assert isinstance(items[0], EventError)
    assert "longer than 1048576 characters" in items[0].message
    assert items[1]["external_id"] == "b"


def test_duplicate_tracking_costs_at_most_16_bytes_per_record() -> None:
    seen = SeenIds()
    count = 200_000
    assert not any(seen.add(f"event-{index}") for index in range(count))
    assert all(seen.add(f"event-{index}") for index in range(0, count, 997))
    assert len(seen._slots) * seen._slots.itemsize <= 16 * count


def test_a_large_icalendar_feed_is_read_a_component_at_a_time(tmp_path: Path) -> None:
    """Plain events become records as the calendar streams: the first arrives before the
    reader has seen the end of the file."""
    vevent = "BEGIN:VEVENT\r\nUID:{}\r\nSUMMARY:E\r\nDTSTART:20270101T100000Z\r\nEND:VEVENT\r\n"
    body = "BEGIN:VCALENDAR\r\n" + "".join(vevent.format(i) for i in range(20_000))
    path = tmp_path / "big.ics"
    path.write_text(body)  # no END:VCALENDAR, and read lazily
    source = file_source(tmp_path, "ics", path.read_bytes())
    records = read_records(source)
    first = next(records)
    assert first["external_id"] == "0"
    assert sum(1 for _ in records) == 19_999


# --- item 7: one bad number fails its record alone ----------------------------------------


@pytest.mark.parametrize("token", ["1e400", "NaN", "Infinity", "-Infinity"])
def test_one_bad_json_number_fails_its_record_alone(tmp_path: Path, token: str) -> None:
    records = ",".join(
        f'{{"id": "e{index}", "name": "N", "start": "2027-01-01", "venue_name": "V",'
        f' "lat": {token if index == 3 else 1.5}, "lng": 2.5}}'
        for index in range(1, 6)
    )
    source = file_source(
        tmp_path,
        "json",
        f"[{records}]",
        fields=CORE_FIELDS | {"latitude": "lat", "longitude": "lng", "venue_name": "venue_name"},
    )
    items = list(process_records(read_records(source), source, now=NOW))
    failed = [item for item in items if isinstance(item, EventError)]
    assert len(items) == 5
    assert [item.external_id for item in failed] == ["e3"]


def test_nan_inside_a_string_is_left_alone(tmp_path: Path) -> None:
    content = '[{"id": "a", "name": "NaN, Infinity and \\"NaN\\"", "start": "2027-01-01"}]'
    (record,) = list(read_records(file_source(tmp_path, "json", content)))
    assert record["title"] == 'NaN, Infinity and "NaN"'


# --- a real run ----------------------------------------------------------------------------


def test_a_scrape_run_against_a_slowloris_server_fails_within_its_deadline(
    backend: Backend,
    tmp_path: Path,
    hostile_server: Callable[[Callable[[socket.socket], None]], str],
) -> None:
    """Through the job on SQLite and PostgreSQL: the run ends failed, tagged and recorded
    as the network_error naming the limit, its queue slot free again within the deadline."""
    path = tmp_path / "sources.yaml"
    path.write_text(
        "sources:\n"
        "  - {id: slow, name: Slow, kind: json, records: '', timeout_seconds: 2, max_retries: 0,\n"
        f"     url: '{hostile_server(trickle)}',\n"
        "     fields: {external_id: id, title: name, starts_at: start}}\n"
    )
    started = time.monotonic()
    tags = run_source(backend, path, "slow")
    assert time.monotonic() - started < DEADLINE + SLACK + 10  # + the run's own start-up
    assert (tags["failtrack/status"], tags["failtrack/error_category"]) == (
        "failed",
        "network_error",
    )
    assert tags["failtrack/error_message"] == "fetch took longer than timeout_seconds (<int> s)"
    assert failure_rows(backend.engine) == {
        ("slow", "network_error", "fetch took longer than timeout_seconds (<int> s)"): 1
    }
