"""Sync benchmark: our CloudWatch and S3 syncs against bare boto3 loops, on ``moto_server``.

    python bench/sync.py [--events 50000] [--days 10] [--runs 3]

Starts ``moto_server`` on a free loopback port, seeds one log group and the same records in an
S3 delivery layout (gzip NDJSON per hour folder), then, in the same run and alternating:

* *bare CloudWatch*: a boto3 ``FilterLogEvents`` paginator over the whole log group, keeping each
  page's messages (nothing parsed, nothing stored);
* *our CloudWatch sync*: ``sync_integration`` into a fresh DuckDB file: time slices fetched
  concurrently, every record parsed and stored, checkpoints committed;
* *bare S3*: ``list_objects_v2`` + ``get_object`` + gunzip of every log object, one at a time;
* *our S3 sync*: ``sync_integration`` of the same objects (parallel fetches, parse, store).

moto has no request quota, so ours runs without its 5 requests/s limiter (``--quota`` adds a run
with it, which is what real AWS allows). Prints medians and the ratio ours / bare.

On loopback a request costs only CPU, which moto and our parser share on the same cores; real S3
answers a GET in tens of milliseconds. ``--latency-ms N`` adds a bare S3 loop and an S3 sync in
which every request first waits N ms (a botocore ``before-send`` handler that sleeps, in both),
to show the regime a real bucket is in.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import boto3
from isal import igzip

from bedrock_explorer.sources.cloudwatch.settings import CloudWatchSettings
from bedrock_explorer.sources.s3 import reader as s3_source
from bedrock_explorer.sources.s3.settings import S3Settings
from bedrock_explorer.sources.settings import RemoteSettings
from bedrock_explorer.store import Store
from bedrock_explorer.sync import default_session, sync_integration
from tests.aws_seed import LOG_GROUP, make_records, seed_bucket, seed_log_group

BUCKET = "bedrock-logs-bench"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    exe = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or "moto_server"
    proc = subprocess.Popen(
        [exe, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1).close()
            return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("moto_server did not start")


def bare_cloudwatch() -> int:
    logs = boto3.client("logs", region_name="us-east-1")
    messages: list[str] = []
    for page in logs.get_paginator("filter_log_events").paginate(logGroupName=LOG_GROUP):
        messages.extend(e["message"] for e in page["events"])
    return len(messages)


def _delayed(events: Any, latency_ms: float) -> None:
    """Every request of a client made from ``events`` first waits ``latency_ms`` (network time)."""
    if latency_ms:
        events.register("before-send", lambda **_: time.sleep(latency_ms / 1000))


def bare_s3(latency_ms: float = 0) -> int:
    client = boto3.client("s3", region_name="us-east-1")
    _delayed(client.meta.events, latency_ms)
    lines = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for obj in page.get("Contents", []):
            if s3_source.is_log_key(obj["Key"]):
                body = client.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read()
                # The bare loop gunzips with ISA-L in one call, as the sync did before it
                # streamed objects in bounded steps (``s3.inflate_bounded``).
                data = igzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
                lines += data.count(b"\n")
    return lines


def _session_with_latency(latency_ms: float) -> Callable[[RemoteSettings], boto3.Session]:
    def factory(settings: RemoteSettings) -> boto3.Session:
        session = default_session(settings)
        _delayed(session.events, latency_ms)
        return session

    return factory


def ours(kind: str, days: int, rps: float, latency_ms: float = 0) -> tuple[float, int]:
    """Time one sync into a fresh database whose schema and price catalogue already exist
    (created untimed: a one-off cost of a new file, not of syncing)."""
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "bench.duckdb") as store:
        if kind == "cloudwatch":
            settings: RemoteSettings = CloudWatchSettings(
                region="us-east-1", log_group=LOG_GROUP, first_sync_days=days + 1
            )
        else:
            settings = S3Settings(region="us-east-1", bucket=BUCKET, first_sync_days=days + 1)
        store.add_integration("bench", kind, settings.to_config())
        started = time.perf_counter()
        summary = sync_integration(
            store,
            "bench",
            requests_per_second=rps,
            session_factory=_session_with_latency(latency_ms),
        )
        return time.perf_counter() - started, summary.inserted


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    started = time.perf_counter()
    count = fn()
    return time.perf_counter() - started, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--days", type=int, default=10, help="spread (moto refuses > 14 days)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quota", action="store_true", help="also run ours at 5 requests/s")
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0,
        help="also run both S3 paths with this network time added to every request",
    )
    args = parser.parse_args()

    proc, url = _start_moto()
    os.environ.update(
        AWS_ENDPOINT_URL=url,
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
    )
    try:
        now = datetime.now(UTC)
        records = make_records(
            args.events, start=now - timedelta(days=args.days), end=now - timedelta(minutes=5)
        )
        seed_log_group(boto3.client("logs", region_name="us-east-1"), records)
        keys = seed_bucket(boto3.client("s3", region_name="us-east-1"), records, BUCKET)
        del records
        paths: dict[str, Callable[[], tuple[float, int]]] = {
            "bare CloudWatch FilterLogEvents loop": lambda: timed(bare_cloudwatch),
            "our CloudWatch sync (no quota)": lambda: ours("cloudwatch", args.days, 0),
            "bare S3 list + get + gunzip loop": lambda: timed(bare_s3),
            "our S3 sync": lambda: ours("s3", args.days, 0),
        }
        if args.quota:
            paths["our CloudWatch sync (5 requests/s)"] = lambda: ours("cloudwatch", args.days, 5.0)
        if args.latency_ms:
            late = f"+{args.latency_ms:g} ms a request"
            paths[f"bare S3 loop, {late}"] = lambda: timed(lambda: bare_s3(args.latency_ms))
            paths[f"our S3 sync, {late}"] = lambda: ours("s3", args.days, 0, args.latency_ms)
        times: dict[str, list[float]] = {name: [] for name in paths}
        counts: dict[str, int] = {}
        for _ in range(args.runs):
            for name, fn in paths.items():
                seconds, count = fn()
                times[name].append(seconds)
                counts[name] = count
    finally:
        proc.terminate()
        proc.wait()

    print(
        f"\n{args.events:,} records over {args.days} days, {len(keys):,} S3 objects; "
        f"median of {args.runs}; {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}\n"
    )
    print(f"| {'path':<38} | records | seconds | records/s | vs bare |")
    print(f"|{'-' * 40}|--------:|--------:|----------:|--------:|")
    bare = {"CloudWatch": 0.0, "S3": 0.0}
    for name in paths:
        median = statistics.median(times[name])
        rate = counts[name] / median
        family = "CloudWatch" if "CloudWatch" in name else "S3"
        if name.startswith("bare"):
            bare[family] = rate
        ratio = rate / bare[family] if bare[family] else float("nan")
        print(
            f"| {name:<38} | {counts[name]:>7,} | {median:>7.2f} | {rate:>9,.0f} | {ratio:>6.2f}x |"
        )


if __name__ == "__main__":
    main()
