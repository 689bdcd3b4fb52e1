"""Turn an error message into its group's message: the same text for every variant of one error.

Failures are counted per normalized message, so the variable parts (ids, dates, URLs'
paths, quoted values) become placeholders while the words that say what went wrong stay:
`Invalid date '2024-13-45' for event 991` and `Invalid date '2025-02-30' for event 17`
both become `Invalid date <value> for event <int>`, but `venue missing` and
`title missing` stay apart. A URL keeps its scheme and host, the rest becomes `<path>`
(`https://api.example.com/v1/events/123?page=2` -> `https://api.example.com/<path>`):
failures of one source group together, failures of two hosts do not.
"""

from __future__ import annotations

import re
from typing import Final

from failtrack_pipeline.base.scrub import scrub_secrets

MAX_LENGTH: Final = 500
ELLIPSIS: Final = "…"

# A number may carry a unit (500ms, 2.5s, 64kb) but not be part of a word (utf8, http2, h1).
_NUMBER_END = r"(?=(?i:ms|s|m|h|d|kb|mb|gb)?\b)"
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]{0,6}"
_HEX4 = r"[0-9a-f]{1,4}"
_IPV6_SHORT = (
    rf"{_HEX4}(?::{_HEX4}){{0,6}}::(?:{_HEX4}(?::{_HEX4}){{0,6}})?|::{_HEX4}(?::{_HEX4}){{0,6}}"
)

# Ordered (name, pattern, placeholder). URLs first, so their ids and dates go with them; a
# URL loses the quotes around it, and its host must end cleanly, so one whose digits later
# became a placeholder is left alone. Dates before times before plain numbers. Quoted values
# last, so what they held is already a placeholder and a second pass finds nothing new.
NORMALIZE_RULES: Final[tuple[tuple[str, re.Pattern[str], str], ...]] = (
    (
        "url",
        re.compile(
            r"(?<![\w+.\->'\"])(?P<quote>['\"])?"
            r"(?<![\w+.\->])(?P<scheme>[a-zA-Z][\w+.\-]{0,30})://(?:[^\s/@'\"<>]{0,256}@)?"
            r"(?P<host>[\w\-]+(?:\.[\w\-]+)*|\[[0-9a-fA-F:.]+\])(?::\d{1,5})?"
            r"(?=[/?#\s'\"),;\]>…]|$)(?:/<path>|[/?#][^\s'\"<>)]*)?(?(quote)(?P=quote)?)"
        ),
        r"\g<scheme>://\g<host>/<path>",
    ),
    (
        "uuid",
        re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I),
        "<uuid>",
    ),
    (
        "datetime",
        re.compile(
            r"\b\d{4}-\d{1,2}-\d{1,2}[T ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?"
            r"(?:Z\b|[+-]\d{2}:?\d{2}\b)?"
            r"|\b\d{8}T\d{6}Z?\b"
            rf"|\b(?:mon|tue|wed|thu|fri|sat|sun)[a-z]{{0,6}},? \d{{1,2}} {_MONTH} \d{{4}}"
            r" \d{2}:\d{2}(?::\d{2})?(?: (?:gmt|utc|[+-]\d{4})\b)?",
            re.I,
        ),
        "<datetime>",
    ),
    (
        "date",
        re.compile(
            r"\b\d{4}[-/]\d{1,2}[-/]\d{1,2}\b"
            r"|\b\d{1,2}[./]\d{1,2}[./]\d{4}\b"
            rf"|\b\d{{1,2}} {_MONTH} \d{{4}}\b"
            rf"|\b{_MONTH} \d{{1,2}},? \d{{4}}\b",
            re.I,
        ),
        "<date>",
    ),
    ("time", re.compile(r"\b\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?\b"), "<time>"),
    (
        "ip",
        re.compile(
            r"\b(?:\d{1,3}\.){3}\d{1,3}\b"
            rf"|(?<![\w:<>])(?:(?:{_HEX4}:){{7}}{_HEX4}|{_IPV6_SHORT})(?![\w:<>])",
            re.I,
        ),
        "<ip>",
    ),
    (
        # Hex ids need a digit and a letter: "deadbeef" is a word and 12345678 an <int>.
        "hex",
        re.compile(r"\b0x[0-9a-f]+\b|\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b", re.I),
        "<hex>",
    ),
    ("float", re.compile(r"(?<![\w.])\d+\.\d+(?!\.\d)" + _NUMBER_END), "<float>"),
    ("int", re.compile(r"(?<!\w)\d+" + _NUMBER_END), "<int>"),
    (
        # Not after a letter, so apostrophes (venue's, can't) open nothing. Bounded, so an
        # unclosed quote costs little.
        "quoted",
        re.compile(
            r"(?<![^\W\d_])(?:'[^']{0,200}'|\"[^\"]{0,200}\""
            r"|“[^”]{0,200}”|‘[^’]{0,200}’)"
        ),
        "<value>",
    ),
)

_WHITESPACE = re.compile(r"\s+")

# The output keeps at most MAX_LENGTH characters, so only the start of a long message (an
# HTML error page, a dumped payload) is read: normalizing stays fast on any input.
_MAX_READ: Final = 20 * MAX_LENGTH


def normalize_message(message: str) -> str:
    """Return the grouping form of `message`: scrubbed, parameterized, one line, bounded.

    Never raises and is idempotent, so a stored normalized message normalizes to itself.
    At most `MAX_LENGTH` characters; a longer message is cut between words and ends with `…`.
    """
    if len(message) > _MAX_READ:
        # Drop the word the limit splits, if there are others: half a secret would slip
        # past the scrubber.
        words = message[:_MAX_READ].split()
        message = " ".join(words[:-1] if len(words) > 1 else words)
    return _bound(_rewrite(message))


def _rewrite(text: str) -> str:
    text = _WHITESPACE.sub(" ", scrub_secrets(text))
    for _name, pattern, placeholder in NORMALIZE_RULES:
        text = pattern.sub(placeholder, text)
    return text.strip()


def _bound(text: str) -> str:
    """Cut at the last space (else the last non-word character) where a second pass would
    rewrite nothing: a cut through a URL or a number must not leave half a token behind."""
    if len(text) <= MAX_LENGTH:
        return text
    head = text[:MAX_LENGTH]
    spaces = [i for i in range(len(head) - 1, 0, -1) if head[i] == " "]
    others = [i for i in range(len(head) - 1, 0, -1) if not head[i].isalnum()]
    for end in spaces + others:
        candidate = head[:end] + ELLIPSIS
        if _rewrite(candidate) == candidate:
            return candidate
    return ELLIPSIS
