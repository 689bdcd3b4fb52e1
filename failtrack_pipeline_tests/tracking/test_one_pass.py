"""The combined pass tries only the rules the prefilter chose for a text, and at a short word
of letters only the rules marked `at_words`: a rule left out that could match would
silently stop rewriting. These tests run both tables with every rule tried on every text
and everywhere in it, and ask for the same output."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from failtrack_pipeline.base.normalize import NORMALIZE_RULES
from failtrack_pipeline.base.one_pass import _START, OnePass
from failtrack_pipeline.base.scrub import SCRUB_RULES
from failtrack_pipeline_tests.tracking.test_normalize import MESSAGE_LIKE_TEXT
from failtrack_pipeline_tests.tracking.test_parameterization import CASES, KNOWN_MISSES
from failtrack_pipeline_tests.tracking.test_scrub import SECRET_FORMS, SECRET_LIKE_TEXT

TABLES = {"normalize": NORMALIZE_RULES, "scrub": SCRUB_RULES}
FAST = {name: OnePass(rules) for name, rules in TABLES.items()}
EVERYWHERE = {
    name: OnePass([replace(rule, at_words=True) for rule in rules], prefilter=False)
    for name, rules in TABLES.items()
}

# Short words next to what rules start with and end at, so a wrongly unmarked rule is hit.
WORDS_AT_EDGES = st.lists(
    st.sampled_from(
        ["user", "password", "token", "Bearer", "key", "Jan", "Mon", "may", "sec", "secs", "abc",
         "dead", "beef", "ff", "https", "com", "host", "id", "é", "ſ", " ", ",", ";", ")", "]",
         "'", '"', "=", ":", "://", ".", "-", "_", "~", "@", "/", "+", "(", "12", "2024", "\n"]
    ),
    max_size=60,
).map("".join)  # fmt: skip

# SECRET_FORMS holds pytest.param(message, secrets, expected).
TEXTS = [message for _, message, _ in CASES + KNOWN_MISSES] + [f.values[0] for f in SECRET_FORMS]


@pytest.mark.parametrize("table", TABLES)
def test_skipping_rules_changes_no_case(table: str) -> None:
    differ = [t for t in TEXTS if FAST[table].sub(t) != EVERYWHERE[table].sub(t)]

    assert differ == []


@given(st.one_of(WORDS_AT_EDGES, MESSAGE_LIKE_TEXT, SECRET_LIKE_TEXT))
def test_skipping_rules_changes_no_text(text: str) -> None:
    for table in TABLES:
        assert FAST[table].sub(text) == EVERYWHERE[table].sub(text), table


def _word(char: str) -> bool:
    return char.isalnum() or char == "_"


@given(st.one_of(WORDS_AT_EDGES, st.text()))
def test_a_match_may_start_at_a_words_start_or_at_punctuation_only(text: str) -> None:
    starts = [m.start() for m in re.finditer(_START + "(?=.)", text, re.DOTALL)]
    expected = [
        i
        for i, char in enumerate(text)
        if not char.isspace() and not (i and _word(text[i - 1]) and _word(char))
    ]

    assert starts == expected
