"""Decide why something failed: the ErrorCategory of an exception, Dagster error or message.

Four steps, the first that answers wins, each one a table a reader can predict from:

1. failtrack's typed errors (`FailtrackError`, anywhere in the chain) carry their category;
2. known exception types (`_EXCEPTION_TYPES`), and HTTP statuses (`_HTTP_STATUSES`);
3. message rules: the caller's, then `DEFAULT_RULES` from default_rules.py;
4. `unknown_error`.

The chain is everything the error links to: `__cause__`, unsuppressed `__context__`, and
the `user_exception` of Dagster's wrappers, or `cause` and `context` of a Dagster
`SerializableErrorInfo` (the form an error takes in the event log). Nothing here imports
httpx, SQLAlchemy or Dagster: types are recognised by name.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Container, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import re2

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.base.default_rules import DEFAULT_RULE_TABLE
from failtrack_pipeline.base.errors import FailtrackError
from failtrack_pipeline.base.scrub import scrub_secrets


class SerializedError(Protocol):
    """What Dagster keeps of an exception (`SerializableErrorInfo`): text, class name, links."""

    @property
    def message(self) -> str: ...

    @property
    def cls_name(self) -> str | None: ...

    @property
    def cause(self) -> SerializedError | None: ...

    @property
    def context(self) -> SerializedError | None: ...


def _re2_options() -> re2.Options:
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False  # a refused pattern is reported as a ConfigError instead
    return options


_RE2_OPTIONS: Final = _re2_options()


@dataclass(frozen=True)
class MessageRule:
    """A named, case-insensitive regular expression: a message it matches gets `category`.

    With `group_as`, every failure it matches joins the one group of that name (Sentry's
    fingerprint rules): variants a person knows are one problem are counted as one.
    Patterns run on RE2, in time linear in the message whatever the pattern (`(a+)+$`
    cannot backtrack); RE2 has no lookarounds or backreferences, so such a pattern is
    refused (`re2.error`).
    """

    name: str
    category: ErrorCategory
    pattern: str
    group_as: str | None = None
    regex: re2._Regexp = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", re2.compile(self.pattern, _RE2_OPTIONS))


# Looked up for every class of an exception's MRO, most specific first, by bare name (any
# driver's IntegrityError is a duplicate) or module-qualified where the bare name is vague.
# Generic builtins (ValueError, KeyError, TypeError) are left to the message rules.
_EXCEPTION_TYPES: Final[dict[str, ErrorCategory]] = {
    "TimeoutException": ErrorCategory.NETWORK,  # httpx: connect, read, write, pool timeouts
    "NetworkError": ErrorCategory.NETWORK,  # httpx: ConnectError, ReadError, WriteError…
    "RemoteProtocolError": ErrorCategory.NETWORK,  # httpx: the server hung up mid-response
    "TimeoutError": ErrorCategory.NETWORK,  # builtin; socket.timeout is an alias of it
    "ConnectionError": ErrorCategory.NETWORK,  # builtin: refused, reset, aborted, broken pipe
    "gaierror": ErrorCategory.NETWORK,  # socket: the DNS lookup failed
    "DNSLookupError": ErrorCategory.NETWORK,  # twisted (scrapy)
    "JSONDecodeError": ErrorCategory.PARSING,
    # An XML parser's error is a parsing error whatever its text says ("invalid token").
    "ExpatError": ErrorCategory.PARSING,  # xml.parsers.expat, xml.dom.minidom
    "xml.etree.ElementTree.ParseError": ErrorCategory.PARSING,
    "SAXException": ErrorCategory.PARSING,  # xml.sax: SAXParseException and kin
    "XMLSyntaxError": ErrorCategory.PARSING,  # lxml
    "dateutil.parser._parser.ParserError": ErrorCategory.PARSING,  # "Unknown string format"
    "_csv.Error": ErrorCategory.PARSING,
    "UnicodeDecodeError": ErrorCategory.PARSING,
    "YAMLError": ErrorCategory.PARSING,
    "IntegrityError": ErrorCategory.DATA_INTEGRITY,  # SQLAlchemy, sqlite3, psycopg
    # Our database is something the step needs, not a source: unreachable, locked or not
    # migrated means "not ready", and network_error stays about the sources we fetch.
    "OperationalError": ErrorCategory.DEPENDENCY,
}

# For an error carrying an HTTP response (httpx.HTTPStatusError), first row that holds it.
_HTTP_STATUSES: Final[tuple[tuple[Container[int], ErrorCategory], ...]] = (
    ({429}, ErrorCategory.RATE_LIMIT),
    ({401, 403, 407}, ErrorCategory.AUTHENTICATION),
    # 404/410: the feed is not where we fetch it. Like an unreachable host, the source
    # cannot be reached; the fix is checking the source and its URL. 408 is a timeout.
    ({404, 408, 410}, ErrorCategory.NETWORK),
    # Any other 4xx: the source rejected the request we built (a bad parameter or filter),
    # a mapping to fix like other invalid input.
    (range(400, 500), ErrorCategory.VALIDATION),
    (range(500, 600), ErrorCategory.NETWORK),
)

# The status in the text, all that survives serialization of the response: httpx's
# HTTPStatusError, and scrapy's HttpError middleware ("Ignoring response <404 https://…>").
_HTTPX_STATUS_TEXT = re.compile(
    r"\b(?:Client|Server) error '(\d{3}) |\bIgnoring (?:non-200 )?response <(\d{3}) "
)

# Dagster's wrappers: their own message names the op, not the failure, so rules skip it.
_WRAPPER_TYPES: Final = frozenset(
    {"DagsterUserCodeExecutionError", "DagsterExecutionStepExecutionError"}
)

_MAX_CHAIN: Final = 32
_MAX_SEARCHED: Final = 20_000  # characters of each message the rules read


# A list, so that `user_rules + DEFAULT_RULES` works; never mutate it.
DEFAULT_RULES: Final[list[MessageRule]] = [
    MessageRule(name, category, pattern) for name, category, pattern in DEFAULT_RULE_TABLE
]


def pattern_problem(pattern: str) -> str | None:
    """Why `pattern` cannot be a message rule's (RE2 refuses it, or it matches every
    message), or None: the check the configuration runs on each user rule."""
    try:
        regex = re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        return (
            f"not a valid regular expression for linear-time matching ({reason}); "
            "lookarounds and backreferences are not supported"
        )
    if regex.search(""):
        return "matches the empty string, so every message"
    return None


def effective_rules(user_rules: Sequence[MessageRule]) -> list[MessageRule]:
    """The user's rules, checked first, then the defaults: what `categorize` should be given."""
    return [*user_rules, *DEFAULT_RULES]


