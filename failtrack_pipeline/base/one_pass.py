"""An ordered table of named patterns applied as one regular expression, in one pass.

Sentry's way of parameterizing, shared by the scrubber and the normalizer: each rule is a
named group of one alternation, so where two rules could match at one place the earlier
one wins, and a text is read once however many rules there are. Python's `re` tries every
alternative at every position, so three things keep the pass cheap:

- one Hyperscan scan first says which rules may match the text at all (`prefilter.py`);
  only those enter the alternation (compiled once per combination and cached), and a
  text none may match is returned as it is;
- a position inside a word or on a space starts no match (every rule begins at a word's
  start or at punctuation), and is passed over after one check;
- at a short word of letters alone (most places a match may start at), only the rules
  marked `at_words` are tried: one test per place marks it, and the others are passed
  over there without a second look.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import groupby
from typing import Final

from failtrack_pipeline.base.prefilter import Prefilter

Replace = str | Callable[[re.Match[str]], str]

# Only where a match can start: a word's first character, or punctuation. (Not inside a
# word, `\B` before a word character, nor on a space: two tests where an alternation of two
# took twice as long.)
_START = r"(?!\B\w)(?=\S)"
# A short word of letters alone (`connection`, `refused,`, `'Found'`): most words are, and few
# rules can start at one. Where one starts, only the rules marked `at_words` are tried: the
# mark is set once per place (possessively: a failed try never clears it), and the other
# rules' runs are skipped on it.
# (Eight to ten letters a-f are a hex number, `deadbeef`, not a word.)
_PLAIN = r"""(?:(?P<_plain>(?=(?![a-f]{8,10}\b)[^\W\d_]{1,10}(?:[\s,;)'"\]]|$))))?+"""


@dataclass(frozen=True, slots=True)
class Rule:
    """What `pattern` (verbose, case-insensitive) matches is rewritten by `replace`.

    The rule's own groups are named `<name>__<part>`. `at_words` says
    that a match may start at a word of at most 10 letters followed by a space, `,`, `;`,
    `)`, `]`, a quote or the text's end (a month's name, `password = …`); other rules are
    not tried there.
    """

    name: str
    pattern: str
    replace: Replace
    at_words: bool = False

    def regex(self) -> re.Pattern[str]:
        """This rule alone (for checks that ask which rule matched where)."""
        return re.compile(self.pattern, _FLAGS)


_FLAGS: Final = re.VERBOSE | re.IGNORECASE


class OnePass:
    """Rewrite texts with an ordered table of rules, in one pass each.

    With `prefilter` false the table scans nothing: a text whose rules the caller does not
    choose gets every rule (the oracle the prefilter's choice is tested against), and a
    caller that scans for several tables at once passes its choice (normalize.py).
    """

    def __init__(self, rules: Sequence[Rule], prefilter: bool = True) -> None:
        self.rules = tuple(rules)
        self._replace = {rule.name: rule.replace for rule in rules}
        self._prefilter = Prefilter([rule.pattern for rule in rules]) if prefilter else None
        self._every = (1 << len(self.rules)) - 1
        self._pattern = lru_cache(maxsize=256)(self._compile)

    def sub(self, text: str, chosen: int | None = None) -> str:
        """Rewrite `text`. `chosen`: the rules (as bits) a scan of this text, or of a text
        holding it, found may match; without it, this table scans for itself."""
        if chosen is None:
            chosen = self._prefilter.bits(text) if self._prefilter else self._every
        return self._pattern(chosen).sub(self._apply, text) if chosen else text

    def sub_part(self, part: str, match: re.Match[str]) -> str:
        """Rewrite `part` of the text `match` was found in: a part can only hold what the
        whole may, so the whole's choice of rules serves (no second scan)."""
        return match.re.sub(self._apply, part)

    def _compile(self, chosen: int) -> re.Pattern[str]:
        """The alternation of the rules whose bits are set in `chosen`, in table order."""
        rules = [rule for i, rule in enumerate(self.rules) if chosen >> i & 1]
        runs = []
        for at_words, run in groupby(rules, key=lambda rule: rule.at_words):
            alternation = "|".join(f"(?P<{rule.name}>{rule.pattern})" for rule in run)
            runs.append(alternation if at_words else f"(?(_plain)(?!)|(?:{alternation}))")
        return re.compile(f"{_START}{_PLAIN}(?:{'|'.join(runs) or '(?!)'})", _FLAGS)

    def _apply(self, match: re.Match[str]) -> str:
        replace = self._replace[match.lastgroup or ""]
        return replace if isinstance(replace, str) else replace(match)
