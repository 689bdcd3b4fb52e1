"""The sources file: which feeds to scrape and how to map them, checked in full when loaded.

A mistake in the file fails when the definitions load, as one `ConfigError` naming the
file, the source and the field, rather than as a run that breaks later. It is one line,
raised unchained, so that it is what the code location's load error shows.
"""

from __future__ import annotations

import os
import re
from enum import StrEnum
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import ErrorDetails

from failtrack_pipeline.base.errors import ConfigError, yaml_problem
from failtrack_pipeline.base.events import EVENT_FIELDS, KNOWN_CATEGORIES, REQUIRED_FIELDS
from failtrack_pipeline.config.alerts import AlertsConfig, alerts_error
from failtrack_pipeline.config.environment import SOURCES_FILE_ENV

DEMO_SOURCES_FILE: Final = Path(__file__).parents[1] / "sources" / "demo" / "sources.yaml"

_SLUG: Final = r"^[a-z0-9_]+$"
_CALLABLE: Final = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*")


class SourceKind(StrEnum):
    JSON = "json"
    ICS = "ics"
    CSV = "csv"
    PYTHON = "python"


_FEED_KINDS: Final = frozenset({SourceKind.JSON, SourceKind.ICS, SourceKind.CSV})
_MAPPED_KINDS: Final = frozenset({SourceKind.JSON, SourceKind.CSV})