def categorize(
    error: BaseException | SerializedError | str,
    rules: Sequence[MessageRule] | None = None,
) -> ErrorCategory:
    """Return why `error` failed: typed error, then exception type, then `rules`, then unknown.

    `rules` defaults to DEFAULT_RULES; pass `effective_rules(user_rules)` to add your own.
    Never raises: a failure being recorded must not fail again, so a broken object is
    `unknown_error`. A serialized failtrack error has lost its category; rules decide it.
    """
    if isinstance(error, FailtrackError) and error.category is not ErrorCategory.UNKNOWN:
        return error.category  # the per-event hot path: no chain to walk
    try:
        links = list(_chain(error))
        return (
            next((link.category for link in links if link.category), None)
            or next(filter(None, map(_type_category, links)), None)
            or _rule_category(links, DEFAULT_RULES if rules is None else rules)
            or ErrorCategory.UNKNOWN
        )
    except Exception:
        return ErrorCategory.UNKNOWN


@dataclass(frozen=True)
class _Link:
    """One error of a chain, live or serialized, reduced to what categorization reads."""

    type_names: tuple[str, ...]
    message: str
    category: ErrorCategory | None = None
    status: int | None = None


def _chain(error: object) -> Iterator[_Link]:
    """The error and everything it links to, outermost first, each once (chains can loop)."""
    pending: list[object] = [error]
    seen: set[int] = set()
    while pending and len(seen) < _MAX_CHAIN:
        current = pending.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, str):
            yield _Link((), current, status=_status_in(current))
        elif isinstance(current, BaseException):
            yield _live_link(current)
            context = None if current.__suppress_context__ else current.__context__
            pending += [_attribute(current, "user_exception"), current.__cause__, context]
        elif isinstance(_attribute(current, "message"), str):
            yield _serialized_link(current)
            pending += [_attribute(current, "cause"), _attribute(current, "context")]


