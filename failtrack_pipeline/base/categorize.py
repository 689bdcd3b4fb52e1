"""Decide why something failed: the ErrorCategory of an exception, Dagster error or message.

Four steps, the first that answers wins, each one a table a reader can predict from:

1. failtrack's typed errors (`FailtrackError`, anywhere in the chain) carry their category;
2. known exception types (`_EXCEPTION_TYPES`), and HTTP statuses (`_HTTP_STATUSES`);
3. message rules: the caller's, then `DEFAULT_RULES` from default_rules.yaml;
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
from importlib.resources import files
from pathlib import Path
from typing import Any, Final, Protocol

import re2
import yaml

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.base.errors import ConfigError, FailtrackError, yaml_problem
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
MAX_GROUP_AS: Final = 200


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

_RULE_FIELDS: Final = ("name", "category", "pattern")
_OPTIONAL_FIELDS: Final = ("group_as",)
_CATEGORY_VALUES: Final = frozenset(category.value for category in ErrorCategory)
_MAX_CHAIN: Final = 32
_MAX_SEARCHED: Final = 20_000  # characters of each message the rules read


def load_rules(data: list[dict[str, Any]], file: str) -> list[MessageRule]:
    """Validate user rules (as read from YAML) into MessageRules, keeping their order.

    Each item needs `name`, `category` (an ErrorCategory value) and `pattern` (a regex), and
    nothing else. Raises ConfigError naming `file`, the rule (`rule 'name'`, or `rule #n`
    counting from 1 when it has no usable name) and the field.
    """
    if not isinstance(data, list):
        raise ConfigError(file, None, "rules", "must be a list of rules")
    rules: list[MessageRule] = []
    for position, item in enumerate(data, start=1):
        rule = _load_rule(item, f"rule #{position}", file)
        if any(rule.name == seen.name for seen in rules):
            raise ConfigError(file, f"rule '{rule.name}'", "name", "another rule has this name")
        rules.append(rule)
    return rules


def _load_rule(item: object, where: str, file: str) -> MessageRule:
    if not isinstance(item, dict):
        raise ConfigError(file, where, None, "must be a mapping with name, category and pattern")
    name = item.get("name")
    if isinstance(name, str) and name.strip():
        where = f"rule '{name}'"
    unknown = sorted(str(key) for key in item if key not in (*_RULE_FIELDS, *_OPTIONAL_FIELDS))
    if unknown:
        raise ConfigError(
            file, where, unknown[0], "unknown field (allowed: name, category, pattern, group_as)"
        )
    missing = [key for key in _RULE_FIELDS if key not in item]
    if missing:
        raise ConfigError(file, where, missing[0], "is required")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(file, where, "name", "must be a non-empty string")
    category = item["category"]
    if not isinstance(category, str) or category not in _CATEGORY_VALUES:
        choices = ", ".join(sorted(_CATEGORY_VALUES))
        raise ConfigError(file, where, "category", f"{category!r} is not one of: {choices}")
    pattern = item["pattern"]
    if not isinstance(pattern, str):
        raise ConfigError(file, where, "pattern", "must be a string (a regular expression)")
    group_as = item.get("group_as")
    if group_as is not None and (
        not isinstance(group_as, str) or not group_as.strip() or len(group_as) > MAX_GROUP_AS
    ):
        raise ConfigError(
            file, where, "group_as", f"must be a non-empty string of at most {MAX_GROUP_AS}"
        )
    try:
        rule = MessageRule(name, ErrorCategory(category), pattern, group_as)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise ConfigError(
            file,
            where,
            "pattern",
            f"not a valid regular expression for linear-time matching ({reason}); "
            "lookarounds and backreferences are not supported",
        ) from None
    if rule.regex.search(""):
        raise ConfigError(file, where, "pattern", "matches the empty string, so every message")
    return rule


def load_rules_file(path: str | Path) -> list[MessageRule]:
    """Read a standalone YAML rules file (a top-level `rules:` list) into MessageRules."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(file, None, None, f"cannot read the rules file: {exc}") from None
    return _parse_rules_document(text, file)


def _parse_rules_document(text: str, file: str) -> list[MessageRule]:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(file, None, None, yaml_problem(exc)) from None
    if not isinstance(document, dict) or "rules" not in document:
        raise ConfigError(file, None, "rules", "the file must hold a top-level 'rules:' list")
    extra = sorted(str(key) for key in document if key != "rules")
    if extra:
        raise ConfigError(file, None, extra[0], "unknown top-level key; only 'rules' is allowed")
    return load_rules(document["rules"], file)


# A list, so that `user_rules + DEFAULT_RULES` works; never mutate it.
DEFAULT_RULES: Final[list[MessageRule]] = _parse_rules_document(
    files("failtrack_pipeline.base").joinpath("default_rules.yaml").read_text("utf-8"),
    "default_rules.yaml",
)


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
