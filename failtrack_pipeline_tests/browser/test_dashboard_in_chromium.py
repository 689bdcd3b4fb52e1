"""The dashboard as a person sees it: `failtrack demo`, the real webserver, headless Chromium.

What is asserted is the text on screen: the sources overview's columns and rows (health and
the reason for it, the top error, failing since), and the failure-group list's messages with
their placeholders (`<int>`, `<value>`, `<path>`, `<float>`) visible, i.e. not taken for
HTML. The same checks, run on a page that swallows a placeholder or lacks a column, fail.
In the Runs list, a partial or silent-failure run (Dagster's green "Success") is marked
`⚠` in its one counts pill, a clean run is not.
Screenshots land in the git-ignored `screenshots/` folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

import pytest
from playwright.sync_api import Page

from failtrack_pipeline.config.environment import DATABASE_URL_ENV
from failtrack_pipeline.db.engine import create_db_engine
from failtrack_pipeline.summaries.days import utc_today
from failtrack_pipeline.summaries.present import (
    SOURCES_OVERVIEW,
    TOP_GROUPS_PREVIEW,
    TREND,
    formatted,
    sources_overview,
)
from failtrack_pipeline.testing.webserver import DAGSTER_YAML, dagster_webserver, graphql
from failtrack_pipeline_tests.browser.chromium import (
    RunRow,
    chromium_page,
    metadata_table,
    run_rows,
    screenshot,
)

pytestmark = pytest.mark.slow

EXPECTED_HEALTH = {
    "broken_json_feed": "failing",
    "offline_calendar": "failing",
    "city_concerts": "degraded",
    "box_office": "degraded",
    "metro_meetups": "healthy",  # its series expanded: 3 of 140 events fail
    "night_markets": "degraded",
    "riverside_theatre": "degraded",
    "legacy_listings": "no_data",
    "harbour_festival": "healthy",
}
# Messages whose placeholders a markdown renderer would take for HTML tags.
TOP_ERRORS = {
    "offline_calendar": "ConnectError: [Errno <int>] Connection refused",
    "metro_meetups": "invalid iCalendar property DTSTART <value>",
    "riverside_theatre": "duplicate external_id <value>",
}
GROUP_MESSAGES = {
    "ConnectError: [Errno <int>] Connection refused",
    "invalid iCalendar property DTSTART <value>",
    "url ftp://files.boxoffice.example/<path> must be an http(s) URL",
    "latitude <float> out of range",
    "yielded <int> records; median of last <int> runs is <int>",
}


@dataclass(frozen=True)
class Dashboard:
    url: str
    page: Page
    database_url: str


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    home = tmp_path_factory.mktemp("ui")
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    env = {DATABASE_URL_ENV: f"sqlite:///{home / 'failtrack.db'}"}
    demo = [sys.executable, "-m", "failtrack_pipeline.cli", "demo"]
    subprocess.run(
        demo, env=os.environ | env | {"DAGSTER_HOME": str(home)}, check=True, capture_output=True
    )
    with dagster_webserver(home, env) as url, chromium_page(home / "chromium") as page:
        graphql(url, "mutation { setNuxSeen }")  # no "join the community" dialog
        yield Dashboard(url, page, env[DATABASE_URL_ENV])


def assert_overview_reads_right(rows: list[dict[str, str]]) -> None:
    """What a person must read in the sources overview of the demo."""
    assert list(rows[0]) == [*SOURCES_OVERVIEW.columns, TREND]
    by_source = {row["source_id"]: row for row in rows}
    assert {source: row["health"] for source, row in by_source.items()} == EXPECTED_HEALTH
    assert [row["health"] for row in rows[:2]] == ["failing", "failing"]  # worst first
    for source, message in TOP_ERRORS.items():
        assert by_source[source]["top_error_message"] == message
    reasons = {source: row["health_reason"] for source, row in by_source.items()}
    assert reasons["broken_json_feed"].startswith("run rate 42.9 % (4 failed of 7 runs)")
    assert reasons["night_markets"].startswith("silent failures: run rate")
    assert reasons["harbour_festival"].startswith("event rate 100.0 %")
    assert reasons["legacy_listings"] == "no run yet"
    broke_on = (utc_today() - timedelta(days=3)).isoformat()
    assert by_source["broken_json_feed"]["failing_since"].startswith(broke_on)


def assert_groups_read_right(rows: list[dict[str, str]]) -> None:
    """What a person must read in the failure-group list of the demo."""
    assert list(rows[0]) == list(TOP_GROUPS_PREVIEW.columns)
    assert {row["error_message"] for row in rows} >= GROUP_MESSAGES
    assert all(row["failure_group_id"].isdigit() for row in rows)
    flags = {(row["is_new"], row["is_regressed"]) for row in rows}
    assert {("yes", "no"), ("no", "yes")} <= flags  # new and regressed groups show


def test_the_sources_overview_shows_health_reasons_and_top_errors(dashboard: Dashboard) -> None:
    page = dashboard.page
    page.goto(f"{dashboard.url}/assets/source_success_rates")
    shown = metadata_table(page, "sources_overview")
    screenshot(page, "sources-overview")
    assert_overview_reads_right(shown)
    # Every cell as the table holds it: nothing lost or changed on the way to the screen.
    stored = formatted(sources_overview(create_db_engine(dashboard.database_url)))
    assert shown == [{column: row[column] for column in shown[0]} for row in stored]


def test_the_failure_group_list_shows_messages_with_their_placeholders(
    dashboard: Dashboard,
) -> None:
    page = dashboard.page
    page.goto(f"{dashboard.url}/assets/top_failure_groups")
    shown = metadata_table(page, "preview")
    screenshot(page, "failure-groups")
    assert_groups_read_right(shown)
    stored = formatted(TOP_GROUPS_PREVIEW.read(create_db_engine(dashboard.database_url)))
    assert shown == stored


_CHECK_EXECUTIONS = """
query ($key: AssetKeyInput!, $check: String!) {
  assetCheckExecutions(assetKey: $key, checkName: $check, limit: 100) {
    evaluation { metadataEntries { label } }
  }
}
"""


def test_each_source_health_check_plots_its_rates_over_the_month(dashboard: Dashboard) -> None:
    check = "health_broken_json_feed"
    executions = graphql(
        dashboard.url, _CHECK_EXECUTIONS, key={"path": ["source_success_rates"]}, check=check
    )["assetCheckExecutions"]
    assert len(executions) == 30  # 29 seeded days and today
    labels = {entry["label"] for e in executions for entry in e["evaluation"]["metadataEntries"]}
    assert {"success_rate_7d", "run_success_rate_7d"} <= labels
    page = dashboard.page
    page.goto(f"{dashboard.url}/assets/source_success_rates?view=checks&checkDetail={check}")
    chart = page.locator("canvas").first  # the section opens once the executions load
    chart.wait_for(timeout=60_000)
    chart.scroll_into_view_if_needed()
    screenshot(page, "source-trend")


def test_the_runs_page_filters_failed_runs(dashboard: Dashboard) -> None:
    page = dashboard.page
    failed = quote("tag:failtrack/status=failed")
    page.goto(f"{dashboard.url}/runs?q%5B0%5D={failed}")
    page.get_by_text("failtrack/source: broken_json_feed").first.wait_for(timeout=60_000)
    assert page.get_by_text("failtrack/source: offline_calendar").count() >= 1
    assert page.get_by_text("failtrack/source: harbour_festival").count() == 0
    screenshot(page, "failed-runs")


def latest_run_rows(rows: list[RunRow]) -> dict[str, RunRow]:
    """Each source's newest scrape run row (the list is newest first)."""
    latest: dict[str, RunRow] = {}
    for row in rows:
        for source in EXPECTED_HEALTH:
            if f"failtrack/source: {source}\n" in f"{row.text}\n":
                latest.setdefault(source, row)
    return latest


