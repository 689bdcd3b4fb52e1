from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from failtrack_pipeline.cli import main
from failtrack_pipeline.config.environment import DATABASE_URL_ENV
from failtrack_pipeline.db.engine import create_db_engine
from failtrack_pipeline.db.migrate import current_revision, head_revision


def test_failtrack_migrate_brings_the_database_to_head_without_showing_the_password(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FAILTRACK_DATABASE_URL", db_url)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    assert main(["migrate"]) == 0
    # Dagster's own storage too, so that processes starting together find it ready.
    for storage in ("history/runs.db", "history/runs/index.db", "schedules/schedules.db"):
        assert (tmp_path / storage).is_file()
    with create_db_engine(db_url).connect() as connection:
        assert current_revision(connection) == head_revision()
    printed = capsys.readouterr().out
    assert f"revision {head_revision()}" in printed
    password = sa.make_url(db_url).password
    assert not password or password not in printed


def test_a_bad_database_url_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FAILTRACK_DATABASE_URL", "mysql://u:secretpw@db/x")
    monkeypatch.setenv("DAGSTER_HOME", "/nonexistent")
    assert main(["migrate"]) == 2
    error = capsys.readouterr().err
    assert "unsupported database 'mysql'" in error and "secretpw" not in error


@pytest.mark.slow
def test_failtrack_demo_shows_skips_and_the_silent_failure(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv(DATABASE_URL_ENV, f"sqlite:///{tmp_path / 'failtrack.db'}")
    assert main(["demo"]) == 0
    printed = capsys.readouterr().out
    assert "Replayed 4 earlier scrapes of night_markets" in printed
    runs = printed.split("Scrape runs")[1].split("Success rates")[0]
    rows = {line.split()[0]: line.split() for line in runs.splitlines()[2:] if line.strip()}
    # source, status, processed, succeeded, failed, skipped, top error
    assert rows["night_markets"][1:] == ["silent_failure", "0", "0", "0", "0", "silent_failure"]
    assert rows["riverside_theatre"][5] == "1"  # the ignored kids' show
    assert rows["city_concerts"][5] == "2"  # the cancelled concert and the long-past one
