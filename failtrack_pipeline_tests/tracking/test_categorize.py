from __future__ import annotations

import csv
import io
import json
import socket
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import httpx
import pytest
import sqlalchemy as sa
import yaml
from hypothesis import given
from hypothesis import strategies as st

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.base.categorize import (
    DEFAULT_RULES,
    MessageRule,
    categorize,
    effective_rules,
)
from failtrack_pipeline.base.errors import ConfigError, EventError, FailtrackError, FeedError
from failtrack_pipeline.config.rules import load_rules, load_rules_file
from failtrack_pipeline.tracking.failures import describe_failure

C = ErrorCategory


def raised(action: Callable[[], object]) -> BaseException:
    """The exception `action` really raises, with its real message and links."""
    try:
        action()
    except BaseException as exc:
        return exc
    raise AssertionError("expected an exception")


def http_error(status: int) -> httpx.HTTPStatusError:
    request = httpx.Request("GET", "https://api.example.com/v1/events?page=2")
    response = httpx.Response(status, request=request)
    return raised(response.raise_for_status)  # type: ignore[return-value]


def integrity_error() -> BaseException:
    engine = sa.create_engine("sqlite://")
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE events (external_id TEXT UNIQUE)"))
        connection.execute(sa.text("INSERT INTO events VALUES ('lido-991')"))
        return raised(lambda: connection.execute(sa.text("INSERT INTO events VALUES ('lido-991')")))


def operational_error() -> BaseException:
    engine = sa.create_engine("sqlite://")
    with engine.connect() as connection:
        return raised(lambda: connection.execute(sa.text("SELECT * FROM venues")))


def chained(outer: BaseException, cause: BaseException) -> BaseException:
    """`raise outer from cause`, really raised so the chain is Python's own."""
    try:
        raise outer from cause
    except BaseException as exc:
        return exc


def in_context(outer: BaseException, context: BaseException) -> BaseException:
    """`outer` raised while handling `context`: an implicit chain."""
    try:
        try:
            raise context
        except BaseException:
            raise outer  # noqa: B904
    except BaseException as exc:
        return exc


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (FeedError("feed rejected our key", category=C.AUTHENTICATION), C.AUTHENTICATION),
        (EventError("no start date", external_id="lido-991"), C.VALIDATION),
        (EventError("Paradiso not in venue list", category=C.VENUE), C.VENUE),
        # The typed category wins over a message that says otherwise.
        (FailtrackError("timed out mapping genre", category=C.CATEGORY), C.CATEGORY),
        # Anywhere in the chain, and before the exception types.
        (
            chained(
                RuntimeError("sync failed"),
                EventError("ends before start", category=C.DATA_QUALITY),
            ),
            C.DATA_QUALITY,
        ),
        (
            chained(FeedError("source down", category=C.DEPENDENCY), httpx.ConnectError("refused")),
            C.DEPENDENCY,
        ),
        # A typed error that does not know its category leaves it to its cause.
        (
            chained(
                FeedError("could not read feed"), json.JSONDecodeError("Expecting value", "{bad", 1)
            ),
            C.PARSING,
        ),
    ],
)
def test_typed_errors_carry_their_category(error: BaseException, expected: C) -> None:
    assert categorize(error) == expected


@pytest.mark.parametrize(
    ("make_error", "expected"),
    [
        (lambda: raised(lambda: httpx.get("http://127.0.0.1:9", timeout=2)), C.NETWORK),
        (lambda: httpx.ReadTimeout("The read operation timed out"), C.NETWORK),
        (
            lambda: httpx.RemoteProtocolError("Server disconnected without sending a response."),
            C.NETWORK,
        ),
        (lambda: TimeoutError("timed out"), C.NETWORK),
        (lambda: ConnectionResetError(104, "Connection reset by peer"), C.NETWORK),
        (lambda: socket.gaierror(-2, "Name or service not known"), C.NETWORK),
        (lambda: http_error(429), C.RATE_LIMIT),
        (lambda: http_error(401), C.AUTHENTICATION),
        (lambda: http_error(403), C.AUTHENTICATION),
        (lambda: http_error(407), C.AUTHENTICATION),
        (lambda: http_error(404), C.NETWORK),
        (lambda: http_error(408), C.NETWORK),
        (lambda: http_error(410), C.NETWORK),
        (lambda: http_error(400), C.VALIDATION),
        (lambda: http_error(422), C.VALIDATION),
        (lambda: http_error(500), C.NETWORK),
        (lambda: http_error(503), C.NETWORK),
        (lambda: raised(lambda: json.loads("{bad")), C.PARSING),
        (lambda: raised(lambda: list(csv.reader(io.StringIO('a,"b'), strict=True))), C.PARSING),
        (lambda: raised(lambda: b"caf\xe9".decode("utf-8")), C.PARSING),
        (lambda: raised(lambda: yaml.safe_load("venue: [unclosed")), C.PARSING),
        (integrity_error, C.DATA_INTEGRITY),
        # The message names the venues table, but the type decides first.
        (operational_error, C.DEPENDENCY),
    ],
)
def test_known_exception_types_have_their_category(
    make_error: Callable[[], BaseException], expected: C
) -> None:
    assert categorize(make_error()) == expected


