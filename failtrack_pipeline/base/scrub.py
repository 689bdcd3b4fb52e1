"""Remove secrets and personal data from error text before failtrack stores it anywhere.

Error messages quote URLs, headers, command lines and config, and those carry credentials.
Every message is scrubbed on its way in, so scrubbing must be safe on any text: one
combined pattern of bounded rules rewrites it in a single pass, linear in its length, and
scrubbed text scrubs to itself. A credential's name is kept (`api_key=***`,
`Authorization: ApiKey ***`) so the message stays readable.

The rules are a table, in the spirit of gitleaks' rules and detect-secrets' plugins (whose
published test lines and samples no secret survives, see bench/bench_scrub.py): values
after a credential's name in any syntax (`=`, `:`, `:=`, `=>`, `==`, quoted, percent-
encoded), the Authorization header of any scheme, URL userinfo and `curl -u user:pass`,
well-known token formats, webhook URLs, and any long token that looks random. Personal
data goes too: e-mail addresses, phone numbers in international or US form, card numbers
that pass the Luhn check and IBANs that pass mod-97.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Final

from failtrack_pipeline.base.one_pass import OnePass, Rule

MASK: Final = "***"


# A credential's name: an identifier whose last word (after `_`, `-`, `.` or a camelCase
# hump) is one of these, maybe followed by a qualifier or a digit (oktaApiToken, token1,
# db_pass, aws_secret_access_key, sl-key, password_super_secure). The words are a trie by
# first letter and the name is read segment by segment: both keep the per-word cost low.
_SEGMENTS = r"(?:(?-i:[A-Za-z0-9][a-z0-9]*)(?:[_.\-]+|(?-i:(?=[A-Z]))))*?"  # one way to split
_STRONG_WORDS = (
    r"(?:a(?:pi[_-]?key|ccess[_-]?key)|s(?:ecret(?:[_-]?key)?|ecrete)"
    r"|p(?:ass(?:word|wd|phrase)?|wd|w|rivate[_-]?key)|client[_-]?secret|(?<=[_\-])key"
    r"|[a-z]{0,20}?(?:apikey|password|passwd|secret))"  # glued on: ibm_cloud_iamapikey
)
_WORDS = (
    rf"(?:{_STRONG_WORDS}|(?<![a-z0-9])key|[a-z]{{0,20}}?token|a(?:uth|ccess[_-]?id)"
    r"|s(?:ession(?:[_-]?id)?|ig(?:nature)?)|credentials?|login)"
)
_QUALIFIER = r"(?:[_-][a-z]{1,12}){0,2}\d{0,3}"
_NAME = rf"{_SEGMENTS}{_WORDS}{_QUALIFIER}"
# After a bare colon only names that cannot be anything else (`auth:SIMPLE` is a mode,
# `Unexpected token: <` prose); a token needs a word before it (access_token, apiToken).
_STRONG_NAME = rf"{_SEGMENTS}(?:{_STRONG_WORDS}|(?<=[\w.\-])token){_QUALIFIER}"
# Between a name and its value: `=`, `:`, `:=`, `::=`, `?=`, `=>`, `==`, `!==`, `%3D`, or a
# quote/space before a quoted value (`password "x"`). Key words glued into prose
# ("token: <" in a parser message) are kept out by asking the value to look like one.
_OPERATOR = r"""(?:["'`\]]?\s{0,3}(?:[:?!]{0,3}={1,3}>?|%3d)\s{0,3}@?)"""
_COLON = r"""(?:["'`]?\s{0,3}:(?!//)\s{0,3}|\s(?=["'`]))"""
# A value: quoted (with spaces), else a run to whitespace or a separator. `…` (normalize's
# truncation mark) ends one.
_VALUE = r"""(?:"[^"\n]{0,500}"|'[^'\n]{0,500}'|`[^`\n]{0,500}`
    |(?![=:<>]|@?\*\*\*|(?:true|false|null|none|yes|no)\b)(?!(?-i:(?:[a-z]\w*\.)*[A-Z]\w*)[{@(])[^\s&;,…"'`)]{1,500})"""


# Bits per character: random base64 of 20 characters has about 4.1, identifiers and
# words (isBluetoothA2dpOn, DFSClient_NONMAPREDUCE_1) well under it.
_MIN_ENTROPY: Final = 3.7
_MIN_HEX_ENTROPY: Final = 3.0  # hex has 16 symbols: 4 bits at most
# Random text changes between upper case, lower case and digits at about 2 characters in
# 3; CamelCase names (IO80211AWDLPeerManager) at 1 in 4.
_MIN_CLASS_CHANGES: Final = 0.35
_MIN_TOKEN: Final = 20
_HEX = re.compile(r"[0-9a-f]+", re.IGNORECASE)
# Words and numbers joined by `_` or `-` name a thing (DFSClient_NONMAPREDUCE_-1547_1).
_WORDLIKE = re.compile(r"[a-z]{4,}")
_IDENTIFIER = re.compile(r"[A-Za-z]+(?:[_\-]+(?:[A-Za-z]+|\d+))+")


def _shannon(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _part(match: re.Match[str], part: str) -> str:
    """The rule's own group `part` (named <rule>__<part>), alone or in the combined pattern."""
    suffix = f"__{part}"
    return next(v for k, v in match.groupdict().items() if k.endswith(suffix) and v is not None)


def _mask_value(match: re.Match[str]) -> str:
    """Keep the name and operator, mask the value (and its quotes)."""
    return match.group().removesuffix(_part(match, "value")) + MASK


def _looks_random(token: str) -> bool:
    if _HEX.fullmatch(token):
        return _shannon(token) >= _MIN_HEX_ENTROPY
    if _IDENTIFIER.fullmatch(token):
        return False
    if sum(map(len, _WORDLIKE.findall(token))) > len(token) / 2:
        return False  # mostly runs of lower case: CamelCase words (CeleryK8sRunLauncher)
    classes = [_char_class(char) for char in token]
    changes = sum(a != b for a, b in zip(classes, classes[1:], strict=False))
    return changes >= len(token) * _MIN_CLASS_CHANGES and _shannon(token) >= _MIN_ENTROPY


def _char_class(char: str) -> int:
    return 0 if char.isdigit() else 1 if char.islower() else 2 if char.isupper() else 3


def _mask_random(match: re.Match[str]) -> str:
    """A token with slashes (a path, base64) goes when one of its parts looks random."""
    token = match.group()
    parts = [part for part in token.strip("=").split("/") if len(part) >= _MIN_TOKEN]
    return MASK if any(_looks_random(part) for part in parts) else token


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return "<card>" if 13 <= len(digits) <= 19 and _luhn_ok(digits) else match.group()


def _mask_iban(match: re.Match[str]) -> str:
    iban = re.sub(r"\s", "", match.group()).upper()
    rearranged = iban[4:] + iban[:4]
    number = "".join(str(int(char, 36)) for char in rearranged)
    return "<iban>" if int(number) % 97 == 1 else match.group()


def _mask_email(match: re.Match[str]) -> str:
    """An iCalendar UID (`…@google.com`) names an event, not a person: kept."""
    local, _, domain = match.group().partition("@")
    if domain.lower() == "google.com" and re.fullmatch(r"[a-z0-9]{20,}", local, re.I):
        return match.group()
    return "<email>"


def _keep_prefix(match: re.Match[str]) -> str:
    return _part(match, "keep") + MASK


# Ordered: what contains other forms goes first (a header holds a Bearer token, a URL's
# userinfo looks like an e-mail address, a named value may be a known token).
SCRUB_RULES: Final[tuple[Rule, ...]] = (
    Rule(
        "private_key_block",
        r"""-----BEGIN[A-Z ]{0,20}\ PRIVATE\ KEY(?:\ BLOCK)?-----[A-Za-z0-9+/=\s\\:\-,]{0,20000}
        (?:-----END[A-Z ]{0,20}\ PRIVATE\ KEY(?:\ BLOCK)?-----)?""",
        MASK,
    ),
    Rule(
        # Also when a value was cut short (`…`) before its `@`: half a password is a secret.
        "url_userinfo",
        r"""(?P<url_userinfo__keep>(?<![\w+.\-])[a-z][\w+.\-]{0,30}://)
        (?![^\s/@'"<>?\#…]{0,256}\*\*\*)[^\s/@'"<>?\#…]{1,256}(?=@|…)""",
        _keep_prefix,
    ),
    Rule(
        # The whole URL is the credential: anyone who has it can post.
        "webhook_url",
        r"""https?://(?:hooks\.slack\.com/(?:services|workflows|triggers)
        |[\w\-]+\.webhook\.office\.com/webhookb2|discord(?:app)?\.com/api/webhooks)/
        [^\s'"<>]{0,300}""",
        MASK,
    ),
    Rule(
        # Any scheme (Bearer, Basic, ApiKey, SSWS, GenieKey, …): the scheme stays, the
        # credential goes; a lone value (`Authorization: abc`) goes too.
        "authorization_header",
        r"""(?P<authorization_header__keep>(?<![\w-])(?:proxy-)?authorization["']?\s*[:=]\s*
        (?:[a-z][\w\-]{0,30}\s+(?=[^\s,;]))?)
        (?!\*\*\*)(?![^\s,;"']{1,40}\s+\*\*\*)(?:'[^'\n]{1,2000}'|"[^"\n]{1,2000}"|[^\s,;"']{1,2000})""",
        _keep_prefix,
    ),
    Rule(
        "curl_user",
        r"""(?P<curl_user__keep>(?<![\w-])(?:-u|--user|--proxy-user)(?:\s+|=)["']?)
        (?!\*\*\*)[^\s:"']{1,200}:[^\s"']{1,500}""",
        _keep_prefix,
    ),
    Rule(
        "bearer_token",
        r"""(?P<bearer_token__keep>(?<![\w-])(?:bearer|basic|token)\s+)
        (?=[\w\-.~+/]{8})(?=[\w\-.~+/]{0,300}?(?:\d|(?-i:[a-z][A-Z])))[\w\-.~+/]+=*""",
        _keep_prefix,
        at_words=True,
    ),
    Rule(
        "named_secret",
        rf"""(?<![\w.\-])(?=["'`$\-]{{0,2}}[\w.])(?:["'`$]?(?:{_NAME}(?:\[\d{{0,4}}\])?{_OPERATOR}|{_STRONG_NAME}{_COLON})
        |(?<=\s)--{_NAME}\s+|["'`]{_NAME}["'`]\s{{0,3}}:\s{{0,3}})
        (?P<named_secret__value>{_VALUE})""",
        _mask_value,
        at_words=True,
    ),
    Rule(
        # `if ("value" == password)`: the value before its name.
        "compared_secret",
        rf"""["'`][^"'`\n]{{1,500}}["'`](?=\s{{0,3}}[!=]={{1,2}}\s{{0,3}}{_NAME}\b)""",
        MASK,
    ),
    Rule(
        "known_token",
        # Formats that name their issuer (gitleaks' and detect-secrets' rules).
        r"""(?<![\w\-])(?:
          (?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA|ASCA|A3T[A-Z0-9])[A-Z0-9]{16}
        | gh[pousr]_[A-Za-z0-9_]{20,} | github_pat_[A-Za-z0-9_]{20,}
        | gl(?:pat|ptt|dt|rt|cbt|ft|imt|oas|agent|soat|ffct|rtr)-[\w\-]{8,}
        | xox[abposre]-[A-Za-z0-9\-]{10,} | xapp-[A-Za-z0-9\-]{10,}
        | [rs]k_(?:live|test|prod)_[A-Za-z0-9]{10,}
        | AIza[\w\-]{35}
        | AGE-SECRET-KEY-1[A-Z0-9]{58}
        | sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}
        | SG\.[\w\-]{16,32}\.[\w\-]{16,64}
        | sq0(?:atp|csp|idp)-[\w\-\\]{16,}
        | npm_[A-Za-z0-9]{8,}
        | pypi-[A-Za-z0-9_\-]{16,}
        | hv[sbr]\.[\w\-]{20,}
        | sntry[su]_[\w=+/\-]{20,}
        | GR1348941[\w\-]{20,}
        | (?:AP[\dA-F]|AKC)[a-zA-Z0-9]{8,}
        | (?:AC|SK)[a-z0-9]{32}
        | [0-9a-f]{32}-us\d{1,2}
        | \d{5,12}:AA[\w\-]{30,40}
        | [A-Z][\w\-]{23,27}\.[\w\-]{6}\.[\w\-]{27,40}
        | [\w~.]{3}\dQ~[\w~.\-]{31,34}
        | s-s4t2(?:ud|af)-[0-9a-f]{64}
        | (?-i:eyJ)[\w\-]{8,}\.[\w\-]{8,}(?:\.[\w\-]*)?
        | [0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{11}(?-i:[A-F])
        )(?![\w\-])""",
        MASK,
    ),
    Rule(
        "random_token",
        # Looks random: 20 or more characters of a token alphabet mixing upper case, lower
        # case and digits (or 32 or more hex digits), with enough entropy to be no word.
        r"""(?<![\w\-+.~%/])(?=[a-z0-9])(?:
          (?=[\w\-+/=.~]{0,300}?(?-i:[A-Z]))(?=[\w\-+/=.~]{0,300}?(?-i:[a-z]))
          (?=[\w\-+/=.~]{0,300}?\d)[\w\-+/~]{20,300}=*
        )(?![\w\-+/=.~])
        | (?<![\w\-+.~%])(?:(?<=["'])[0-9a-f]{32,300}|[0-9a-f]{48,300})(?![\w\-+=.~])""",
        _mask_random,
    ),
    Rule(
        "email",
        r"(?<![\w.+\-])[\w.+\-]{1,128}@[\w\-]{1,63}(?:\.[\w\-]{1,63})*\.[a-z]{2,63}\b",
        _mask_email,
    ),
    Rule(
        "iban",
        r"(?<![\w\-])[A-Z]{2}\d{2}(?:\ ?[A-Z0-9]{4}){2,7}(?:\ ?[A-Z0-9]{1,4})?(?![\w\-])",
        _mask_iban,
    ),
    Rule(
        # Grouped in fours, or one run that starts like a card network's numbers.
        "card_number",
        r"""(?<![\w\-.])(?:\d{4}(?P<card_number__sep>[\ \-])\d{4}(?P=card_number__sep)\d{4}
        (?P=card_number__sep)\d{1,7} | (?:4|5[1-5]|3[47]|6011|2[2-7])\d{11,17})(?![\w\-.])""",
        _mask_card,
    ),
    Rule(
        "phone_number",
        r"""(?<![\w+])\+[1-9]\d{0,2}(?:[\ \-]?\(\d{1,4}\))?(?:[\ \-]?\d{2,4}){2,5}(?![\w.])
        | (?<![\w(])\(\d{3}\)\ ?\d{3}-\d{4}\b | (?<![\w\-.])\d{3}-\d{3}-\d{4}(?![\w\-])""",
        "<phone>",
    ),
)

SCRUBBER: Final = OnePass(SCRUB_RULES)


def scrub_secrets(text: str) -> str:
    """Return `text` with credentials masked and personal data replaced by placeholders.

    Never raises and is idempotent: `scrub_secrets(scrub_secrets(t)) == scrub_secrets(t)`.
    """
    return SCRUBBER.sub(text)
