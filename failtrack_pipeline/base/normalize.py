"""Turn an error message into its group's message: the same text for every variant of one error.

Failures are counted per normalized message, so the variable parts (ids, dates, URLs'
paths, numbers) become placeholders while the words that say what went wrong stay:
`Invalid date '2024-13-45' for event 991` and `Invalid date '2025-02-30' for event 17`
both become `Invalid date <value> for event <int>`, but `venue missing` and
`title missing` stay apart. A URL keeps its scheme and host, the rest becomes `<path>`
(`https://api.example.com/v1/events/123?page=2` -> `https://api.example.com/<path>`):
failures of one source group together, failures of two hosts do not.

The rules are Sentry's way: an ordered table of named, commented patterns, combined into
one regular expression that rewrites a message in a single pass. Where two rules could
match at one place, the earlier one wins (an endpoint before a time, so `0.0.0.0:80` is
`<host>:<int>`). Nothing depends on other messages: a message's group is a function of its
text and `GROUPING_VERSION`, which changes whenever these rules (or the scrubber's)
change what a message becomes.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

from failtrack_pipeline.base.one_pass import OnePass, Rule
from failtrack_pipeline.base.prefilter import Prefilter
from failtrack_pipeline.base.scrub import SCRUB_RULES, SCRUBBER

# Bump when a rule change makes any message normalize differently: stored groups are then
# re-keyed (tracking/store.py), so the change merges them instead of starting new ones.
GROUPING_VERSION: Final = 4

MAX_LENGTH: Final = 500
ELLIPSIS: Final = "…"

# Month and weekday names as tries on their first letters: tried at every word's start.
_MONTH = (
    r"(?:j(?:an(?:uary)?|u(?:ne?|ly?))|feb(?:ruary)?|ma(?:r(?:ch)?|y)|a(?:pr(?:il)?|ug(?:ust)?)"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_WEEKDAY = r"(?:mon|t(?:ue|hu)|wed|fri|s(?:at|un))(?:day|sday|nesday|rsday|urday)?"
_TIME = r"\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d{1,9})?(?:\ ?[ap]\.?m\b\.?)?(?![0-9a-y_])"
# (`Z07:00` is Go's layout for "Z or an offset", seen as a literal in its errors.)
_ZONE = (
    r"(?:\ ?(?:z(?:\d{2}:?\d{2})?\b|[+-]\d{2}:?\d{2}\b|gmt[+-]\d{4}"
    r"|(?:gmt|utc|[ecmp][sd]t|cet|cest|bst|jst)\b))"
)
_HEX4 = r"[0-9a-f]{1,4}"
# Common top-level domains: a bare `word.word.com` is a host, `org.apache.Foo` a class.
# (An `int` or `in` ending makes `x.int` a host too: accepted, it is rare in error text.)
_TLD = (
    r"(?:com|net|org|edu|gov|mil|int|io|info|biz|co|eu|local|internal|a[rtu]|b[er]|c[ahlnz]|d[ek]"
    r"|es|f[ir]|gr|hk|hu|i[delnt]|jp|kr|mx|my|n[loz]|p[lt]|r[ou]|s[eg]|t[hrw]|u[aks]|vn|za)"
)


def _url(match: re.Match[str]) -> str:
    return f"{match['url__scheme']}://{match['url__host']}/<path>"


_ID_SHAPE: Final = re.compile(r"_[a-z]?-?\d|[a-z]\d{3}|\d[a-z]+\d", re.IGNORECASE)


def _id(match: re.Match[str]) -> str:
    word = match["id__word"]
    return word if word and not _ID_SHAPE.search(word) else "<id>"


def _quoted(match: re.Match[str]) -> str:
    """One quoted word (or date) is a value; quoted prose keeps its words, parameterized
    (`"GET <path> HTTP/<float>"`)."""
    text = match.group()
    inner = text[1:-1].strip()
    if _is_key(match):
        return text[0] + _NORMALIZE.sub_part(inner, match) + text[-1]
    if " " in inner:
        prose = _NORMALIZE.sub_part(inner, match)
        return text[0] + prose + text[-1] if " " in prose else "<value>"
    url = _URL.fullmatch(inner) if "://" in inner else None
    return _url(url) if url else "<value>"


_KEY_AFTER: Final = re.compile(r"\s*(?::|=>)")


def _is_key(match: re.Match[str]) -> bool:
    """A double-quoted name in braces before `:` or `=>` is a key (`{"msg" => …`): a
    constant, not a value."""
    if match.group()[0] != '"':
        return False
    before = match.string[: match.start()].rstrip()
    return before[-1:] in ("{", ",") and _KEY_AFTER.match(match.string, match.end()) is not None


# Ordered: what contains other forms goes first (a URL holds ids and dates, a datetime a
# time, an IP dots and digits); plain numbers and bare words with digits last.
NORMALIZE_RULES: Final[tuple[Rule, ...]] = (
    Rule(
        "url",
        r"""
        (?<![\w+.\->])
        (?P<url__scheme>[a-z][\w+.\-]{0,30})://
        (?:[^\s/@'"<>]{0,256}@)?                       # userinfo (already scrubbed)
        (?P<url__host>(?=[0-9a-f]*:[0-9a-f]*:)[0-9a-f:.]+|[\w\-]+(?:\.[\w\-]+)*|\[[0-9a-f:.]+\])
        (?::\d{1,5})?
        (?=[/?\#\s'"),;\]>…]|$)
        (?:/<path>|[/?\#][^\s'"<>)]*)?
        """,
        _url,
    ),
    Rule(
        "assigned",
        # What follows `name=` is its value, whatever it is (user=root, rhost=10.0.0.1,
        # uid=0, tag="View Lock"); a URL there is left to its own rule.
        r"""(?<=[a-z]=)(?![a-z][\w+.\-]{0,30}://)
        (?:"[^"\n]{0,200}"|'[^'\n]{0,200}'|[^\s,;&<>'"()\[\]{}=…]+)""",
        "<value>",
        at_words=True,
    ),
    Rule(
        "quoted",
        # Not after a letter, so apostrophes (venue's, can't) open nothing. Bounded, so an
        # unclosed quote costs little.
        r"""(?<![^\W\d_]|>)(?:'[^'\n]{0,200}'|"[^"\n]{0,200}"|“[^”\n]{0,200}”|‘[^’\n]{0,200}’)""",
        _quoted,
    ),
    Rule(
        "uuid",
        r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
        "<uuid>",
    ),
    Rule(
        "trace",
        # W3C traceparent (version-trace-parent-flags) and AWS X-Ray trace ids.
        r"""\b[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}\b
        | (?<![\w\-])1-[0-9a-f]{8}-[0-9a-f]{24}\b""",
        "<trace>",
    ),
    Rule(
        "datetime",
        rf"""
        \b(?=\d)(?:\d{{4}}-\d{{1,2}}-\d{{1,2}}[T\ _]\d{{1,2}}[:.]\d{{2}}(?:[:.]\d{{2}})?
            (?:[.,]\d{{1,9}})?{_ZONE}?                       # ISO 8601, RFC 3339, SQL
        | (?:19|20)\d{{2}}[01]\d[0-3]\d[T\ ](?:\d{{6}}(?:z|[+-]\d{{4}})?\b  # iCalendar, compressed
            | {_TIME}{_ZONE}?)
        | \d{{1,2}}[\ \-]{_MONTH}[\ \-]\d{{2,4}}(?:\ {_TIME})?{_ZONE}?)   # nginx
        | \b(?:{_WEEKDAY},?\ )?\d{{1,2}}[\ \-]{_MONTH}[\ \-]\d{{2,4}}
            (?:\ {_TIME})?{_ZONE}?                          # RFC 2822
        | \b(?:{_WEEKDAY},?\ )?{_MONTH}\ +\d{{1,2}},?(?:\ \d{{4}})?\ {_TIME}
            {_ZONE}?(?:\ \d{{4}}\b)?(?:\ \([\w\ ]{{1,40}}\))?   # ctime, syslog, JavaScript
        | \b{_WEEKDAY},?\ {_MONTH}\ \d{{1,2}},?\ \d{{4}}\b      # JavaScript toDateString
        | \bdatetime\.(?:datetime|date)\(\d{{4}}(?:,\ ?\d{{1,6}}){{2,6}}\)  # Python's repr
        """,
        "<datetime>",
        at_words=True,
    ),
    Rule(
        "date",
        rf"""
        \b\d{{4}}[-/.]\d{{1,2}}[-/.]\d{{1,2}}\b
        | \b\d{{1,2}}[./-]\d{{1,2}}[./-]\d{{4}}\b
        | \b\d{{1,2}}(?:st|nd|rd|th)?\ {_MONTH}\.?,?\ \d{{4}}\b
        | \b{_MONTH}\.?\ \d{{1,2}}(?:st|nd|rd|th)?,?\ \d{{4}}\b
        """,
        "<date>",
        at_words=True,
    ),
    Rule(
        "host",
        # A bare domain name or IP with a port (an endpoint: `<host>:<int>`), or a domain
        # name ending in a common top-level domain.
        rf"""(?<![\w.\-/@>])(?=[\w\-]*+\.)[a-z0-9][\w\-]*(?:\.[\w\-]+)+(?=:\d{{1,5}}\b)
        | (?<![\w.\-/@>])(?=[\w\-]*+\.)[a-z0-9][\w\-]*(?:\.[\w\-]+)*\.{_TLD}\b(?![.\-])
        """,
        "<host>",
    ),
    Rule(
        "ip",
        rf"""
        \b(?:\d{{1,3}}\.){{3}}\d{{1,3}}\b(?:,\ ?(?:\d{{1,3}}\.){{3}}\d{{1,3}}\b)*   # a list is one
            (?:/\d{{1,2}}\b)?                                                   # CIDR
        | (?<![\w:<>])(?=[0-9a-f]{{0,4}}:)(?:::ffff:(?:\d{{1,3}}\.){{3}}\d{{1,3}}\b  # v4-mapped
            | (?:{_HEX4}:){{7}}{_HEX4}
            | {_HEX4}(?::{_HEX4}){{0,6}}::(?:{_HEX4}(?::{_HEX4}){{0,6}})?
            | ::(?:{_HEX4}(?::{_HEX4}){{0,6}})?)(?:/\d{{1,3}}\b)?(?![\w:<>]|\.\d)
        """,
        "<ip>",
    ),
    Rule(
        "user_name",
        # Who an account error is about is not what went wrong: `invalid user bob`,
        # `password for bob from`.
        r"""(?:(?<=\buser\ )|(?<=\bpassword\ for\ ))(?!<)
        (?!(?:agent|code|name|id|data|not|is|has|was|with|from|for|invalid)\b)[\w.\-@]+""",
        "<value>",
        at_words=True,
    ),
    Rule("mac", r"\b[0-9a-f]{1,2}(?::[0-9a-f]{1,2}){5}\b", "<mac>"),
    Rule(
        "time",
        # A time of day, or seconds spelled out: `lifetime 01:01` and `lifetime <1 sec` are one
        # slot (minutes, hours and days keep their unit: `<int> days`).
        rf"""\b{_TIME}(?:{_ZONE}(?!\w))?
        | (?<![\w.])<?\d+(?:\.\d+)?\ (?:secs?|seconds?)\b""",
        "<time>",
    ),
    Rule(
        "path",
        # A file path or a URL's path: two or more segments after a slash (not a fraction,
        # 1/2), with its query.
        r"""(?<![\w.<>/])(?:\.{1,2}|~)?/(?=[^\s/]*[a-z_.])[\w.\-~+@%=]+(?:/[\w.\-~+@%=]*)+
        (?:\?[^\s"'<>]*)?""",
        "<path>",
    ),
    Rule(
        "hex",
        # Eight or more hex digits with a letter (deadbeef; 12345678 is an <int>), or a
        # leading zero and a fixed width (00000001).
        r"\b0x[0-9a-f]+\b|\b0[0-9a-f]{7,}\b|\b(?=[0-9a-f]{8})(?=[0-9a-f]{0,64}[a-f])[0-9a-f]{8,}\b",
        "<hex>",
    ),
    Rule(
        "id",
        # A word joined to digits by `_` (blk_-1608, attempt_1445_0020_m_000000_0), with a
        # run of 3 digits (tc19060) or mixing digits and letters twice (15G1510); `utf8`,
        # `http2` and `ipv4` are words. A word with a digit is read once, `_id` decides.
        r"""\b[\w.\-]+~[\w.\-~]+                 # a component identity: name~key~arch~~version
        | \btx[0-9a-f]{21}-[0-9a-f]{10}(?:-\w+)?\b  # an OpenStack Swift transaction
        | (?P<id__word>\b[a-z](?=\w*-?\d)\w*+(?:(?<=_)-\d\w*+)?)
        | \b\d+(?:_\d+)+\b
        | \b\d+[a-z]+\d\w*
        """,
        _id,
    ),
    Rule(
        "duration",
        # Seconds and their fractions with a unit joined on: 1500ms and 1.2s are one slot.
        r"(?<![\w.])\d+(?:\.\d+)?(?:ns|us|µs|ms|s)\b",
        "<duration>",
    ),
    Rule(
        "size",
        # An amount of data, whatever its unit: 512 B, 1.5 KB and 3 MB are one kind of value,
        # and so is one restated in another unit: `1573 bytes (1.53 KB)`.
        r"""(?<![\w.])\d+(?:\.\d+)?\ ?(?:[kmgt]i?b|b|bytes?)\b
        (?:\ \(\d+(?:\.\d+)?\ ?(?:[kmgt]i?b|b|bytes?)\))?""",
        "<size>",
    ),
    Rule(
        "float",
        r"(?<![\w.])-?\d+\.\d+(?:e[+-]?\d+)?(?!\.\d)(?=(?:ms|s|m|h|d|[kmg]i?b)?\b)",
        "<float>",
    ),
    Rule("int", r"(?<![\w])-?\d+(?=(?:ms|s|m|h|d|[kmg]i?b)?\b)", "<int>"),
)

# Both tables in one scan: most messages have nothing to scrub, and the normalizer then
# reads the very text the scan did. The normalizer's rules are always chosen by this scan
# (`_pass`), so its table compiles no database of its own.
_BOTH: Final = Prefilter([rule.pattern for rule in (*SCRUB_RULES, *NORMALIZE_RULES)])
_SCRUBBING: Final = len(SCRUB_RULES)
_SCRUB_BITS: Final = (1 << _SCRUBBING) - 1
_NORMALIZE: Final = OnePass(NORMALIZE_RULES, prefilter=False)
_URL: Final = NORMALIZE_RULES[0].regex()


def rules_digest() -> str:
    """A digest of the scrubber's and normalizer's tables: what GROUPING_VERSION stands for.

    A test pins it per version, so a rule change that forgets to bump the version fails.
    """
    parts = [
        f"{rule.name}\x1f{rule.pattern}\x1f{getattr(rule.replace, '__name__', rule.replace)}"
        for rule in (*SCRUB_RULES, *NORMALIZE_RULES)
    ]
    return hashlib.sha256("\x1e".join(parts).encode()).hexdigest()


_WHITESPACE = re.compile(r"\s+")
# `>` first: Python's `re` then finds candidates by a literal search, not at every place.
_AFTER_PLACEHOLDER = re.compile(">(?<=[a-z]>)[\"'“‘]")
_MAX_SETTLING: Final = 3

_MAX_READ: Final = 20 * MAX_LENGTH


def normalize_message(message: str) -> str:
    """Return the grouping form of `message`: scrubbed, parameterized, one line, bounded.

    Never raises and is idempotent, so a stored normalized message normalizes to itself.
    At most `MAX_LENGTH` characters; a longer message is cut between words and ends with `…`.
    """
    # Cut before scrubbing: the scrubber reads no more than the normalizer keeps.
    scrubbed, chosen = _scrub(_head(message))
    return _parameterize(scrubbed, chosen)


def scrub_and_normalize(message: str) -> tuple[str, str]:
    """`scrub_secrets(message)`, and `normalize_message` of that: a failure's example and
    its group, from one scrub and one prefilter scan."""
    scrubbed, chosen = _scrub(message)
    return scrubbed, _parameterize(_head(scrubbed), chosen)


def _scrub(message: str) -> tuple[str, int | None]:
    """The scrubbed message, and the normalizer's rules that may match it: known from the
    scan of `message` for both tables when the scrub changed nothing (most messages)."""
    chosen = _BOTH.bits(message)
    scrubbed = SCRUBBER.sub(message, chosen & _SCRUB_BITS)
    return scrubbed, chosen >> _SCRUBBING if scrubbed == message else None


def _head(message: str) -> str:
    """The start of a long message (an HTML error page, a dumped payload): the output keeps
    at most MAX_LENGTH characters, so normalizing stays fast on any input."""
    if len(message) <= _MAX_READ:
        return message
    # Drop the word the limit splits, if there are others: half a secret would slip
    # past the scrubber.
    words = message[:_MAX_READ].split()
    return " ".join(words[:-1] if len(words) > 1 else words)


def _parameterize(text: str, chosen: int | None = None) -> str:
    """The grouping form of a scrubbed `text`, bounded; `chosen`: its normalizer rules."""
    # Every whitespace character but the space is unprintable: most texts need no rewrite
    # (one that is rewritten is no longer the text `chosen` was scanned from).
    if "  " in text or not text.isprintable():
        text, chosen = _WHITESPACE.sub(" ", text), None
    text = _pass(text, chosen)
    # A quote right after a placeholder was read after what the placeholder replaced (a
    # digit opens a quote, `>` does not), so another pass may pair the quotes after it
    # otherwise: pass again until the text is settled, so a group's name normalizes to itself.
    for _ in range(_MAX_SETTLING):
        if not _AFTER_PLACEHOLDER.search(text) or (again := _pass(text)) == text:
            break
        text = again
    return text if len(text) <= MAX_LENGTH else _cut(text)


def _pass(text: str, chosen: int | None = None) -> str:
    """One pass of the normalizer's rules: `chosen`, else those the scan of `text` finds."""
    if chosen is None:
        chosen = _BOTH.bits(text) >> _SCRUBBING
    return _NORMALIZE.sub(text, chosen).strip()


def _cut(text: str) -> str:
    """At most MAX_LENGTH characters: cut at the last space (else the last non-word
    character) where a second pass would rewrite nothing, so a cut through a URL or a
    number leaves no half token behind."""
    head = text[:MAX_LENGTH]
    spaces = [i for i in range(len(head) - 1, 0, -1) if head[i] == " "]
    others = [i for i in range(len(head) - 1, 0, -1) if not head[i].isalnum()]
    for end in spaces + others:
        candidate = head[:end] + ELLIPSIS
        if normalize_message(candidate) == candidate:
            return candidate
    return ELLIPSIS
