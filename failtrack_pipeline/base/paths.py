"""Field paths: JMESPath expressions, with the plain dotted paths of earlier files kept.

A path of plain names separated by dots (`venue.name`, `links.0.href`, `Meeting Date`) reads
as it always did: each name a key, a number an index into a list. Anything else is JMESPath
(`performance[].artist.displayName`, `_links.next.href || next`), compiled once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Final

import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult

# Characters that only JMESPath gives a meaning to; a path with none is a plain dotted one.
_PLAIN: Final = re.compile(r"[^\[\]|@*(){}&!=<>'\"`?,:$]+(?:\.[^\[\]|@*(){}&!=<>'\"`?,:$.]+)*")


@lru_cache(maxsize=1024)
def compile_path(path: str) -> ParsedResult:
    """The compiled expression; a ValueError quoting JMESPath's complaint if it is none."""
    expression = _from_dotted(path) if _PLAIN.fullmatch(path) else path
    try:
        return jmespath.compile(expression)
    except JMESPathError as exc:
        problem = str(exc).strip().splitlines()[0]
        raise ValueError(f"{path!r} is not a valid JMESPath expression: {problem}") from None


def search(path: str, document: Any) -> Any:
    """The value at `path` in `document`, None where there is none."""
    return compile_path(path).search(document)


@lru_cache(maxsize=1024)
def compile_getter(path: str) -> Callable[[Any], Any]:
    """A function giving the value at `path` in a document, None where there is none.

    A plain dotted path walks the document directly, as its JMESPath expression would (a
    name reads a dict's key, a number indexes a list, anything else finds nothing): the same
    answer without the interpreter's cost, which a scrape pays for every field of every record.
    """
    search = compile_path(path).search  # also refuses what is no valid path
    segments = path.split(".")
    if not _PLAIN.fullmatch(path) or not all(segments):
        return search
    steps = tuple(int(segment) if segment.isdecimal() else segment for segment in segments)
    if len(steps) == 1 and isinstance(key := steps[0], str):  # the most common path
        return lambda document: document.get(key) if isinstance(document, dict) else None
    if len(steps) == 2 and all(isinstance(step, str) for step in steps):  # `venue.name`
        outer, inner = steps

        def pair(document: Any) -> Any:
            if isinstance(document, dict):
                value = document.get(outer)
                if isinstance(value, dict):
                    return value.get(inner)
            return None

        return pair

    def walk(document: Any) -> Any:
        value = document
        for step in steps:
            if isinstance(step, int):
                if not isinstance(value, list) or step >= len(value):
                    return None
                value = value[step]
            elif isinstance(value, dict):
                value = value.get(step)
            else:
                return None
        return value

    return walk


def _from_dotted(path: str) -> str:
    parts = []
    for segment in path.split("."):
        if segment.isdecimal():
            parts.append(f"[{int(segment)}]")
        else:
            quoted = segment.replace("\\", "\\\\").replace('"', '\\"')
            parts.append(f'."{quoted}"')
    return "".join(parts).lstrip(".")
