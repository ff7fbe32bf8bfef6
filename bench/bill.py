"""Reconciliation benchmark: what a user runs with a month's bill beside 10M invocations.

    python bench/bill.py [--rows 10000000] [--days 30] [--runs 3]

Starts from the Explorer benchmark's store (``bench/explorer.py``, cached under ``bench/out/``:
90 days, 3 accounts, 4 regions, 14 model ids, 300 callers), copies it, and writes the bill of its
last ``--days`` days as a CUR 2.0 Parquet file: one line per UTC day x account x region x model x
meter x routing x tier, in the AmazonBedrock kebab grammar, billed at the estimate (3% over on
every seventh day, so some buckets are mismatches). Then times whole CLI processes, as cron runs
them (median of ``--runs``, wall seconds, peak RSS of the child):

* ``bill import FILE`` into a copy without a bill (first import), then again (unchanged: skipped);
* ``reconcile --format csv`` over the period (every bucket);
* ``report --group-by identity`` on the estimate and on the billed basis.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bedrock_explorer.bill import reconcile, usage_types
from bedrock_explorer.store import Store
from bench.explorer import OUT, build
from bench.pricing import build_once
from tests.bill_seed import write_parquet

_PHRASES = {
    "input": "input-tokens",
    "output": "output-tokens",
    "cache_read": "cache-read-input-token-count",
    "cache_write": "cache-write-input-token-count",
    "cache_write_1h": "cache-write-1h-input-token-count",
    "image": "created-images",
}


def _codes() -> dict[str, str]:
    codes: dict[str, str] = {}
    for code, region in usage_types.grammar()["region_codes"].items():
        if len(code) == 4:
            codes.setdefault(region, code)
    return codes


def write_bill(store: Store, path: Path, start: datetime, days: int) -> tuple[int, float]:
    """The CUR file of the window; returns (lines, unblended dollars)."""
    window = reconcile.Window(start.date(), (start + timedelta(days=days - 1)).date())
    logged = reconcile.logged_buckets(store, window)
    codes = _codes()
    rows = []
    for b in logged.to_dict("records"):
        suffix = "-cross-region-global" if b["routing"] == "global" else ""
        suffix += "-latency-optimized" if b["tier"] == "latency_optimized" else ""
        usage_type = f"{codes[b['region']]}-{b['model']}-mantle-{_PHRASES[b['meter']]}{suffix}"
        estimate = b["estimated_cost"]
        cost = (b["logged_quantity"] * 1e-6) if pd.isna(estimate) else estimate
        if b["day"].toordinal() % 7 == 0:
            cost *= 1.03
        start_of_day = datetime.combine(b["day"], datetime.min.time())
        rows.append({
            "bill_payer_account_id": "999988887777",
            "line_item_usage_account_id": b["account_id"],
            "line_item_line_item_type": "Usage",
            "line_item_usage_start_date": start_of_day,
            "line_item_product_code": "AmazonBedrock",
            "line_item_usage_type": usage_type,
            "line_item_usage_amount": b["logged_quantity"] / (1 if b["meter"] == "image" else 1000),
            "line_item_unblended_cost": cost,
            "line_item_net_unblended_cost": cost,
            "pricing_unit": "Images" if b["meter"] == "image" else "1K tokens",
            "product_region_code": b["region"],
            "product": {"product_name": "Amazon Bedrock"},
        })  # fmt: skip
    write_parquet(path, rows)
    return len(rows), float(sum(r["line_item_unblended_cost"] for r in rows))


def run_cli(db: Path, args: list[str], runs: int) -> tuple[float, float, int]:
    """Median wall seconds, the largest child peak RSS (MB), the last exit code."""
    samples, peak, code = [], 0.0, 0
    for _ in range(runs):
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "bedrock_explorer", "--db", str(db), *args],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=False,
        )
        samples.append(time.perf_counter() - started)
        peak = max(peak, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
        code = proc.returncode
        if code not in (0, 1):
            raise SystemExit(proc.stderr.decode()[-2000:])
    return statistics.median(samples), peak, code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    source = OUT / f"explorer-{args.rows}-{datetime.now(UTC):%Y%m%d}.duckdb"
    build_once(source, build, args.rows)
    db = OUT / f"bill-{args.rows}.duckdb"
    shutil.copy(source, db)
    with Store(db) as store:
        last = store.con.execute("SELECT max(ts) FROM invocations").fetchall()[0][0]
        start = datetime.combine(last.date(), datetime.min.time()) - timedelta(days=args.days)
        in_window = store.con.execute(
            "SELECT count(*) FROM invocations WHERE ts >= ? AND ts < ?",
            [start, start + timedelta(days=args.days)],
        ).fetchall()[0][0]
        cur = OUT / "bill" / f"cur-{args.rows}-{args.days}.parquet"
        lines, dollars = write_bill(store, cur, start, args.days)
    last_day = start + timedelta(days=args.days - 1)
    period = ["--from", f"{start:%Y-%m-%d}", "--to", f"{last_day:%Y-%m-%d}"]
    results = []
    fresh = OUT / f"bill-{args.rows}-fresh.duckdb"
    samples = []
    for _ in range(args.runs):  # each first import into a store without a bill
        shutil.copy(db, fresh)
        samples.append(run_cli(fresh, ["bill", "import", str(cur), "--integration", "bench-0"], 1))
    results.append(("bill import (first time)", statistics.median(s[0] for s in samples),
                    max(s[1] for s in samples), samples[-1][2]))  # fmt: skip
    shutil.copy(fresh, db)
    fresh.unlink()
    by_identity = ["report", *period, "--group-by", "identity"]
    for name, cli in (
        ("bill import (unchanged: skipped)", ["bill", "import", str(cur), "--integration",
                                              "bench-0"]),
        ("reconcile --format csv (every bucket)", ["reconcile", *period, "--format", "csv"]),
        ("reconcile --group-by day,model", ["reconcile", *period, "--group-by", "day,model"]),
        ("report --group-by identity (estimate)", by_identity),
        ("report --group-by identity --basis billed", [*by_identity, "--basis", "billed"]),
    ):  # fmt: skip
        results.append((name, *run_cli(db, cli, args.runs)))
    print(
        f"\n{in_window:,} invocations in the {args.days} days billed ({args.rows:,} stored); the "
        f"bill: {lines:,} CUR lines, ${dollars:,.2f}; median of {args.runs}; "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}\n"
    )
    print("| CLI command (whole process)                    | seconds | peak RSS | exit |")
    print("|------------------------------------------------|--------:|---------:|-----:|")
    for name, seconds, rss, code in results:
        print(f"| {name:<46} | {seconds:7.2f} | {rss:5.0f} MB | {code:4} |")


if __name__ == "__main__":
    main()
