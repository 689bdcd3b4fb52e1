"""Hostile error messages are stored safely: in the failure table and in a real run's tags.

SQL-looking text, a megabyte of text, odd Unicode (right-to-left marks, zero-width spaces,
lone surrogates from undecodable bytes, NUL, which PostgreSQL refuses) and line breaks:
stored as data through parameterized SQL, bounded in length, and the table intact.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from failtrack_pipeline.base.normalize import MAX_LENGTH
from failtrack_pipeline.config.sources_file import SourceConfig, load_sources
from failtrack_pipeline.db.schema import discovery_event_failures
from failtrack_pipeline.definitions import build_definitions
from failtrack_pipeline.defs.run_tags import MAX_TAG_VALUE_CHARS
from failtrack_pipeline.tracking.failures import EXAMPLE_MAX_CHARS, describe_failure
from failtrack_pipeline.tracking.store import record_failures
from failtrack_pipeline_tests.conftest import Backend, scrape_config

NOW = datetime(2026, 11, 25, tzinfo=UTC)
SQL = "'); DROP TABLE discovery_event_failures; -- \" OR 1=1; SELECT pg_sleep(10);"
HOSTILE = {
    "sql": SQL,
    "megabyte": "Feed broke: " + "lorem ipsum " * 90_000,
    "one_megabyte_word": "x" * 1_000_000,
    "wide_chars": "😀" * 400_000,  # 4 bytes each in UTF-8
    "rtl_and_zero_width": "venue \u202eenoz\u202c\u200b\u200d\ufeff missing",
    "lone_surrogates": "title \udcff\ud800 missing",
    "nul": "bad\x00record\x00",
    "newlines": "line one\nline two\r\n\tline three\u2028four",
    "everything": f"{SQL}\x00\u202e\udcff\n" * 1000,
}


def assert_storable(text: str, limit: int) -> None:
    """Bounded, and nothing PostgreSQL's text columns would refuse."""
    assert len(text) <= limit
    assert "\x00" not in text
    text.encode("utf-8")  # no lone surrogates


def rows(engine: sa.Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(sa.select(discovery_event_failures)))


def test_hostile_messages_are_stored_bounded_and_leave_the_table_intact(
    engine: sa.Engine,
) -> None:
    failures = [
        describe_failure("hostile", message, seen_at=NOW, external_id=f"id-{name}\x00\ud800")
        for name, message in HOSTILE.items()
    ]
    for failure in failures:
        assert_storable(failure.message, MAX_LENGTH)
        assert_storable(failure.example, EXAMPLE_MAX_CHARS)
    assert record_failures(engine, failures, run_id="run-1", batch="events").recorded
    assert not record_failures(engine, failures, run_id="run-1", batch="events").recorded

    stored = rows(engine)
    assert len(stored) == len({failure.fingerprint for failure in failures})
    assert sum(row.occurrence_count for row in stored) == len(HOSTILE)
    for row in stored:
        assert_storable(row.error_message, MAX_LENGTH)
        assert_storable(row.example_message, EXAMPLE_MAX_CHARS)
        assert len(row.sample_external_ids) == 1
    # The SQL was data, stored as written; the table it names is still there and counting.
    assert any(row.example_message == SQL for row in stored)
    record_failures(engine, failures[:1], run_id="run-2", batch="events")
    assert sum(row.occurrence_count for row in rows(engine)) == len(HOSTILE) + 1


def hostile_scraper(source: SourceConfig) -> Iterator[dict[str, Any]]:
    """A python source's callable that fails with the hostile text its source's name names."""
    raise RuntimeError(HOSTILE[source.name])
    yield {}


@pytest.mark.parametrize("name", ["everything", "wide_chars"])
def test_a_run_failing_with_a_hostile_message_gets_bounded_storable_tags(
    backend: Backend, tmp_path: Path, name: str
) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(
        "sources:\n"
        f"  - {{id: hostile, name: {name}, kind: python,"
        f" callable: '{__name__}:hostile_scraper'}}\n"
    )
    job = build_definitions(load_sources(path)).get_job_def("scrape_sources_job")
    result = job.execute_in_process(
        partition_key="hostile",
        instance=backend.instance,
        raise_on_error=False,
        run_config=scrape_config(),
    )
    assert not result.success
    run = backend.instance.get_run_by_id(result.run_id)
    assert run is not None
    assert run.tags["failtrack/status"] == "failed"
    for key, value in run.tags.items():
        assert_storable(key, MAX_TAG_VALUE_CHARS)
        assert_storable(value, MAX_TAG_VALUE_CHARS)
        assert "\n" not in value
    assert run.tags["failtrack/error_message"].startswith("RuntimeError:")
    (row,) = rows(backend.engine)
    assert row.last_run_id == result.run_id
    assert_storable(row.example_message, EXAMPLE_MAX_CHARS)
    # The op's error and all it chains, as Dagster's event log keeps them, are bounded too.
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    error = failure.step_failure_data.error
    while error is not None:
        assert len(error.message) < 3 * EXAMPLE_MAX_CHARS
        error = error.cause or error.context
