"""Transient fetch failures are tried again inside the run; the others never are.

A real HTTP server on 127.0.0.1 answers each request from a script (503 then 200, 429
with Retry-After then 200, 401), and real scrape runs go through the job on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.base.errors import EventError, FeedError
from failtrack_pipeline.config.sources_file import load_sources
from failtrack_pipeline.definitions import build_definitions
from failtrack_pipeline.tracking.retries import MAX_WAIT_SECONDS, max_runtime_seconds, retry_delay
from failtrack_pipeline_tests.conftest import Backend, scrape_config
from failtrack_pipeline_tests.defs.test_scrape_job import failure_rows, run_source

FEED = json.dumps(
    {"items": [{"id": "r-1", "title": "Retried gig", "when": "2027-03-01T20:00:00Z"}]}
).encode()


@dataclass
class ScriptedServer:
    """Answers the n-th request with the n-th (status, headers) of `script` (the last one
    repeats) and remembers when each request came."""

    script: list[tuple[int, dict[str, str]]]
    arrivals: list[float] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    server_state = ScriptedServer(script=[])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            server_state.arrivals.append(time.monotonic())
            index = min(len(server_state.arrivals), len(server_state.script)) - 1
            status, headers = server_state.script[index]
            body = FEED if status == 200 else b'{"error": "try later"}'
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server_state.url = f"http://127.0.0.1:{server.server_address[1]}/events.json"
    yield server_state
    server.shutdown()
    server.server_close()


def sources_file(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(
        "sources:\n"
        "  - id: flaky_api\n"
        "    name: An API that is sometimes busy\n"
        "    kind: json\n"
        f"    url: {url}\n"
        "    records: items\n"
        "    required: [title, starts_at]\n"
        "    fields: {external_id: id, title: title, starts_at: when}\n"
    )
    return path


def test_a_503_then_a_200_is_a_success_after_one_retry(
    backend: Backend, tmp_path: Path, scripted: ScriptedServer
) -> None:
    scripted.script = [(503, {}), (200, {"Content-Type": "application/json"})]
    tags = run_source(backend, sources_file(tmp_path, scripted.url), "flaky_api")
    assert len(scripted.arrivals) == 2
    assert (tags["failtrack/status"], tags["failtrack/counts"]) == (
        "success",
        "1 read · 1 stored · 0 failed · 0 skipped",
    )
    assert "failtrack/error_category" not in tags  # the tags describe the last attempt
    assert failure_rows(backend.engine) == {}


def test_a_429_with_retry_after_waits_as_long_as_the_source_asks(
    backend: Backend, tmp_path: Path, scripted: ScriptedServer
) -> None:
    scripted.script = [(429, {"Retry-After": "2"}), (200, {})]
    tags = run_source(backend, sources_file(tmp_path, scripted.url), "flaky_api")
    first, second = scripted.arrivals
    assert second - first >= 2.0
    assert tags["failtrack/status"] == "success"


def test_a_401_is_never_retried_and_fails_the_run_once(
    backend: Backend, tmp_path: Path, scripted: ScriptedServer
) -> None:
    scripted.script = [(401, {})]
    tags = run_source(backend, sources_file(tmp_path, scripted.url), "flaky_api")
    assert len(scripted.arrivals) == 1
    assert (tags["failtrack/status"], tags["failtrack/error_category"]) == (
        "failed",
        "authentication_error",
    )
    assert sum(failure_rows(backend.engine).values()) == 1


def test_a_source_that_stays_down_is_tried_max_retries_more_times_then_fails_once(
    backend: Backend, tmp_path: Path, scripted: ScriptedServer
) -> None:
    path = sources_file(tmp_path, scripted.url)
    path.write_text(path.read_text() + "    max_retries: 1\n")
    scripted.script = [(503, {"Retry-After": "0"})]
    tags = run_source(backend, path, "flaky_api")
    assert len(scripted.arrivals) == 2
    assert (tags["failtrack/status"], tags["failtrack/error_category"]) == (
        "failed",
        "network_error",
    )
    assert sum(failure_rows(backend.engine).values()) == 1  # the last attempt's reason


def network(retry_after: float | None = None) -> FeedError:
    return FeedError(
        "ConnectError: refused", category=ErrorCategory.NETWORK, retry_after=retry_after
    )


def test_the_wait_doubles_with_jitter_and_retry_after_wins_capped() -> None:
    rng = random.Random(7)
    waits = [retry_delay(network(), attempt=n, max_retries=9, rng=rng) for n in range(4)]
    for attempt, wait in enumerate(waits):
        doubled = 2.0 * 2**attempt
        assert wait is not None and doubled / 2 <= wait <= doubled
    assert retry_delay(network(retry_after=7), attempt=0, max_retries=3) == 7
    assert retry_delay(network(retry_after=10**6), attempt=0, max_retries=3) == MAX_WAIT_SECONDS
    assert retry_delay(network(), attempt=3, max_retries=3) is None


@pytest.mark.parametrize(
    "category",
    [
        ErrorCategory.AUTHENTICATION,
        ErrorCategory.PARSING,
        ErrorCategory.VALIDATION,
        ErrorCategory.DATA_QUALITY,
    ],
)
def test_failures_that_would_fail_again_are_never_retried(category: ErrorCategory) -> None:
    assert retry_delay(FeedError("x", category=category), attempt=0, max_retries=3) is None
    assert retry_delay(EventError("x", category=category), attempt=0, max_retries=3) is None


def test_every_run_carries_the_runtime_past_which_dagster_stops_it(
    backend: Backend, tmp_path: Path, scripted: ScriptedServer
) -> None:
    """Four attempts of 300 s, three capped waits and the overhead: 2,700 s by default."""
    scripted.script = [(200, {})]
    path = sources_file(tmp_path, scripted.url)
    job = build_definitions(load_sources(path)).get_job_def("scrape_sources_job")
    result = job.execute_in_process(
        partition_key="flaky_api", instance=backend.instance, run_config=scrape_config()
    )
    run = backend.instance.get_run_by_id(result.run_id)
    assert run is not None
    source = load_sources(path).get("flaky_api")
    assert run.tags["dagster/max_runtime"] == str(max_runtime_seconds(source)) == "2700"
