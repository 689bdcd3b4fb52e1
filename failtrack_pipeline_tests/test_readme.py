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
