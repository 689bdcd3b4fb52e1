"""Nothing leaked: a corpus of secrets pushed through every path failtrack records from.

Real runs on the `backend` fixture's instance: HTTP feeds on a local server whose URLs carry
keys and basic auth (error statuses, a timeout), a feed whose fields hold secrets (the
validation messages), a python source whose exception quotes them (the failure hook), a run
that died with them in its failure (the run-failure sensor), then the dashboard. None of the
secrets may reach run tags, failtrack's tables (events aside: they are the feed's data) or
Dagster's event log. Database credentials: the password of failtrack's database URL never
appears in a run's logs or metadata, whether the database answers, is unreachable, or the
URL is malformed.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from dagster import DagsterInstance
from dagster._core.test_utils import instance_for_test
from dagster._serdes import serialize_value

from failtrack_pipeline.base.errors import ConfigError
from failtrack_pipeline.config.environment import DATABASE_URL_ENV
from failtrack_pipeline.config.sources_file import SourceConfig, load_sources
from failtrack_pipeline.db.schema import events, metadata
from failtrack_pipeline.definitions import build_definitions
from failtrack_pipeline.defs.dashboard import DASHBOARD_JOB
from failtrack_pipeline.sources import fetch
from failtrack_pipeline.summaries.days import utc_today
from failtrack_pipeline_tests.conftest import Backend, scrape_config
from failtrack_pipeline_tests.defs.test_scrape_job import sense_run_failure

# The secret parts: none may be found, nor their first 8 characters (a cut-off secret).
API_KEY = "AKlive9f8e7d6c5b4a3"
TOKEN = "tok_Q2xpZW50U2VjcmV0"
KEY = "k3yZ9wXv8uT7sR6"
BASIC_PASSWORD = "Hunter2Pass!x"
BEARER = "Zb8xQ7wV6uT5sR4qP3"
DB_PASSWORD = "S3cr3tPw0rdDb"
EMAIL = "jane.doe@example.com"
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
SECRETS = [API_KEY, TOKEN, KEY, BASIC_PASSWORD, BEARER, DB_PASSWORD, EMAIL, AWS_KEY, JWT]
LEAKY_MESSAGE = (
    f"sync failed: GET https://api.example.com/v1/events?api_key={API_KEY}&page=2 "
    f"with Authorization: Bearer {BEARER}, db postgresql://app:{DB_PASSWORD}@db.internal/prod, "
    f"owner {EMAIL}, aws {AWS_KEY}, session {JWT}, "
    f"mirror https://scraper:{BASIC_PASSWORD}@mirror.example.com/x?token={TOKEN}&key={KEY}"
)
# Record fields that fail validation while quoting a secret.
LEAKY_RECORDS = [
    {"id": "s1", "name": "A", "start": f"api_key={API_KEY}", "venue": "Hall"},
    {"id": "s2", "name": "B", "start": "2027-03-01", "venue": "Hall", "kind": f"token={TOKEN}"},
    {"id": "s3", "name": "C", "start": "2027-03-01", "venue": "Hall", "lat": EMAIL, "lng": 4},
    {
        "id": "s4",
        "name": "D",
        "start": "2027-03-01",
        "venue": "Hall",
        "link": f"ftp://scraper:{BASIC_PASSWORD}@files.example.com/x",
    },
    # Quoted values are cut at 60 characters: here inside the userinfo, before its `@`.
    {
        "id": "s8",
        "name": "H",
        "start": "2027-03-01",
        "venue": "Hall",
        "link": f"ftp://{'scraper' * 6}:{BASIC_PASSWORD}{'x' * 30}@files.example.com/x",
    },
    {"id": "s5", "name": "E", "start": f"Bearer {BEARER}", "venue": "Hall"},
    {"id": "s6", "name": "F", "start": JWT, "venue": "Hall"},
    {"id": "s7", "name": "G", "start": "2027-03-01", "venue": "Hall", "kind": AWS_KEY},
]
FIELDS = (
    "{external_id: id, title: name, starts_at: start, venue_name: venue, category: kind,"
    " latitude: lat, longitude: lng, url: link}"
)


def leaky_scraper(source: SourceConfig) -> Iterator[dict[str, Any]]:
    """A python source failing with an exception that quotes every kind of secret."""
    raise RuntimeError(LEAKY_MESSAGE)
    yield {}


class LeakyHandler(SimpleHTTPRequestHandler):
    """/status/<code> answers with that status; /slow answers after the client gave up."""

    def do_GET(self) -> None:
        if self.path.startswith("/slow"):
            time.sleep(2)
        status = int(self.path.split("/")[2].split("?")[0]) if "/status/" in self.path else 200
        self.send_error(status)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def feed_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(LeakyHandler, directory="/nonexistent"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def sources_file(tmp_path: Path, host: str) -> Path:
    (tmp_path / "leaky.json").write_text(json.dumps(LEAKY_RECORDS))
    path = tmp_path / "sources.yaml"
    path.write_text(
        f"""
