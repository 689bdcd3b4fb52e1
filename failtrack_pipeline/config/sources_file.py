"""The sources file: which feeds to scrape and how to map them, checked in full when loaded.

A mistake in the file fails when the definitions load, as one `ConfigError` naming the
file, the source and the field, rather than as a run that breaks later. It is one line,
raised unchained, so that it is what the code location's load error shows.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, TypeAlias
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

from failtrack_pipeline.base.errors import ConfigError, yaml_problem
from failtrack_pipeline.base.events import (
    ALWAYS_REQUIRED,
    COVERAGE_FIELDS,
    DEFAULT_REQUIRED,
    EVENT_FIELDS,
    KNOWN_CATEGORIES,
)
from failtrack_pipeline.base.paths import compile_path
from failtrack_pipeline.config.alerts import AlertsConfig, alerts_error
from failtrack_pipeline.config.environment import SOURCES_FILE_ENV, substitute_env
from failtrack_pipeline.config.errors import SLUG, config_error
from failtrack_pipeline.config.policies import HealthThresholds
from failtrack_pipeline.config.rules import RuleConfig

# The daily scrape schedule's 24 hours and two of grace: a run that comes late is not stale.
DEFAULT_EXPECTED_EVERY: Final = timedelta(hours=26)
DEMO_SOURCES_FILE: Final = Path(__file__).parents[1] / "sources" / "demo" / "sources.yaml"

_CALLABLE: Final = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*")


class SourceKind(StrEnum):
    JSON = "json"
    ICS = "ics"
    CSV = "csv"
    JSONLD = "jsonld"
    PYTHON = "python"


_FEED_KINDS: Final = frozenset({SourceKind.JSON, SourceKind.ICS, SourceKind.CSV, SourceKind.JSONLD})
_MAPPED_KINDS: Final = frozenset({SourceKind.JSON, SourceKind.CSV, SourceKind.JSONLD})
_PATH_KINDS: Final = frozenset({SourceKind.JSON, SourceKind.JSONLD})
# What a json or csv source must map: an event has no default for them.
_MUST_MAP: Final = ("external_id", "title", "starts_at")

# One path (a JMESPath expression, or a CSV column: its name, or its number without a
# header), or several whose values are joined with one space.
FieldPath: TypeAlias = str | int | list[str | int]


class Pagination(BaseModel):
    """Follow the link at `next` (a JMESPath into each page) to the next page."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    next: str = Field(min_length=1)
    max_pages: int = Field(default=100, ge=1)

    @field_validator("next")
    @classmethod
    def _valid_path(cls, path: str) -> str:
        compile_path(path)
        return path


