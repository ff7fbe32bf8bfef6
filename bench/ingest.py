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
import json
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
print(elapsed, summary.inserted, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def duck_type(t: object) -> str:
    """A ``json_transform`` structure as a DuckDB type string (for ``read_json(columns=…)``)."""
    if isinstance(t, str):
        return t
    if isinstance(t, list):
        return duck_type(t[0]) + "[]"
    assert isinstance(t, dict)
    return "STRUCT(" + ", ".join(f'"{k}" {duck_type(v)}' for k, v in t.items()) + ")"


def native_sql() -> str:
    """DuckDB's own ``read_json`` feeding *our* projection, into a table of the same columns.

    DuckDB's reader parses and types the same fields ours does, except the response body (its
    reader cannot type a field that is an object in some records and an array in others, and
    stops on the first mismatch), so the baseline does a little *less* work than we do. The row
    then goes through exactly our column expressions; the only other difference from our path is
    how lines get from the file into parsed structs.
    """
    from bedrock_explorer import records

    line_type = json.loads(json.dumps(records.LINE_TYPE))
    body_type = duck_type(line_type["output"].pop("outputBodyJson"))
    sql = records.PARSE_SQL
    start = sql.index("WITH j AS (")
    end = sql.index("),\nk AS (")
    columns = ", ".join(f"'{k}': '{duck_type(v)}'" for k, v in line_type.items())
    fields = ", ".join(f"'{k}': src.\"{k}\"" for k in line_type if k != "output")
    j = (
        "WITH j AS (SELECT CAST(NULL AS BIGINT) AS seq, CAST(NULL AS VARCHAR) AS ref, "
        f"CAST(NULL AS VARCHAR) AS line, {{{fields}, 'output': struct_insert(src.output, "
        f"outputBodyJson := CAST(NULL AS {body_type}))}} AS r "
        f"FROM read_json($path, format = 'newline_delimited', columns = {{{columns}}}) src\n"
    )
    cols = ", ".join(records.INVOCATION_COLUMNS)
    return f"CREATE TABLE native AS SELECT {cols} FROM ({sql[:start] + j + sql[end:]})"


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
print(elapsed, n, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def run(code: str, db: Path, data: Path) -> tuple[float, int, int]:
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
    return float(out[0]), int(out[1]), int(out[2]) * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the databases in bench/out")
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
        seconds, count, rss = run(code, OUT / f"ingest-{name.split()[0]}.duckdb", data)
        rows.append((name, count, seconds, count / seconds, rss))
    native_rate = rows[0][3]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, duckdb {__import__('duckdb').__version__}"
    )
    print(
        f"file: {args.records:,} records, {data.stat().st_size / 1e6:.0f} MB gzip, "
        f"mean record {sum(sample) / len(sample):.0f} bytes"
    )
    print(
        f"| {'path':<24} | {'records':>9} | {'seconds':>7} | {'records/s':>9} | "
        f"{'peak RSS':>8} | {'vs native':>9} |"
    )
    print(f"|{'-' * 26}|{'-' * 11}:|{'-' * 9}:|{'-' * 11}:|{'-' * 10}:|{'-' * 11}:|")
    for name, count, seconds, rate, rss in rows:
        print(
            f"| {name:<24} | {count:>9,} | {seconds:>7.1f} | {rate:>9,.0f} | "
            f"{rss / 2**20:>5.0f} MB | {rate / native_rate:>8.2f}x |"
        )
    if not args.keep:
        for p in OUT.glob("ingest-*.duckdb*"):
            p.unlink()
    json.dumps(rows)


if __name__ == "__main__":
    main()
