"""The shipped deployment configs load in Dagster, keep the run limits, and hold no secret."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster._config import validate_config
from dagster._core.instance.config import dagster_instance_config, dagster_instance_config_schema
from dagster._core.run_coordinator.queued_run_coordinator import QueuedRunCoordinator
from dagster._core.workspace.config_schema import process_workspace_config

from failtrack_pipeline.base.scrub import SCRUB_RULES, scrub_secrets
from failtrack_pipeline.defs.run_tags import Tag

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
INSTANCE_CONFIGS = [ROOT / "dagster.yaml", *sorted(DEPLOY.glob("*/dagster.yaml"))]
PRODUCTION_CONFIGS = [path for path in INSTANCE_CONFIGS if path.parent != ROOT]
HELM_VALUES = DEPLOY / "kubernetes" / "values.yaml"
WORKSPACES = [ROOT / "workspace.yaml", *sorted(DEPLOY.glob("*/workspace.yaml"))]
YAML_FILES = sorted(
    path for path in DEPLOY.rglob("*") if path.suffix in (".yaml", ".yml") and path.is_file()
)
TEXT_FILES = sorted(
    path
    for folder in (DEPLOY, ROOT / "docs")
    for path in folder.rglob("*")
    if path.is_file() and path.suffix not in (".png", ".jpg", ".svg")
)

# What a config or doc writes where a secret goes: an environment reference (`${VAR}`,
# `${VAR:?message}`, `$VAR`, Dagster's `env: VAR`), or an elided `…`/`...`.
PLACEHOLDER = re.compile(
    r"\$\{[A-Za-z_]\w*(?::?[-?][^}\n]*)?\}|\$[A-Za-z_]\w*|\benv:\s*[A-Z_][A-Z0-9_]*|…|\.\.\."
)


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _camel_to_snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def helm_instance_config(values: dict[str, Any]) -> dict[str, Any]:
    """The run queue and run monitoring of the dagster.yaml the Helm chart renders from
    `values` (its templates map `dagsterDaemon.*` keys one to one, camelCase to snake_case)."""
    daemon = values["dagsterDaemon"]
    coordinator = daemon["runCoordinator"]
    assert coordinator["enabled"] and coordinator["type"] == "QueuedRunCoordinator"
    queued = coordinator["config"]["queuedRunCoordinator"]
    return {
        "run_coordinator": {
            "module": "dagster.core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": {_camel_to_snake(key): value for key, value in queued.items()},
        },
        "run_monitoring": {_camel_to_snake(k): v for k, v in daemon["runMonitoring"].items()},
    }


def _production_instance(path: Path) -> dict[str, Any]:
    if path == HELM_VALUES:
        return helm_instance_config(_load(path))
    return _load(path)


def unexplained_secrets(text: str) -> list[str]:
    """What `scrub_secrets` would mask in `text` that is not an obvious placeholder.

    A masked span is explained when it, or the rest of its line, holds a placeholder:
    `postgresql://user:${PASSWORD}@host`, or `password:` followed by `env: VAR`.
    """
    found = []
    for rule in SCRUB_RULES:
        name, replace = rule.name, rule.replace
        for match in rule.regex().finditer(text):
            if (replace if isinstance(replace, str) else replace(match)) == match.group():
                continue  # a rule that looked and kept it (not random, no checksum)
            line_end = text.find("\n", match.end())
            context = text[match.start() : None if line_end == -1 else line_end]
            if not PLACEHOLDER.search(context):
                found.append(f"{name}: {match.group()!r}")
    return found


@pytest.mark.parametrize("path", INSTANCE_CONFIGS, ids=_rel)
def test_instance_config_validates_against_dagster_schema(path: Path) -> None:
    """Dagster's own loader accepts the file; `{env: ...}` values need not be set for that."""
    config, _custom_class = dagster_instance_config(str(path.parent), path.name)
    coordinator = config["run_coordinator"]
    assert coordinator["class"] == "QueuedRunCoordinator"
    # The instance schema takes a coordinator's config as is: check it against the class's.
    result = validate_config(QueuedRunCoordinator.config_type(), coordinator["config"])
    assert result.success, result.errors


def test_helm_values_render_a_valid_instance_config() -> None:
    config = helm_instance_config(_load(HELM_VALUES))
    result = validate_config(dagster_instance_config_schema(), config)
    assert result.success, result.errors
    coordinator_config = config["run_coordinator"]["config"]
    result = validate_config(QueuedRunCoordinator.config_type(), coordinator_config)
    assert result.success, result.errors


@pytest.mark.parametrize("path", [*PRODUCTION_CONFIGS, HELM_VALUES], ids=_rel)
def test_production_config_queues_one_run_per_source_and_monitors_runs(path: Path) -> None:
    config = _production_instance(path)
    queue = config["run_coordinator"]["config"]
    per_source = [
        limit for limit in queue["tag_concurrency_limits"] if limit["key"] == Tag.SOURCE.value
    ]
    assert per_source == [
        {"key": Tag.SOURCE.value, "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
    ]
    assert queue["max_concurrent_runs"] > 1  # an overall limit that still lets sources overlap
    assert config["run_monitoring"]["enabled"] is True


def test_every_production_config_is_checked() -> None:
    """A new deploy/<target>/ with an instance config is picked up by the tests above."""
    assert {path.parent.name for path in PRODUCTION_CONFIGS} >= {"postgres", "docker"}


@pytest.mark.parametrize("path", YAML_FILES, ids=_rel)
def test_deploy_yaml_parses(path: Path) -> None:
    documents = list(yaml.safe_load_all(path.read_text()))
    assert documents and all(isinstance(document, dict) for document in documents)


@pytest.mark.parametrize("path", WORKSPACES, ids=_rel)
def test_workspace_validates(path: Path) -> None:
    result = process_workspace_config(_load(path))
    assert result.success, result.errors


@pytest.mark.parametrize("path", TEXT_FILES, ids=_rel)
def test_no_secret_in_deploy_or_docs(path: Path) -> None:
    text = path.read_text()
    if scrub_secrets(text) != text:
        assert unexplained_secrets(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "DAGSTER_POSTGRES_URL: postgresql://failtrack:hunter2@postgres:5432/dagster",
        "postgres_url: postgresql://dagster:s3cretPassw0rd@db/dagster",
        "  --from-literal=postgresql-password=hunter2",
        "password: correct-horse-battery",
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl",
    ],
)
def test_secret_check_catches_real_secrets(text: str) -> None:
    assert unexplained_secrets(text)


@pytest.mark.parametrize(
    "text",
    [
        "DAGSTER_POSTGRES_URL: postgresql://failtrack:${POSTGRES_PASSWORD}@postgres:5432/dagster",
        '  --from-literal=postgresql-password="$DAGSTER_PG_PASSWORD"',
        "password:\n  env: DAGSTER_PG_PASSWORD",
        "`postgresql+psycopg://user:…@host:5432/failtrack`",
    ],
)
def test_secret_check_accepts_placeholders(text: str) -> None:
    assert scrub_secrets(text) != text  # the scrubber does see them...
    assert unexplained_secrets(text) == []  # ...and the check explains them
