from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_resources_show_the_variables_their_values_come_from_never_the_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster import EnvVar

    from failtrack_pipeline.config.sources_file import DEMO_SOURCES_FILE, load_sources
    from failtrack_pipeline.definitions import build_definitions

    secret_url = "postgresql+psycopg://failtrack:S3cretPw@db.example/failtrack"
    environ = {
        "FAILTRACK_DATABASE_URL": secret_url,
        "FAILTRACK_SPOOL_DIR": str(tmp_path / "spool"),
        "FAILTRACK_SOURCES_FILE": str(DEMO_SOURCES_FILE),
        "FAILTRACK_RETENTION_DAYS": "30",
    }
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    resources = build_definitions(load_sources(DEMO_SOURCES_FILE)).resources
    shown = {
        "url": resources["failtrack_db"].url,
        "spool_dir": resources["failtrack_db"].spool_dir,
        "path": resources["failtrack_sources"].path,
    }
    assert all(isinstance(value, EnvVar) for value in shown.values()), shown
    assert resources["retention"].days.env_var_name == "FAILTRACK_RETENTION_DAYS"  # IntEnvVar
    assert shown["url"] == "FAILTRACK_DATABASE_URL"  # the name, not the URL
    assert "S3cretPw" not in repr(resources)
    for name in environ:
        monkeypatch.delenv(name)
    unset = build_definitions(load_sources(DEMO_SOURCES_FILE)).resources
    assert unset["failtrack_db"].url is None and unset["retention"].days == 90