def test_a_404_is_a_network_error_even_when_the_url_names_a_venue() -> None:
    request = httpx.Request("GET", "https://api.example.com/venues/991")
    error = raised(httpx.Response(404, request=request).raise_for_status)

    assert categorize(error) == C.NETWORK


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            chained(RuntimeError("sync of lido_amsterdam failed"), httpx.ConnectError("refused")),
            C.NETWORK,
        ),
        (in_context(RuntimeError("sync of lido_amsterdam failed"), http_error(429)), C.RATE_LIMIT),
        (
            chained(RuntimeError("sync failed"), chained(ValueError("bad row"), KeyError("venue"))),
            C.VENUE,
        ),
        (
            in_context(ValueError("could not build event"), ValueError("latitude out of range")),
            C.GEOCODING,
        ),
    ],
)
def test_causes_and_contexts_are_followed(error: BaseException, expected: C) -> None:
    assert categorize(error) == expected


def test_a_context_suppressed_with_from_none_is_not_followed() -> None:
    try:
        try:
            raise httpx.ConnectError("refused")
        except httpx.ConnectError:
            raise RuntimeError("gave up") from None
    except RuntimeError as exc:
        error = exc

    assert categorize(error) == C.UNKNOWN


def test_a_cyclic_chain_ends() -> None:
    first, second = RuntimeError("first"), RuntimeError("second")
    first.__cause__, second.__cause__ = second, first

    assert categorize(first) == C.UNKNOWN


def dagster_step_error(user_error: Exception) -> BaseException:
    """The wrapper Dagster raises around an op's error, for an op named like a category."""
    try:
        raise user_error
    except Exception as exc:
        return dg.DagsterExecutionStepExecutionError(
            'Error occurred while executing op "fetch_venues":',
            user_exception=exc,
            original_exc_info=sys.exc_info(),
            step_key="fetch_venues",
            op_name="fetch_venues",
            op_def_name="fetch_venues",
        )


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (dagster_step_error(httpx.ConnectError("refused")), C.NETWORK),
        # The op's name says "venues": only the user's error speaks.
        (dagster_step_error(ValueError("title missing for event 12")), C.VALIDATION),
        (dagster_step_error(RuntimeError("boom")), C.UNKNOWN),
        (chained(dg.RetryRequested(max_retries=2), http_error(503)), C.NETWORK),
    ],
)
def test_live_dagster_wrappers_are_seen_through(error: BaseException, expected: C) -> None:
    assert categorize(error) == expected


@pytest.fixture(scope="module")
def step_errors() -> dict[str, object]:
    """Each op's failure as Dagster stores it: a SerializableErrorInfo, from a real run."""

    @dg.op
    def fetch_venues() -> None:
        raise ValueError("title missing for event 12")

    @dg.op
    def connect() -> None:
        httpx.get("http://127.0.0.1:9", timeout=2)

    @dg.op
    def rate_limited() -> None:
        http_error(429).response.raise_for_status()

    @dg.op
    def parse() -> None:
        try:
            json.loads("{bad")
        except json.JSONDecodeError as exc:
            raise RuntimeError("feed of lido_amsterdam unreadable") from exc

    @dg.op
    def retry() -> None:
        try:
            httpx.get("http://127.0.0.1:9", timeout=2)
        except httpx.ConnectError as exc:
            raise dg.RetryRequested(max_retries=0) from exc

    @dg.op
    def typed() -> None:
        raise EventError("Invalid date '2024-13-45'", external_id="lido-991")

    @dg.op
    def odd() -> None:
        raise RuntimeError("something odd")

    @dg.job
    def failing_job() -> None:
        for op in (fetch_venues, connect, rate_limited, parse, retry, typed, odd):
            op()

    result = failing_job.execute_in_process(raise_on_error=False)
    return {
        event.step_key: event.step_failure_data.error
        for event in result.get_step_failure_events()
        if event.step_key is not None
    }


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ("fetch_venues", C.VALIDATION),
        ("connect", C.NETWORK),
        ("rate_limited", C.RATE_LIMIT),
        ("parse", C.PARSING),
        ("retry", C.NETWORK),
        # Serialized, a typed error has lost its category: the message rules decide.
        ("typed", C.VALIDATION),
        ("odd", C.UNKNOWN),
    ],
)
def test_dagster_serialized_step_failures_are_categorized(
    step_errors: dict[str, object], step: str, expected: C
) -> None:
    assert categorize(step_errors[step]) == expected  # type: ignore[arg-type]


