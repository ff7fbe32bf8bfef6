"""Small-batch write benchmark: what the writer costs per batch, as a sync writes them.

    python bench/batches.py [--batches 200] [--lines 1000] [--runs 3]

A CloudWatch or S3 sync hands the store a batch of a few hundred to a few thousand lines at a
time, so the fixed cost of each ``write_batch`` (parse, dedupe, new model ids, identities and
price keys, all in one transaction) matters as much as the per-line cost. The lines (three model
ids, two source regions) are made first; only ``write_batch`` calls are timed, into a fresh
database per run. Prints the median of the runs.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bedrock_explorer.raw import RawBatch
from bedrock_explorer.store import Store
from bedrock_explorer.synthetic import RecordSpec, make_line

MODELS = (
    "amazon.nova-pro-v1:0",
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "amazon.nova-lite-v1:0",
)
REGIONS = ("us-east-1", "eu-west-1")


def run(batches: list[list[str]]) -> float:
    with tempfile.TemporaryDirectory() as folder, Store(Path(folder) / "b.duckdb") as store:
        integ = store.add_integration("bench", "local")
        started = time.perf_counter()
        for n, lines in enumerate(batches):
            store.write_batch(integ.id, RawBatch(f"batch-{n}", lines))
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--lines", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    batches = [
        [
            make_line(
                RecordSpec(
                    f"r{b}-{i}",
                    start + timedelta(seconds=b * args.lines + i),
                    MODELS[i % len(MODELS)],
                    region=REGIONS[i % len(REGIONS)],
                )
            )
            for i in range(args.lines)
        ]
        for b in range(args.batches)
    ]
    seconds = statistics.median(run(batches) for _ in range(args.runs))
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {args.batches} batches of {args.lines:,} lines, "
        f"median of {args.runs}"
    )
    print("| write_batch            | total s | ms per batch | lines/s |")
    print("|------------------------|--------:|-------------:|--------:|")
    total = args.batches * args.lines
    print(
        f"| {'all batches':<22} | {seconds:>7.2f} | {seconds / args.batches * 1000:>12.1f} "
        f"| {total / seconds:>7,.0f} |"
    )


if __name__ == "__main__":
    main()
