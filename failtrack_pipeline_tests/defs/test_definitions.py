from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from failtrack_pipeline.definitions import defs


def load_error(env: dict[str, str]) -> str:
    """Load the definitions in a fresh interpreter with `env`; the last line of the error."""
    loaded = subprocess.run(
        [sys.executable, "-c", "import failtrack_pipeline.definitions"],
        env=os.environ | env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert loaded.returncode != 0
    return loaded.stderr.strip().splitlines()[-1]


def test_definitions_load_and_every_job_resolves() -> None:
    for job in defs.resolve_all_job_defs():
        assert job.name
    scrape = defs.get_job_def("scrape_sources_job")
    assert scrape.partitions_def is not None
    assert "offline_calendar" in scrape.partitions_def.get_partition_keys()
    assert defs.get_schedule_def("daily_scrape_schedule").job_name == "scrape_sources_job"
    assert defs.get_sensor_def("record_run_failure_sensor")


def test_an_invalid_sources_file_fails_at_load_naming_the_source_and_field(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "sources.yaml"
    bad.write_text(
        "sources:\n"
        "  - {id: ok_one, name: A, kind: ics, url: a.ics}\n"
        "  - {id: bad_one, name: B, kind: rss, url: b.xml}\n"
    )
    last_line = load_error({"FAILTRACK_SOURCES_FILE": str(bad)})
    assert str(bad) in last_line
    assert "bad_one" in last_line and "kind" in last_line


def test_retry_and_retention_jobs_are_wired() -> None:
    assert defs.get_job_def("retry_events_job")
    assert defs.get_job_def("prune_history_job")
    assert defs.get_schedule_def("daily_prune_schedule").job_name == "prune_history_job"


def test_a_bad_retention_period_fails_at_load_naming_the_variable() -> None:
    assert "FAILTRACK_RETENTION_DAYS='0'" in load_error({"FAILTRACK_RETENTION_DAYS": "0"})
