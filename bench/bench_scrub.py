"""What the scrubber lets through, and what ordinary text it changes.

    .venv/bin/python bench/bench_scrub.py [--show N]

Leaks: every line detect-secrets' plugin tests expect flagged, and every gitleaks rule
sample, goes through `describe_failure` as a failure's message; a secret survives if its
value is still in the stored message or example. False positives: the 32,000 Loghub 2k
lines (ordinary system logs, no credentials) through `scrub_secrets`; a line counts if
any of it changed. Reads ../shared/reference-data/ and skips with a printed reason
without it. The baseline is the same run with the rules of failtrack 0.x before this
table (kept in this file, for the ratio only).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from failtrack_pipeline.base.scrub import scrub_secrets
from failtrack_pipeline.tracking.failures import describe_failure

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference-data"
SEEN_AT = datetime(2026, 12, 1, tzinfo=UTC)


def secret_cases() -> Iterator[tuple[str, str, list[str]]]:
    """(origin, line, secrets) of every case a peer expects caught."""
    detect_secrets = json.loads((REFERENCE / "detect_secrets_cases.json").read_text())
    for case in detect_secrets["cases"]:
        if case["should_flag"]:
            values = [s["value"] for s in case["secrets"]] + [case["expected_secret"]]
            yield f"detect-secrets {case['plugin_test']}", case["line"], [v for v in values if v]
    for case in json.loads((REFERENCE / "gitleaks_cases.json").read_text())["cases"]:
        yield f"gitleaks {case['rule_file']}", case["sample"], [case["secret"]]


def loghub_lines() -> Iterator[str]:
    for path in sorted((REFERENCE / "loghub_2k").glob("*_2k.csv.gz")):
        with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
            yield from (row["Content"] for row in csv.DictReader(handle))


def leaks(show: int) -> Counter[str]:
    leaked: Counter[str] = Counter()
    cases = list(secret_cases())
    for origin, line, secrets in cases:
        failure = describe_failure("bench", line, seen_at=SEEN_AT)
        stored = (failure.message, failure.example)
        if any(secret in text for secret in secrets for text in stored):
            leaked[origin.split(" ")[0]] += 1
            if show and sum(leaked.values()) <= show:
                print(f"   leak {origin}: {failure.example[:140]!r}")
    origins = Counter(origin.split(" ")[0] for origin, _, _ in cases)
    for origin, total in sorted(origins.items()):
        print(f"{origin:<16} {total:>5} cases   {leaked[origin]:>4} leaked")
    return leaked


def false_positives(scrub: Callable[[str], str], show: int) -> tuple[int, int, float]:
    lines = list(loghub_lines())
    start = time.perf_counter()
    changed = [(line, out) for line in lines if (out := scrub(line)) != line]
    per_line = (time.perf_counter() - start) / len(lines)
    for line, out in changed[:show]:
        print(f"   changed: {line[:110]!r}\n         -> {out[:110]!r}")
    return len(changed), len(lines), per_line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", type=int, default=0, help="print N leaks and N changed lines")
    args = parser.parse_args()
    if not REFERENCE.is_dir():
        print(f"skipped: {REFERENCE} is absent (peers' cases, read by path, never copied)")
        return
    leaked = leaks(args.show)
    changed, total, per_line = false_positives(scrub_secrets, args.show)
    print(f"leaked in total: {sum(leaked.values())}")
    print(
        f"Loghub lines changed: {changed} of {total} ({changed / total:.3%}; target < 0.1 %), "
        f"{per_line * 1e6:.1f} µs/line"
    )


if __name__ == "__main__":
    main()
