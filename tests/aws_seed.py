"""Seed a (moto) AWS account with invocation logs the way Bedrock delivers them.

Used by the sync tests, the end-to-end tests and ``bench/sync.py``: the same records go to a
CloudWatch log group (PutLogEvents, in Bedrock's batches) and to an S3 delivery layout, so both
syncs can be compared with each other and with totals computed from the records themselves.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import random
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bedrock_explorer.synthetic import RecordSpec, make_line

LOG_GROUP = "/aws/bedrock/modelinvocations"
ACCOUNT = "123456789012"
MODELS = (
    "us.anthropic.claude-3-5-haiku-20241022-v1:0",
    "anthropic.claude-3-haiku-20240307-v1:0",
    "amazon.nova-lite-v1:0",
    "amazon.nova-pro-v1:0",
)
TEAMS = ("search", "support", "finance")
_PUT_MAX_EVENTS = 10_000
_PUT_MAX_BYTES = 900_000  # PutLogEvents allows 1,048,576 bytes incl. 26 per event


@dataclass
class Seeded:
    """What was seeded: the records' specs and raw lines, in time order."""

    specs: list[RecordSpec] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def totals(self) -> dict[str, int]:
        return {
            "invocations": len(self.specs),
            "input_tokens": sum(s.input_tokens for s in self.specs),
            "output_tokens": sum(s.output_tokens for s in self.specs),
        }


def make_records(
    count: int,
    *,
    start: datetime,
    end: datetime,
    seed: int = 7,
    region: str = "us-east-1",
    models: tuple[str, ...] = MODELS,
    padding: int = 0,
) -> Seeded:
    """``count`` records spread evenly at random over [start, end), sorted by time."""
    rng = random.Random(seed)
    span = (end - start).total_seconds()
    moments = sorted(start + timedelta(seconds=rng.random() * span) for _ in range(count))
    seeded = Seeded()
    for i, ts in enumerate(moments):
        spec = RecordSpec(
            request_id=str(uuid.UUID(int=rng.getrandbits(128))),
            ts=ts.replace(microsecond=0),
            model_id=models[i % len(models)],
            account_id=ACCOUNT,
            region=region,
            identity_arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/app-{i % 3}/session-{i % 7}",
            input_tokens=rng.randint(50, 4000),
            output_tokens=rng.randint(10, 900),
            request_metadata={"team": TEAMS[i % len(TEAMS)]},
            padding="x" * padding,
        )
        seeded.specs.append(spec)
        seeded.lines.append(make_line(spec))
    return seeded


def _chunks(specs: list[RecordSpec], lines: list[str]) -> Iterable[list[dict[str, Any]]]:
    """PutLogEvents batches: time-ordered, ≤ 10,000 events, ≤ ~1 MB, within 24 hours."""
    batch: list[dict[str, Any]] = []
    size = 0
    for spec, text in zip(specs, lines, strict=True):
        ms = int(spec.ts.timestamp() * 1000)
        too_long = batch and ms - batch[0]["timestamp"] >= 23 * 3600 * 1000
        if batch and (
            len(batch) >= _PUT_MAX_EVENTS or size + len(text) > _PUT_MAX_BYTES or too_long
        ):
            yield batch
            batch, size = [], 0
        batch.append({"timestamp": ms, "message": text})
        size += len(text) + 26
    if batch:
        yield batch


def seed_log_group(
    logs: Any, seeded: Seeded, group: str = LOG_GROUP, streams: int = 2, create: bool = True
) -> None:
    """Put the records into a log group, spread over a few streams like Bedrock's."""
    if create:
        logs.create_log_group(logGroupName=group)
    names = [f"aws/bedrock/modelinvocations/{n}" for n in range(streams)]
    for name in names:
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_stream(logGroupName=group, logStreamName=name)
    by_stream: dict[str, tuple[list[RecordSpec], list[str]]] = defaultdict(lambda: ([], []))
    for i, (spec, text) in enumerate(zip(seeded.specs, seeded.lines, strict=True)):
        specs, lines = by_stream[names[i % streams]]
        specs.append(spec)
        lines.append(text)
    for name, (specs, lines) in by_stream.items():
        for batch in _chunks(specs, lines):
            logs.put_log_events(logGroupName=group, logStreamName=name, logEvents=batch)


def delivery_key(prefix: str, region: str, hour: datetime, n: int) -> str:
    folder = f"{prefix}AWSLogs/{ACCOUNT}/BedrockModelInvocationLogs/{region}/{hour:%Y/%m/%d/%H}"
    return f"{folder}/{hour:%Y%m%dT%H%M%SZ}_{n:04d}.json.gz"


def seed_bucket(
    s3: Any,
    seeded: Seeded,
    bucket: str,
    prefix: str = "",
    region: str = "us-east-1",
    create: bool = True,
    records_per_object: int = 500,
) -> list[str]:
    """Write the records as Bedrock's S3 delivery: gzip NDJSON per hour folder, plus the
    permission-check marker and a ``data/`` body that a sync must skip. Returns the log keys."""
    if create:
        s3.create_bucket(Bucket=bucket)
    base = f"{prefix}AWSLogs/{ACCOUNT}/BedrockModelInvocationLogs/"
    s3.put_object(Bucket=bucket, Key=base + "amazon-bedrock-logs-permission-check", Body=b"")
    by_hour: dict[datetime, list[str]] = defaultdict(list)
    for spec, text in zip(seeded.specs, seeded.lines, strict=True):
        by_hour[spec.ts.astimezone(UTC).replace(minute=0, second=0, microsecond=0)].append(text)
    keys = []
    for hour, lines in sorted(by_hour.items()):
        for n, start in enumerate(range(0, len(lines), records_per_object)):
            body = ("\n".join(lines[start : start + records_per_object]) + "\n").encode()
            key = delivery_key(prefix, region, hour, n)
            s3.put_object(Bucket=bucket, Key=key, Body=gzip.compress(body))
            keys.append(key)
    data_key = f"{base}{region}/data/{uuid.uuid4()}/input/1.json.gz"
    s3.put_object(Bucket=bucket, Key=data_key, Body=gzip.compress(json.dumps({}).encode()))
    return keys