sources:
  - {{id: unauthorized, name: U, kind: json, records: '', fields: {FIELDS},
     url: 'http://{host}/status/401?api_key={API_KEY}&token={TOKEN}'}}
  - {{id: broken_server, name: S, kind: json, records: '', fields: {FIELDS},
     url: 'http://scraper:{BASIC_PASSWORD}@{host}/status/500?key={KEY}'}}
  - {{id: slow, name: T, kind: csv, fields: {FIELDS}, url: 'http://{host}/slow?token={TOKEN}'}}
  - {{id: leaky_fields, name: F, kind: json, records: '', fields: {FIELDS}, url: leaky.json}}
  - {{id: leaky_scraper, name: P, kind: python, callable: '{__name__}:leaky_scraper'}}
"""
    )
    return path


def event_log_text(instance: DagsterInstance, run_id: str) -> str:
    """Every event of the run, messages, metadata and errors included, as stored."""
    return "\n".join(serialize_value(record) for record in instance.all_logs(run_id))


def table_text(engine: sa.Engine) -> str:
    """Every row of failtrack's tables but `events` (which holds the feeds' own data)."""
    with engine.connect() as connection:
        return "\n".join(
            repr(tuple(row))
            for table in metadata.sorted_tables
            if table is not events
            for row in connection.execute(sa.select(table))
        )


def assert_no_secret_in(text: str, secrets: list[str] = SECRETS) -> None:
    for secret in secrets:
        assert secret not in text
        assert secret[:8] not in text, secret


def test_no_secret_reaches_tags_tables_or_the_event_log(
    backend: Backend, tmp_path: Path, feed_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fetch, "TIMEOUT", httpx.Timeout(0.5))  # /slow answers after 2 s
    path = sources_file(tmp_path, feed_server)
    defs = build_definitions(load_sources(path))
    job = defs.get_job_def("scrape_sources_job")
    instance = backend.instance
    run_ids = []
    for source_id in ("unauthorized", "broken_server", "slow", "leaky_fields", "leaky_scraper"):
        result = job.execute_in_process(
            partition_key=source_id,
            instance=instance,
            raise_on_error=False,
            run_config=scrape_config(),
        )
        run_ids.append(result.run_id)
        assert result.success is (source_id == "leaky_fields")

    # A run that died with secrets in its failure: only the sensor sees it. Dagster itself
    # logs the message it was given, so only its tags and the tables are checked.
    died = instance.create_run_for_job(job, tags={"failtrack/source": "leaky_scraper"})
    instance.report_run_failed(died, message=f"worker died: {LEAKY_MESSAGE}")
    sense_run_failure(backend, path, died.run_id, defs)

    dashboard = defs.resolve_job_def(DASHBOARD_JOB).execute_in_process(
        instance=instance, partition_key=utc_today().isoformat()
    )
    assert dashboard.success

    tags = {run.run_id: run.tags for run in instance.get_runs()}
    categories = {
        (tags[run_id]["failtrack/source"], tags[run_id].get("failtrack/error_category"))
        for run_id in [*run_ids, died.run_id]
    }
    assert categories == {
        ("unauthorized", "authentication_error"),
        ("broken_server", "network_error"),
        ("slow", "network_error"),
        ("leaky_fields", "validation_error"),
        ("leaky_scraper", "unknown_error"),
    }
    assert_no_secret_in(repr(tags))
    text = table_text(backend.engine)
    assert "api_key=***" in text and "<email>" in text  # the messages are there, masked
    assert_no_secret_in(text)
    for run_id in [*run_ids, dashboard.run_id]:
        assert_no_secret_in(event_log_text(instance, run_id))


UNREACHABLE = f"postgresql+psycopg://failtrack:{DB_PASSWORD}@127.0.0.1:1/failtrack"
MALFORMED = f"postgresql+psycopg://failtrack:{DB_PASSWORD}@db.internal:notaport/failtrack"


@pytest.mark.parametrize("url", ["reachable", UNREACHABLE, MALFORMED], ids=["up", "down", "bad"])
def test_the_database_password_never_reaches_a_runs_logs_or_metadata(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str
) -> None:
    """A PostgreSQL URL with a password (the test server ignores it); then one whose server
    is unreachable; then one that does not parse, refused as the definitions load."""
    if url == "reachable":
        url = sa.make_url(postgres_url).set(password=DB_PASSWORD).render_as_string(False)
    monkeypatch.setenv(DATABASE_URL_ENV, url)
    path = sources_file(tmp_path, "127.0.0.1:1")
    if url == MALFORMED:
        with pytest.raises(ConfigError) as raised:
            build_definitions(load_sources(path))
        assert str(raised.value) == "FAILTRACK_DATABASE_URL: not a SQLAlchemy database URL " + (
            "(e.g. postgresql+psycopg://…)"
        )
        return
    job = build_definitions(load_sources(path)).get_job_def("scrape_sources_job")
    with instance_for_test() as instance:
        result = job.execute_in_process(
            partition_key="leaky_fields",
            instance=instance,
            raise_on_error=False,
            run_config=scrape_config(),
        )
        assert result.success is (url != UNREACHABLE)
        run = instance.get_run_by_id(result.run_id)
        assert run is not None
        logged = repr(run.tags) + event_log_text(instance, result.run_id)
    assert_no_secret_in(logged, [DB_PASSWORD])
