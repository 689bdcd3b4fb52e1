"""An ordered table of named patterns applied as one regular expression, in one pass.

Sentry's way of parameterizing, shared by the scrubber and the normalizer: each rule is a
named group of one alternation, so where two rules could match at one place the earlier
one wins, and a text is read once however many rules there are. Python's `re` tries every
alternative at every position, so two things keep the pass cheap:

- a position inside a word or on a space starts no match (every rule begins at a word's
  start or at punctuation), and is passed over after one check;
- a rule may name trigger texts, one of which a text must contain (lower-cased) for the
  rule to be tried at all (`://` for URLs, `@` for e-mail addresses); the alternation of
  the rules a text can need is compiled once per combination and cached;
- at a short word of letters alone (most places a match may start at), only the rules
  marked `at_words` are tried: the others are passed over with one test per run of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import groupby
from typing import Final

Replace = str | Callable[[re.Match[str]], str]
DIGITS: Final = tuple("0123456789")

# Only where a match can start: a word's first character, or punctuation.
# (Not a space, and not inside a word: one test where an alternation of two took twice as long.)
_START = r"(?=\S)(?<!\w(?=\w))"
# A short word of letters alone (`connection`, `refused,`, `'Found'`): most words are, and few
# rules can start at one, so the others are passed over there with one test per run of them.
# (Eight to ten letters a-f are a hex number, `deadbeef`, not a word.)
_NOT_PLAIN = r"""(?!(?![a-f]{8,10}\b)[^\W\d_]{1,10}(?:[\s,;)'"\]]|$))"""


@dataclass(frozen=True, slots=True)
class Rule:
    """What `pattern` (verbose, case-insensitive) matches is rewritten by `replace`.

    The rule's own groups are named `<name>__<part>`. With `triggers`, the rule is only
    tried on a text that contains one of them (compared lower-cased). `at_words` says
    that a match may start at a word of at most 10 letters followed by a space, `,`, `;`,
    `)`, `]`, a quote or the text's end (a month's name, `password = …`); other rules are
    not tried there.
    """

    name: str
    pattern: str
    replace: Replace
    triggers: tuple[str, ...] = ()
    at_words: bool = False

    def regex(self) -> re.Pattern[str]:
        """This rule alone (for checks that ask which rule matched where)."""
        return re.compile(self.pattern, _FLAGS)


_FLAGS: Final = re.VERBOSE | re.IGNORECASE


class OnePass:
    """Rewrite texts with an ordered table of rules, in one pass each."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = tuple(rules)
        self._replace = {rule.name: rule.replace for rule in rules}
        # Each trigger as the bits of the rules it lets in, tested only while one of those
        # rules is still out.
        self._always = sum(1 << i for i, rule in enumerate(rules) if not rule.triggers)
        enables: dict[str, int] = {}
        for i, rule in enumerate(rules):
            for trigger in rule.triggers:
                enables[trigger] = enables.get(trigger, 0) | 1 << i
        self._enables = tuple(enables.items())
        self._pattern = lru_cache(maxsize=256)(self._compile)

    def sub(self, text: str) -> str:
        lower = text.lower()
        chosen = self._always
        for trigger, bits in self._enables:
            if bits & ~chosen and trigger in lower:
                chosen |= bits
        return self._pattern(chosen).sub(self._apply, text)

    def _compile(self, chosen: int) -> re.Pattern[str]:
        """The alternation of the rules whose bits are set in `chosen`, in table order."""
        rules = [rule for i, rule in enumerate(self.rules) if chosen >> i & 1]
        runs = []
        for at_words, run in groupby(rules, key=lambda rule: rule.at_words):
            alternation = "|".join(f"(?P<{rule.name}>{rule.pattern})" for rule in run)
            runs.append(alternation if at_words else f"{_NOT_PLAIN}(?:{alternation})")
        body = "|".join(runs)
        return re.compile(f"{_START}(?:{body or '(?!)'})", _FLAGS)

    def _apply(self, match: re.Match[str]) -> str:
        replace = self._replace[match.lastgroup or ""]
        return replace if isinstance(replace, str) else replace(match)
