"""Sync end to end over HTTP: the CLI against ``moto_server`` with 50,000 invocation records.

One account, seeded once for the module: a log group with 50,000 records over ten days and the
same records in an S3 delivery layout. The CLI runs as a real process (as cron would run it), and
one run of each source is killed with SIGKILL right after it committed its first rows, then
resumed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from bedrock_explorer.store import Store
from tests.aws_seed import LOG_GROUP, Seeded, make_records, seed_bucket, seed_log_group
from tests.e2e.conftest import ROOT, free_port, wait_http

RECORDS = 50_000
BUCKET = "bedrock-logs-e2e"


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], Seeded]]:
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto_server.log"
    moto_bin = Path(sys.executable).parent / "moto_server"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(moto_bin), "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=out
        )
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    try:
        wait_http(f"http://127.0.0.1:{port}/moto-api/", proc, log)
        kw = {
            "region_name": "us-east-1",
            "endpoint_url": env["AWS_ENDPOINT_URL"],
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
        now = datetime.now(UTC)
        seeded = make_records(
            RECORDS, start=now - timedelta(days=10), end=now - timedelta(minutes=5)
        )
        seed_log_group(boto3.client("logs", **kw), seeded)
        seed_bucket(boto3.client("s3", **kw), seeded, BUCKET, "bedrock/")
        boto3.client("bedrock", **kw).put_model_invocation_logging_configuration(
            loggingConfig={
                "cloudWatchConfig": {
                    "logGroupName": LOG_GROUP,
                    "roleArn": "arn:aws:iam::123456789012:role/BedrockLogging",
                },
                "s3Config": {"bucketName": BUCKET, "keyPrefix": "bedrock"},
                "textDataDeliveryEnabled": True,
            }
        )
        yield env, seeded
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def cli(env: dict[str, str], db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bedrock_explorer", "--db", str(db), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def totals(db: Path, name: str) -> dict[str, int]:
    with Store(db, read_only=True) as store:
        count, distinct, tokens_in, tokens_out = store.con.execute(
            "SELECT count(*), count(DISTINCT request_id), sum(input_tokens), sum(output_tokens) "
            "FROM invocations JOIN integrations i ON i.id = integration_id WHERE i.name = ?",
            [name],
        ).fetchall()[0]
    assert count == distinct, "an invocation is stored twice"
    return {
        "invocations": count,
        "input_tokens": int(tokens_in or 0),
        "output_tokens": int(tokens_out or 0),
    }


def test_cloudwatch_and_s3_syncs_store_all_50k_records(
    aws: tuple[dict[str, str], Seeded], tmp_path: Path
) -> None:
    env, seeded = aws
    db = tmp_path / "e2e.duckdb"
    added = cli(env, db, "integrations", "add", "cw", "--log-group", LOG_GROUP,
                "--region", "us-east-1", "--first-sync-days", "11")  # fmt: skip
    assert added.returncode == 0, added.stdout + added.stderr
    assert "ok   Sample record" in added.stdout
    added = cli(env, db, "integrations", "add", "s3", "--bucket", BUCKET, "--prefix", "bedrock",
                "--region", "us-east-1", "--first-sync-days", "11")  # fmt: skip
    assert added.returncode == 0, added.stdout + added.stderr
    synced = cli(env, db, "sync", "--all")
    assert synced.returncode == 0, synced.stderr
    assert f"{RECORDS:,} new invocations" in synced.stdout
    assert totals(db, "cw") == totals(db, "s3") == seeded.totals()
    again = cli(env, db, "sync", "--all")
    assert again.returncode == 0 and again.stdout.count(" 0 new invocations") == 2


@pytest.mark.parametrize("kind", ["cloudwatch", "s3"])
def test_a_sync_killed_mid_run_resumes_to_exactly_the_same_totals(
    aws: tuple[dict[str, str], Seeded], tmp_path: Path, kind: str
) -> None:
    env, seeded = aws
    db = tmp_path / "killed.duckdb"
    wal = Path(f"{db}.wal")
    source = (
        ["--log-group", LOG_GROUP]
        if kind == "cloudwatch"
        else ["--bucket", BUCKET, "--prefix", "bedrock"]
    )
    added = cli(env, db, "integrations", "add", kind, *source,
                "--region", "us-east-1", "--first-sync-days", "11")  # fmt: skip
    assert added.returncode == 0, added.stderr
    # Rows are committed through DuckDB's write-ahead log: once it holds more than status
    # updates (>1 MB), a batch of invocations is being or has been committed.
    proc = subprocess.Popen(
        [sys.executable, "-m", "bedrock_explorer", "--db", str(db), "sync", kind],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    # Kill between two commits: the log has grown past 1 MB and then stood still for a moment
    # (CloudWatch commits every ~2 s at 5 requests/s; S3 a few times a second).
    pause = 0.1 if kind == "cloudwatch" else 0.02
    deadline = time.monotonic() + 120
    last = -1
    while time.monotonic() < deadline and proc.poll() is None:
        size = wal.stat().st_size if wal.exists() else 0
        if size > 1_000_000 and size == last:
            break
        last = size
        time.sleep(pause)
    assert proc.poll() is None, "the sync ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = totals(db, kind)["invocations"]
    assert 0 < partial < RECORDS, partial
    listed = cli(env, db, "integrations", "list", "--json")
    assert json.loads(listed.stdout)[0]["status"] == "Interrupted"
    resumed = cli(env, db, "sync", kind)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{RECORDS - partial:,} new invocations" in resumed.stdout, resumed.stdout
    if kind == "cloudwatch":
        assert "resumed" in resumed.stdout  # the killed run's window is finished first
    else:
        assert " 0 already stored" in resumed.stdout  # objects written before are not fetched
    assert totals(db, kind) == seeded.totals()
