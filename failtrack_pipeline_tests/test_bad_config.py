"""Bad configuration fails at load or launch with one clear line naming file, item and field.

The sources file, categorization rules (in the sources file or FAILTRACK_RULES_FILE), the
retention period and failtrack's database URL: each mistake is one ConfigError (or the
retention ValueError) of a single line, without pydantic's dump, a chained traceback or a
password; the code location fails to load with it, and `failtrack migrate` prints it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from failtrack_pipeline.base.errors import ConfigError
from failtrack_pipeline.cli import main
from failtrack_pipeline.config.environment import (
    DATABASE_URL_ENV,
    RETENTION_DAYS_ENV,
    RULES_FILE_ENV,
    retention_from_env,
)
from failtrack_pipeline.defs.resources import FailtrackSources

GOOD_SOURCE = "{id: good, name: Good, kind: ics, url: good.ics}"
PASSWORD = "Pa55wordInUrl"

# (sources file text, the item the message names, the field it names, words of the problem)
BAD_SOURCES = {
    "yaml_syntax": ("sources:\n  - {id: a, name: [\n", None, None, "not valid YAML at line 3"),
    "unknown_field": (
        "sources:\n  - {id: odd, name: O, kind: ics, url: o.ics, colour: red}\n",
        "source 'odd'",
        "colour",
        "unknown field (allowed: id, name, kind",
    ),
    "wrong_type": (
        "sources:\n  - {id: odd, name: O, kind: ics, url: o.ics, enabled: maybe}\n",
        "source 'odd'",
        "enabled",
        "valid boolean",
    ),
    "wrong_mapping_type": (
        "sources:\n  - {id: odd, name: O, kind: json, url: o.json, records: x, fields: [a]}\n",
        "source 'odd'",
        "fields",
        "valid dictionary",
    ),
    "duplicate_id": (
        f"sources:\n  - {GOOD_SOURCE}\n  - {GOOD_SOURCE}\n",
        "source 'good'",
        "id",
        "duplicate id: source #1 has it too",
    ),
    "api_key_in_a_url_without_host": (
        f"sources:\n  - {{id: feed, name: F, kind: ics, url: 'https:///v1/events?api_key={PASSWORD}'}}\n",
        "source 'feed'",
        "url",
        "with no host",
    ),
    "password_in_a_url_without_host": (
        f"sources:\n  - {{id: feed, name: F, kind: ics, url: 'https://user:{PASSWORD}@/events'}}\n",
        "source 'feed'",
        "url",
        "with no host",
    ),
    "bad_reader_kind": (
        "sources:\n  - {id: feed, name: F, kind: rss, url: f.xml}\n",
        "source 'feed'",
        "kind",
        "'json', 'ics', 'csv', 'jsonld' or 'python'",
    ),
    "bad_id": (
        "sources:\n  - {id: Bad Id, name: F, kind: ics, url: f.ics}\n",
        "source #1",
        "id",
        "should match pattern",
    ),
    "bad_rule_regex": (
        f"sources:\n  - {GOOD_SOURCE}\nrules:\n"
        "  - {name: cf, category: rate_limit_error, pattern: 'cf-(challenge'}\n",
        "rule 'cf'",
        "pattern",
        "not a valid regular expression",
    ),
    "unknown_rule_category": (
        f"sources:\n  - {GOOD_SOURCE}\nrules:\n"
        "  - {name: cf, category: cloudflare_error, pattern: 'cf-challenge'}\n",
        "rule 'cf'",
        "category",
        "'cloudflare_error' is not one of",
    ),
}


def assert_one_clear_line(message: str, file: Path | str, where: str | None, field: str | None):
    assert "\n" not in message and len(message) < 600
    assert message.startswith(str(file))
    assert where is None or f": {where}" in message
    assert field is None or f"field '{field}'" in message
    assert "pydantic" not in message and "validation error" not in message
    assert PASSWORD not in message


def sources_error(path: Path) -> ConfigError:
    """The ConfigError of loading `path` as the definitions do: sources, then their rules."""
    with pytest.raises(ConfigError) as raised:
        FailtrackSources(path=str(path), rules_file=os.environ.get(RULES_FILE_ENV)).rules()
    assert raised.value.__suppress_context__ or raised.value.__cause__ is None
    return raised.value


@pytest.mark.parametrize("case", BAD_SOURCES)
def test_a_bad_sources_file_is_one_config_error_naming_file_item_and_field(
    tmp_path: Path, case: str
) -> None:
    text, where, field, problem = BAD_SOURCES[case]
    path = tmp_path / "sources.yaml"
    path.write_text(text)
    error = sources_error(path)
    assert_one_clear_line(str(error), path, where, field)
    assert problem in error.problem


def test_a_missing_sources_file_is_one_config_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    error = sources_error(path)
    assert_one_clear_line(str(error), path, None, None)
    assert "cannot read the sources file" in error.problem


@pytest.mark.parametrize(
    ("text", "where", "field", "problem"),
    [
        (
            "rules: [{name: a, category: network_error, pattern: '('}]",
            "rule 'a'",
            "pattern",
            "regular",
        ),
        ("rules: [{name: a, category: nope, pattern: x}]", "rule 'a'", "category", "not one of"),
        (
            "rules: [{name: a, category: network_error, pattern: x, extra: 1}]",
            "rule 'a'",
            "extra",
            "unknown",
        ),
        (
            "rules: [{name: a, category: network_error, pattern: 'x|'}]",
            "rule 'a'",
            "pattern",
            "empty",
        ),
        ("rules:\n  - [unclosed\n", None, None, "not valid YAML"),
        ("other: []", None, "rules", "top-level 'rules:' list"),
    ],
)
def test_a_bad_rules_file_is_one_config_error_naming_it_the_rule_and_field(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    where: str | None,
    field: str | None,
    problem: str,
) -> None:
    sources = tmp_path / "sources.yaml"
    sources.write_text(f"sources:\n  - {GOOD_SOURCE}\n")
    rules = tmp_path / "rules.yaml"
    rules.write_text(text)
    monkeypatch.setenv(RULES_FILE_ENV, str(rules))
    error = sources_error(sources)
    assert_one_clear_line(str(error), rules, where, field)
    assert problem in error.problem


@pytest.mark.parametrize("days", ["0", "-3", "ninety", "1.5", "90 days", "1000000"])
def test_a_bad_retention_period_is_one_line_naming_the_variable(days: str) -> None:
    with pytest.raises(ValueError) as raised:
        retention_from_env({RETENTION_DAYS_ENV: days})
    assert str(raised.value).startswith(f"{RETENTION_DAYS_ENV}={days!r}: ")
    assert "\n" not in str(raised.value)


def load_failure(env: dict[str, str]) -> str:
    """What loading the definitions in a fresh interpreter with `env` prints as it fails."""
    loaded = subprocess.run(
        [sys.executable, "-c", "import failtrack_pipeline.definitions"],
        env=os.environ | env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert loaded.returncode != 0
    return loaded.stderr


def test_the_code_location_fails_to_load_with_the_one_line(tmp_path: Path) -> None:
    """In a fresh interpreter, as `dagster dev` loads it: the error's last line is the message,
    with no pydantic dump anywhere in what is printed; a bad rule fails the load too."""
    for case in ("wrong_type", "bad_rule_regex"):
        text, where, field, _ = BAD_SOURCES[case]
        path = tmp_path / f"{case}.yaml"
        path.write_text(text)
        stderr = load_failure({"FAILTRACK_SOURCES_FILE": str(path)})
        last_line = stderr.strip().splitlines()[-1]
        assert last_line.startswith(f"failtrack_pipeline.base.errors.ConfigError: {path}: {where}")
        assert f"field '{field}'" in last_line
        assert "pydantic" not in stderr and "The above exception" not in stderr


BAD_URLS = {
    "unparseable": (f"postgresql://u:{PASSWORD}@db:port/x", "not a SQLAlchemy database URL"),
    "no_url_at_all": ("just some words", "not a SQLAlchemy database URL"),
    "unknown_database": (f"mysql://u:{PASSWORD}@db/x", "unsupported database 'mysql'"),
    "unknown_driver": (f"postgresql+nosuch://u:{PASSWORD}@db/x", "unknown driver"),
    "unreachable": (
        f"postgresql+psycopg://u:{PASSWORD}@127.0.0.1:1/x",
        "cannot use the database: connection failed",
    ),
}


@pytest.mark.parametrize("case", BAD_URLS)
def test_failtrack_migrate_shows_a_bad_database_url_as_one_line_without_its_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    url, problem = BAD_URLS[case]
    monkeypatch.setenv(DATABASE_URL_ENV, url)
    monkeypatch.setenv("DAGSTER_HOME", "/nonexistent")
    assert main(["migrate"]) == 2
    printed = capsys.readouterr()
    assert printed.out == ""
    (line,) = printed.err.splitlines()
    assert line.startswith("failtrack: ") and problem in line
    assert PASSWORD not in line


@pytest.mark.parametrize("case", ["unparseable", "unknown_database", "unknown_driver"])
def test_a_database_url_that_cannot_work_fails_the_load_naming_the_variable_not_the_password(
    case: str,
) -> None:
    """Rejected when the definitions load, not by every run later (which would record and
    spool nothing, and leave the runs without a status tag)."""
    url, problem = BAD_URLS[case]
    stderr = load_failure({DATABASE_URL_ENV: url})
    last_line = stderr.strip().splitlines()[-1]
    assert last_line.startswith(
        "failtrack_pipeline.base.errors.ConfigError: FAILTRACK_DATABASE_URL"
    )
    assert problem in last_line and PASSWORD not in stderr
