"""Ingest benchmark: our import path against DuckDB's own ``read_json`` on the same file.

    python bench/ingest.py [--records 1000000] [--keep]

Builds (once, cached under ``bench/out/``) a ``.jsonl.gz`` of synthetic invocation records of about
1.5 KB each, bodies included, in the mix of shapes real logs have. Then, each in a fresh process so
peak RSS is its own:

* **ours** — ``python -m bedrock_explorer import`` into a fresh database (parse, quarantine check,
  dedupe, store);
* **native** — DuckDB ``read_json`` loading the same file into a table of the same columns.

Prints a table: records/s, wall seconds, peak RSS and the ratio ours / native.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bedrock_explorer.synthetic import RecordSpec, make_line

OUT = ROOT / "bench" / "out"

MODELS = (
    ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", "Converse"),
    ("us.anthropic.claude-haiku-4-5-20251001-v1:0", "ConverseStream"),
    ("anthropic.claude-3-5-haiku-20241022-v1:0", "InvokeModelWithResponseStream"),
    ("amazon.nova-lite-v1:0", "Converse"),
    ("amazon.nova-pro-v1:0", "InvokeModel"),
)


def build_file(path: Path, records: int) -> None:
    rng = random.Random(7)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    padding = "lorem ipsum dolor sit amet " * 15
    with gzip.open(path, "wt", compresslevel=6) as fh:
        for n in range(records):
            model, op = MODELS[n % len(MODELS)]
            spec = RecordSpec(
                request_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                ts=start + timedelta(seconds=n * 7),
                model_id=model,
                operation=op,
                identity_arn=f"arn:aws:sts::111122223333:assumed-role/app-{n % 13}/s{n % 97}",
                input_tokens=rng.randint(10, 5000),
                output_tokens=rng.randint(1, 900),
                cache_read_tokens=rng.randint(0, 3000) if n % 3 == 0 else None,
                cache_write_tokens=rng.randint(0, 3000) if n % 3 == 0 else None,
                request_metadata={"team": f"team-{n % 7}", "feature": f"f{n % 5}"},
                padding=padding,
            )
            fh.write(make_line(spec) + "\n")


OURS = """
import resource, sys, time
from bedrock_explorer.store import Store
from bedrock_explorer.ingest import import_paths
t = time.perf_counter()
with Store(sys.argv[1]) as s:
    summary = import_paths(s, [sys.argv[2]], "bench")
elapsed = time.perf_counter() - t
usage = resource.getrusage(resource.RUSAGE_SELF)
print(elapsed, summary.inserted, usage.ru_maxrss, usage.ru_utime + usage.ru_stime)
"""


def native_sql() -> str:
    """DuckDB's own ``read_json`` into a table of the same columns as ``invocations``.

    DuckDB's reader parses the same fields ours does, typed, and the projection computes the same
    columns with the same kind of expressions (identity split, UTC timestamps). Its reader cannot
    type the response body, which is an object in some records and an array in others (it stops on
    the first mismatch), so the body-derived columns (stop reason, latency, 1-hour cache writes)
    are left NULL: the baseline does slightly *less* work than ours, never more.
    """
    from bedrock_explorer import records

    cols = ", ".join(records.INVOCATION_COLUMNS)
    return f"""