MESSAGES = [
    ("rate_limited", "HTTP 429 from api.example.com", C.RATE_LIMIT),
    ("rate_limited", "Too Many Requests: retry after 30 seconds", C.RATE_LIMIT),
    ("rate_limited", "request throttled by upstream API", C.RATE_LIMIT),
    ("credentials_rejected", "status_code=403 for /v1/events", C.AUTHENTICATION),
    ("credentials_rejected", "Unauthorized: invalid api key", C.AUTHENTICATION),
    ("credentials_rejected", "OAuth token has expired", C.AUTHENTICATION),
    (
        "run_worker_lost",
        "This run has been marked as failed from outside the execution context.",
        C.DEPENDENCY,
    ),
    (
        "run_worker_lost",
        "Run timed out due to taking longer than 180 seconds to start",
        C.DEPENDENCY,
    ),
    ("run_worker_lost", "Run execution process for 8c1e was terminated by signal 9", C.DEPENDENCY),
    ("network_unreachable", "The read operation timed out", C.NETWORK),
    ("network_unreachable", "[Errno -3] Temporary failure in name resolution", C.NETWORK),
    ("network_unreachable", "502 Bad Gateway from feeds.example.org", C.NETWORK),
    ("parser_reported", "not well-formed (invalid token): line 1, column 0", C.PARSING),
    ("parser_reported", "<unknown>:3:14: undefined entity", C.PARSING),
    ("parser_reported", "ParserError: Unknown string format: next friday", C.PARSING),
    ("unreadable_feed", "Expecting value: line 1 column 1 (char 0)", C.PARSING),
    ("unreadable_feed", "Content line could not be parsed into parts: 'garbage'", C.PARSING),
    ("unreadable_feed", "Malformed iCalendar: missing END:VEVENT", C.PARSING),
    ("duplicate_or_constraint", "duplicate key value violates unique constraint", C.DATA_INTEGRITY),
    ("duplicate_or_constraint", "Duplicate venue id 991 in feed", C.DATA_INTEGRITY),
    ("coordinates", "latitude out of range: 123.4", C.GEOCODING),
    ("coordinates", "venue has no coordinates", C.GEOCODING),
    ("venue", "venue missing", C.VENUE),
    ("venue", "Event 429 has no venue", C.VENUE),
    ("performer", "no performers listed for event 17", C.PERFORMER),
    ("performer", "Unknown artist 'DJ Nobody'", C.PERFORMER),
    ("event_category", "unknown category 'jazzz'", C.CATEGORY),
    ("implausible_values", "event ends before it starts", C.DATA_QUALITY),
    ("implausible_values", "start date 1970-01-01 is in the past", C.DATA_QUALITY),
    ("not_ready", "upstream asset events_raw not materialized yet", C.DEPENDENCY),
    ("not_ready", "waiting for partition 2024-05-01 of events_raw", C.DEPENDENCY),
    ("invalid_or_missing_field", "title missing", C.VALIDATION),
    ("invalid_or_missing_field", "Invalid date '2024-13-45' for event 991", C.VALIDATION),
    ("invalid_or_missing_field", "field 'url' is required", C.VALIDATION),
    ("invalid_or_missing_field", "day is out of range for month", C.VALIDATION),
]


@pytest.mark.parametrize(("rule", "message", "expected"), MESSAGES)
def test_message_rules_decide_plain_messages(rule: str, message: str, expected: C) -> None:
    first_match = next(r.name for r in DEFAULT_RULES if r.regex.search(message))

    assert (first_match, categorize(message)) == (rule, expected)


def test_every_default_rule_is_reached_by_a_message() -> None:
    assert {rule.name for rule in DEFAULT_RULES} == {rule for rule, _, _ in MESSAGES}


def test_rules_read_messages_of_the_whole_chain() -> None:
    error = chained(RuntimeError("could not build event"), KeyError("performers"))

    assert categorize(error) == C.PERFORMER


