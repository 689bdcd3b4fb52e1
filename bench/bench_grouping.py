"""How well failtrack's normalizer groups real log lines: Loghub 2k, logparser's metric.

    .venv/bin/python bench/bench_grouping.py [--worst N]

Each of Loghub's 16 systems ships 2,000 lines labelled with the template (event) a person
assigned. A line's group is its normalized message, nothing else: the normalizer is
deterministic, so a line's group never depends on the lines around it. Grouping accuracy
is logparser's: the share of lines whose group holds exactly the lines of their event.
Printed per system with the mean, against Drain's published figures as the baseline (the
reference parser logparser ships, which learns its templates from the lines it has seen).
Reads ../shared/reference-data/loghub_2k/ and skips with a printed reason without it.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

from failtrack_pipeline.base.normalize import normalize_message

LOGHUB = Path(__file__).resolve().parents[1].parent / "shared" / "reference-data" / "loghub_2k"

# Drain's grouping accuracy per system as published in logparser's benchmark (Zhu et al.,
# "Tools and Benchmarks for Automated Log Parsing", ICSE-SEIP 2019, table of results).
DRAIN_PUBLISHED = {
    "HDFS": 0.998, "Hadoop": 0.948, "Spark": 0.920, "Zookeeper": 0.967, "OpenStack": 0.733,
    "BGL": 0.963, "HPC": 0.887, "Thunderbird": 0.955, "Windows": 0.997, "Linux": 0.690,
    "Mac": 0.787, "Android": 0.911, "HealthApp": 0.780, "Apache": 1.000, "OpenSSH": 0.788,
    "Proxifier": 0.527,
}  # fmt: skip


def grouping_accuracy(truth: Sequence[str], groups: Sequence[str]) -> float:
    """logparser's GA: lines in a group whose members are exactly one true event's lines."""
    members: dict[str, set[int]] = defaultdict(set)
    for index, group in enumerate(groups):
        members[group].add(index)
    event_sizes = Counter(truth)
    correct = 0
    for indices in members.values():
        events = {truth[i] for i in indices}
        if len(events) == 1 and event_sizes[next(iter(events))] == len(indices):
            correct += len(indices)
    return correct / len(truth)


def read_system(path: Path) -> tuple[list[str], list[str]]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [row["EventId"] for row in rows], [row["Content"] for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worst", type=int, default=0, help="print N mis-grouped events each")
    args = parser.parse_args()
    if not LOGHUB.is_dir():
        print(f"skipped: {LOGHUB} is absent (Loghub 2k samples, read by path, never copied)")
        return
    print(f"{'system':<12} {'failtrack':>9} {'Drain':>6} {'groups':>6} {'events':>6}")
    ours = []
    for path in sorted(LOGHUB.glob("*_2k.csv.gz")):
        system = path.name.removesuffix("_2k.csv.gz")
        truth, lines = read_system(path)
        groups = [normalize_message(line) for line in lines]
        accuracy = grouping_accuracy(truth, groups)
        ours.append(accuracy)
        drain = DRAIN_PUBLISHED.get(system, float("nan"))
        print(
            f"{system:<12} {accuracy:>9.3f} {drain:>6.3f} {len(set(groups)):>6} "
            f"{len(set(truth)):>6}"
        )
        if args.worst:
            _print_misses(truth, groups, args.worst)
    drain_mean = statistics.mean(DRAIN_PUBLISHED.values())
    mean = statistics.mean(ours)
    print(f"{'mean':<12} {mean:>9.3f} {drain_mean:>6.3f}   ratio to Drain {mean / drain_mean:.2f}x")


def _print_misses(truth: list[str], groups: list[str], limit: int) -> None:
    by_event: dict[str, set[str]] = defaultdict(set)
    by_group: dict[str, set[str]] = defaultdict(set)
    for event, group in zip(truth, groups, strict=True):
        by_event[event].add(group)
        by_group[group].add(event)
    shown = 0
    for event, event_groups in sorted(by_event.items(), key=lambda kv: -len(kv[1])):
        split = len(event_groups) > 1
        merged = any(len(by_group[g]) > 1 for g in event_groups)
        if not (split or merged) or shown >= limit:
            continue
        shown += 1
        kind = "split" if split else "merged"
        print(f"   {event} {kind}: {sorted(event_groups)[:3]}")
        for group in event_groups:
            if len(by_group[group]) > 1:
                print(f"      merged with {sorted(by_group[group] - {event})[:3]}: {group[:150]!r}")


if __name__ == "__main__":
    main()
