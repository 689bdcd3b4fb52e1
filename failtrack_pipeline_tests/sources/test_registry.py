from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

import pytest
import yaml

from failtrack_pipeline.base.errors import ConfigError
from failtrack_pipeline.config.policies import HealthThresholds
from failtrack_pipeline.config.sources_file import (
    DEMO_SOURCES_FILE,
    SOURCES_FILE_ENV,
    SourceKind,
    default_sources_path,
    load_sources,
)

VALID = """
sources:
  - id: concerts
    name: Concerts
    kind: json
    url: feeds/concerts.json
    records: data.events
    fields: {external_id: id, title: name, starts_at: start}
  - id: remote
    name: Remote CSV
    kind: csv
    url: https://example.org/events.csv
    enabled: false
    timezone: Europe/Amsterdam
    fields: {external_id: id, title: name, starts_at: start}
    category_map: {" Gig ": Music}
    health: {healthy: 0.9, degraded: 0.6}
  - id: calendar
    name: Calendar
    kind: ics
    url: file:///srv/feeds/calendar.ics
  - id: scraper
    name: Scraper
    kind: python
    callable: mypackage.scrapers:fetch_events
rules:
  - {name: cf, category: rate_limit_error, pattern: cf-challenge}
"""

DROP = object()


def json_source(**changes: Any) -> dict[str, Any]:
    """A valid json source with `changes` applied (DROP removes a key)."""
    item: dict[str, Any] = {
        "id": "concerts",
        "name": "Concerts",
        "kind": "json",
        "url": "concerts.json",
        "records": "events",
        "fields": {"external_id": "id", "title": "name", "starts_at": "start"},
    }
    for key, value in changes.items():
        if value is DROP:
            del item[key]
        else:
            item[key] = value
    return item


def write(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(document if isinstance(document, str) else yaml.safe_dump(document))
    return path


def test_a_valid_file_loads_every_source_with_urls_resolved_and_defaults_filled(
    tmp_path: Path,
) -> None:
    sources = load_sources(write(tmp_path, VALID))

    assert sources.ids() == ["concerts", "remote", "calendar", "scraper"]
    assert [source.id for source in sources.enabled()] == ["concerts", "calendar", "scraper"]
    concerts, remote, calendar, scraper = sources.sources
    assert concerts.kind is SourceKind.JSON
    assert concerts.url == (tmp_path / "feeds" / "concerts.json").as_uri()
    assert (concerts.enabled, concerts.timezone, concerts.records) == (True, "UTC", "data.events")
    assert remote.url == "https://example.org/events.csv"
    assert (remote.timezone, remote.records) == ("Europe/Amsterdam", None)
    assert remote.category_map == {"gig": "music"}
    # Its own health thresholds; the others keep the global ones.
    assert sources.health_thresholds() == {"remote": HealthThresholds(healthy=0.9, degraded=0.6)}
    assert calendar.url == "file:///srv/feeds/calendar.ics"
    assert calendar.fields == {}
    assert (scraper.url, scraper.callable) == (None, "mypackage.scrapers:fetch_events")
    assert [rule.model_dump(exclude_none=True) for rule in sources.rules] == [
        {"name": "cf", "category": "rate_limit_error", "pattern": "cf-challenge"}
    ]
    assert sources.get("remote") is remote


def test_a_relative_url_is_relative_to_the_sources_file_not_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "config").mkdir()
    path = write(tmp_path / "config", {"sources": [json_source(url="../feeds/a b.json")]})
    monkeypatch.chdir(tmp_path / "config")
    (source,) = load_sources(path.name).sources
    assert source.url == (tmp_path / "feeds" / "a b.json").as_uri()