CREATE TABLE native AS SELECT {cols} FROM (
SELECT
    requestId AS request_id,
    CAST(timestamp AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS ts,
    accountId AS account_id, region, inferenceRegion AS inference_region, operation,
    modelId AS model_id, identity.arn AS identity_arn,
    regexp_extract(identity.arn, '^arn:aws[a-z-]*:(?:iam|sts)::([^:]*):([a-z-]+)(?:/(.*))?$',
                   2) AS principal_type,
    regexp_extract(identity.arn, '^arn:aws[a-z-]*:(?:iam|sts)::([^:]*):', 1) AS principal_account,
    split_part(split_part(identity.arn, ':', 6), '/', 2) AS principal_name,
    split_part(split_part(identity.arn, ':', 6), '/', 3) AS session_name,
    coalesce(input.inputTokenCount, 0) AS input_tokens,
    coalesce(output.outputTokenCount, 0) AS output_tokens,
    coalesce(input.cacheReadInputTokenCount, 0) AS cache_read_tokens,
    coalesce(input.cacheWriteInputTokenCount, 0) AS cache_write_tokens,
    0 AS cache_write_1h_tokens,
    input.inputBodyJson.imageGenerationConfig.numberOfImages AS image_count,
    CASE WHEN input.inputBodyJson.performanceConfig.latency = 'optimized'
         THEN 'latency_optimized' ELSE 'standard' END AS performance_tier,
    CAST(NULL AS VARCHAR) AS stop_reason,
    CASE WHEN errorCode IS NOT NULL THEN 'error' ELSE 'success' END AS outcome,
    errorCode AS error_code,
    CAST(NULL AS BIGINT) AS latency_ms,
    CAST(NULL AS BIGINT) AS first_byte_latency_ms,
    input.inputBodyS3Path IS NOT NULL AS body_offloaded,
    requestMetadata AS request_metadata,
    schemaVersion AS schema_version,
    input.inputBodyJson.imageGenerationConfig.quality AS image_quality,
    input.inputBodyJson.imageGenerationConfig.width
        * input.inputBodyJson.imageGenerationConfig.height AS image_pixels
FROM read_json($path, format = 'newline_delimited', columns = {{
    schemaVersion: 'VARCHAR', timestamp: 'VARCHAR', accountId: 'VARCHAR', region: 'VARCHAR',
    requestId: 'VARCHAR', operation: 'VARCHAR', modelId: 'VARCHAR', inferenceRegion: 'VARCHAR',
    errorCode: 'VARCHAR', identity: 'STRUCT(arn VARCHAR)',
    requestMetadata: 'MAP(VARCHAR, VARCHAR)',
    input: 'STRUCT(inputTokenCount BIGINT, cacheReadInputTokenCount BIGINT,
                   cacheWriteInputTokenCount BIGINT, inputBodyS3Path VARCHAR,
                   inputBodyJson STRUCT(imageGenerationConfig STRUCT(numberOfImages INTEGER,
                                                                     quality VARCHAR,
                                                                     width BIGINT, height BIGINT),
                                        performanceConfig STRUCT(latency VARCHAR)))',
    output: 'STRUCT(outputTokenCount BIGINT, outputBodyS3Path VARCHAR)'
}}))
"""


NATIVE = """
import resource, sys, time, duckdb
sql = open(sys.argv[3]).read()
t = time.perf_counter()
con = duckdb.connect(sys.argv[1])
con.execute("SET enable_progress_bar = false")
con.execute("SET TimeZone = 'UTC'")
con.execute(sql, {"path": sys.argv[2]})
n = con.execute("SELECT count(*) FROM native").fetchall()[0][0]
con.close()
elapsed = time.perf_counter() - t
usage = resource.getrusage(resource.RUSAGE_SELF)
print(elapsed, n, usage.ru_maxrss, usage.ru_utime + usage.ru_stime)
"""


def run(code: str, db: Path, data: Path) -> tuple[float, int, int, float]:
    for suffix in ("", ".wal"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    sql_file = OUT / "native.sql"
    sql_file.write_text(native_sql())
    out = subprocess.run(
        [sys.executable, "-c", code, str(db), str(data), str(sql_file)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout.split()
    return float(out[0]), int(out[1]), int(out[2]) * 1024, float(out[3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the databases in bench/out")
    parser.add_argument("--repeat", type=int, default=3, help="runs per path; the fastest counts")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    data = OUT / f"ingest-{args.records}.jsonl.gz"
    if not data.exists():
        t = time.perf_counter()
        build_file(data, args.records)
        print(f"built {data.name} in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    with gzip.open(data, "rt") as fh:
        sample = [len(next(fh)) for _ in range(1000)]
    rows = []
    for name, code in (("native read_json", NATIVE), ("bedrock-explorer import", OURS)):
        best = None
        for _ in range(args.repeat):
            result = run(code, OUT / f"ingest-{name.split()[0]}.duckdb", data)
            best = result if best is None or result[0] < best[0] else best
        seconds, count, rss, cpu = best
        rows.append((name, count, seconds, count / seconds, rss, cpu))
    native_rate, native_cpu = rows[0][3], rows[0][5]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, duckdb {__import__('duckdb').__version__}; "
        f"best of {args.repeat}"
    )
    print(
        f"file: {args.records:,} records, {data.stat().st_size / 1e6:.0f} MB gzip, "
        f"mean record {sum(sample) / len(sample):.0f} bytes"
    )
    print(
        "| path                     |   records | seconds | records/s | peak RSS | CPU s "
        "| vs native (wall) | vs native (CPU) |"
    )
    print(
        "|--------------------------|----------:|--------:|----------:|---------:|------:"
        "|-----------------:|----------------:|"
    )
    for name, count, seconds, rate, rss, cpu in rows:
        print(
            f"| {name:<24} | {count:>9,} | {seconds:>7.1f} | {rate:>9,.0f} | "
            f"{rss / 2**20:>5.0f} MB | {cpu:>5.1f} | {rate / native_rate:>15.2f}x | "
            f"{native_cpu / cpu:>14.2f}x |"
        )
    if not args.keep:
        for p in OUT.glob("ingest-*.duckdb*"):
            p.unlink()


if __name__ == "__main__":
    main()
