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
    assert any("Everything Bedrock Explorer needs is allowed" in s.value for s in app.success)
    table = app.dataframe[0].value
    row = table[table.action == "logs:GetLogEvents"].iloc[0]
    assert row.verdict == "explicitly denied" and "DenyStreamReads" in row.why
    assert row.need == "not needed"
    assert any("does not do that on its own" in i.value for i in app.info)
    assert not app.code, "nothing to paste: the Deny stays"
    assert any("No change is made to AWS" in c.value for c in app.caption)


def test_a_deny_on_the_sync_read_gets_a_verified_exemption(app: AppTest) -> None:
    strict = {
        **CLASSIC,
        "Statement": [
            CLASSIC["Statement"][0],
            {**CLASSIC["Statement"][1], "Action": ["logs:GetLogEvents", "logs:FilterLogEvents"]},
        ],
    }
    app.text_input(key="iam_log_group_arn").input(GROUP_ARN)
    app.text_area(key="iam_policy_text").input(json.dumps(strict))
    _button(app, "iam_check_pasted").click().run()
    assert any("missing or denied" in e.value for e in app.error)
    assert any("Exempt the Bedrock logs" in h.value for h in app.subheader)
    assert any("still denies" in m.value for m in app.markdown)
    rewritten = json.loads(app.code[0].value)
    by_sid = {s.get("Sid"): s for s in rewritten["Statement"]}
    assert by_sid["DenyStreamReads"]["Action"] == ["logs:GetLogEvents"]
    assert by_sid["DenyStreamReads"]["Resource"] == "*", "the rest of the Deny is untouched"
    exemption = by_sid["DenyStreamReadsExceptBedrockLogs"]
    assert exemption["Action"] == ["logs:FilterLogEvents"]
    assert GROUP_ARN + ":*" in exemption["NotResource"]


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
        "not valid at line 1" in e.value or "not a log group ARN" in e.value for e in app.error
    )


def test_truncated_json_is_reported_with_line_and_column(app: AppTest) -> None:
    app.text_input(key="iam_log_group_arn").input(GROUP_ARN)
    app.text_area(key="iam_policy_text").input(json.dumps(CLASSIC, indent=2)[:-40])
    _button(app, "iam_check_pasted").click().run()
    assert not app.exception
    assert any("not valid at line" in e.value and "column" in e.value for e in app.error)


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
