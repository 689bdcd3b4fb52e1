"""What the README promises is real: its examples print what it says, and every test its
Guarantees table names exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def test_the_public_api_example_gives_what_the_readme_says() -> None:
    from failtrack_pipeline.tracking import normalize_message, scrub_secrets

    shown = re.findall(r'^(\w+)\((".*")\)\n# -> (".*")$', README, flags=re.M)
    assert {name for name, _, _ in shown} == {"normalize_message", "scrub_secrets"}
    functions = {"normalize_message": normalize_message, "scrub_secrets": scrub_secrets}
    for name, argument, expected in shown:
        assert functions[name](ast.literal_eval(argument)) == ast.literal_eval(expected)


def guaranteed_tests() -> list[str]:
    section = README.split("## Guarantees", 1)[1].split("\n## ", 1)[0]
    ids = []
    for row in section.splitlines():
        if not row.startswith("|"):
            continue
        for path, rest in re.findall(r"\[`([\w/]+\.py)(::\w+)?`\]", row):
            ids.append(path + rest)
        for path, names in re.findall(r"\(([\w/]+\.py)\)((?:`::\w+`,? ?)+)", row):
            ids += [path + name for name in re.findall(r"::\w+", names)]
    return ids


@pytest.mark.parametrize("node_id", guaranteed_tests())
def test_every_guarantee_points_at_a_real_test(node_id: str) -> None:
    path, _, name = node_id.partition("::")
    source = (REPO / path).read_text(encoding="utf-8")
    if name:
        assert re.search(rf"^(async )?def {name}\(", source, flags=re.M), node_id
    else:
        assert re.search(r"^def test_", source, flags=re.M), node_id


def test_the_tracking_your_own_steps_example_runs_and_records_its_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlalchemy as sa
    from dagster._core.test_utils import instance_for_test

    from failtrack_pipeline.db.engine import create_db_engine
    from failtrack_pipeline.db.schema import discovery_event_failures, stage_run_counts

    section = README.split("## Tracking your own steps", 1)[1].split("\n## ", 1)[0]
    (example,) = re.findall(r"^```python\n(.*?)^```", section, flags=re.M | re.S)
    url = f"sqlite:///{tmp_path / 'failtrack.db'}"
    monkeypatch.setenv("FAILTRACK_DATABASE_URL", url)
    namespace: dict = {"__name__": "readme_example"}
    exec(compile(example, "README.md", "exec", dont_inherit=True), namespace)
    with instance_for_test() as instance:
        result = (
            namespace["defs"].resolve_job_def("geocode_job").execute_in_process(instance=instance)
        )
        assert instance.get_run_by_id(result.run_id).tags["failtrack/stage"] == "geocode"
    failures = discovery_event_failures.c
    counts = stage_run_counts.c
    with create_db_engine(url).connect() as connection:
        groups = connection.execute(
            sa.select(failures.error_category, failures.stage, failures.occurrence_count)
        ).all()
        stored = connection.execute(
            sa.select(counts.stage, counts.events_processed, counts.events_failed)
        ).all()
    assert sorted(groups) == [("geocoding_error", "geocode", 1), ("geocoding_error", "geocode", 1)]
    assert stored == [("geocode", 3, 2)]
