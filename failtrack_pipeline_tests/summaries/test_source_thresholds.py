"""Per-source health thresholds: a source that sets `health:` in the sources file is judged by
its own thresholds, in `source_success_rates` and in its health check; the others keep the
global ones. Through the project's own definitions, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from dagster import AssetCheckSeverity

from failtrack_pipeline.config.sources_file import load_sources
from failtrack_pipeline.db.schema import source_success_rates
from failtrack_pipeline.definitions import build_definitions
from failtrack_pipeline.defs.dashboard import DASHBOARD_JOB
from failtrack_pipeline.summaries.days import utc_today
from failtrack_pipeline_tests.conftest import Backend
from failtrack_pipeline_tests.summaries.fake_scrape import scrape

SOURCES = """
sources:
  - {id: strict, name: Strict, kind: ics, url: strict.ics}
  - id: lenient
    name: Lenient
    kind: ics
    url: lenient.ics
    health: {healthy: 0.8, degraded: 0.5}
"""


def test_two_sources_with_the_same_rates_and_different_thresholds_differ_in_health(
    backend: Backend, tmp_path: Path
) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(SOURCES)
    for source in ("strict", "lenient"):
        scrape(backend.instance, source, "partial", 17, 3)  # 85 % of events succeeded
    defs = build_definitions(load_sources(path))
    result = defs.resolve_job_def(DASHBOARD_JOB).execute_in_process(
        instance=backend.instance, partition_key=utc_today().isoformat()
    )
    assert result.success

    table = source_success_rates.c
    with backend.engine.connect() as connection:
        health = dict(connection.execute(sa.select(table.source_id, table.health)).all())
    # 85 %: under the global healthy 95 %, above lenient's own healthy 80 %.
    assert health == {"strict": "degraded", "lenient": "healthy"}
    checks = {
        check.check_name: (check.passed, check.severity, check.metadata["health_thresholds"].text)
        for check in result.get_asset_check_evaluations()
        if check.check_name.startswith("health_")
    }
    assert checks == {
        "health_strict": (False, AssetCheckSeverity.WARN, "healthy >= 95%, degraded >= 80%"),
        "health_lenient": (True, AssetCheckSeverity.WARN, "healthy >= 80%, degraded >= 50%"),
    }