def _live_link(exc: BaseException) -> _Link:
    try:
        message = str(exc)
    except Exception:
        message = ""
    response = _attribute(exc, "response")
    # httpx has status_code, scrapy's Response (in its HttpError) status.
    status = _attribute(response, "status_code")
    status = status if isinstance(status, int) else _attribute(response, "status")
    category = exc.category if isinstance(exc, FailtrackError) else None
    return _Link(
        _type_names(type(exc)),
        message,
        None if category is ErrorCategory.UNKNOWN else category,
        status if isinstance(status, int) else _status_in(message),
    )


def _serialized_link(info: object) -> _Link:
    cls_name = _attribute(info, "cls_name")
    cls_name = cls_name if isinstance(cls_name, str) else ""
    text: str = _attribute(info, "message")
    # The message reads "module.Class: text", as Python prints an exception's last line.
    head, _, rest = text.partition(":")
    head = head.strip()
    if cls_name and head.rpartition(".")[2] == cls_name:
        qualified, message = head, rest.strip()
    else:
        qualified, message = cls_name, text.strip()
    cls = _loaded_class(qualified)
    names = _type_names(cls) if cls else (qualified, cls_name)
    return _Link(names, message, status=_status_in(message))


def _loaded_class(qualified: str) -> type[BaseException] | None:
    """The named class if its module is already imported: never import on behalf of data."""
    module, _, name = qualified.rpartition(".")
    cls = getattr(sys.modules.get(module or "builtins"), name, None)
    return cls if isinstance(cls, type) and issubclass(cls, BaseException) else None


def _type_names(cls: type) -> tuple[str, ...]:
    return tuple(
        name for c in cls.__mro__ for name in (f"{c.__module__}.{c.__qualname__}", c.__qualname__)
    )


def _type_category(link: _Link) -> ErrorCategory | None:
    if link.status is not None:
        for statuses, category in _HTTP_STATUSES:
            if link.status in statuses:
                return category
    return next((_EXCEPTION_TYPES[n] for n in link.type_names if n in _EXCEPTION_TYPES), None)


def _rule_category(links: list[_Link], rules: Sequence[MessageRule]) -> ErrorCategory | None:
    text = _searched_text(links)
    return next((rule.category for rule in rules if rule.regex.search(text)), None)


def _searched_text(links: list[_Link]) -> str:
    return "\n".join(
        scrub_secrets(link.message[:_MAX_SEARCHED])
        for link in links
        if _WRAPPER_TYPES.isdisjoint(link.type_names)
    )


def group_name(
    error: BaseException | SerializedError | str, rules: Sequence[MessageRule] | None
) -> str | None:
    """The `group_as` of the first rule with one that matches `error`'s messages, if any.

    Read apart from the category: a typed error keeps its category and still joins the
    group a person named for it. Never raises.
    """
    named = [rule for rule in rules or () if rule.group_as]
    if not named:
        return None
    try:
        text = _searched_text(list(_chain(error)))
        return next((rule.group_as for rule in named if rule.regex.search(text)), None)
    except Exception:
        return None


def _status_in(message: str) -> int | None:
    match = _HTTPX_STATUS_TEXT.search(message[:_MAX_SEARCHED])
    return int(match[1] or match[2]) if match else None


def _attribute(obj: object, name: str) -> Any:
    """`getattr` for foreign objects, whose properties may raise anything."""
    try:
        return getattr(obj, name, None)
    except Exception:
        return None
