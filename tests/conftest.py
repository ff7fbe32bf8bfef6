"""Shared test fixtures: a fresh database per test, the public fixture records, line builders."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
import time_machine
from moto import mock_aws

from bedrock_explorer.store import Store
from bedrock_explorer.synthetic import RecordSpec, make_line
from tests.clock import NOW
from tests.iam_samples import CLASSIC, TRUST

FIXTURES = Path(__file__).parent / "fixtures"
PUBLIC_RECORDS = FIXTURES / "invocation-logs-public.jsonl"


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    """Every in-process test runs at :data:`tests.clock.NOW` (see there why). The end-to-end
    tests override this: their server is another process, on the real clock."""
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "explorer.duckdb"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    with Store(db_path) as s:
        yield s


@pytest.fixture
def public_lines() -> list[str]:
    return PUBLIC_RECORDS.read_text().splitlines()


@pytest.fixture
def no_aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No credentials anywhere botocore looks: environment, files, instance metadata."""
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(autouse=True)
def _isolated_db_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may touch the user's real database."""
    monkeypatch.setenv("BEDROCK_EXPLORER_DB", str(tmp_path / "env-default.duckdb"))


def line(**overrides: object) -> str:
    """A valid invocation log line; keyword arguments override RecordSpec fields."""
    fields: dict[str, object] = {
        "request_id": "req-1",
        "ts": datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC),
        "model_id": "amazon.nova-lite-v1:0",
    }
    fields.update(overrides)
    return make_line(RecordSpec(**fields))  # type: ignore[arg-type]


def raw(record: dict[str, object]) -> str:
    return json.dumps(record)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Dummy credentials and moto in process: no test reaches a real AWS endpoint."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield


@pytest.fixture
def moto_iam(aws_env: None) -> object:
    """moto IAM with the role ``Nops-Integration-Prod`` carrying the classic inline policy."""
    iam = boto3.client("iam", region_name="us-east-1")
    iam.create_role(RoleName="Nops-Integration-Prod", AssumeRolePolicyDocument=TRUST)
    iam.put_role_policy(
        RoleName="Nops-Integration-Prod",
        PolicyName="NopsIntegrationPolicy",
        PolicyDocument=json.dumps(CLASSIC),
    )
    return iam


@contextmanager
def held_by_another_process(path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process with the DuckDB file open (as a cron ``sync`` would have) until exit."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import duckdb, sys
            con = duckdb.connect({str(path)!r})
            print("held", flush=True)
            sys.stdin.read()
        """),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.communicate("")
