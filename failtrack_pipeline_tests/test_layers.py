"""The layer contracts of pyproject.toml hold, and they are live: a back-edge breaks them."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "failtrack_pipeline"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """import-linter on the package found under `root`, with the project's contracts."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(REPO / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.add(node.module)
    return modules


def test_the_layer_contracts_are_kept() -> None:
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "back_edge", "contract"),
    [
        ("base/text.py", "import failtrack_pipeline.tracking.store", "Layers import downward only"),
        ("sources/fetch.py", "import failtrack_pipeline.processing.validate", "Layers"),
        ("tracking/store.py", "import dagster", "Only the Dagster layer"),
        ("summaries/rates.py", "from dagster import AssetKey", "Only the Dagster layer"),
    ],
)
def test_an_added_back_edge_breaks_a_contract(
    tmp_path: Path, module: str, back_edge: str, contract: str
) -> None:
    shutil.copytree(PACKAGE, tmp_path / PACKAGE.name, ignore=shutil.ignore_patterns("__pycache__"))
    with (tmp_path / PACKAGE.name / module).open("a", encoding="utf-8") as file:
        file.write(f"\n{back_edge}  # noqa\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    broken = [line for line in result.stdout.splitlines() if line.endswith("BROKEN")]
    assert len(broken) == 1 and broken[0].startswith(contract), result.stdout


def test_nothing_imports_dagsters_private_modules() -> None:
    private = {
        f"{path.relative_to(REPO)}: {module}"
        for folder in (PACKAGE, REPO / "bench", REPO / "scripts")
        for path in folder.rglob("*.py")
        for module in imported_modules(path)
        if module.startswith("dagster._") or module.startswith("dagster_postgres._")
    }
    assert not private


def test_benchmarks_and_scripts_import_no_test_module() -> None:
    offending = {
        f"{path.relative_to(REPO)}: {module}"
        for folder in (REPO / "bench", REPO / "scripts")
        for path in folder.rglob("*.py")
        for module in imported_modules(path)
        if module.split(".")[0] == "failtrack_pipeline_tests"
    }
    assert not offending


def test_migrations_are_frozen_and_import_no_live_code() -> None:
    live = {
        f"{path.relative_to(REPO)}: {module}"
        for path in (PACKAGE / "db" / "migrations").rglob("*.py")
        for module in imported_modules(path)
        if module.split(".")[0] == "failtrack_pipeline"
    }
    assert not live
