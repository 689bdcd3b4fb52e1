"""Field coverage: counted as a scrape accepts events, judged per day against a minimum and
the source's own history, flagged by a WARN check on the day the field disappears."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa
from dagster import AssetKey, materialize

from failtrack_pipeline.base.events import COVERAGE_FIELDS
from failtrack_pipeline.config.policies import HealthThresholds
from failtrack_pipeline.config.sources_file import load_sources
from failtrack_pipeline.db.schema import (
    run_field_coverage,
    source_field_coverage,
    source_success_rates,
)
from failtrack_pipeline.defs.coverage_assets import field_coverage, source_field_coverage_asset
from failtrack_pipeline.defs.resources import FailtrackDatabase, FailtrackSources
from failtrack_pipeline.defs.summary_assets import (
    HealthThresholdsResource,
    build_success_rates_asset,
)
from failtrack_pipeline.summaries.coverage import build_field_coverage
from failtrack_pipeline.summaries.rates import build_success_rates
from failtrack_pipeline.tracking.coverage import COVERED_FIELDS
from failtrack_pipeline_tests.conftest import Backend
from failtrack_pipeline_tests.defs.test_scrape_job import run_source
from failtrack_pipeline_tests.summaries.history import add_day, scrape_run

DAY_N = date(2026, 11, 20)


def feed_with_addresses(tmp_path: Path, with_address: int, without: int) -> Path:
    records = [
        {"id": f"e-{i}", "title": "Gig", "when": "2027-03-01T20:00:00Z", "venue": "Hall",
         "address": "Main St 1" if i < with_address else ""}
        for i in range(with_address + without)
    ]  # fmt: skip
    (tmp_path / "feed.json").write_text(json.dumps({"items": records}))
    path = tmp_path / "sources.yaml"
    path.write_text(
        "sources:\n"
        "  - id: venues\n"
        "    name: Venues\n"
        "    kind: json\n"
        "    url: feed.json\n"
        "    records: items\n"
        "    min_coverage: {venue_address: 0.9}\n"
        "    fields: {external_id: id, title: title, starts_at: when, venue_name: venue,\n"
        "             venue_address: address}\n"
    )
    return path


def test_the_watched_fields_are_the_ones_a_source_may_set_minimums_for() -> None:
    assert tuple(COVERED_FIELDS) == COVERAGE_FIELDS


def test_a_scrape_counts_each_optional_field_of_the_events_it_accepts(
    backend: Backend, tmp_path: Path
) -> None:
    run_source(backend, feed_with_addresses(tmp_path, 3, 1), "venues")
    table = run_field_coverage
    with backend.engine.connect() as connection:
        query = sa.select(table.c.field, table.c.filled, table.c.accepted)
        rows = {
            field: f"{filled}/{accepted}" for field, filled, accepted in connection.execute(query)
        }
    assert rows["venue_address"] == "3/4" and rows["venue_name"] == "4/4"
    assert rows["coordinates"] == "0/4" and set(rows) == set(COVERAGE_FIELDS)


def seed_days(engine: sa.Engine, shares: dict[date, float], field: str = "venue_address") -> None:
    rows = [
        {"run_id": f"run-{day}", "field": field, "source_id": "venues", "day": day,
         "accepted": 100, "filled": round(100 * share)}
        for day, share in shares.items()
    ]  # fmt: skip
    with engine.begin() as connection:
        connection.execute(sa.insert(run_field_coverage), rows)


def problems(engine: sa.Engine) -> dict[tuple[str, str], str | None]:
    table = source_field_coverage
    with engine.connect() as connection:
        query = sa.select(table.c.source_id, table.c.field, table.c.problem)
        return {(source, field): problem for source, field, problem in connection.execute(query)}


def test_a_field_that_disappears_on_day_n_is_flagged_on_day_n_and_not_before(
    engine: sa.Engine,
) -> None:
    history = {DAY_N - timedelta(days=back): 0.97 + 0.01 * (back % 3) for back in range(1, 15)}
    seed_days(engine, history | {DAY_N: 0.0})
    build_field_coverage(engine, DAY_N - timedelta(days=1), {})
    assert problems(engine) == {("venues", "venue_address"): None}
    build_field_coverage(engine, DAY_N, {})
    assert problems(engine) == {("venues", "venue_address"): "dropped"}


def test_a_source_always_below_its_minimum_is_flagged_every_day_a_steady_one_never(
    engine: sa.Engine,
) -> None:
    seed_days(engine, {DAY_N - timedelta(days=back): 0.5 for back in range(0, 15)})
    build_field_coverage(engine, DAY_N, {})
    assert problems(engine) == {("venues", "venue_address"): None}  # steady: no drop
    build_field_coverage(engine, DAY_N, {"venues": {"venue_address": 0.9}})
    assert problems(engine) == {("venues", "venue_address"): "below_minimum"}


def test_the_coverage_table_and_its_warn_check_show_a_source_below_its_minimum(
    backend: Backend, tmp_path: Path
) -> None:
    path = feed_with_addresses(tmp_path, 1, 3)
    run_source(backend, path, "venues")
    today = date.today().isoformat()
    result = materialize(
        [source_field_coverage_asset, field_coverage],
        instance=backend.instance,
        resources={
            "failtrack_db": FailtrackDatabase(),
            "failtrack_sources": FailtrackSources(path=str(load_sources(path).path)),
        },
        run_config={"ops": {"source_field_coverage": {"config": {"as_of": today}}}},
    )
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed and evaluation.severity.value == "WARN"
    assert evaluation.metadata["sources"].value == "venues"
    (materialization,) = result.asset_materializations_for_node("source_field_coverage")
    assert materialization.metadata["coverage_problems"].value == 1


def test_the_project_refreshes_the_coverage_table_with_the_dashboard() -> None:
    from failtrack_pipeline.definitions import defs
    from failtrack_pipeline.defs.dashboard import DASHBOARD_JOB

    job = defs.resolve_job_def(DASHBOARD_JOB)
    assert AssetKey("source_field_coverage") in job.asset_layer.executable_asset_keys


def overview_row(engine: sa.Engine) -> dict[str, object]:
    table = source_success_rates.c
    with engine.connect() as connection:
        query = sa.select(
            table.health_reason, table.coverage_field, table.coverage_7d, table.coverage_state
        ).where(table.source_id == "venues")
        return dict(connection.execute(query).one()._mapping)


def judge_day(engine: sa.Engine, day: date) -> dict[str, object]:
    """The day's coverage table, then the sources overview's table, as the dashboard runs."""
    add_day(engine, day, scrape_run("venues", day, 100, 0))
    build_field_coverage(engine, day, {})
    build_success_rates(engine, ["venues"], day, HealthThresholds())
    return overview_row(engine)


def test_the_overview_names_the_worst_field_and_its_drop_on_day_n(engine: sa.Engine) -> None:
    history = {DAY_N - timedelta(days=back): 0.97 + 0.01 * (back % 3) for back in range(1, 15)}
    seed_days(engine, history | {DAY_N: 0.0})
    seed_days(engine, dict.fromkeys([*history, DAY_N], 0.5), field="performers")
    before = judge_day(engine, DAY_N - timedelta(days=1))
    # The day before: nothing wrong, the least filled field is shown.
    assert (before["coverage_field"], before["coverage_state"]) == ("performers", "ok")
    assert before["coverage_7d"] == 0.5 and "filled" not in str(before["health_reason"])
    shown = judge_day(engine, DAY_N)
    # Day N: venue_address dropped, though 6 of its 7 days were still well filled.
    assert (shown["coverage_field"], shown["coverage_state"]) == ("venue_address", "dropped")
    assert shown["coverage_7d"] == (98 + 99 + 97 + 98 + 99 + 97 + 0) / 700
    assert str(shown["health_reason"]).endswith(
        "; venue_address filled 0.0 %, dropped from a median 98.0 %"
    )


def test_the_sources_overview_shows_a_source_below_its_minimum(
    backend: Backend, tmp_path: Path
) -> None:
    path = feed_with_addresses(tmp_path, 1, 3)
    run_source(backend, path, "venues")
    today = date.today().isoformat()
    result = materialize(
        [source_field_coverage_asset, build_success_rates_asset(["venues"])],
        instance=backend.instance,
        resources={
            "failtrack_db": FailtrackDatabase(),
            "failtrack_sources": FailtrackSources(path=str(load_sources(path).path)),
            "health_thresholds": HealthThresholdsResource(),
        },
        run_config={
            "ops": {
                name: {"config": {"as_of": today}}
                for name in ("source_field_coverage", "source_success_rates")
            }
        },
    )
    (materialization,) = result.asset_materializations_for_node("source_success_rates")
    (row,) = materialization.metadata["sources_overview"].records
    assert (row.data["coverage_field"], row.data["coverage_state"]) == (
        "venue_address",
        "below_minimum",
    )
    assert row.data["coverage_7d"] == "25.0 %"
    assert row.data["health_reason"].endswith(
        "; venue_address filled 25.0 %, under its minimum 90.0 %"
    )
