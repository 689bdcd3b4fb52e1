"""The prefilter may only widen: a rule it leaves out of a text's pass must be a rule that
cannot match that text, or a message would silently keep a value (or a secret)."""

from __future__ import annotations

import re
import string
import sys
import threading
from pathlib import Path

import hyperscan
import pytest
from hypothesis import given
from hypothesis import strategies as st

from failtrack_pipeline.base.one_pass import Rule
from failtrack_pipeline.base.prefilter import CASE_PARTNERS, Prefilter, scan_bytes, serialized
from failtrack_pipeline_tests.tracking.test_normalize import MESSAGE_LIKE_TEXT
from failtrack_pipeline_tests.tracking.test_one_pass import TABLES, TEXTS, WORDS_AT_EDGES
from failtrack_pipeline_tests.tracking.test_scrub import SECRET_LIKE_TEXT

PREFILTERS = {name: Prefilter([rule.pattern for rule in rules]) for name, rules in TABLES.items()}
REGEXES = {name: [rule.regex() for rule in rules] for name, rules in TABLES.items()}
# Characters Python's `re` treats specially when ignoring case, or reads as words.
UNUSUAL_TEXT = st.text(alphabet="kKsSiI\u212a\u017f\u0130\u0131éü…“ 0123:=-_./@'\"", max_size=40)


@pytest.fixture(autouse=True)
def own_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The databases these tests compile stay out of the user's cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "cache"))


def left_out(table: str, text: str) -> list[str]:
    """The rules of `table` that match `text` but that the prefilter did not choose."""
    chosen = PREFILTERS[table].bits(text)
    return [
        rule.name
        for i, (rule, regex) in enumerate(zip(TABLES[table], REGEXES[table], strict=True))
        if not chosen >> i & 1 and regex.search(text)
    ]


@pytest.mark.parametrize("table", TABLES)
def test_every_rule_that_matches_a_case_is_chosen(table: str) -> None:
    missed = {text: names for text in TEXTS if (names := left_out(table, text))}

    assert missed == {}


@given(st.one_of(WORDS_AT_EDGES, MESSAGE_LIKE_TEXT, SECRET_LIKE_TEXT, UNUSUAL_TEXT))
def test_every_rule_that_matches_a_text_is_chosen(text: str) -> None:
    for table in TABLES:
        assert left_out(table, text) == [], table


def test_most_rules_are_left_out_of_an_ordinary_message() -> None:
    text = "venue missing for event 42"
    chosen = {
        table: [rule.name for i, rule in enumerate(rules) if PREFILTERS[table].bits(text) >> i & 1]
        for table, rules in TABLES.items()
    }

    assert chosen == {"normalize": ["int"], "scrub": []}


def test_a_lower_case_uuid_is_no_known_token() -> None:
    """Only an upper-case UUID is a key of a known format (Messagebird's): the prefilter
    reads the letter it must end in case-sensitively, so the common kind costs no pass."""
    scrub = [rule.name for rule in TABLES["scrub"]]
    bits = PREFILTERS["scrub"].bits
    uuid = "7c1811ed-e98f-4c9c-a9f9-58c757ff494f"

    assert (
        bits(f"run {uuid}") >> scrub.index("known_token") & 1,
        bits(f"run {uuid.upper()}") >> scrub.index("known_token") & 1,
    ) == (0, 1)


@pytest.mark.parametrize(
    ("pattern", "holds", "lacks"),
    [
        # A look-behind at the start and a look-ahead at the end are read as text.
        (r"(?<=\buser\ )\w+", "invalid user bob", "user"),
        (r"\d+(?=ms)", "took 15ms", "took 15 s"),
        # Elsewhere an assertion is dropped: the prefilter holds more than the rule.
        (r"\bid(?!x)\d", "xid7", "id"),
        # Repeats at an end keep their minimum, bounds in the middle stay or open.
        (r"[a-f]{2,9}:\d{1,20}x", "ab:1x", "a:1x"),
        (r"(?P<sep>[-/])\d(?P=sep)", "-1/", "-/"),
        (r"[^\W\d_]{3}", "été", "12"),
        # Case is heeded where the pattern heeds it, and ignored again where it says so.
        (r"[0-9a-f]{3}(?-i:[A-F])", "x12aF", "12af"),
        (r"(?-i:x(?i:y))", "xY", "XY"),
    ],
)
def test_a_prefilter_holds_what_its_pattern_needs(pattern: str, holds: str, lacks: str) -> None:
    database = Prefilter([pattern])

    assert (database.bits(holds), database.bits(lacks)) == (1, 0)


