"""The `alerts:` section: channels, routes and condition settings, checked in full at load.

It lives in the sources file, or alone in the file named by `FAILTRACK_ALERTS_FILE`.
Secrets are written as `${ENV_VAR}` and substituted when the file loads; a variable that is
not set fails the load naming it (never a value). Secret values are `SecretStr`, so they
never show in a repr, a log line or the UI.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Final, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from failtrack_pipeline.base.errors import ConfigError, yaml_problem
from failtrack_pipeline.config.environment import substitute_env

_CHANNEL_NAME: Final = r"^[A-Za-z0-9_.-]+$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _http_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http:// or https:// URL")
    return url


class SlackChannel(_Model):
    """A Slack channel, through the Web API's `chat.postMessage` (a bot token)."""

    type: Literal["slack"]
    token: SecretStr
    channel: str = Field(min_length=1)
    base_url: str = "https://slack.com/api/"

    @model_validator(mode="after")
    def _url(self) -> SlackChannel:
        _http_url(self.base_url)
        return self


class EmailChannel(_Model):
    """E-mail over SMTP: plain, STARTTLS (`starttls: true`) or TLS from the start (`ssl`)."""

    type: Literal["email"]
    host: str = Field(min_length=1)
    port: int = Field(default=25, ge=1, le=65535)
    starttls: bool = False
    ssl: bool = False
    username: str | None = None
    password: SecretStr | None = None
    sender: str = Field(min_length=3)
    to: list[str] = Field(min_length=1)
    timeout_seconds: float = Field(default=10, gt=0)


class WebhookChannel(_Model):
    """A JSON POST; `template` is any JSON value whose strings may hold `{{placeholders}}`."""

    type: Literal["webhook"]
    url: str
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    template: Any = None
    timeout_seconds: float = Field(default=10, gt=0)

    @model_validator(mode="after")
    def _url(self) -> WebhookChannel:
        _http_url(self.url)
        return self


_CHANNEL_TYPES: Final = ("slack", "email", "webhook")
ChannelConfig = Annotated[SlackChannel | EmailChannel | WebhookChannel, Field(discriminator="type")]


class ConditionSettings(_Model):
    """One condition's switch and parameters; None takes the condition's own default."""

    enabled: bool = True
    threshold: int | None = Field(default=None, ge=1)
    window_hours: int | None = Field(default=None, ge=1)


class DigestConfig(_Model):
    """A daily summary of what was announced in the last 24 hours and what is still wrong."""

    hour_utc: int = Field(default=8, ge=0, le=23)
    channels: list[str] | None = None  # None: the default route


class AlertsConfig(_Model):
    """Where notifications go and when they are raised."""

    channels: dict[Annotated[str, Field(pattern=_CHANNEL_NAME)], ChannelConfig] = Field(
        default_factory=dict
    )
    default_route: list[str] = Field(default_factory=list)
    # source id -> the channels of the people who own it (instead of the default route).
    owners: dict[str, list[str]] = Field(default_factory=dict)
    conditions: dict[str, ConditionSettings] = Field(default_factory=dict)
    cooldown_minutes: int = Field(default=60, ge=0)
    digest: DigestConfig | None = None
    webserver_url: str = "http://127.0.0.1:3000"

    @model_validator(mode="before")
    @classmethod
    def _substitute_environment(cls, data: Any) -> Any:
        return substitute_env(data, os.environ)

    @model_validator(mode="after")
    def _routes_name_channels(self) -> AlertsConfig:
        _http_url(self.webserver_url)
        routes = {"default_route": self.default_route}
        routes |= {f"owners.{source}": names for source, names in self.owners.items()}
        if self.digest and self.digest.channels is not None:
            routes["digest.channels"] = self.digest.channels
        for where, names in routes.items():
            unknown = [name for name in names if name not in self.channels]
            if unknown:
                known = ", ".join(self.channels) or "none"
                raise ValueError(f"{where}: unknown channel {unknown[0]!r} (known: {known})")
        return self

    def route(self, source_id: str | None) -> list[str]:
        """The channels a notice about `source_id` goes to: its owners', else the default."""
        if source_id is not None and source_id in self.owners:
            return self.owners[source_id]
        return self.default_route

    def check_sources(self, source_ids: list[str], file: str) -> None:
        """Owners must name sources the sources file has."""
        for source_id in self.owners:
            if source_id not in source_ids:
                known = ", ".join(source_ids) or "none"
                problem = f"unknown source {source_id!r} (known: {known})"
                raise ConfigError(file, "alerts", f"owners.{source_id}", problem)


def load_alerts_file(path: str | Path) -> AlertsConfig:
    """A file whose top level is `alerts:`, validated; any problem is one ConfigError."""
    file = str(path)
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(file, None, None, f"cannot read the alerts file: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(file, None, None, yaml_problem(exc)) from None
    if not isinstance(document, dict) or set(document) != {"alerts"}:
        raise ConfigError(file, None, None, "must be a mapping with one key, 'alerts:'")
    try:
        return AlertsConfig.model_validate(document["alerts"] or {})
    except ValidationError as exc:
        raise alerts_error(file, exc.errors()[0]["loc"], exc.errors()[0]) from None


def alerts_error(file: str, loc: tuple[Any, ...], error: Any) -> ConfigError:
    """Pydantic's error inside the alerts section as (alerts, dotted field, problem)."""
    parts = [str(part) for part in loc]
    if parts[:1] == ["channels"] and len(parts) > 2 and parts[2] in _CHANNEL_TYPES:
        del parts[2]  # the discriminator pydantic adds to the path
    field = ".".join(parts) or None
    if error["type"] == "value_error":
        problem = str(error.get("ctx", {}).get("error", error["msg"]))
    elif error["type"] == "missing":
        problem = "is required"
    elif error["type"] == "extra_forbidden":
        problem = "unknown field"
    else:
        problem = error["msg"]
    return ConfigError(file, "alerts", field, problem)