def test_secrets_do_not_steer_the_category() -> None:
    assert categorize("feed failed: https://feeds.example.org/?key=VenueX9k2") == C.UNKNOWN


@pytest.mark.parametrize(
    "message",
    ["something odd happened", "", "Event 429 ends at 504"],
)
def test_what_no_rule_knows_is_unknown(message: str) -> None:
    assert categorize(message) == C.UNKNOWN


class BrokenStr(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text")


class BrokenResponse(Exception):
    @property
    def response(self) -> object:
        raise RuntimeError("no response")


class BrokenRecord:
    cls_name = "ValueError"

    @property
    def message(self) -> str:
        raise RuntimeError("no message")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        pytest.param(BrokenStr(), C.UNKNOWN, id="str-raises"),
        pytest.param(BrokenResponse("venue missing"), C.VENUE, id="property-raises"),
        pytest.param(BrokenRecord(), C.UNKNOWN, id="record-raises"),
        pytest.param(object(), C.UNKNOWN, id="object"),
        pytest.param(None, C.UNKNOWN, id="none"),
    ],
)
def test_a_broken_error_is_read_as_far_as_it_goes_without_raising(
    error: object, expected: C
) -> None:
    assert categorize(error) == expected  # type: ignore[arg-type]


USER_RULES = [
    {"name": "lido_venue_feed", "category": "data_quality_error", "pattern": r"venue missing"},
    {"name": "ticketing_outage", "category": "dependency_error", "pattern": r"ticket shop"},
]


@pytest.mark.parametrize(
    ("message", "default", "with_user_rules"),
    [
        ("venue missing", C.VENUE, C.DATA_QUALITY),
        ("ticket shop returned nothing", C.UNKNOWN, C.DEPENDENCY),
        ("title missing", C.VALIDATION, C.VALIDATION),
    ],
)
def test_user_rules_are_checked_before_the_defaults(
    message: str, default: C, with_user_rules: C
) -> None:
    user_rules = load_rules(USER_RULES, "rules.yaml")

    assert categorize(message) == default
    assert categorize(message, rules=effective_rules(user_rules)) == with_user_rules
    assert categorize(message, rules=user_rules + DEFAULT_RULES) == with_user_rules


def test_a_typed_error_still_beats_user_rules() -> None:
    user_rules = load_rules(USER_RULES, "rules.yaml")
    error = EventError("venue missing", category=C.VENUE)

    assert categorize(error, rules=effective_rules(user_rules)) == C.VENUE


@pytest.mark.parametrize(
    ("data", "where", "field"),
    [
        ({"name": "x"}, None, "rules"),
        ([USER_RULES[0], "venue"], "rule #2", None),
        ([{"category": "venue_error", "pattern": "x"}], "rule #1", "name"),
        ([{"name": " ", "category": "venue_error", "pattern": "x"}], "rule #1", "name"),
        ([{"name": "lido", "category": "venue_error"}], "rule 'lido'", "pattern"),
        ([{"name": "lido", "category": "venues", "pattern": "x"}], "rule 'lido'", "category"),
        ([{"name": "lido", "category": "venue_error", "pattern": "(x"}], "rule 'lido'", "pattern"),
        ([{"name": "lido", "category": "venue_error", "pattern": "x*"}], "rule 'lido'", "pattern"),
        ([{"name": "lido", "category": "venue_error", "pattern": 5}], "rule 'lido'", "pattern"),
        (
            [{"name": "lido", "category": "venue_error", "pattern": "(?<!x)y"}],
            "rule 'lido'",
            "pattern",
        ),
        (
            [{"name": "lido", "category": "venue_error", "pattern": r"(a)\1"}],
            "rule 'lido'",
            "pattern",
        ),
        (
            [{"name": "lido", "category": "venue_error", "pattern": "x", "group_as": ""}],
            "rule 'lido'",
            "group_as",
        ),
        (
            [{"name": "lido", "category": "venue_error", "pattern": "x", "priority": 1}],
            "rule 'lido'",
            "priority",
        ),
        ([USER_RULES[0], USER_RULES[0]], "rule 'lido_venue_feed'", "name"),
    ],
)
def test_invalid_user_rules_name_the_file_rule_and_field(
    data: object, where: str | None, field: str | None
) -> None:
    with pytest.raises(ConfigError) as raised_error:
        load_rules(data, "sources/lido/rules.yaml")  # type: ignore[arg-type]

    error = raised_error.value
    assert (error.file, error.where, error.field) == ("sources/lido/rules.yaml", where, field)
    assert str(error).startswith("sources/lido/rules.yaml")


