"""The external_ids a run has seen, under 16 bytes each rather than a set's ~92.

Each id is kept as a 64-bit fingerprint in an open-addressing table between 53 % and
80 % full (it grows by half): ten million records cost under 160 MB, not 920. Two
different ids share a fingerprint with a chance of about n²/2⁶⁵ (one in 37 million for a
million records), in which case the later one is reported as a duplicate.
"""

from __future__ import annotations

from array import array
from hashlib import blake2b
from typing import Final

_INITIAL_SLOTS: Final = 1024
_MAX_LOAD: Final = 0.8
_GROWTH: Final = 1.5


class SeenIds:
    """A set of strings that answers `add` only: was it there already?"""

    def __init__(self) -> None:
        self._slots = array("Q", bytes(8 * _INITIAL_SLOTS))
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, external_id: str) -> bool:
        """Record `external_id`; True if it had been recorded before."""
        digest = blake2b(external_id.encode("utf-8", "surrogatepass"), digest_size=8).digest()
        fingerprint = int.from_bytes(digest, "little") or 1  # 0 marks an empty slot
        if not self._insert(self._slots, fingerprint):
            return True
        self._count += 1
        if self._count > _MAX_LOAD * len(self._slots):
            self._grow()
        return False

    @staticmethod
    def _insert(slots: array[int], fingerprint: int) -> bool:
        size = len(slots)
        index = fingerprint % size
        while True:
            current = slots[index]
            if current == 0:
                slots[index] = fingerprint
                return True
            if current == fingerprint:
                return False
            index = index + 1 if index + 1 < size else 0

    def _grow(self) -> None:
        slots = array("Q", bytes(8 * int(len(self._slots) * _GROWTH)))
        for fingerprint in self._slots:
            if fingerprint:
                self._insert(slots, fingerprint)
        self._slots = slots