def test_getting_an_unknown_source_names_it_and_the_known_ones(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    with pytest.raises(ConfigError) as raised:
        load_sources(path).get("nope")
    assert str(raised.value) == (
        f"{path}: source 'nope': no such source (known: concerts, remote, calendar, scraper)"
    )


def test_the_sources_path_is_the_demo_file_unless_the_environment_names_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(SOURCES_FILE_ENV, raising=False)
    assert default_sources_path() == DEMO_SOURCES_FILE
    assert DEMO_SOURCES_FILE.is_file()
    monkeypatch.setenv(SOURCES_FILE_ENV, str(tmp_path / "mine.yaml"))
    assert default_sources_path() == tmp_path / "mine.yaml"


def test_the_demo_file_has_every_kind_of_source_and_one_disabled() -> None:
    demo = load_sources(DEMO_SOURCES_FILE)
    kinds = {source.id: source.kind.value for source in demo.sources}
    assert kinds == {
        "city_concerts": "json",
        "metro_meetups": "ics",
        "riverside_theatre": "csv",
        "harbour_festival": "csv",
        "box_office": "python",
        "broken_json_feed": "json",
        "offline_calendar": "ics",
        "night_markets": "json",
        "legacy_listings": "json",
    }
    assert [source.id for source in demo.sources if not source.enabled] == ["legacy_listings"]
    for source in demo.sources:
        if source.url and source.url.startswith("file://"):
            assert Path(url2pathname(urlsplit(source.url).path)).is_file(), source.id
    assert demo.get("offline_calendar").url == "http://127.0.0.1:9/calendar.ics"
    assert demo.get("city_concerts").category_map["stand-up"] == "comedy"


SOURCE_ERRORS = [
    pytest.param(
        json_source(kind="xml"), "kind", "'json', 'ics', 'csv', 'jsonld' or 'python'", id="kind"
    ),
    pytest.param(
        json_source(url="ftp://x.org/e.json"), "url", "unsupported scheme 'ftp'", id="scheme"
    ),
    pytest.param(json_source(url="http:///e.json"), "url", "URL with no host", id="no-host"),
    pytest.param(json_source(url=DROP), "url", "is required for json sources", id="no-url"),
    pytest.param(json_source(records=DROP), "records", "is required for json", id="no-records"),
    pytest.param(
        json_source(kind="csv"), "records", "only json sources use it", id="records-for-csv"
    ),
    pytest.param(json_source(fields=DROP), "fields", "'external_id' is missing", id="no-fields"),
    pytest.param(
        json_source(fields={"external_id": "id", "starts_at": "at"}),
        "fields",
        "must map external_id, title, starts_at; 'title' is missing",
        id="no-title",
    ),
    pytest.param(
        json_source(fields={"external_id": "id", "title": "t", "starts_at": "s", "titel": "x"}),
        "fields",
        "unknown event field 'titel' (known: external_id, title, starts_at,",
        id="unknown-field",
    ),
    pytest.param(
        json_source(fields={"external_id": "id", "title": 5, "starts_at": "s"}),
        "fields",
        "title: 5 is no path (a JMESPath expression)",
        id="field-not-text",
    ),
    pytest.param(
        json_source(fields={"external_id": "id", "title": "a[", "starts_at": "s"}),
        "fields",
        "'a[' is not a valid JMESPath expression",
        id="field-not-jmespath",
    ),
    pytest.param(
        json_source(kind="csv", records=DROP, header=False),
        "fields",
        "must be a 0-based column number (header: false)",
        id="csv-column-not-number",
    ),
    pytest.param(json_source(delimiter=";"), "delimiter", "only csv sources", id="delimiter"),
    pytest.param(json_source(header=False), "header", "only csv sources", id="header-json"),
    pytest.param(json_source(skip_rows=2), "skip_rows", "only csv sources", id="skip-rows-json"),
    pytest.param(
        json_source(kind="csv", records=DROP, delimiter=";;"),
        "delimiter",
        "must be one character",
        id="delimiter-long",
    ),
    pytest.param(
        json_source(required=["venue"]), "required", "unknown event field 'venue'", id="req"
    ),
    pytest.param(json_source(date_formats=["dd.mm"]), "date_formats", "no % directive", id="fmt"),
    pytest.param(
        json_source(kind="csv", records=DROP, pagination={"next": "next"}),
        "pagination",
        "only json sources",
        id="pagination-csv",
    ),
    pytest.param(json_source(timeout_seconds=0), "timeout_seconds", "greater than 0", id="timeout"),
    pytest.param(json_source(max_bytes=0), "max_bytes", "greater than 0", id="max-bytes"),
    pytest.param(
        json_source(url=["a.json", "b.json"]), "url", "a list of pages is for jsonld", id="url-list"
    ),
    pytest.param(
        json_source(kind="ics", records=DROP), "fields", "ics sources map fields", id="ics-fields"
    ),
    pytest.param(
        json_source(timezone="Mars/Olympus"),
        "timezone",
        "unknown time zone 'Mars/Olympus'",
        id="tz",
    ),
    pytest.param(json_source(enabled="sometimes"), "enabled", "valid boolean", id="enabled"),
    pytest.param(
        json_source(category_map={"gig": "gigs"}),
        "category_map",
        "maps to unknown category 'gigs' (known: arts, comedy,",
        id="category-map",
    ),
    pytest.param(
        json_source(kind="python", url=DROP, records=DROP, fields=DROP),
        "callable",
        "is required for python sources",
        id="no-callable",
    ),
    pytest.param(
        json_source(kind="python", records=DROP, fields=DROP, callable="pkg.scrapers.fetch"),
        "callable",
        "'pkg.scrapers.fetch' is not in the form 'package.module:function'",
        id="callable-form",
    ),
    pytest.param(
        json_source(callable="pkg:fetch"), "callable", "only python sources use it", id="callable"
    ),
    pytest.param(
        json_source(colour="red"),
        "colour",
        "unknown field (allowed: id, name, kind, url, enabled, timezone, records,",
        id="unknown-key",
    ),
    pytest.param(json_source(name=DROP), "name", "is required", id="no-name"),
    pytest.param(
        json_source(health={"healthy": 0.6, "degraded": 0.9}),
        "health",
        "health thresholds need 0 < degraded <= healthy <= 1, got degraded=0.9, healthy=0.6",
        id="health-order",
    ),
    pytest.param(
        json_source(health={"healthy_at": 0.9}),
        "health.healthy_at",
        "unknown field (allowed: healthy, degraded)",
        id="health-unknown-key",
    ),
    pytest.param(
        json_source(health={"healthy": "most"}),
        "health.healthy",
        "valid number",
        id="health-not-a-number",
    ),
    pytest.param(json_source(health=0.9), "health", "valid dictionary", id="health-not-mapping"),
]


@pytest.mark.parametrize(("item", "field", "problem"), SOURCE_ERRORS)
def test_a_bad_source_raises_one_config_error_naming_file_source_and_field(
    tmp_path: Path, item: dict[str, Any], field: str, problem: str
) -> None:
    path = write(tmp_path, {"sources": [json_source(id="fine"), item]})
    with pytest.raises(ConfigError) as raised:
        load_sources(path)
    error = raised.value
    assert (error.file, error.where, error.field) == (str(path), "source 'concerts'", field)
    assert problem in error.problem
    assert str(error).startswith(f"{path}: source 'concerts': field '{field}': ")


@pytest.mark.parametrize(
    ("source_id", "field", "problem"),
    [
        pytest.param("City Concerts", "id", "String should match pattern", id="not-a-slug"),
        pytest.param(DROP, "id", "is required", id="missing"),
        pytest.param(7, "id", "valid string", id="not-text"),
    ],
)
def test_a_source_without_a_usable_id_is_named_by_its_position(
    tmp_path: Path, source_id: Any, field: str, problem: str
) -> None:
    path = write(tmp_path, {"sources": [json_source(id="fine"), json_source(id=source_id)]})
    with pytest.raises(ConfigError) as raised:
        load_sources(path)
    assert (raised.value.where, raised.value.field) == ("source #2", field)
    assert problem in raised.value.problem


def test_a_duplicate_id_names_the_source_that_had_it_first(tmp_path: Path) -> None:
    path = write(tmp_path, {"sources": [json_source(), json_source(id="b"), json_source()]})
    with pytest.raises(ConfigError) as raised:
        load_sources(path)
    assert str(raised.value) == (
        f"{path}: source 'concerts': field 'id': duplicate id: source #1 has it too"
    )


@pytest.mark.parametrize(
    ("text", "where", "field", "problem"),
    [
        pytest.param("sources: [a, b", None, None, "not valid YAML", id="yaml"),
        pytest.param("- a\n- b\n", None, None, "must be a mapping", id="not-a-mapping"),
        pytest.param("rules: []\n", None, "sources", "is required", id="no-sources"),
        pytest.param("sources: {a: 1}\n", None, "sources", "a list of sources", id="sources-map"),
        pytest.param(
            "sources: []\ndefaults: {}\n", None, "defaults", "unknown top-level key", id="key"
        ),
        pytest.param("sources: []\nrules: {a: 1}\n", None, "rules", "must be a list", id="rules"),
        pytest.param("sources: []\nrules: [x]\n", "rule #1", None, "must be a mapping", id="rule"),
        pytest.param("sources: [just-a-name]\n", "source #1", None, "must be a mapping", id="item"),
    ],
)
def test_a_malformed_file_raises_one_config_error(
    tmp_path: Path, text: str, where: str | None, field: str | None, problem: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_sources(path)
    assert (raised.value.file, raised.value.where, raised.value.field) == (str(path), where, field)
    assert problem in raised.value.problem


def test_a_missing_file_raises_a_config_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    with pytest.raises(ConfigError) as raised:
        load_sources(path)
    assert raised.value.file == str(path)
    assert "cannot read the sources file" in raised.value.problem


def test_an_empty_sources_list_is_a_valid_file(tmp_path: Path) -> None:
    sources = load_sources(write(tmp_path, "sources: []\n"))
    assert (sources.ids(), sources.enabled(), sources.rules) == ([], [], [])
