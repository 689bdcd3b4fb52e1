"""Remove secrets from error text before failtrack stores it anywhere (tables, tags, logs).

Error messages quote URLs, headers and connection strings, and those carry credentials.
Every message is scrubbed on its way in, so scrubbing must be safe on any text: each
pattern is anchored or bounded so that a megabyte of hostile input scrubs in linear time,
and scrubbed text scrubs to itself. Values are replaced by `***` but the name is kept
(`api_key=***`) so the message stays readable.
"""

from __future__ import annotations

import re
from typing import Final

MASK: Final = "***"

# A secret value: a quoted string, or a run up to whitespace or a separator; either takes
# what sticks to it (a closing bracket, a stray quote) so nothing is left over that a later
# pass could take for a value. The ellipsis ends a value: it is normalize's truncation mark.
_VALUE = r"""(?:(?:"[^"\n]*"|'[^'\n]*')[^\s&;,…]*|[^\s&;,…]+)"""

# Names whose `name=value` is a secret, also with a prefix: GITHUB_TOKEN, x-api-key.
_SECRET_NAMES = (
    r"(?:[\w-]{0,40}[_-])?"
    r"(?:api[_-]?key|apikey|key|token|secret|password|passwd|pwd|passphrase|sig|signature"
    r"|auth|session(?:[_-]?id)?|sessionid|credentials?)"
)

# Names unambiguous enough to be secrets after a bare colon too (`password: hunter2`);
# `key:` or `token:` in prose ("Unexpected token: <") are not.
_CREDENTIAL_NAMES = (
    r"(?:[\w-]{0,40}[_-])?"
    r"(?:password|passwd|passphrase|secret|api[_-]?key|apikey|access[_-]?token"
    r"|refresh[_-]?token|auth[_-]?token|private[_-]?key)"
)

# A token that looks random (a digit or a lower-to-upper case change), so "Bearer token
# expired" and "Basic validation" keep their words.
_RANDOM_TOKEN = r"(?=[\w\-.~+/]{8})(?=[\w\-.~+/]{0,300}?(?:\d|[a-z][A-Z]))[\w\-.~+/]+=*"

# Ordered: what contains other forms goes first (a header holds a Bearer token, a URL's
# userinfo looks like an email). The name=value rules first look ahead for the separator,
# so that ordinary words are passed over at once.
SCRUB_RULES: Final[tuple[tuple[str, re.Pattern[str], str], ...]] = (
    (
        "private_key_block",
        re.compile(
            r"-----BEGIN[A-Z ]{0,20} PRIVATE KEY-----[A-Za-z0-9+/=\s\\]{0,20000}"
            r"(?:-----END[A-Z ]{0,20} PRIVATE KEY-----)?"
        ),
        MASK,
    ),
    (
        # Also when a value was cut short (`…`) before its `@`: half a password is a secret.
        "url_userinfo",
        re.compile(r"(?<![\w+.\-])([a-zA-Z][\w+.\-]{0,30}://)[^\s/@'\"<>?#…]{1,256}(@|(?=…))"),
        rf"\g<1>{MASK}\g<2>",
    ),
    (
        "authorization_header",
        re.compile(
            r"(?<![\w-])((?:proxy-)?authorization[\"']?\s*[:=]\s*"
            r"(?:(?:bearer|basic|token|negotiate)\s+)?)" + _VALUE,
            re.IGNORECASE,
        ),
        rf"\g<1>{MASK}",
    ),
    (
        "bearer_or_basic_token",
        re.compile(r"(?<![\w-])((?i:bearer)\s+|Basic\s+)" + _RANDOM_TOKEN),
        rf"\g<1>{MASK}",
    ),
    (
        "quoted_secret_key",
        re.compile(
            rf"((['\"])(?=[\w-]{{1,80}}['\"]\s*[:=]){_SECRET_NAMES}\2\s*[:=]\s*)" + _VALUE,
            re.IGNORECASE,
        ),
        rf"\g<1>{MASK}",
    ),
    (
        "secret_assignment",
        re.compile(
            rf"(?<![\w-])(?=[\w-]{{1,80}}\s*=)({_SECRET_NAMES}\s*=\s*)" + _VALUE, re.IGNORECASE
        ),
        rf"\g<1>{MASK}",
    ),
    (
        "credential_colon",
        re.compile(
            rf"(?<![\w-])(?=[\w-]{{1,80}}\s*:)({_CREDENTIAL_NAMES}\s*:\s*)" + _VALUE,
            re.IGNORECASE,
        ),
        rf"\g<1>{MASK}",
    ),
    ("jwt", re.compile(r"(?<![\w-])eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]*"), MASK),
    ("aws_access_key", re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])"), MASK),
    ("github_token", re.compile(r"(?<!\w)(?:gh[pousr]|github_pat)_[A-Za-z0-9_]{20,}"), MASK),
    ("slack_token", re.compile(r"(?<![\w-])xox[abposr]-[A-Za-z0-9-]{10,}"), MASK),
    ("stripe_key", re.compile(r"(?<!\w)[sr]k_(?:live|test)_[A-Za-z0-9]{10,}"), MASK),
    ("google_api_key", re.compile(r"(?<![\w-])AIza[\w-]{35}"), MASK),
    (
        "email",
        re.compile(r"(?<![\w.+\-])[\w.+\-]{1,128}@[\w\-]{1,63}(?:\.[\w\-]{1,63})+"),
        "<email>",
    ),
)


def scrub_secrets(text: str) -> str:
    """Return `text` with credentials masked and emails replaced by `<email>`.

    Never raises and is idempotent: `scrub_secrets(scrub_secrets(t)) == scrub_secrets(t)`.
    """
    for _name, pattern, replacement in SCRUB_RULES:
        text = pattern.sub(replacement, text)
    return text