class Recurrence(BaseModel):
    """The window, around the run's moment, within which iCalendar series are expanded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    past_days: int = Field(default=30, ge=0, le=36_500)
    future_days: int = Field(default=365, ge=0, le=36_500)


class SourceConfig(BaseModel):
    """One source. Which of url, records, fields and callable apply depends on `kind`.

    A relative `url` is resolved against the folder given as validation context `base`
    (the sources file's folder) into an absolute `file://` URL.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=SLUG, max_length=64)  # what the tables' source_id columns hold
    name: str = Field(min_length=1)
    kind: SourceKind
    # The validators below read `kind`, so these fields come after it and always run.
    url: str | list[str] | None = Field(default=None, validate_default=True)
    enabled: bool = True
    timezone: str = "UTC"
    records: str | None = Field(default=None, validate_default=True)
    # header, delimiter and skip_rows come before fields: its validator reads them.
    header: bool = True
    delimiter: str | None = None
    skip_rows: int = Field(default=0, ge=0)
    fields: dict[str, FieldPath] = Field(default_factory=dict, validate_default=True)
    required: tuple[str, ...] = DEFAULT_REQUIRED
    dayfirst: bool = False
    date_formats: tuple[str, ...] = ()
    cancelled_values: tuple[str | bool, ...] = ("cancelled", "canceled")
    pagination: Pagination | None = None
    # Values are secrets once `${VAR}`s are substituted: kept out of repr and messages.
    headers: dict[str, str] = Field(default_factory=dict, repr=False)
    recurrence: Recurrence = Recurrence()
    timeout_seconds: float = Field(default=300.0, gt=0)
    max_bytes: int = Field(default=512 * 1024 * 1024, gt=0)
    # Network and rate-limit failures of the fetch are tried again, up to this many times.
    max_retries: int = Field(default=3, ge=0, le=10)
    category_map: dict[str, str] = Field(default_factory=dict)
    callable: str | None = Field(default=None, validate_default=True)
    # Skipped on purpose, not failed: feed or our categories, matched case-insensitively.
    ignored_categories: frozenset[str] = frozenset()
    # Flag a run yielding under this share of the source's median; None: the job's default.
    silent_failure_threshold: float | None = Field(default=None, ge=0, le=1)
    # A source with no run within this long is `stale`; None: DEFAULT_EXPECTED_EVERY.
    expected_every: timedelta | None = Field(default=None, gt=timedelta(0))
    # Least share (0..1) of accepted events with the field filled, e.g. {venue_address: 0.9}.
    min_coverage: dict[str, float] = Field(default_factory=dict)
    # The source's own health thresholds; None: the global ones (the health_thresholds resource).
    health: HealthThresholds | None = None

    @property
    def zone(self) -> ZoneInfo:
        """The time zone of the feed's naive times."""
        return ZoneInfo(self.timezone)

    @property
    def urls(self) -> tuple[str, ...]:
        """Every page to read: a jsonld source may list several."""
        if self.url is None:
            return ()
        return (self.url,) if isinstance(self.url, str) else tuple(self.url)

    @field_validator("url")
    @classmethod
    def _absolute_url(
        cls, url: str | list[str] | None, info: ValidationInfo
    ) -> str | list[str] | None:
        kind = info.data.get("kind")
        if url is None:
            if kind in _FEED_KINDS:
                raise ValueError(f"is required for {kind} sources")
            return None
        base = Path((info.context or {}).get("base", "."))
        if isinstance(url, str):
            return _absolute(url, base)
        if kind is not SourceKind.JSONLD:
            raise ValueError("a list of pages is for jsonld sources; give one URL")
        if not url:
            raise ValueError("lists no page")
        return [_absolute(page, base) for page in url]

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
            raise ValueError(
                "is required for json sources: the dotted path to the list ('' for the root)"
            )
        if kind not in (None, SourceKind.JSON) and records is not None:
            raise ValueError("only json sources use it")
        return records

    @field_validator("header", "skip_rows")
    @classmethod
    def _csv_layout(cls, value: bool | int, info: ValidationInfo) -> bool | int:
        kind = info.data.get("kind")
        changed = value is False if info.field_name == "header" else value != 0
        if changed and kind is not None and kind is not SourceKind.CSV:
            raise ValueError("only csv sources use it")
        return value

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, delimiter: str | None, info: ValidationInfo) -> str | None:
        if delimiter is not None:
            if info.data.get("kind") is not SourceKind.CSV:
                raise ValueError("only csv sources use it")
            if len(delimiter) != 1 or delimiter in '"\r\n':
                raise ValueError("must be one character other than a quote or a line break")
        return delimiter

    @field_validator("fields")
    @classmethod
    def _mapping_of_event_fields(
        cls, mapping: dict[str, FieldPath], info: ValidationInfo
    ) -> dict[str, FieldPath]:
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
        for name, spec in mapping.items():
            for path in spec if isinstance(spec, list) else [spec]:
                _check_path(name, path, kind, info.data.get("header", True))
        if kind is not SourceKind.JSONLD:  # jsonld maps schema.org's names by default
            missing = [name for name in _MUST_MAP if name not in mapping]
            if missing:
                must = ", ".join(_MUST_MAP)
                raise ValueError(f"must map {must}; {missing[0]!r} is missing")
        return mapping

    @field_validator("required")
    @classmethod
    def _required_event_fields(cls, required: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(required) - set(EVENT_FIELDS))
        if unknown:
            raise ValueError(
                f"unknown event field {unknown[0]!r} (known: {', '.join(EVENT_FIELDS)})"
            )
        return tuple(dict.fromkeys((*ALWAYS_REQUIRED, "title", *required)))

    @field_validator("date_formats")
    @classmethod
    def _strptime_formats(cls, formats: tuple[str, ...]) -> tuple[str, ...]:
        for date_format in formats:
            if "%" not in date_format:
                raise ValueError(f"{date_format!r} has no % directive (see strptime)")
        return formats

    @field_validator("cancelled_values")
    @classmethod
    def _lower_case_values(cls, values: tuple[str | bool, ...]) -> tuple[str | bool, ...]:
        """Matched case-insensitively: text values are stored lower-cased."""
        return tuple(v if isinstance(v, bool) else v.strip().lower() for v in values)

    @field_validator("pagination")
    @classmethod
    def _pages_of_json(
        cls, pagination: Pagination | None, info: ValidationInfo
    ) -> Pagination | None:
        if pagination is not None and info.data.get("kind") is not SourceKind.JSON:
            raise ValueError("only json sources use it")
        return pagination

    @field_validator("headers")
    @classmethod
    def _substitute_environment(cls, headers: dict[str, str]) -> dict[str, str]:
        """`${VAR}` is replaced by the environment variable; a missing one is named."""
        return substitute_env(headers, os.environ, "headers")

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

    @field_validator("min_coverage")
    @classmethod
    def _coverage_of_known_fields(cls, minimums: dict[str, float]) -> dict[str, float]:
        for name, share in minimums.items():
            if name not in COVERAGE_FIELDS:
                known = ", ".join(COVERAGE_FIELDS)
                raise ValueError(f"no coverage is kept of {name!r} (known: {known})")
            if not 0 <= share <= 1:
                raise ValueError(f"{name}: {share!r} is not a share between 0 and 1")
        return minimums

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


