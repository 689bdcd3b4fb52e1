"""Which rules of a table may match a text, found by one Hyperscan scan before Python's `re`.

Python's `re` pays for every rule of a combined pattern at every place a match may start,
so a pass is cheaper the fewer rules it carries. Each rule gets a *prefilter*: its pattern
rewritten into what Hyperscan runs (no look-around, no back-references) so that it matches
somewhere in every text where the rule matches, and maybe in more. All prefilters of a
table are one Hyperscan database; one scan of a text says which may match, and only those
rules enter the pass. A text none may match is not rewritten at all.

The rewriting only ever widens what a pattern matches, so a rule left out could not have
matched (the tests check this rule by rule, on every case and on generated texts):

- an assertion (`\\b`, `^`, a look-ahead or look-behind) is dropped, except a look-behind
  where the pattern starts (`(?<=user )name`, `(?<![\\w.])`) or a look-ahead where it
  ends: the text must hold that text (or, for a negative one of one character, the text's
  edge or another character) there, so the prefilter reads it;
- a repeat at the pattern's start or end keeps only its minimum (a text holding `a{2,9}b`
  holds `aab`), a back-reference is any text, a long bound (`{20,300}`) is open;
- the text is read as ASCII with every other character as the one byte 0x80 (`\\w`, `\\d`,
  `\\s`, `.` and a class with a non-ASCII member take it), except `İ`, `ı`, `K` and `ſ`,
  which Python matches to `i`, `k` and `s` when ignoring case, and which are read so;
- case is ignored, except where the pattern heeds it (`(?-i:[A-F])`); a negated class is
  read case-sensitively, so it excludes less.

Compiling a table's database takes up to a second, so it happens on first use and the
compiled database is kept in the user's cache directory (`$XDG_CACHE_HOME/failtrack`, else
`~/.cache/failtrack`; a file that fails its checksum is compiled anew, a folder that
cannot be written only costs each process the compile). This cache is the one file
`base/` touches.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import re
import re._constants as sre
import re._parser as sre_parse
import tempfile
import threading
from collections.abc import Iterable, Sequence
from functools import cached_property
from importlib.metadata import version
from pathlib import Path
from typing import Any, Final

import hyperscan

# Python's classes, widened (positive) or narrowed (inside a negated class); \x80 is
# every non-ASCII character.
_WIDE: Final = {
    sre.CATEGORY_DIGIT: r"0-9\x80",
    sre.CATEGORY_WORD: r"0-9A-Za-z_\x80",
    sre.CATEGORY_SPACE: r"\t-\r\x1c-\x20\x80",
    sre.CATEGORY_NOT_DIGIT: r"\x00-/:-\x80",
    sre.CATEGORY_NOT_WORD: r"\x00-/:-@\[-^`{-\x80",
    sre.CATEGORY_NOT_SPACE: r"\x00-\x08\x0e-\x1b!-\x80",
}
_NARROW: Final = {
    sre.CATEGORY_DIGIT: "0-9",
    sre.CATEGORY_WORD: "0-9A-Za-z_",
    sre.CATEGORY_SPACE: r"\t-\r ",
    sre.CATEGORY_NOT_DIGIT: r"\x00-/:-\x7f",
    sre.CATEGORY_NOT_WORD: r"\x00-/:-@\[-^`{-\x7f",
    sre.CATEGORY_NOT_SPACE: r"\x00-\x08\x0e-\x1b!-\x7f",
}
# The non-ASCII characters Python's `re` matches to an ASCII letter when ignoring case:
# the prefilters read them as that letter.
CASE_PARTNERS: Final = {0x130: "i", 0x131: "i", 0x17F: "s", 0x212A: "k"}
# Bounds above this are opened: a bounded repeat costs Hyperscan a state per count.
_MAX_BOUND: Final = 16
_ZERO_WIDTH: Final = (sre.AT, sre.ASSERT_NOT, sre.ASSERT)
_REPEATS: Final = (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT)
_FLAGS: Final = (
    hyperscan.HS_FLAG_SINGLEMATCH
    | hyperscan.HS_FLAG_CASELESS
    | hyperscan.HS_FLAG_DOTALL
    | hyperscan.HS_FLAG_ALLOWEMPTY
)
_MODE: Final = hyperscan.HS_MODE_BLOCK
_ENCODING_ERRORS: Final = "failtrack.prefilter"


def _as_stand_in(error: UnicodeError) -> tuple[bytes, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    part = error.object[error.start : error.end]
    return bytes(ord(CASE_PARTNERS.get(ord(char), "\x80")) for char in part), error.end


codecs.register_error(_ENCODING_ERRORS, _as_stand_in)


def prefilter(pattern: str, flags: int = re.VERBOSE | re.IGNORECASE) -> str:
    """A Hyperscan pattern matching somewhere in every text (as `scan_bytes` encodes it)
    where the Python pattern `pattern` matches."""
    return _sequence(sre_parse.parse(pattern, flags), leading=True, trailing=True)


def scan_bytes(text: str) -> bytes:
    """`text` as the prefilters read it: ASCII, a case partner as its letter, every other
    character the byte 0x80."""
    return text.encode("ascii", _ENCODING_ERRORS)


def _sequence(items: Iterable[tuple[Any, Any]], leading: bool, trailing: bool) -> str:
    """`leading`: nothing of the pattern comes before `items`, so their start may be
    dropped or read from a look-behind; `trailing`: nothing comes after them."""
    items = list(items)
    front = back = ""
    start, stop = 0, len(items)
    while leading and start < stop:
        op, av = items[start]
        if op is sre.ASSERT and av[0] < 0:
            front, leading = _group(av[1]), False
        elif op is sre.ASSERT_NOT and av[0] < 0 and (other := _other_than(av[1])):
            front, leading = f"(?:^|{other})", False
        elif not (op in _ZERO_WIDTH or _optional(op, av)):
            break
        start += 1
    while trailing and stop > start:
        op, av = items[stop - 1]
        if op is sre.ASSERT and av[0] > 0:
            back, trailing = _group(av[1]), False
        elif op is sre.ASSERT_NOT and av[0] > 0 and (other := _other_than(av[1])):
            back, trailing = f"(?:{other}|$)", False
        elif not (op in _ZERO_WIDTH or _optional(op, av)):
            break
        stop -= 1
    reading = [(op, av) for op, av in items[start:stop] if op not in _ZERO_WIDTH]
    last = len(reading) - 1
    middle = (
        _item(op, av, leading and i == 0, trailing and i == last)
        for i, (op, av) in enumerate(reading)
    )
    return front + "".join(middle) + back


def _other_than(items: Sequence[tuple[Any, Any]]) -> str | None:
    """A character a negative assertion of one character (`(?<![\\w.])`) lets through,
    or None for a longer one."""
    if len(items) != 1:
        return None
    op, av = items[0]
    if op is sre.LITERAL:
        return _item(sre.NOT_LITERAL, av, leading=False, trailing=False)
    if op is sre.NOT_LITERAL:
        return _class([(sre.LITERAL, av)])
    if op is sre.IN:
        negated = av[0][0] is sre.NEGATE
        return _class(av[1:] if negated else [(sre.NEGATE, None), *av])
    return None


def _group(items: Iterable[tuple[Any, Any]]) -> str:
    return f"(?:{_sequence(items, leading=False, trailing=False)})"


def _optional(op: Any, av: Any) -> bool:
    return op in _REPEATS and av[0] == 0


def _item(op: Any, av: Any, leading: bool, trailing: bool) -> str:
    if op is sre.LITERAL:
        return _class([(op, av)])
    if op is sre.NOT_LITERAL:
        return f"(?-i:[^{_char(av)}])" if av < 0x80 else "."
    if op is sre.ANY:
        return "."
    if op is sre.IN:
        return _class(av)
    if op is sre.BRANCH:
        return "(?:" + "|".join(_sequence(alt, leading, trailing) for alt in av[1]) + ")"
    if op is sre.SUBPATTERN:
        _, added, removed, items = av
        scope = "?-i:" if removed & re.IGNORECASE else "?i:" if added & re.IGNORECASE else "?:"
        return f"({scope}{_sequence(items, leading, trailing)})"
    if op is sre.ATOMIC_GROUP:
        return f"(?:{_sequence(av, leading, trailing)})"
    if op in _REPEATS:
        low, high, sub = av
        if leading or trailing:
            one = low == 1
            return f"(?:{_sequence(sub, leading and one, trailing and one)}){{{low}}}"
        body = _group(sub)
        if high is sre.MAXREPEAT or high > _MAX_BOUND:
            return body + ("*" if low == 0 else "+" if low == 1 else f"{{{low},}}")
        return f"{body}{{{low},{high}}}"
    if op in (sre.GROUPREF, sre.GROUPREF_EXISTS):
        return ".*"
    raise ValueError(f"no prefilter for the regular expression operator {op}")


def _class(items: Sequence[tuple[Any, Any]]) -> str:
    negated = bool(items) and items[0][0] is sre.NEGATE
    if negated:
        # Python excludes more than these (case variants, every non-ASCII member).
        parts = [_narrow(op, av) for op, av in items[1:]]
        return f"(?-i:[^{''.join(parts)}])"
    return f"[{''.join(_wide(op, av) for op, av in items)}]"


def _narrow(op: Any, av: Any) -> str:
    if op is sre.LITERAL:
        return _char(av) if av < 0x80 else ""
    if op is sre.RANGE:
        return f"{_char(av[0])}-{_char(min(av[1], 0x7F))}" if av[0] < 0x80 else ""
    if op is sre.CATEGORY:
        return _NARROW[av]
    raise ValueError(f"no prefilter for the character class item {op}")


def _wide(op: Any, av: Any) -> str:
    if op is sre.CATEGORY:
        return _WIDE[av]
    if op is sre.LITERAL:
        low = high = av
    elif op is sre.RANGE:
        low, high = av
    else:
        raise ValueError(f"no prefilter for the character class item {op}")
    parts = [f"{_char(low)}-{_char(min(high, 0x7F))}"] if low < 0x80 else []
    if high >= 0x80:
        parts.append(r"\x80")
        parts.extend(letter for code, letter in CASE_PARTNERS.items() if low <= code <= high)
    return "".join(parts)


def _char(code: int) -> str:
    return rf"\x{code:02x}"


def _on_match(index: int, start: int, end: int, flags: int, found: Any) -> None:
    found.append(index)


class Prefilter:
    """Which of a table's patterns (Python `re`, verbose, ignoring case) may match a text."""

    def __init__(self, patterns: Sequence[str]) -> None:
        self._patterns = tuple(patterns)
        # A scan needs scratch space no other thread is using: each thread loads its own.
        self._local = threading.local()

    def bits(self, text: str) -> int:
        """Bit i set where pattern i may match `text`."""
        found: list[int] = []
        try:
            database = self._local.database
        except AttributeError:
            database = self._local.database = hyperscan.loadb(self._serialized, _MODE)
            database.scratch = hyperscan.Scratch(database)
        database.scan(scan_bytes(text), _on_match, 0, found)
        return sum(map((1).__lshift__, found))

    @cached_property
    def _serialized(self) -> bytes:
        # On first use, not at import: most processes that import failtrack never scan.
        return serialized([prefilter(pattern).encode() for pattern in self._patterns])


def serialized(expressions: Sequence[bytes], cache: Path | None = None) -> bytes:
    """The compiled database of `expressions` (ids in order), from the cache when it holds
    one that loads (a damaged file fails its checksum and is compiled anew)."""
    key = hashlib.sha256(b"\0".join([version("hyperscan").encode(), *expressions]))
    path = (cache or _cache_dir()) / f"prefilter-{key.hexdigest()[:32]}.hsdb"
    try:
        data = path.read_bytes()
        hyperscan.loadb(data, _MODE)
        return data
    except (OSError, hyperscan.error):
        pass
    database = hyperscan.Database(mode=_MODE)
    database.compile(expressions=list(expressions), ids=list(range(len(expressions))), flags=_FLAGS)
    data = hyperscan.dumpb(database)
    _store(path, data)
    return data


def _cache_dir() -> Path:
    """The user's own cache (never a shared folder: whoever writes the file decides what
    the scrubber skips)."""
    home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(home) / "failtrack"


def _store(path: Path, data: bytes) -> None:
    """Write atomically, or not at all: a read-only home only costs the next process a
    compile."""
    temporary: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=path.name, delete=False) as handle:
            temporary = Path(handle.name)
            handle.write(data)
        os.replace(temporary, path)
    except OSError:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
