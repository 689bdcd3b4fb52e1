from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from failtrack_pipeline.cli import main
from failtrack_pipeline.config.environment import DATABASE_URL_ENV
from failtrack_pipeline.db.engine import create_db_engine
from failtrack_pipeline.db.migrate import current_revision, head_revision
from failtrack_pipeline.db.schema import stage_success_rates
from failtrack_pipeline.testing.webserver import free_port, graphql


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
    runs = printed.split("Scrape runs")[1].split("Seeded")[0]
    rows = {line.split()[0]: line.split() for line in runs.splitlines()[2:] if line.strip()}
    # source, status, processed, succeeded, failed, skipped, top error
    assert rows["night_markets"][1:] == ["silent_failure", "0", "0", "0", "0", "silent_failure"]
    assert rows["riverside_theatre"][5] == "1"  # the ignored kids' show
    assert rows["city_concerts"][5] == "2"  # the cancelled concert and the long-past one
    assert "Seeded 29 days of history before today" in printed
    overview = printed.split("Sources overview")[1].split("Checks not passing")[0]
    rows = {line.split()[0]: line for line in overview.splitlines()[2:] if line.strip()}
    assert "run rate 42.9 % (4 failed of 7 runs)" in rows["broken_json_feed"]
    assert "ConnectError: [Errno <int>] Connection refused" in rows["offline_calendar"]
    # The demo's own tracked step: venues matched, then geocoded, each a stage of its own.
    assert "stages match_venue and geocode" in printed
    engine = create_db_engine(f"sqlite:///{tmp_path / 'failtrack.db'}")
    with engine.connect() as connection:
        rates = connection.execute(
            sa.select(stage_success_rates.c.stage, stage_success_rates.c.top_error_category)
        ).all()
    engine.dispose()
    assert {stage for stage, _ in rates} == {"scrape", "match_venue", "geocode"}
    assert ("match_venue", "venue_error") in rates and ("geocode", "geocoding_error") in rates
    ui = printed.split("Open the UI")[1].splitlines()[1].split()
    assert ui[:2] == [
        f"DAGSTER_HOME={tmp_path}",
        f"{DATABASE_URL_ENV}=sqlite:///{tmp_path}/failtrack.db",
    ]
    assert ui[-4:-1] == [str(Path(sys.executable).parent / "dg"), "dev", "--target-path"]


OWN_SOURCES = """
sources:
  - id: my_club
    name: My club
    kind: json
    url: club.json
    records: events
    fields: {external_id: id, title: title, starts_at: start, ends_at: end, venue_name: venue}
"""


@pytest.mark.slow
def test_failtrack_demo_on_ones_own_sources_file_judges_as_of_now_and_seeds_nothing(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Ended on 2026-11-28: after the demo's date, before the day this was written.
    club = '{"events": [{"id": "c1", "title": "Quiz", "start": "2026-11-28T19:00:00Z", '
    club += '"end": "2026-11-28T22:00:00Z", "venue": "Bar"}]}'
    (tmp_path / "club.json").write_text(club)
    (tmp_path / "sources.yaml").write_text(OWN_SOURCES)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv(DATABASE_URL_ENV, f"sqlite:///{tmp_path / 'failtrack.db'}")
    monkeypatch.setenv("FAILTRACK_SOURCES_FILE", str(tmp_path / "sources.yaml"))
    assert main(["demo"]) == 0
    printed = capsys.readouterr().out
    assert "Replayed" not in printed and "Seeded" not in printed
    runs = printed.split("Scrape runs")[1].split("Sources overview")[0]
    (row,) = [line.split() for line in runs.splitlines()[2:] if line.strip()]
    assert row == ["my_club", "success", "1", "0", "0", "1"]  # ended: a skip as of now
    ui = printed.split("Open the UI")[1].splitlines()[1]
    assert f"FAILTRACK_SOURCES_FILE={tmp_path / 'sources.yaml'}" in ui
    assert health_checks_served_by(ui, cwd=tmp_path.parent) == ["health_my_club"]


_CHECKS = """{ assetNodeOrError(assetKey: {path: ["source_success_rates"]}) {
    ... on AssetNode { assetChecksOrError { ... on AssetChecks { checks { name } } } } } }"""


def health_checks_served_by(ui_command: str, cwd: Path, timeout: float = 120) -> list[str]:
    """Run the printed UI command from another folder, with none of failtrack's variables of
    this process, read the health checks it serves, then stop it as Ctrl-C does (SIGINT to
    its process group), which must end it cleanly."""
    words = shlex.split(ui_command)
    split = next(i for i, word in enumerate(words) if "=" not in word)
    assigned = dict(word.split("=", 1) for word in words[:split])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FAILTRACK_", "DAGSTER_"))}
    port = free_port()
    command = [*words[split:], "-h", "127.0.0.1", "-p", str(port)]
    server = subprocess.Popen(
        command,
        cwd=cwd,
        env=env | assigned,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as in a terminal
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            assert server.poll() is None, "the UI command exited"
            assert time.monotonic() < deadline, "the UI never served the dashboard"
            try:
                node = graphql(f"http://127.0.0.1:{port}", _CHECKS)["assetNodeOrError"]
            except (httpx.HTTPError, RuntimeError):
                node = {}
            if "assetChecksOrError" in node:
                checks = node["assetChecksOrError"]["checks"]
                names = sorted(check["name"] for check in checks)
                return [name for name in names if name.startswith("health_")]
            time.sleep(1)
    finally:
        os.killpg(server.pid, signal.SIGINT)
        try:
            assert server.wait(timeout=60) == 0, "dagster dev did not stop cleanly on Ctrl-C"
        finally:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
