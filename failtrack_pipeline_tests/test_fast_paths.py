"""The scrape's shortcuts give the answers of the general code they stand in for (issue 21).

Each shortcut is fuzzed against what it skips: a plain dotted path's direct walk against
JMESPath's interpreter, the clean-text test against the cleaning regex, the plain-URL
pattern against urlsplit, the cached date reading against a fresh one, UTCDateTime's one-step
SQLite text against the text SQLAlchemy's own DATETIME makes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import jmespath
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite

from failtrack_pipeline.base.paths import _from_dotted, compile_getter
from failtrack_pipeline.db.schema import UTCDateTime
from failtrack_pipeline.processing import dates
from failtrack_pipeline.processing.validate import _CONTROL, _PLAIN_HTTP_URL, _clean

KEYS = st.sampled_from(["a", "b", "0", "1", "item", "Meeting Date", "x y"])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(KEYS, children, max_size=3),
    max_leaves=12,
)


@settings(max_examples=500)
@given(segments=st.lists(KEYS, min_size=1, max_size=4), document=JSON)
def test_a_plain_paths_walk_finds_what_jmespath_finds(segments: list[str], document: Any) -> None:
    path = ".".join(segments)
    assert compile_getter(path)(document) == jmespath.search(_from_dotted(path), document)


TEXT = st.text(
    alphabet=st.sampled_from(["a", "é", " ", "\t", "\n", "\x00", "\x85", "\xa0", "\u2028",
                              "\ud800", "\x9f", "\x1c", "\u3000", "字", "-"]),
    max_size=12,
) | st.text(max_size=12)  # fmt: skip


@settings(max_examples=1000)
@given(text=TEXT)
def test_clean_text_is_what_the_cleaning_regex_makes(text: str) -> None:
    assert _clean(text) == " ".join(_CONTROL.sub("", text).split())


URLS = st.builds(
    "".join,
    st.lists(
        st.sampled_from(["http", "HTTPS", "httpſ", "://", "/", "?", "#", "[", "]", "::1", "é",
                         "a.b", "@", ":80", " ", "x"]),
        max_size=7,
    ),
)  # fmt: skip


@settings(max_examples=1000)
@given(url=URLS)
def test_a_url_taken_without_urlsplit_is_one_urlsplit_accepts(url: str) -> None:
    if _PLAIN_HTTP_URL.match(url):
        parts = urlsplit(url)
        assert parts.scheme.lower() in ("http", "https") and parts.netloc


@given(text=st.sampled_from(["2027-03-01T20:00:00", "2027-03-01", "1 March 2027 24:00", "x"]))
def test_a_cached_date_reading_is_a_fresh_one(text: str) -> None:
    zone = ZoneInfo("Europe/Amsterdam")
    cached = dates.read_date(text, zone)
    assert cached == dates.read_date(text, zone)
    assert cached == dates._read_text.__wrapped__(text, zone, False, ())


@given(
    moment=st.datetimes(timezones=st.just(UTC))
    | st.datetimes(
        min_value=datetime(2, 1, 1), timezones=st.just(timezone(timedelta(hours=-5, minutes=-30)))
    )
    | st.none()
)
def test_a_utc_datetime_binds_on_sqlite_as_sqlalchemy_writes_it(moment: datetime | None) -> None:
    dialect = sqlite.dialect()
    column_type = UTCDateTime().dialect_impl(dialect)
    general = sa.types.TypeDecorator.bind_processor(column_type, dialect)
    assert column_type.bind_processor(dialect)(moment) == general(moment)