def test_the_runs_list_marks_partial_and_silent_runs_and_shows_the_counts_as_one_pill(
    dashboard: Dashboard,
) -> None:
    page = dashboard.page
    page.goto(f"{dashboard.url}/runs")
    rows = latest_run_rows(run_rows(page, wait_for="failtrack/source: harbour_festival"))
    screenshot(page, "runs-list")
    partial, silent, clean = rows["box_office"], rows["night_markets"], rows["harbour_festival"]
    # Dagster calls all three a green "Success"; the counts pill tells them apart.
    for row, status in ((partial, "partial"), (silent, "silent_failure"), (clean, "success")):
        assert "Success" in row.text
        assert f"failtrack/status: {status}" in row.text
    assert "failtrack/counts: ⚠ 10 read · 8 stored · 2 failed · 0 skipped" in partial.text
    assert "failtrack/counts: ⚠ 0 read · 0 stored" in silent.text
    assert "failtrack/counts: 12 read · 12 stored · 0 failed · 0 skipped" in clean.text
    assert "⚠" not in clean.text
    for row in rows.values():
        assert "failtrack/events_" not in row.text
        # Source, status, processed_at, counts and at most the top error (category, message).
        assert row.pills <= 6, row.text


def _entry_page(key: str, header: list[str], rows: list[list[str]]) -> str:
    """A metadata entry holding a table, its cells written as raw HTML, as a markdown
    renderer would write a message."""
    cells = "".join(f"<th>{name}</th>" for name in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr><td>{key}</td><td><table><tr>{cells}</tr>{body}</table></td></tr></table>"


def test_the_checks_fail_on_a_swallowed_placeholder_or_a_missing_column(
    dashboard: Dashboard,
) -> None:
    page = dashboard.page
    page.goto(f"{dashboard.url}/assets/top_failure_groups")
    good = metadata_table(page, "preview")
    header = list(good[0])
    rows = [list(row.values()) for row in good]

    page.set_content(_entry_page("preview", header, rows))  # `<int>` becomes a tag
    swallowed = metadata_table(page, "preview")
    assert "ConnectError: [Errno ] Connection refused" in {r["error_message"] for r in swallowed}
    with pytest.raises(AssertionError):
        assert_groups_read_right(swallowed)

    missing = header.index("occurrences_24h")
    page.set_content(
        _entry_page(
            "preview",
            header[:missing] + header[missing + 1 :],
            [[cell.replace("<", "&lt;") for cell in r[:missing] + r[missing + 1 :]] for r in rows],
        )
    )
    with pytest.raises(AssertionError):
        assert_groups_read_right(metadata_table(page, "preview"))