def test_letters_that_match_non_ascii_characters_are_read_so() -> None:
    pattern, text = r"\bsecret_key\b", "\u017fecret_\u212aey"

    assert (
        Rule("x", pattern, "").regex().search(text) is not None,
        Prefilter([pattern]).bits(text),
    ) == (True, 1)


def test_the_case_partners_are_every_non_ascii_character_matching_an_ascii_letter() -> None:
    letters = re.compile("[a-z]", re.IGNORECASE)
    partners = {
        code: next(a for a in string.ascii_lowercase if re.fullmatch(a, chr(code), re.I))
        for code in range(0x80, sys.maxunicode + 1)
        if letters.fullmatch(chr(code))
    }

    assert partners == CASE_PARTNERS


def test_every_other_character_is_one_stand_in_byte() -> None:
    assert scan_bytes("a\u00e9\U0001f600\ud800b") == b"a\x80\x80\x80b"


def found(data: bytes, text: bytes) -> list[int]:
    ids: list[int] = []
    database = hyperscan.loadb(data, hyperscan.HS_MODE_BLOCK)
    database.scratch = hyperscan.Scratch(database)
    database.scan(text, lambda index, *_: ids.append(index))
    return sorted(ids)


def test_a_cached_database_is_read_and_a_damaged_one_compiled_anew(tmp_path: Path) -> None:
    expressions = (b"abc", b"[0-9]+x")
    good = serialized(expressions, cache=tmp_path)
    (stored,) = tmp_path.iterdir()
    written = stored.stat().st_mtime_ns
    read = serialized(expressions, cache=tmp_path)
    unchanged = stored.stat().st_mtime_ns == written
    stored.write_bytes(good[: len(good) // 2] + b"\xff" * 64)

    again = serialized(expressions, cache=tmp_path)

    assert (read == good, unchanged) == (True, True)
    assert (found(again, b"abc 12x"), stored.read_bytes()) == ([0, 1], again)


def test_a_cache_that_cannot_be_written_only_costs_a_compile(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder would be")

    assert found(serialized((b"abc",), cache=blocked), b"xabc") == [0]


def test_threads_scanning_at_once_each_get_their_own_answer() -> None:
    texts = [f"retry {n} of https://x.org/{n} token={n:x}" * (n % 5 + 1) for n in range(400)]
    table = PREFILTERS["normalize"]
    expected = [table.bits(text) for text in texts]
    results: dict[int, list[int]] = {}

    def scan(worker: int) -> None:
        results[worker] = [table.bits(text) for text in texts]

    threads = [threading.Thread(target=scan, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == dict.fromkeys(range(8), expected)


CLASSES = [r"\d", r"\w", r"\s", r"\D", r"\W", r"\S", r"[^\d]", r"[^\w]", r"[^\s]", r"[^\D]",
           r"[^\W]", r"[^\S]", r"[^\W\d_]", r"[a-z]", r"[^a-z]", r"k", r"[^k]", r"."]  # fmt: skip
CHARACTERS = [chr(code) for code in range(128)] + list("é٣\u00a0\u2028\u212a\u017f\u0130…")


@pytest.mark.parametrize("pattern", CLASSES)
def test_a_class_takes_every_character_python_matches_it_to(pattern: str) -> None:
    python, database = re.compile(pattern, re.IGNORECASE | re.DOTALL), Prefilter([pattern])

    missed = [c for c in CHARACTERS if python.fullmatch(c) and not database.bits(c)]

    assert missed == []
