"""The IAM Policy Checker page under AppTest: pasted policies, and a role read from moto IAM."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from streamlit.testing.v1 import AppTest

PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "iam_checker.py")
GROUP_ARN = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/bedrock/modelinvocations"
CLASSIC = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "logs:DescribeLogGroups",
                "logs:DescribeLogStreams",
                "logs:GetLogEvents",
                "logs:FilterLogEvents",
            ],
            "Resource": "*",
        },
        {
            "Sid": "DenyStreamReads",
            "Effect": "Deny",
            "Action": "logs:GetLogEvents",
            "Resource": "*",
        },
    ],
}


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("BEDROCK_EXPLORER_DB", str(tmp_path / "iam.duckdb"))
    at = AppTest.from_file(PAGE, default_timeout=60)
    return at.run()


def _button(at: AppTest, key: str):  # type: ignore[no-untyped-def]
    return next(b for b in at.button if b.key == key)


def test_pasted_policy_with_the_classic_deny(app: AppTest) -> None:
    app.text_input(key="iam_log_group_arn").input(GROUP_ARN)
    app.text_area(key="iam_policy_text").input(json.dumps(CLASSIC))
    _button(app, "iam_check_pasted").click().run()
    assert not app.exception
    assert any("missing or denied" in e.value for e in app.error)
    table = app.dataframe[0].value
    row = table[table.action == "logs:GetLogEvents"].iloc[0]
    assert row.verdict == "explicitly denied" and "DenyStreamReads" in row.why
    assert any("remove the statement" in m.value for m in app.markdown)
    codes = [c.value for c in app.code]
    fix = json.loads(codes[-1])
    assert fix["Statement"][0]["Resource"] == [GROUP_ARN + ":*"]
    assert any("No change is made to AWS" in c.value for c in app.caption)


def test_a_good_policy_passes(app: AppTest) -> None:
    good = {"Version": "2012-10-17", "Statement": [CLASSIC["Statement"][0]]}
    app.text_input(key="iam_log_group_arn").input(GROUP_ARN)
    app.text_area(key="iam_policy_text").input(json.dumps(good))
    _button(app, "iam_check_pasted").click().run()
    assert any("Everything Bedrock Explorer needs is allowed" in s.value for s in app.success)


def test_bad_input_gets_a_message_not_a_traceback(app: AppTest) -> None:
    app.text_input(key="iam_log_group_arn").input("not an arn")
    app.text_area(key="iam_policy_text").input("{also not json")
    _button(app, "iam_check_pasted").click().run()
    assert not app.exception
    assert any(
        "not a policy document" in e.value or "not a log group ARN" in e.value for e in app.error
    )


@pytest.fixture
def moto_iam(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        trust = json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ec2.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        )
        iam.create_role(RoleName="Nops-Integration-Prod", AssumeRolePolicyDocument=trust)
        iam.put_role_policy(
            RoleName="Nops-Integration-Prod",
            PolicyName="NopsIntegrationPolicy",
            PolicyDocument=json.dumps(CLASSIC),
        )
        yield


def test_live_mode_searches_roles_and_reads_them(app: AppTest, moto_iam: None) -> None:
    app.text_input(key="iam_log_group_arn").input(GROUP_ARN)
    app.radio(key="iam_mode").set_value("Read a role from AWS").run()
    app.text_input(key="iam_role_prefix").input("nops-").run()
    _button(app, "iam_search").click().run()
    assert app.selectbox(key="iam_role_pick").value == "Nops-Integration-Prod"
    _button(app, "iam_check_role").click().run()
    assert not app.exception
    assert any("NopsIntegrationPolicy (inline)" in c.value for c in app.caption)
    table = app.dataframe[0].value
    assert table[table.action == "logs:GetLogEvents"].iloc[0].verdict == "explicitly denied"
    assert any("simulator could not be used" in c.value for c in app.caption)


def test_live_mode_with_an_unknown_role(app: AppTest, moto_iam: None) -> None:
    app.text_input(key="iam_log_group_arn").input(GROUP_ARN)
    app.radio(key="iam_mode").set_value("Read a role from AWS").run()
    app.text_input(key="iam_role_name").input("Nope").run()
    _button(app, "iam_check_role").click().run()
    assert any("Not found while reading the IAM role 'Nope'" in e.value for e in app.error)
