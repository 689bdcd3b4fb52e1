"""What a normalizer cache miss costs: messages with unique values, as scrapers produce them.

    .venv/bin/python bench/bench_normalize.py [--messages 5000] [--rounds 5]

Every message carries fresh ids, times, URLs or tokens, so none repeats and each call is a
cache miss. Prints the median of `scrub_secrets` alone, of `normalize_message` (which
scrubs first) and of `scrub_and_normalize` (a failure's example and its group, what
`describe_failure` computes for a new message), against a baseline measured in the same
run: one `re.sub` of digit runs, the least a parameterizer can do. Each figure twice: from
one pass over the messages, and each message's best of `--rounds` passes (steadier on a
shared machine; the baseline measured the same way). Then what describing a failure
costs the scrape (`describe_failure`, through its caches) when a realistic share of failure
messages is unique, against the same stream where every message repeats (all cache hits).
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from failtrack_pipeline.base.errors import EventError
from failtrack_pipeline.base.normalize import normalize_message, scrub_and_normalize
from failtrack_pipeline.base.scrub import scrub_secrets
from failtrack_pipeline.tracking import failures
from failtrack_pipeline.tracking.failures import describe_failure

_DIGITS = re.compile(r"\d+")


def messages(count: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)

    def token() -> str:
        return uuid.UUID(int=rng.getrandbits(128)).hex

    shapes: list[Callable[[], str]] = [
        lambda: (
            f"Client error '404 Not Found' for url 'https://api.example.com/v1/events/"
            f"{rng.randint(1, 10**6)}?page={rng.randint(1, 99)}'"
        ),
        lambda: (
            f"Invalid date '2024-{rng.randint(1, 12):02d}-{rng.randint(1, 40)}' for event "
            f"{rng.randint(1, 10**5)}"
        ),
        lambda: (
            f"run {uuid.UUID(int=rng.getrandbits(128))} failed at 2026-11-"
            f"{rng.randint(10, 28)}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00Z after "
            f"{rng.randint(1, 900)}ms"
        ),
        lambda: (
            f"ReadTimeout fetching https://feeds.example.org/export.ics?token={token()} "
            f"after {rng.randint(1, 60)}s"
        ),
        lambda: (
            f"venue missing for event evt_{rng.randint(1, 10**9)} ({rng.randint(1, 500)} "
            f"of {rng.randint(500, 900)})"
        ),
        lambda: (
            f"connection refused by 10.0.{rng.randint(0, 255)}.{rng.randint(0, 255)}:"
            f"{rng.randint(1024, 65535)} at {rng.randint(1, 12)}:{rng.randint(10, 59)}PM"
        ),
    ]
    return [rng.choice(shapes)() for _ in range(count)]


def median_us(function: Callable[[str], str], texts: list[str], rounds: int = 1) -> float:
    """Median over `texts` of each one's cost, the best of `rounds` passes over all of them:
    with several, a pass that ran while the machine was slowed (a neighbour on its cores)
    counts for no text, and a text comes back only after all the others (no cache holds it)."""
    best = [float("inf")] * len(texts)
    for _ in range(rounds):
        for index, text in enumerate(texts):
            started = time.perf_counter()
            function(text)
            best[index] = min(best[index], time.perf_counter() - started)
    return statistics.median(best) * 1e6


def stream(count: int, unique_share: float, seed: int = 2) -> list[str]:
    """`count` failure messages: `unique_share` of them new, the rest from 50 recurring."""
    rng = random.Random(seed)
    recurring = messages(50, seed=seed)
    fresh = iter(messages(count, seed=seed + 1))
    return [
        next(fresh) if rng.random() < unique_share else rng.choice(recurring) for _ in range(count)
    ]


def describe_us(texts: list[str]) -> float:
    """Mean µs per failure, caches emptied first: what a run's failed events cost to describe
    (as the scrape records them: typed `EventError`s, so categorizing is free)."""
    failures._described.cache_clear()
    seen_at = datetime(2026, 12, 1, tzinfo=UTC)
    errors = [EventError(text) for text in texts]
    started = time.perf_counter()
    for error in errors:
        describe_failure("bench", error, seen_at=seen_at)
    return (time.perf_counter() - started) / len(texts) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--failures", type=int, default=20_000)
    parser.add_argument("--unique-share", type=float, default=0.2)
    parser.add_argument("--rounds", type=int, default=5, help="passes for the best-of figures")
    args = parser.parse_args()
    texts = messages(args.messages)
    assert len(set(texts)) > 0.99 * len(texts), "messages must be unique: every call a miss"
    for rounds in (1, args.rounds):
        print(f"-- median per message, best of {rounds} pass(es) over all {len(texts):,}:")
        baseline = median_us(lambda text: _DIGITS.sub("<int>", text), texts, rounds)
        print(f"baseline, one re.sub of digits: {baseline:.2f} µs")
        for name, function in (
            ("scrub_secrets", scrub_secrets),
            ("normalize_message", normalize_message),
            ("scrub_and_normalize", scrub_and_normalize),
        ):
            cost = median_us(function, texts, rounds)
            print(f"{name:<19} median {cost:6.1f} µs per miss  ({cost / baseline:.0f}x baseline)")
    hits = describe_us(stream(args.failures, 0.0))
    mixed = describe_us(stream(args.failures, args.unique_share))
    print(
        f"describe_failure, all messages recurring: {hits:.1f} µs/failure; "
        f"{args.unique_share:.0%} unique: {mixed:.1f} µs/failure ({mixed / hits:.1f}x)"
    )


if __name__ == "__main__":
    main()
