"""The Integrations page and its 4-step wizard under AppTest, against moto in process."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from streamlit.testing.v1 import AppTest

from bedrock_explorer import aws
from bedrock_explorer.iam.checker import LogGroupTarget, fix_policy_cloudwatch
from bedrock_explorer.store import Store
from tests.aws_seed import LOG_GROUP, make_records, seed_log_group
from tests.clock import NOW
from tests.iam_samples import CLASSIC, GROUP_ARN, TRUST
from tests.test_sync import faulty_session

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
ROLE_ARN = "arn:aws:iam::123456789012:role/BedrockExplorerRead"


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "page.duckdb"
    monkeypatch.setenv("BEDROCK_EXPLORER_DB", str(path))
    return path


@pytest.fixture
def account(aws_env: None) -> None:
    """A log group with 300 records, logging on, and a role that may read the logs."""
    records = make_records(300, start=NOW - timedelta(days=3), end=NOW - timedelta(minutes=5))
    seed_log_group(boto3.client("logs", region_name="us-east-1"), records)
    boto3.client("bedrock", region_name="us-east-1").put_model_invocation_logging_configuration(
        loggingConfig={
            "cloudWatchConfig": {"logGroupName": LOG_GROUP, "roleArn": ROLE_ARN},
            "textDataDeliveryEnabled": True,
        }
    )
    iam = boto3.client("iam", region_name="us-east-1")
    iam.create_role(RoleName="BedrockExplorerRead", AssumeRolePolicyDocument=TRUST)
    iam.put_role_policy(
        RoleName="BedrockExplorerRead",
        PolicyName="read",
        PolicyDocument=json.dumps(fix_policy_cloudwatch(LogGroupTarget.from_arn(GROUP_ARN))),
    )


def page() -> AppTest:
    """The Integrations page inside the app's navigation (so its links resolve)."""
    at = AppTest.from_file(APP, default_timeout=90)
    at.switch_page("pages/integrations.py")
    return at.run()


def click(at: AppTest, label: str) -> AppTest:
    button = next(b for b in at.button if b.label == label)
    return button.click().run()


def texts(at: AppTest, kind: str) -> str:
    return "\n".join(e.value for e in getattr(at, kind))


def finish_sync(at: AppTest, db: Path, name: str) -> AppTest:
    """Wait for the background sync the page started, then draw the page again."""
    from pages._common import sync_jobs

    job = sync_jobs(str(db)).wait(name, timeout=60)
    assert job is not None and not job.running
    return at.run()


def start_wizard(db: Path) -> AppTest:
    at = page()
    assert not at.exception
    click(at, "Add Bedrock integration")
    at.radio(key="wz_auth").set_value("Assume a role").run()
    at.text_input(key="wz_role").input(ROLE_ARN).run()
    return at


def test_wizard_happy_path_ends_with_a_synced_integration(db: Path, account: None) -> None:
    at = start_wizard(db)
    click(at, "Check logging configuration")
    assert not at.exception, at.exception
    assert "delivering to CloudWatch Logs log group /aws/bedrock/modelinvocations" in texts(
        at, "success"
    )
    click(at, "Next")
    assert at.text_input(key="wz_log_group_iam").value == LOG_GROUP, (
        "step 1 pre-fills the log group"
    )
    click(at, "Check permissions")
    assert "Everything Bedrock Explorer needs is allowed" in texts(at, "success")
    click(at, "Back")
    assert at.text_input(key="wz_role").value == ROLE_ARN, "Back keeps what was entered"
    click(at, "Next")
    click(at, "Next")
    with Store(db) as store:
        assert store.list_integrations() == [], "nothing is saved before step 3"
    at.text_input(key="wz_name").input("Production us-east-1").run()
    assert at.selectbox(key="wz_pick").value == LOG_GROUP
    click(at, "Save and continue")
    assert not at.error, texts(at, "error")
    assert "Sample record" in texts(at, "success")
    click(at, "Run the first sync")
    finish_sync(at, db, "Production us-east-1")
    assert "300 new invocations" in texts(at, "success")
    with Store(db) as store:
        integ = store.get_integration("Production us-east-1")
        assert integ.last_sync_status == "ok" and integ.config["auth"]["role_arn"] == ROLE_ARN
    click(at, "Done")
    assert "Production us-east-1" in texts(at, "markdown")
    assert "Active" in texts(at, "markdown")


def test_no_credentials_are_explained_in_step_one(
    db: Path, account: None, no_aws_credentials: None
) -> None:
    at = page()
    click(at, "Add Bedrock integration")
    click(at, "Check logging configuration")
    assert "No AWS credentials" in texts(at, "error") and "aws configure" in texts(at, "error")


def test_logging_off_is_shown_with_how_to_turn_it_on(db: Path, account: None) -> None:
    boto3.client("bedrock", region_name="us-east-1").delete_model_invocation_logging_configuration()
    at = start_wizard(db)
    click(at, "Check logging configuration")
    assert "**off** in us-east-1" in texts(at, "error")


def test_the_classic_deny_passes_the_wizard_and_is_kept(db: Path, account: None) -> None:
    boto3.client("iam", region_name="us-east-1").put_role_policy(
        RoleName="BedrockExplorerRead", PolicyName="classic", PolicyDocument=json.dumps(CLASSIC)
    )
    at = start_wizard(db)
    click(at, "Check logging configuration")
    click(at, "Next")
    click(at, "Check permissions")
    # the classic Deny on GetLogEvents blocks nothing the sync calls: it passes and is kept
    assert "Everything Bedrock Explorer needs is allowed" in texts(at, "success")
    table = at.dataframe[0].value
    row = table[table.action == "logs:GetLogEvents"].iloc[0]
    assert row.verdict == "explicitly denied" and row.need == "not needed"
    assert "does not do that on its own" in texts(at, "info")
    assert "Policy to attach to the role" not in [h.value for h in at.subheader]


