"""What tracking a run's external_ids costs per record: SeenIds against a set of strings.

    .venv/bin/python bench/bench_seen_ids.py [--records 1000000]

Both are fed the same ids (`event-<n>`, as a reader hands them over: a new string each);
memory is what tracemalloc sees allocated and kept, time is the best of 3. The baseline is
the set (what validation used before issue 14): printed are bytes per record and the
ratios SeenIds / set.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from collections.abc import Callable

from failtrack_pipeline.processing.seen import SeenIds


def with_set(count: int) -> object:
    seen: set[str] = set()
    for index in range(count):
        external_id = f"event-{index}"
        if external_id not in seen:
            seen.add(external_id)
    return seen


def with_seen_ids(count: int) -> object:
    seen = SeenIds()
    for index in range(count):
        seen.add(f"event-{index}")
    return seen


def measure(build: Callable[[int], object], count: int) -> tuple[float, float]:
    tracemalloc.start()
    kept = build(count)
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del kept
    best = min(_timed(build, count) for _ in range(3))
    return size / count, best


def _timed(build: Callable[[int], object], count: int) -> float:
    started = time.perf_counter()
    build(count)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args()
    set_bytes, set_s = measure(with_set, args.records)
    seen_bytes, seen_s = measure(with_seen_ids, args.records)
    print(f"{args.records:,} records")
    print("| | bytes per record | time |")
    print("| --- | --- | --- |")
    print(f"| set of strings (baseline) | {set_bytes:.1f} | {set_s:.2f} s |")
    print(f"| SeenIds | {seen_bytes:.1f} | {seen_s:.2f} s |")
    print(f"| **SeenIds / set** | **{seen_bytes / set_bytes:.2f}×** | {seen_s / set_s:.2f}× |")


if __name__ == "__main__":
    main()