class SourceConfig(BaseModel):
    """One source. Which of url, records, fields and callable apply depends on `kind`.

    A relative `url` is resolved against the folder given as validation context `base`
    (the sources file's folder) into an absolute `file://` URL.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_SLUG)
    name: str = Field(min_length=1)
    kind: SourceKind
    # The validators below read `kind`, so these fields come after it and always run.
    url: str | None = Field(default=None, validate_default=True)
    enabled: bool = True
    timezone: str = "UTC"
    records: str | None = Field(default=None, validate_default=True)
    fields: dict[str, str] = Field(default_factory=dict, validate_default=True)
    category_map: dict[str, str] = Field(default_factory=dict)
    callable: str | None = Field(default=None, validate_default=True)
    # Skipped on purpose, not failed: feed or our categories, matched case-insensitively.
    ignored_categories: frozenset[str] = frozenset()
    # Flag a run yielding under this share of the source's median; None: the job's default.
    silent_failure_threshold: float | None = Field(default=None, ge=0, le=1)

    @property
    def zone(self) -> ZoneInfo:
        """The time zone of the feed's naive times."""
        return ZoneInfo(self.timezone)

    @field_validator("url")
    @classmethod
    def _absolute_url(cls, url: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("kind")
        if url is None:
            if kind in _FEED_KINDS:
                raise ValueError(f"is required for {kind} sources")
            return None
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme in ("http", "https"):
            if not parts.hostname:
                raise ValueError(f"{url!r} has no host")
            return url
        if scheme == "file":
            return url
        if scheme:
            raise ValueError(
                f"unsupported scheme {scheme!r}: use http://, https://, file:// or a path"
            )
        base = Path((info.context or {}).get("base", "."))
        return (base / url).resolve().as_uri()

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r} (use an IANA name)") from None
        return name

    @field_validator("records")
    @classmethod
    def _records_for_json(cls, records: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("kind")
        if kind is SourceKind.JSON and records is None:
            raise ValueError("is required for json sources: the dotted path to the list")
        if kind not in (None, SourceKind.JSON) and records is not None:
            raise ValueError("only json sources use it")
        return records

    @field_validator("fields")
    @classmethod
    def _mapping_of_event_fields(
        cls, mapping: dict[str, str], info: ValidationInfo
    ) -> dict[str, str]:
        kind = info.data.get("kind")
        if kind is None:
            return mapping
        if kind not in _MAPPED_KINDS:
            if mapping:
                raise ValueError(f"{kind} sources map fields themselves: remove it")
            return mapping
        unknown = sorted(set(mapping) - set(EVENT_FIELDS))
        if unknown:
            raise ValueError(
                f"unknown event field {unknown[0]!r} (known: {', '.join(EVENT_FIELDS)})"
            )
        missing = [name for name in REQUIRED_FIELDS if name not in mapping]
        if missing:
            raise ValueError(f"must map {', '.join(REQUIRED_FIELDS)}; {missing[0]!r} is missing")
        return mapping

    @field_validator("category_map")
    @classmethod
    def _map_into_our_categories(cls, mapping: dict[str, str]) -> dict[str, str]:
        """Keys are matched case-insensitively, so they are stored lower-cased."""
        normalized = {key.strip().lower(): value.strip().lower() for key, value in mapping.items()}
        unknown = sorted(set(normalized.values()) - KNOWN_CATEGORIES)
        if unknown:
            known = ", ".join(sorted(KNOWN_CATEGORIES))
            raise ValueError(f"maps to unknown category {unknown[0]!r} (known: {known})")
        return normalized

    @field_validator("ignored_categories")
    @classmethod
    def _lower_case(cls, categories: frozenset[str]) -> frozenset[str]:
        return frozenset(category.strip().lower() for category in categories)

    @field_validator("callable")
    @classmethod
    def _importable_name(cls, target: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("kind")
        if kind is SourceKind.PYTHON:
            if target is None:
                raise ValueError("is required for python sources: 'package.module:function'")
            if not _CALLABLE.fullmatch(target):
                raise ValueError(f"{target!r} is not in the form 'package.module:function'")
        elif kind is not None and target is not None:
            raise ValueError("only python sources use it")
        return target


class SourcesDocument(BaseModel):
    """The sources file as written: its sources and the user's categorization rules.

    Validated as one model (`extra="forbid"` at every level), with the file's folder as
    context `base` for relative URLs.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    sources: list[SourceConfig]
    # Each a mapping; base.categorize.load_rules turns them into MessageRules.
    rules: list[dict[str, Any]] = Field(default_factory=list)
    alerts: AlertsConfig | None = None

    @field_validator("rules", mode="before")
    @classmethod
    def _no_rules(cls, rules: Any) -> Any:
        return [] if rules is None else rules


class SourcesFile(SourcesDocument):
    """A loaded sources file: its path, its sources in file order and its raw rules."""

    path: Path

    def get(self, source_id: str) -> SourceConfig:
        for source in self.sources:
            if source.id == source_id:
                return source
        known = ", ".join(self.ids()) or "none"
        problem = f"no such source (known: {known})"
        raise ConfigError(str(self.path), f"source '{source_id}'", None, problem)

    def ids(self) -> list[str]:
        return [source.id for source in self.sources]

    def enabled(self) -> list[SourceConfig]:
        return [source for source in self.sources if source.enabled]


def default_sources_path() -> Path:
    """`FAILTRACK_SOURCES_FILE`, else the demo sources shipped with the package."""
    configured = os.environ.get(SOURCES_FILE_ENV)
    return Path(configured) if configured else DEMO_SOURCES_FILE


def load_sources(path: str | Path) -> SourcesFile:
    """Read and validate a sources file; any problem raises one ConfigError.

    It is one line, raised unchained: pydantic's own report would bury it under forty.
    """
    path = Path(path)
    file = str(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(file, None, None, f"cannot read the sources file: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(file, None, None, yaml_problem(exc)) from None
    try:
        loaded = SourcesDocument.model_validate(document, context={"base": path.resolve().parent})
    except ValidationError as exc:
        raise _config_error(file, document, exc.errors()[0]) from None
    positions: dict[str, int] = {}
    for position, source in enumerate(loaded.sources, start=1):
        if source.id in positions:
            where = f"source '{source.id}'"
            problem = f"duplicate id: source #{positions[source.id]} has it too"
            raise ConfigError(file, where, "id", problem)
        positions[source.id] = position
    if loaded.alerts is not None:
        loaded.alerts.check_sources([source.id for source in loaded.sources], file)
    return SourcesFile(path=path, sources=loaded.sources, rules=loaded.rules, alerts=loaded.alerts)


def _config_error(file: str, document: Any, error: ErrorDetails) -> ConfigError:
    """Pydantic's first error as (item, field, problem): the item named by its id if usable."""
    loc = list(error["loc"])
    if not loc:
        return ConfigError(file, None, None, "must be a mapping with a 'sources:' list")
    section = loc.pop(0)
    if section == "alerts":
        return alerts_error(file, tuple(loc), error)
    if not loc or not isinstance(loc[0], int):
        if error["type"] == "extra_forbidden":
            allowed = ", ".join(SourcesDocument.model_fields)
            return ConfigError(
                file, None, str(section), f"unknown top-level key (allowed: {allowed})"
            )
        if error["type"] == "list_type":
            what = "a list of sources" if section == "sources" else "a list of rules"
            return ConfigError(file, None, str(section), f"must be {what}")
        return ConfigError(file, None, str(section), _problem(error))
    index = loc.pop(0)
    where = _item_name(document, str(section), index)
    field = ".".join(str(part) for part in loc) or None
    if field is None and error["type"] in ("model_type", "dict_type"):
        return ConfigError(file, where, None, "must be a mapping")
    return ConfigError(file, where, field, _problem(error))


def _item_name(document: Any, section: str, index: int) -> str:
    if section == "rules":
        return f"rule #{index + 1}"
    item = document[section][index]
    source_id = item.get("id") if isinstance(item, dict) else None
    if isinstance(source_id, str) and re.fullmatch(_SLUG, source_id):
        return f"source '{source_id}'"
    return f"source #{index + 1}"


def _problem(error: ErrorDetails) -> str:
    """Pydantic's wording, minus its prefixes, with the allowed keys for an unknown one."""
    if error["type"] == "missing":
        return "is required"
    if error["type"] == "extra_forbidden":
        return f"unknown field (allowed: {', '.join(SourceConfig.model_fields)})"
    if error["type"] == "value_error":
        return str(error.get("ctx", {}).get("error", error["msg"]))
    return error["msg"]
