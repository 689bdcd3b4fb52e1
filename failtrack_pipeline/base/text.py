"""Bounding text that leaves failtrack: tags, stored examples, error messages."""

from __future__ import annotations

from typing import Final

ELLIPSIS: Final = "…"


def truncate(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters, else its start and `…`, `limit` in all.

    Cut only what was already scrubbed: a cut before scrubbing could leave half a secret.
    """
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS
