"""Pricing benchmark: what computing cost at query time costs over 10M stored invocations.

    python bench/pricing.py [--rows 10000000] [--runs 7]

Builds (once, cached under ``bench/out/``) a store of synthetic invocations over 90 days with the
model-id mix of the demo (geo, global and in-region ids, cache tokens), from four source regions
and with every service tier (standard, flex, priority, latency-optimized), in SQL (this benchmark
is about queries, not ingest), compiles its price points — one per model id, region and tier —,
then times the grouped query behind the daily chart — day x model over 90 days — summing tokens
only, and with cost (``queries.daily_cost_by_model``). Prints medians and the ratio.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bedrock_explorer import queries, records
from bedrock_explorer.pricing import book
from bedrock_explorer.store import Store, metadata_sets, price_keys
from bedrock_explorer.store.writer import insert_model_id

OUT = ROOT / "bench" / "out"

MODEL_IDS = [
    "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "us.anthropic.claude-haiku-4-5-20251001-v1:0",
    "anthropic.claude-3-5-haiku-20241022-v1:0",
    "us.amazon.nova-pro-v1:0",
    "amazon.nova-lite-v1:0",
    "amazon.nova-micro-v1:0",
    "us.meta.llama3-3-70b-instruct-v1:0",
    "mistral.mistral-large-2402-v1:0",
    "amazon.titan-embed-text-v2:0",
    "cohere.embed-english-v3",
    "eu.anthropic.claude-3-7-sonnet-20250219-v1:0",
    "deepseek.v3-v1:0",
    "dummy-model-v1",
]

TOKENS_ONLY = """
SELECT date_trunc('day', i.ts) AS day, coalesce(m.base_model, i.model_id) AS model,
       count(*) AS invocations,
       sum(i.input_tokens + i.output_tokens + i.cache_read_tokens + i.cache_write_tokens) AS tokens
FROM invocations i LEFT JOIN model_ids m USING (model_id)
WHERE i.ts >= ? GROUP BY ALL
"""

PER_INVOCATION = f"""
SELECT date_trunc('day', ts) AS day, coalesce(base_model, model_id) AS model,
       count(*) AS invocations, sum(cost) AS cost, sum(unpriced_tokens) AS unpriced_tokens
FROM ({queries.PRICED})
WHERE ts >= ? GROUP BY ALL
"""


#: The stored columns in table order, for the synthetic INSERTs of both benchmarks.
COLUMNS = ", ".join(records.INVOCATION_COLUMNS)


def build(path: Path, rows: int) -> None:
    ids = ", ".join(f"'{m}'" for m in MODEL_IDS)
    with Store(path) as store:
        integ = store.add_integration("bench", "local")
        store.con.execute(
            f"""
            INSERT INTO invocations (integration_id, {COLUMNS}, ingested_at)
            SELECT ?, 'req-' || n,
                   TIMESTAMP '2026-01-01' + to_seconds(CAST(n * 7776000 // ? AS BIGINT)),
                   '111122223333',
                   (['us-east-1', 'us-west-2', 'eu-west-1', 'ap-northeast-1'])
                       [CAST(1 + hash(n * 11) % 4 AS BIGINT)],
                   NULL, 'Converse',
                   ([{ids}])[CAST(1 + hash(n) % {len(MODEL_IDS)} AS BIGINT)],
                   'arn:aws:sts::111122223333:assumed-role/app/s' || (n % 50),
                   100 + hash(n * 3) % 5000, 20 + hash(n * 5) % 800,
                   CASE WHEN n % 3 = 0 THEN hash(n * 7) % 4000 ELSE 0 END,
                   CASE WHEN n % 17 = 0 THEN 2048 ELSE 0 END,
                   CASE WHEN n % 34 = 0 THEN 2048 ELSE 0 END,
                   NULL,
                   CASE WHEN n % 101 = 0 THEN 'latency_optimized'
                        WHEN n % 13 = 0 THEN 'flex'
                        WHEN n % 29 = 0 THEN 'priority' ELSE 'standard' END,
                   'end_turn', 'success', NULL, 800, NULL, false,
                   MAP {{'team': 'team-' || (n % 7)}}, '1.0', NULL, NULL, now()
            FROM range(?) t(n)
            """,
            [integ.id, rows, rows],
        )
        for model_id in MODEL_IDS:
            insert_model_id(store.con, model_id)
        price_keys.assign_missing(store.con)  # rows inserted by SQL, not by the writer
        metadata_sets.assign_missing(store.con)
        book.compile_price_points(store)
        store.con.execute("CHECKPOINT")


def timed(run, runs: int) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    run()  # warm
    samples = []
    n = 0
    for _ in range(runs):
        started = time.perf_counter()
        n = run()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples), n


def build_once(path: Path, build: Callable[[Path, int], None], rows: int) -> None:
    """Build the benchmark database unless a cached one is there (building takes minutes)."""
    if not path.exists():
        started = time.perf_counter()
        build(path, rows)
        print(f"built {path.name} in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"pricing-regions-tiers-{args.rows}.duckdb"
    build_once(path, build, args.rows)
    with Store(path) as store:
        book.compile_price_points(store)
        since = datetime(2026, 1, 1)
        tokens, groups = timed(
            lambda: len(store.con.execute(TOKENS_ONLY, [since]).fetchall()), args.runs
        )
        cost, groups_cost = timed(lambda: len(queries.daily_cost_by_model(store, since)), args.runs)
        naive, _ = timed(
            lambda: len(store.con.execute(PER_INVOCATION, [since]).fetchall()), args.runs
        )
        total = store.con.execute("SELECT count(*) FROM invocations").fetchall()[0][0]
    assert groups == groups_cost
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {total:,} invocations, {groups:,} day x model groups, "
        f"median of {args.runs}"
    )
    print("| query (day x model, 90 days)                      | median ms | vs tokens |")
    print("|---------------------------------------------------|----------:|----------:|")
    for label, seconds in (
        ("tokens only (no prices)", tokens),
        ("with cost: queries.daily_cost_by_model", cost),
        ("with cost per invocation, then grouped (not used)", naive),
    ):
        print(f"| {label:<49} | {seconds * 1000:>9.0f} | {seconds / tokens:>8.2f}x |")


if __name__ == "__main__":
    main()