def test_a_mistyped_log_group_is_caught_before_saving(db: Path, account: None) -> None:
    at = start_wizard(db)
    click(at, "Next")
    click(at, "Next")
    at.text_input(key="wz_name").input("prod").run()
    at.text_input(key="wz_log_group").input("/aws/bedrock/modelinvocation").run()
    click(at, "Save and continue")
    assert "did you mean '/aws/bedrock/modelinvocations'" in texts(at, "error")
    with Store(db) as store:
        assert store.list_integrations() == []


def _deny_reads(monkeypatch: pytest.MonkeyPatch, when: Any) -> None:
    """The role's FilterLogEvents calls answer AccessDenied when ``when(call number)``."""
    denied = faulty_session("logs.FilterLogEvents", "AccessDeniedException", when)
    real = aws.session_for

    def session_for(auth: Any, region: str | None = None) -> Any:
        sess = real(auth, region)
        if auth.mode == "role":
            sess.events.register(
                "before-send.logs.FilterLogEvents",
                denied.handler,  # type: ignore[attr-defined]
            )
        return sess

    monkeypatch.setattr(aws, "session_for", session_for)


def _to_verify(db: Path) -> AppTest:
    at = start_wizard(db)
    click(at, "Next")
    click(at, "Next")
    at.text_input(key="wz_name").input("prod").run()
    at.selectbox(key="wz_pick").set_value(LOG_GROUP).run()
    click(at, "Save and continue")
    assert not at.exception, at.exception
    return at


def test_the_connection_test_reads_as_the_sync_does(
    db: Path, account: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    _deny_reads(monkeypatch, lambda n: True)
    at = _to_verify(db)
    error = texts(at, "error")
    assert "Sample record" in error and "logs:FilterLogEvents" in error
    assert "IAM Policy Checker" in error
    run = next(b for b in at.button if b.label == "Run the first sync")
    assert run.disabled, "a sync that cannot read is not offered"


def test_access_denied_during_the_first_sync_is_explained(
    db: Path, account: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    _deny_reads(monkeypatch, lambda n: n > 1)  # the connection test's read passes, then no more
    at = _to_verify(db)
    assert not at.error, texts(at, "error") + str([b.label for b in at.button])
    click(at, "Run the first sync")
    finish_sync(at, db, "prod")
    error = texts(at, "error")
    assert "logs:FilterLogEvents" in error and "IAM Policy Checker" in error
    assert not re.search(r"\b\w+(Exception|Error)\(", error), "no internal exception name"
    with Store(db) as store:
        assert store.get_integration("prod").last_sync_status == "error"


def test_list_actions_sync_and_delete_with_the_count(db: Path, account: None) -> None:
    with Store(db) as store:
        store.add_integration(
            "prod",
            "cloudwatch",
            {"region": "us-east-1", "log_group": LOG_GROUP, "first_sync_days": 7},
        )
    at = page()
    assert "Never synced" in texts(at, "markdown")
    click(at, "Sync now")
    assert not at.exception
    finish_sync(at, db, "prod")
    assert "Active" in texts(at, "markdown")
    last = texts(at, "caption")
    assert "Last successful sync" in last and "300 new invocations" in last
    assert "the last 2 minutes come with the next sync" in last
    click(at, "Delete")
    assert "300 stored invocations" in texts(at, "warning")
    click(at, "Keep it")
    with Store(db) as store:
        assert len(store.list_integrations()) == 1
    click(at, "Delete")
    delete = [b for b in at.button if b.label == "Delete"]
    delete[-1].click().run()
    assert "No integrations yet" in texts(at, "info")
    with Store(db) as store:
        assert store.list_integrations() == []


def test_empty_state_offers_the_demo_data(db: Path) -> None:
    at = page()
    assert "What" not in texts(at, "error")
    assert "No integrations yet" in texts(at, "info")
    click(at, "Load demo data")
    assert "Demo data" in texts(at, "markdown")


def test_edit_reopens_the_wizard_and_renames_without_losing_data(db: Path, account: None) -> None:
    with Store(db) as store:
        store.add_integration("prod", "cloudwatch", {"region": "us-east-1", "log_group": LOG_GROUP})
    at = page()
    click(at, "Sync now")
    finish_sync(at, db, "prod")
    click(at, "Edit")
    assert at.text_input(key="wz_name").value == "prod"
    at.text_input(key="wz_name").input("Production us-east-1").run()
    click(at, "Save and continue")
    assert not at.error, texts(at, "error")
    with Store(db) as store:
        assert [i.name for i in store.list_integrations()] == ["Production us-east-1"]
        integ = store.get_integration("Production us-east-1")
        count = store.con.execute(
            "SELECT count(*) FROM invocations WHERE integration_id = ?", [integ.id]
        ).fetchall()[0][0]
    assert count == 300


def test_the_log_group_picker_survives_a_detour_through_another_kind(
    db: Path, account: None
) -> None:
    at = start_wizard(db)
    click(at, "Next")
    at.radio(key="wz_kind_iam").set_value("S3 bucket").run()  # step 2: the logs are in S3
    click(at, "Next")  # step 3 opens on S3
    assert at.radio(key="wz_kind").value == "S3 bucket"
    assert not at.exception and not [s for s in at.selectbox if s.key == "wz_pick"]
    at.radio(key="wz_kind").set_value("CloudWatch Logs log group").run()
    pick = at.selectbox(key="wz_pick")
    assert LOG_GROUP in pick.options, "the account's log groups are offered once CloudWatch is back"
