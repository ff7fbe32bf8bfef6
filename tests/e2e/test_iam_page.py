"""The IAM Policy Checker in a real browser: paste the classic deny, see it named, get the fix."""

from __future__ import annotations

import json
import re

from tests.e2e.conftest import ARTIFACTS, Servers, settle
from tests.iam_samples import CLASSIC, GROUP_ARN


def test_paste_a_policy_and_get_the_fix(servers_without_demo: Servers, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(servers_without_demo.app_url)
    page.get_by_text("No data yet").wait_for(timeout=120_000)
    settle(page)
    page.get_by_role("link", name=re.compile("IAM Policy Checker")).click()
    page.get_by_text("No change is made to AWS").wait_for()
    settle(page)
    page.get_by_label("Log group ARN").fill(GROUP_ARN)
    page.get_by_label("Identity policy JSON (inline or managed)").fill(json.dumps(CLASSIC))
    page.get_by_label("Identity policy JSON (inline or managed)").press("Tab")
    settle(page)
    page.get_by_role("button", name="Check").click()
    page.get_by_text("Everything Bedrock Explorer needs is allowed").wait_for()
    page.get_by_text(re.compile("does not do that on its own")).wait_for()
    # a typo in the log group name: the near miss is named, with the least-privilege fix
    typo = json.dumps(CLASSIC).replace('"Resource": "*"}, {', f'"Resource": "{GROUP_ARN}s:*"}}, {{')
    page.get_by_label("Identity policy JSON (inline or managed)").fill(typo)
    page.get_by_label("Identity policy JSON (inline or managed)").press("Tab")
    settle(page)
    page.get_by_role("button", name="Check").click()
    page.get_by_text("Some required permissions are missing or denied").wait_for()
    settle(page)
    assert page.get_by_text("Policy to attach to the role").is_visible()
    fix = page.locator("[data-testid=stCode]").filter(has_text="ReadBedrockInvocationLogs")
    assert GROUP_ARN + ":*" in fix.inner_text()
    assert "GetLogEvents" not in fix.inner_text(), "least privilege: only what is called"
    page.get_by_text("Policy to attach to the role").scroll_into_view_if_needed()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "iam-checker.png"))
