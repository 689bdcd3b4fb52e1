"""The external_ids a run has seen, under 16 bytes each rather than a set's ~92.

Each id is kept as a 64-bit fingerprint (Python's own string hash, stable within the
process that validates the run) in an open-addressing table between 53 % and 80 % full: it
grows by half to the next prime, and probes by double hashing, so a miss costs a few
probes. Ten million records cost under 160 MB, not 920. Two different ids share a
fingerprint with a chance of about n²/2⁶⁵ (one in 37 million for a million records), in
which case the later one is reported as a duplicate.
"""

from __future__ import annotations

from array import array
from typing import Final

_INITIAL_SLOTS: Final = 1031  # a prime
_MAX_LOAD: Final = 0.8
_GROWTH: Final = 1.5
_MASK: Final = (1 << 64) - 1


class SeenIds:
    """A set of strings that answers `add` only: was it there already?"""

    def __init__(self) -> None:
        self._slots = array("Q", bytes(8 * _INITIAL_SLOTS))
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, external_id: str) -> bool:
        """Record `external_id`; True if it had been recorded before."""
        fingerprint = (hash(external_id) & _MASK) or 1  # 0 marks an empty slot
        if not _insert(self._slots, fingerprint):
            return True
        self._count += 1
        if self._count > _MAX_LOAD * len(self._slots):
            self._grow()
        return False

    def _grow(self) -> None:
        slots = array("Q", bytes(8 * _next_prime(int(len(self._slots) * _GROWTH))))
        for fingerprint in filter(None, self._slots):
            _insert(slots, fingerprint)
        self._slots = slots


def _insert(slots: array[int], fingerprint: int) -> bool:
    """Put `fingerprint` in `slots` by double hashing; False if it was there. The size
    must be prime, so that every step visits every slot."""
    size = len(slots)
    index = fingerprint % size
    step = 0
    while True:
        current = slots[index]
        if current == 0:
            slots[index] = fingerprint
            return True
        if current == fingerprint:
            return False
        if not step:
            step = 1 + (fingerprint >> 32) % (size - 1)
        index += step
        if index >= size:
            index -= size


def _next_prime(number: int) -> int:
    candidate = number | 1
    while any(candidate % divisor == 0 for divisor in range(3, int(candidate**0.5) + 1, 2)):
        candidate += 2
    return candidate
