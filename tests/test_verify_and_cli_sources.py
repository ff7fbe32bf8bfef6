"""The connection test and the ``integrations`` / ``sync`` commands, against moto in process."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from bedrock_explorer.cli import main
from bedrock_explorer.sources.cloudwatch.settings import CloudWatchSettings
from bedrock_explorer.sources.s3.settings import S3Settings
from bedrock_explorer.sources.settings import Auth, RemoteSettings
from bedrock_explorer.store import Store
from bedrock_explorer.verify import FAIL, PASS, SKIP, WARN, check_connection
from tests.aws_seed import LOG_GROUP, make_records, seed_bucket, seed_log_group
from tests.clock import NOW

BUCKET = "bedrock-logs-archive"


@pytest.fixture
def account(aws_env: None) -> None:
    records = make_records(400, start=NOW - timedelta(days=3), end=NOW - timedelta(minutes=5))
    seed_log_group(boto3.client("logs", region_name="us-east-1"), records)
    seed_bucket(boto3.client("s3", region_name="us-east-1"), records, BUCKET, "bedrock/")


def _logging_on(log_group: str | None = LOG_GROUP, text: bool = True) -> None:
    config: dict[str, Any] = {"textDataDeliveryEnabled": text}
    if log_group:
        config["cloudWatchConfig"] = {
            "logGroupName": log_group,
            "roleArn": "arn:aws:iam::123456789012:role/BedrockLogging",
        }
    config["s3Config"] = {"bucketName": BUCKET, "keyPrefix": "bedrock"}
    boto3.client("bedrock", region_name="us-east-1").put_model_invocation_logging_configuration(
        loggingConfig=config
    )


def _statuses(report: Any) -> dict[str, str]:
    return {c.name: c.status for c in report.checks}


def cw(group: str = LOG_GROUP, **kw: Any) -> RemoteSettings:
    return CloudWatchSettings(region="us-east-1", log_group=group, **kw)


def test_everything_right_passes_and_reports_the_newest_event(account: None) -> None:
    _logging_on()
    report = check_connection(cw())
    assert _statuses(report) == {
        "AWS credentials": PASS,
        "Model invocation logging": PASS,
        "Log group": PASS,
        "Sample record": PASS,
    }, report.checks
    assert report.ok and report.logging and report.logging.log_group == LOG_GROUP
    assert report.newest_event and NOW - report.newest_event < timedelta(hours=1)
    sample = report.checks[-1].message
    assert "Converse on " in sample


def test_logging_off_fails_with_how_to_turn_it_on(account: None) -> None:
    report = check_connection(cw())
    check = report.checks[1]
    assert check.status == FAIL and "off in us-east-1" in check.message
    assert "Settings → Model invocation logging" in check.fix
    assert not report.ok


def test_logging_to_another_group_or_without_text_warns(account: None) -> None:
    _logging_on(log_group="/aws/bedrock/other", text=False)
    check = check_connection(cw()).checks[1]
    assert check.status == WARN
    assert "not to /aws/bedrock/modelinvocations" in check.message
    assert "text delivery is off" in check.message
    assert "/aws/bedrock/other" in check.fix


def test_a_typo_in_the_log_group_is_caught_with_a_suggestion(account: None) -> None:
    _logging_on()
    report = check_connection(cw("/aws/bedrock/modelinvocation"))
    statuses = _statuses(report)
    assert statuses["Log group"] == FAIL and statuses["Sample record"] == SKIP
    assert report.suggestions == [LOG_GROUP]
    assert LOG_GROUP in report.checks[2].fix


def test_no_credentials_fail_first_and_skip_the_rest(
    account: None, no_aws_credentials: None
) -> None:
    report = check_connection(cw())
    assert report.checks[0].status == FAIL and "No AWS credentials" in report.checks[0].message
    assert [c.status for c in report.checks[1:]] == [SKIP, SKIP, SKIP]


def test_bad_settings_are_explained_before_any_call(aws_env: None) -> None:
    report = check_connection(CloudWatchSettings(region="us-east-1", log_group="a b"))
    assert (
        report.checks[0].status == FAIL and "not a valid log group name" in report.checks[0].message
    )
    bad_role = cw(auth=Auth("role", role_arn="arn:aws:iam::12:role/x"))
    assert "not an IAM role ARN" in check_connection(bad_role).checks[0].message


def test_s3_source_checks(account: None) -> None:
    _logging_on()
    good = S3Settings(region="us-east-1", bucket=BUCKET, prefix="bedrock/")
    report = check_connection(good)
    assert _statuses(report)["Bucket and prefix"] == PASS and report.ok, report.checks
    assert _statuses(report)["Model invocation logging"] == PASS
    wrong_prefix = S3Settings(region="us-east-1", bucket=BUCKET, prefix="logs")
    report = check_connection(wrong_prefix)
    assert _statuses(report)["Bucket and prefix"] == FAIL
    assert "prefix" in report.checks[2].fix


# -- CLI ----------------------------------------------------------------------------------------


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_add_test_sync_list_show_remove(
    account: None, capsys: pytest.CaptureFixture[str], db_path: Path
) -> None:
    _logging_on()
    db = ["--db", str(db_path)]
    code, out, _ = _run(
        capsys, *db, "integrations", "add", "prod", "--log-group", LOG_GROUP, "--region",
        "us-east-1", "--first-sync-days", "7",
    )  # fmt: skip
    assert code == 0 and "ok   Log group" in out and "Saved 'prod'" in out
    code, out, _ = _run(capsys, *db, "integrations", "test", "prod")
    assert code == 0 and out.count("ok  ") == 4
    code, out, _ = _run(capsys, *db, "sync", "prod")
    assert code == 0 and "400 new invocations" in out
    code, out, _ = _run(capsys, *db, "sync", "--all", "--json")
    assert code == 0 and json.loads(out)[0]["inserted"] == 0
    code, out, _ = _run(capsys, *db, "integrations", "list", "--json")
    (row,) = json.loads(out)
    assert row["status"] == "Active" and row["invocations"] == 400
    assert row["source"] == f"CloudWatch Logs {LOG_GROUP} (us-east-1)"
    code, out, _ = _run(capsys, *db, "integrations", "show", "prod")
    assert code == 0 and "default credentials" in out and "400" in out
    code, _, err = _run(capsys, *db, "integrations", "remove", "prod")
    assert code == 1 and "--yes" in err and "400 invocations" in err
    code, out, _ = _run(capsys, *db, "integrations", "remove", "prod", "--yes")
    assert code == 0 and "400 invocations" in out
    with Store(db_path) as store:
        assert store.list_integrations() == []


def test_cli_add_refuses_a_failing_source_unless_told(
    account: None, capsys: pytest.CaptureFixture[str], db_path: Path
) -> None:
    db = ["--db", str(db_path)]
    argv = [*db, "integrations", "add", "typo", "--log-group", "/aws/bedrock/modelinvocation",
            "--region", "us-east-1"]  # fmt: skip
    code, out, err = _run(capsys, *argv)
    assert code == 1 and "did you mean" in out and "Not saved" in err
    code, _, _ = _run(capsys, *argv, "--skip-test")
    assert code == 0
    code, _, err = _run(capsys, *db, "sync", "typo")
    assert code == 1 and "error: typo: There is no log group" in err
    code, out, _ = _run(capsys, *db, "integrations", "list", "--json")
    assert json.loads(out)[0]["status"] == "Error"


def test_cli_sync_exit_code_reflects_any_failure(
    account: None, capsys: pytest.CaptureFixture[str], db_path: Path
) -> None:
    db = ["--db", str(db_path)]
    _run(capsys, *db, "integrations", "add", "good", "--bucket", BUCKET, "--prefix", "bedrock",
         "--region", "us-east-1", "--skip-test")  # fmt: skip
    _run(capsys, *db, "integrations", "add", "bad", "--bucket", "missing-bucket-x",
         "--region", "us-east-1", "--skip-test")  # fmt: skip
    code, out, err = _run(capsys, *db, "sync", "--all")
    assert code == 1
    assert "good: " in out and "400 new invocations" in out
    assert "error: bad: There is no bucket" in err
    code, _, err = _run(capsys, *db, "sync")
    assert code == 1 and "--all" in err


@pytest.mark.parametrize(
    ("operation", "statuses", "ok"),
    [
        # listing is only helpful: the sample (read as the sync reads) still decides
        ("logs.DescribeLogGroups", {"Log group": WARN, "Sample record": PASS}, True),
        ("logs.FilterLogEvents", {"Log group": PASS, "Sample record": FAIL}, False),
    ],
)
def test_the_connection_test_needs_exactly_what_the_sync_needs(
    account: None, operation: str, statuses: dict[str, str], ok: bool
) -> None:
    from tests.test_sync import faulty_session

    _logging_on()
    denied = faulty_session(operation, "AccessDeniedException", lambda n: True)
    report = check_connection(cw(), session_factory=denied, now=NOW)
    got = {k: v for k, v in _statuses(report).items() if k in statuses}
    assert got == statuses, report.checks
    assert report.ok == ok
    text = " ".join(f"{c.message} {c.fix}" for c in report.checks)
    assert "GetLogEvents" not in text and "DescribeLogStreams" not in text
