"""The `alerts:` section: secrets from `${ENV_VAR}`, and every mistake one line naming the
file, the section and the field (a missing variable by its name, never a value)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from failtrack_pipeline.alerts.setup import load_alerting
from failtrack_pipeline.base.errors import ConfigError
from failtrack_pipeline.config.environment import ALERTS_FILE_ENV
from failtrack_pipeline.config.sources_file import load_sources
from failtrack_pipeline.definitions import build_definitions

SOURCES = "sources:\n  - {id: city, name: City, kind: ics, url: city.ics}\n"
SLACK = "{type: slack, token: '${TEST_ALERTS_TOKEN}', channel: '#x'}"


def sources_with(tmp_path: Path, alerts: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(SOURCES + alerts)
    return path


def test_secrets_come_from_the_environment_and_never_show(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_ALERTS_TOKEN", "xoxb-very-secret")
    alerts = f"alerts:\n  channels: {{team: {SLACK}}}\n  default_route: [team]\n"
    loaded = load_sources(sources_with(tmp_path, alerts))
    assert loaded.alerts is not None
    token = loaded.alerts.channels["team"].token
    assert token.get_secret_value() == "xoxb-very-secret"
    assert "xoxb-very-secret" not in repr(loaded) + str(loaded.alerts)
    alerting = load_alerting(loaded)
    assert alerting is not None and [c.name for c, _ in alerting.active][:2] == [
        "health_change",
        "consecutive_failures",
    ]
    assert alerting.active[1][1].threshold == 3  # the default


BAD_ALERTS = {
    "unset_variable": (
        f"alerts:\n  channels: {{team: {SLACK}}}\n",
        "environment variable TEST_ALERTS_TOKEN is not set (for channels.team.token)",
    ),
    "unknown_route_channel": (
        "alerts:\n  default_route: [nowhere]\n",
        "default_route: unknown channel 'nowhere' (known: none)",
    ),
    "owner_of_unknown_source": (
        "alerts:\n  channels: {h: {type: webhook, url: 'http://127.0.0.1:1/'}}\n"
        "  owners: {museum: [h]}\n",
        "alerts: field 'owners.museum': unknown source 'museum' (known: city)",
    ),
    "bad_port": (
        "alerts:\n  channels: {m: {type: email, host: h, port: 0, sender: a@b.c, to: [x@y.z]}}\n",
        "alerts: field 'channels.m.port': Input should be greater than or equal to 1",
    ),
    "unknown_channel_type": (
        "alerts:\n  channels: {m: {type: pager}}\n",
        "alerts: field 'channels.m'",
    ),
    "webhook_without_http": (
        "alerts:\n  channels: {h: {type: webhook, url: 'ftp://x/'}}\n",
        "'ftp://x/' is not an http:// or https:// URL",
    ),
}


@pytest.mark.parametrize("case", BAD_ALERTS)
def test_a_bad_alerts_section_is_one_line_naming_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    monkeypatch.delenv("TEST_ALERTS_TOKEN", raising=False)
    text, expected = BAD_ALERTS[case]
    path = sources_with(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_sources(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: ") and expected in message
    assert "\n" not in message


def test_an_unknown_condition_or_a_bad_alerts_file_fails_the_code_location_load(
    tmp_path: Path,
) -> None:
    sources = load_sources(sources_with(tmp_path, ""))
    alerts_file = tmp_path / "alerts.yaml"
    alerts_file.write_text("alerts:\n  conditions: {stale_source: {threshold: 2}}\n")
    with pytest.raises(ConfigError, match="field 'conditions.stale_source': unknown condition"):
        build_definitions(sources, environ={ALERTS_FILE_ENV: str(alerts_file)})
    alerts_file.write_text("alerts:\n  cooldown_minutes: -1\n")
    with pytest.raises(ConfigError, match=r"alerts.yaml: alerts: field 'cooldown_minutes'"):
        build_definitions(sources, environ={ALERTS_FILE_ENV: str(alerts_file)})
    alerts_file.write_text("channels: {}\n")
    with pytest.raises(ConfigError, match="must be a mapping with one key, 'alerts:'"):
        build_definitions(sources, environ={ALERTS_FILE_ENV: str(alerts_file)})


def test_the_readme_alerts_example_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Alerts\n", 1)[1]
    example = re.search(r"```yaml\n(alerts:.*?)```", section, re.S)
    assert example is not None
    for name in ("SLACK_BOT_TOKEN", "SMTP_PASSWORD", "PD_ROUTING_KEY"):
        monkeypatch.setenv(name, f"{name.lower()}-value")
    path = tmp_path / "sources.yaml"
    source = "  - {id: riverside_theatre, name: R, kind: ics, url: r.ics}\n"
    path.write_text("sources:\n" + source + example.group(1))
    alerting = load_alerting(load_sources(path))
    assert alerting is not None
    assert set(alerting.channels) == {"team-slack", "theatre-mail", "pagerduty"}
    assert alerting.config.route("riverside_theatre") == ["theatre-mail", "team-slack"]
    pagerduty = alerting.config.channels["pagerduty"]
    assert pagerduty.template["routing_key"] == "pd_routing_key-value"
