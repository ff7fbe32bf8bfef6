"""The IAM Policy Checker page under AppTest: pasted policies, and a role read from moto IAM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.iam_samples import CLASSIC, GROUP_ARN

PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "iam_checker.py")


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


def test_live_mode_searches_roles_and_reads_them(app: AppTest, moto_iam: object) -> None:
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


def test_live_mode_with_an_unknown_role(app: AppTest, moto_iam: object) -> None:
    app.text_input(key="iam_log_group_arn").input(GROUP_ARN)
    app.radio(key="iam_mode").set_value("Read a role from AWS").run()
    app.text_input(key="iam_role_name").input("Nope").run()
    _button(app, "iam_check_role").click().run()
    assert any("Not found while reading the IAM role 'Nope'" in e.value for e in app.error)
