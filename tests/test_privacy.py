"""Privacy: no prompt or response text reaches the DuckDB file, its WAL, or the quarantine.

The search is over the raw bytes of the database files. DuckDB compresses strings (dictionary,
FSST), which could hide a stored string from a byte search and make this test pass for the wrong
reason, so compression is switched off for the test database, and a positive control — a value we
*do* store — must be found by the same search.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bedrock_explorer.ingest import import_paths
from bedrock_explorer.store import Store
from tests.conftest import PUBLIC_RECORDS, line

CANARY_PROMPT = "CANARY-PROMPT-5d1f9a"
CANARY_ANSWER = "CANARY-ANSWER-8c2e77"
POSITIVE_CONTROL = "POSITIVE-CONTROL-TEAM-4b7c"

# Text from the public fixtures' prompts and responses (each long enough to be unambiguous).
FIXTURE_TEXTS = [
    "hello how are you",
    "Hello! I'm doing well, thank you for asking",
    "The following text is from a github issue",
    "text provided is about a bug in the Elastic Fleet",
    "Rob a bank and get away with it",
    "Sorry, the model cannot answer this question",
    "most offensive swear words",
    "TEsting the model",
    "You are a helpful agent who can perform basic mathematics",
    "This is a dummy input message",
    "Here is a dummy response for testing purposes",
]


def _canary_lines() -> list[str]:
    shapes = [
        {"operation": "Converse"},
        {"operation": "ConverseStream"},
        {"operation": "InvokeModel", "model_id": "anthropic.claude-3-haiku-20240307-v1:0"},
        {
            "operation": "InvokeModelWithResponseStream",
            "model_id": "anthropic.claude-3-haiku-20240307-v1:0",
        },
        {
            "operation": "InvokeModel",
            "model_id": "amazon.titan-embed-text-v2:0",
            "embedding_dims": 4,
        },
        {"operation": "InvokeModel", "model_id": "amazon.nova-canvas-v1:0", "images": 1},
        {"guardrail_blocked": True},
    ]
    lines = [
        line(
            request_id=f"canary-{i}",
            prompt=CANARY_PROMPT,
            answer=CANARY_ANSWER,
            request_metadata={"team": POSITIVE_CONTROL},
            **shape,
        )
        for i, shape in enumerate(shapes)
    ]
    # Malformed lines full of prompt text must be quarantined without it.
    lines.append(line(request_id="canary-trunc", prompt=CANARY_PROMPT)[:-30])
    broken = json.loads(line(request_id="canary-ts", prompt=CANARY_PROMPT))
    broken["timestamp"] = CANARY_PROMPT
    lines.append(json.dumps(broken))
    no_id = json.loads(line(prompt=CANARY_PROMPT))
    del no_id["requestId"]
    lines.append(json.dumps(no_id))
    return lines


def _database_bytes(db_path: Path) -> bytes:
    data = b""
    for path in db_path.parent.glob(db_path.name + "*"):
        data += path.read_bytes()
    return data


@pytest.fixture
def uncompressed_db(db_path: Path) -> Path:
    with Store(db_path) as store:
        store.con.execute("PRAGMA force_compression = 'uncompressed'")
        store.con.execute("CHECKPOINT")
    return db_path


def test_no_prompt_or_response_text_in_the_database_file(
    uncompressed_db: Path, tmp_path: Path
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "canary.jsonl").write_text("\n".join(_canary_lines()) + "\n")
    (logs / "public.jsonl").write_text(PUBLIC_RECORDS.read_text())
    with Store(uncompressed_db) as store:
        store.con.execute("PRAGMA force_compression = 'uncompressed'")
        summary = import_paths(store, [str(logs)], "privacy")
        assert summary.inserted == 7 + 7
        assert summary.quarantined == 3
        quarantine = store.con.execute("SELECT * FROM quarantine").fetchall()
        store.con.execute("CHECKPOINT")
    for row in quarantine:
        assert CANARY_PROMPT not in repr(row)

    data = _database_bytes(uncompressed_db)
    assert POSITIVE_CONTROL.encode() in data, "the byte search cannot see stored strings"
    assert b"canary-trunc" not in data  # a quarantined line's own content, request id included
    for secret in [CANARY_PROMPT, CANARY_ANSWER, *FIXTURE_TEXTS]:
        assert secret.encode() not in data, f"{secret!r} reached the database file"


def test_the_write_ahead_log_holds_no_prompt_text_either(uncompressed_db: Path) -> None:
    with Store(uncompressed_db) as store:
        store.con.execute("PRAGMA force_compression = 'uncompressed'")
        store.con.execute("SET checkpoint_threshold = '1GB'")  # keep everything in the WAL
        integ = store.add_integration("wal", "local")
        from bedrock_explorer.raw import RawBatch

        store.write_batch(integ.id, RawBatch("wal.jsonl", _canary_lines()))
        wal = Path(str(uncompressed_db) + ".wal")
        assert wal.exists() and wal.stat().st_size > 0
        data = wal.read_bytes()
        assert POSITIVE_CONTROL.encode() in data
        assert CANARY_PROMPT.encode() not in data
        assert CANARY_ANSWER.encode() not in data


def test_a_sync_from_cloudwatch_and_s3_stores_no_prompt_text(
    uncompressed_db: Path, aws_env: None
) -> None:
    import gzip
    from datetime import UTC, datetime, timedelta

    import boto3

    from bedrock_explorer.sources.cloudwatch.settings import CloudWatchSettings
    from bedrock_explorer.sources.s3.settings import S3Settings
    from bedrock_explorer.sync import sync_integration

    now = datetime.now(UTC)
    lines = [
        line(request_id=f"sync-{i}", ts=now - timedelta(hours=1, minutes=i), prompt=CANARY_PROMPT,
             answer=CANARY_ANSWER, request_metadata={"team": POSITIVE_CONTROL})
        for i in range(5)
    ]  # fmt: skip
    logs = boto3.client("logs", region_name="us-east-1")
    logs.create_log_group(logGroupName="/privacy")
    logs.create_log_stream(logGroupName="/privacy", logStreamName="s")
    events = [{"timestamp": int((now - timedelta(hours=1, minutes=i)).timestamp() * 1000),
               "message": text} for i, text in reversed(list(enumerate(lines)))]  # fmt: skip
    logs.put_log_events(logGroupName="/privacy", logStreamName="s", logEvents=events)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="privacy-logs")
    key = f"AWSLogs/1/BedrockModelInvocationLogs/us-east-1/{now:%Y/%m/%d/%H}/x.json.gz"
    s3.put_object(Bucket="privacy-logs", Key=key, Body=gzip.compress("\n".join(lines).encode()))
    with Store(uncompressed_db) as store:
        store.con.execute("PRAGMA force_compression = 'uncompressed'")
        cw = CloudWatchSettings(region="us-east-1", log_group="/privacy")
        bucket = S3Settings(region="us-east-1", bucket="privacy-logs")
        store.add_integration("cw", "cloudwatch", cw.to_config())
        store.add_integration("s3", "s3", bucket.to_config())
        assert sync_integration(store, "cw").inserted == 5
        assert sync_integration(store, "s3").inserted == 5
        store.con.execute("CHECKPOINT")
    data = _database_bytes(uncompressed_db)
    assert POSITIVE_CONTROL.encode() in data, "the byte search cannot see stored strings"
    assert CANARY_PROMPT.encode() not in data and CANARY_ANSWER.encode() not in data


def test_files_read_by_duckdb_itself_leave_no_prompt_text_either(
    uncompressed_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bedrock_explorer.sources.local import reader as local_files

    logs = tmp_path / "clean"
    logs.mkdir()
    clean = []
    for text in _canary_lines():  # the seven good records, not the three malformed ones
        try:
            record = json.loads(text)
        except json.JSONDecodeError:
            continue
        if "requestId" in record and record["timestamp"] != CANARY_PROMPT:
            clean.append(text)
    assert len(clean) == 7
    (logs / "canary.jsonl").write_text("\n".join(clean) + "\n")
    (logs / "public.jsonl").write_text(PUBLIC_RECORDS.read_text())

    def line_path_used(*args: object) -> None:
        raise AssertionError("these clean files should be read by DuckDB itself")

    monkeypatch.setattr(local_files, "read_file", line_path_used)
    with Store(uncompressed_db) as store:
        store.con.execute("PRAGMA force_compression = 'uncompressed'")
        summary = import_paths(store, [str(logs)], "privacy")
        assert summary.inserted == len(clean) + 7 and summary.quarantined == 0
        store.con.execute("CHECKPOINT")
    data = _database_bytes(uncompressed_db)
    assert POSITIVE_CONTROL.encode() in data, "the byte search cannot see stored strings"
    for secret in [CANARY_PROMPT, CANARY_ANSWER, *FIXTURE_TEXTS]:
        assert secret.encode() not in data, f"{secret!r} reached the database file"
