"""One long JSON string: linear now, quadratic before (issue 14, item 5).

    .venv/bin/python bench/bench_long_json.py [--sizes 1 2 4 8 32]

For each size (MB) a feed of one record whose title is that long is read by read_records.
The baseline, measured in the same run, is the same number of bytes as 1,000-character
titles (a feed of ordinary records). Printed: seconds, and the ratio long/baseline; a
linear reader keeps the ratio flat as the size grows. "fixed reads" is the parser fed
4 KB reads, as before the reads grew (ijson over the file directly).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import ijson

from failtrack_pipeline.config.sources_file import SourceConfig
from failtrack_pipeline.sources.readers import read_records

FIELDS = {"external_id": "id", "title": "name", "starts_at": "start"}


def timed_read(path: Path) -> float:
    source = SourceConfig(
        id="bench", name="Bench", kind="json", url=path.as_uri(), records="", fields=FIELDS
    )
    started = time.perf_counter()
    for _ in read_records(source):
        pass
    return time.perf_counter() - started


def timed_fixed_reads(path: Path) -> float:
    started = time.perf_counter()
    with path.open("rb") as stream:
        for _ in ijson.items(stream, "item", buf_size=4096):
            pass
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 4, 8, 32])
    args = parser.parse_args()
    print("| MB | long string | baseline (short titles) | ratio | fixed 4 KB reads | ratio |")
    print("| --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as folder:
        for megabytes in args.sizes:
            size = megabytes * 1024 * 1024
            long_path = Path(folder) / "long.json"
            long_path.write_text(json.dumps([{"id": "a", "name": "x" * size, "start": "2027"}]))
            short_path = Path(folder) / "short.json"
            records = [
                {"id": f"e{i}", "name": "x" * 1000, "start": "2027"} for i in range(size // 1000)
            ]
            short_path.write_text(json.dumps(records))
            long_s = min(timed_read(long_path) for _ in range(3))
            base_s = min(timed_read(short_path) for _ in range(3))
            if megabytes <= 8:
                fixed_s = timed_fixed_reads(long_path)
                fixed = f"{fixed_s:.3f} s | {fixed_s / base_s:.2f}×"
            else:
                fixed = "(skipped: quadratic) | "
            ratio = long_s / base_s
            print(f"| {megabytes} | {long_s:.3f} s | {base_s:.3f} s | {ratio:.2f}× | {fixed} |")


if __name__ == "__main__":
    main()
