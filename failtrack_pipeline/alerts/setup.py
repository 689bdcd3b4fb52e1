"""The alerts as configured: the `alerts:` section (of FAILTRACK_ALERTS_FILE, else of the
sources file), its enabled conditions and its channels, all checked when loaded."""

from __future__ import annotations

from dataclasses import dataclass

from failtrack_pipeline.alerts.channels import Channel, build_channel
from failtrack_pipeline.alerts.conditions import Condition, Params, configure
from failtrack_pipeline.config.alerts import AlertsConfig, load_alerts_file
from failtrack_pipeline.config.sources_file import SourcesFile


@dataclass(frozen=True)
class Alerting:
    config: AlertsConfig
    active: list[tuple[Condition, Params]]
    channels: dict[str, Channel]


def load_alerting(sources: SourcesFile, alerts_file: str | None = None) -> Alerting | None:
    """None when no alerts are configured; any mistake is one ConfigError naming the file."""
    config: AlertsConfig | None
    if alerts_file:
        file, config = alerts_file, load_alerts_file(alerts_file)
        config.check_sources(sources.ids(), file)
    else:
        file, config = str(sources.path), sources.alerts
    if config is None:
        return None
    channels = {name: build_channel(channel) for name, channel in config.channels.items()}
    return Alerting(config, configure(config.conditions, file), channels)