def test_a_rules_file_loads_in_order(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"rules": USER_RULES}))

    rules = load_rules_file(path)

    assert [(r.name, r.category) for r in rules] == [
        ("lido_venue_feed", C.DATA_QUALITY),
        ("ticketing_outage", C.DEPENDENCY),
    ]
    assert rules[0] == MessageRule("lido_venue_feed", C.DATA_QUALITY, "venue missing")


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("rules: [unclosed", None),
        ("- name: lido", "rules"),
        ("rulez: []", "rules"),
        ("rules: []\nversion: 2", "version"),
    ],
)
def test_a_broken_rules_file_names_the_file_and_key(
    tmp_path: Path, text: str, field: str | None
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text)

    with pytest.raises(ConfigError) as raised_error:
        load_rules_file(path)

    assert (raised_error.value.file, raised_error.value.field) == (str(path), field)


def test_a_missing_rules_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_rules_file(tmp_path / "absent.yaml")


@given(st.text())
def test_categorizing_any_text_never_raises(message: str) -> None:
    assert isinstance(categorize(message), ErrorCategory)
    assert isinstance(categorize(ValueError(message)), ErrorCategory)


class DNSLookupError(Exception):
    """twisted.internet.error.DNSLookupError, as scrapy raises it (matched by name)."""


class _ScrapyResponse:
    status = 404  # scrapy's Response has `status`, not httpx's `status_code`


class HttpError(Exception):
    """scrapy.spidermiddlewares.httperror.HttpError: the response rides along."""

    response = _ScrapyResponse()


def _raised(parse: Callable[[], object]) -> BaseException:
    try:
        parse()
    except Exception as exc:
        return exc
    raise AssertionError("the parser accepted the document")


# fmt: off
@pytest.mark.parametrize(
    ("error", "expected"),
    [
        # expat's own words say "invalid token": the type outranks the credentials rule.
        (_raised(lambda: __import__("xml.dom.minidom").dom.minidom.parseString("<a>\x01</a>")), C.PARSING),  # noqa: E501
        (_raised(lambda: __import__("xml.etree.ElementTree").etree.ElementTree.fromstring("<a>")), C.PARSING),  # noqa: E501
        (
            _raised(
                lambda: __import__("xml.sax").sax.parseString(
                    b"<a>&nope;</a>", __import__("xml.sax").sax.ContentHandler()
                )
            ),
            C.PARSING,
        ),
        (_raised(lambda: __import__("dateutil.parser").parser.parse("next friday")), C.PARSING),
        (DNSLookupError("DNS lookup failed: no results for hostname lookup: feeds.example.org."), C.NETWORK),  # noqa: E501
        (HttpError("Ignoring non-200 response"), C.NETWORK),
        ("Ignoring response <404 https://example.org/events>: HTTP status code is not handled", C.NETWORK),  # noqa: E501
        ("Ignoring response <429 https://example.org/events>: HTTP status code is not handled", C.RATE_LIMIT),  # noqa: E501
    ],  # noqa: E501
    ids=["expat-invalid-token", "elementtree", "sax-undefined-entity", "dateutil", "twisted-dns",
         "scrapy-http-error", "scrapy-ignoring-404", "scrapy-ignoring-429"],
)
# fmt: on
def test_parser_and_scraper_errors_have_their_category(error: object, expected: C) -> None:
    assert categorize(error) == expected  # type: ignore[arg-type]


def test_a_catastrophic_user_pattern_runs_in_linear_time() -> None:
    (rule,) = load_rules([{"name": "nested", "category": "venue_error", "pattern": "(a+)+$"}], "f")
    started = time.perf_counter()

    assert categorize("a" * 15_000 + "!", effective_rules([rule])) is C.UNKNOWN
    assert time.perf_counter() - started < 1  # backtracking regex: 2.8 s for 24 characters


def test_group_as_merges_the_variants_a_person_names_one_problem() -> None:
    rules = load_rules(
        [{"name": "moved", "category": "network_error", "pattern": "moved|gone", "group_as": "feed moved"}],  # noqa: E501
        "rules.yaml",
    )  # fmt: skip
    seen_at = datetime(2026, 12, 1, tzinfo=UTC)

    moved = describe_failure(
        "src", "feed moved to https://a.example/x", seen_at=seen_at, rules=rules
    )
    gone = describe_failure("src", "Feed is gone for good", seen_at=seen_at, rules=rules)
    other = describe_failure("src", "venue missing", seen_at=seen_at, rules=rules)

    assert moved.fingerprint == gone.fingerprint
    assert moved.message == "feed moved"
    assert other.message == "venue missing"