def _absolute(url: str, base: Path) -> str:
    """`url` checked, a path made an absolute `file://` URL against `base`."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        if not parts.hostname:
            raise ValueError("an http(s) URL with no host")
        return url
    if scheme == "file":
        return url
    if scheme:
        raise ValueError(f"unsupported scheme {scheme!r}: use http://, https://, file:// or a path")
    return (base / url).resolve().as_uri()


def _check_path(name: str, path: str | int, kind: SourceKind, header: bool) -> None:
    """A JMESPath for json and jsonld; a column name, or number without a header, for csv."""
    if kind in _PATH_KINDS:
        if not isinstance(path, str):
            raise ValueError(f"{name}: {path!r} is no path (a JMESPath expression)")
        compile_path(path)
    elif header and not isinstance(path, str):
        raise ValueError(f"{name}: column {path!r} must be a header name (or set header: false)")
    elif not header and (not isinstance(path, int) or isinstance(path, bool) or path < 0):
        raise ValueError(f"{name}: {path!r} must be a 0-based column number (header: false)")


class SourcesDocument(BaseModel):
    """The sources file as written: its sources and the user's categorization rules.

    Validated as one model (`extra="forbid"` at every level), with the file's folder as
    context `base` for relative URLs.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    sources: list[SourceConfig]
    rules: list[RuleConfig] = Field(default_factory=list)
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

    def expected_every(self) -> dict[str, timedelta]:
        """How often each enabled source must run to be fresh (disabled ones need not)."""
        return {s.id: s.expected_every or DEFAULT_EXPECTED_EVERY for s in self.enabled()}

    def health_thresholds(self) -> dict[str, HealthThresholds]:
        """The sources that judge their health by thresholds of their own."""
        return {s.id: s.health for s in self.sources if s.health is not None}


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
        first = exc.errors()[0]
        if first["loc"][:1] == ("alerts",):
            raise alerts_error(file, tuple(first["loc"][1:]), first) from None
        models = {"": SourcesDocument, "sources": SourceConfig, "rules": RuleConfig}
        raise config_error(file, document, first, models) from None
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
