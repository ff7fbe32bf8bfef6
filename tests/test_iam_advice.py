"""IAM advice: needs that match the code, near misses named, Deny exemptions that keep intent.

Every rewrite is applied and evaluated again here: the reads Bedrock Explorer needs pass, and
what the Deny guarded outside the Bedrock logs is still denied.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import pytest

from bedrock_explorer.errors import UserFacingError
from bedrock_explorer.iam.checker import BucketTarget, LogGroupTarget, Need, report
from bedrock_explorer.iam.evaluator import Policy, Verdict, evaluate, load_document
from tests.test_iam import ACCOUNT, GROUP, GROUP_ARN, READ, REGION, TARGET, allow, deny, doc

A, D, N = Verdict.ALLOWED, Verdict.DENIED, Verdict.NOT_ALLOWED
BASE = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group"
OTHER_GROUP = f"{BASE}:/app/payments:*"
OTHER_STREAM = f"{BASE}:/app/payments:log-stream:x"
OUR_STREAM = f"{GROUP_ARN}:log-stream:aws/bedrock/modelinvocations"
BUCKET = BucketTarget("bedrock-logs", "invocations/", ACCOUNT, REGION)
OBJECT = f"arn:aws:s3:::bedrock-logs/invocations/AWSLogs/{ACCOUNT}/x.json.gz"


def test_needs_are_what_the_code_calls() -> None:
    needs = {c.requirement.action: c.requirement.need for c in report([], TARGET).checks}
    assert needs["logs:FilterLogEvents"] == Need.REQUIRED
    assert needs["logs:DescribeLogGroups"] == Need.HELPFUL
    assert needs["logs:GetLogEvents"] == needs["logs:DescribeLogStreams"] == Need.NOT_NEEDED
    assert [a for a, n in needs.items() if n == Need.REQUIRED] == ["logs:FilterLogEvents"]
    s3_needs = {c.requirement.action: c.requirement.need for c in report([], BUCKET).checks}
    assert s3_needs["s3:ListBucket"] == s3_needs["s3:GetObject"] == Need.REQUIRED


def test_the_classic_deny_passes_keeps_the_deny_and_says_the_security_truth() -> None:
    from tests.iam_samples import CLASSIC

    result = report([Policy("NopsIntegrationPolicy", CLASSIC)], TARGET)
    assert result.ok and result.fix_policy is None and result.deny_rewrites == []
    get = next(c for c in result.checks if c.requirement.action == "logs:GetLogEvents")
    assert get.decision.verdict == D and get.requirement.need == Need.NOT_NEEDED
    (note,) = result.notes
    assert "DenyStreamReads" in note and "is kept" in note
    assert "FilterLogEvents returns the same event content as GetLogEvents" in note


def test_the_least_privilege_fix_has_only_what_is_called() -> None:
    fix = report([], TARGET).fix_policy
    assert fix is not None
    actions = sorted(a for s in fix["Statement"] for a in s["Action"])
    assert actions == ["logs:DescribeLogGroups", "logs:FilterLogEvents"]
    assert report([Policy("fix", fix)], TARGET).ok
    assert all(
        c.decision.verdict == A
        for c in report([Policy("fix", fix)], TARGET).checks
        if c.requirement.need in (Need.REQUIRED, Need.HELPFUL)
    )


@dataclass
class Rewrite:
    """A Deny that blocks a needed read, and what its rewrite must still deny."""

    name: str
    statements: list[dict]
    target: LogGroupTarget | BucketTarget = TARGET
    still_denied: list[tuple[str, str]] = field(default_factory=list)  # (action, resource)
    wider: bool = False  # the rewrite must say it denies the reads more widely than before
    count: int | None = None  # statements the Deny becomes


REWRITES = [
    Rewrite(
        "deny both reads on *",
        [allow(), deny(["logs:GetLogEvents", "logs:FilterLogEvents"])],
        still_denied=[
            ("logs:FilterLogEvents", OTHER_GROUP),
            ("logs:GetLogEvents", OTHER_STREAM),
            ("logs:GetLogEvents", OUR_STREAM),
        ],
        count=2,
    ),
    Rewrite(
        "deny FilterLogEvents alone on *",
        [allow(), deny("logs:FilterLogEvents")],
        still_denied=[("logs:FilterLogEvents", OTHER_GROUP)],
        count=1,
    ),
    Rewrite(
        "deny logs:* on *",
        [allow(), deny("logs:*")],
        still_denied=[
            ("logs:FilterLogEvents", OTHER_GROUP),
            ("logs:DeleteLogGroup", GROUP_ARN + ":*"),
            ("logs:PutRetentionPolicy", GROUP_ARN),
            ("logs:GetLogEvents", OUR_STREAM),
            ("logs:DescribeLogGroups", f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group::log-stream:"),
        ],
        count=2,
    ),
    Rewrite(
        "deny logs:Describe* blocks the picker only",
        [allow(), deny("logs:Describe*")],
        still_denied=[
            ("logs:DescribeLogStreams", GROUP_ARN + ":*"),
            ("logs:DescribeMetricFilters", f"{BASE}::log-stream:"),
            ("logs:DescribeLogGroups", f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group::log-stream:"),
        ],
        count=2,
    ),
    Rewrite(
        "deny logs:Filter* (a wildcard)",
        [allow(), deny("logs:Filter*")],
        still_denied=[("logs:FilterLogEvents", OTHER_GROUP)],
    ),
    Rewrite(
        "deny everything but S3 (NotAction)",
        [allow(), {"Sid": "OnlyS3", "Effect": "Deny", "NotAction": "s3:*", "Resource": "*"}],
        still_denied=[
            ("logs:FilterLogEvents", OTHER_GROUP),
            ("logs:DeleteLogGroup", GROUP_ARN + ":*"),
            ("ec2:RunInstances", "*"),
        ],
        count=2,
    ),
    Rewrite(
        "a Deny that already has NotResource",
        [
            allow(),
            {"Effect": "Deny", "Action": "logs:FilterLogEvents", "NotResource": f"{BASE}:/app/*"},
        ],
        still_denied=[("logs:FilterLogEvents", f"{BASE}:/team/other:*")],
        count=1,
    ),
    Rewrite(
        "a Deny on every region's logs (arn:aws:logs:*:*:*)",
        [allow(), deny("logs:FilterLogEvents", "arn:aws:logs:*:*:*")],
        still_denied=[("logs:FilterLogEvents", OTHER_GROUP)],
    ),
    Rewrite(
        "a Deny on /aws/* groups only: the reads' deny gets wider, said so",
        [allow(), deny(["logs:FilterLogEvents", "logs:DeleteLogGroup"], f"{BASE}:/aws/*")],
        still_denied=[
            ("logs:FilterLogEvents", f"{BASE}:/aws/lambda/x:*"),
            ("logs:DeleteLogGroup", GROUP_ARN + ":*"),
        ],
        wider=True,
        count=2,
    ),
    Rewrite(
        "a Deny in a second (guardrail) policy",
        [allow()],  # the Deny comes from the guardrail policy below
        still_denied=[("logs:FilterLogEvents", OTHER_GROUP)],
    ),
    Rewrite(
        "S3: deny GetObject everywhere",
        [allow(["s3:ListBucket", "s3:GetObject"]), deny("s3:GetObject")],
        target=BUCKET,
        still_denied=[("s3:GetObject", "arn:aws:s3:::payroll/2025.csv")],
    ),
    Rewrite(
        "S3: deny s3:* on the bucket's objects",
        [allow(["s3:ListBucket", "s3:GetObject"]), deny("s3:*", "arn:aws:s3:::bedrock-logs/*")],
        target=BUCKET,
        still_denied=[
            ("s3:DeleteObject", OBJECT),
            ("s3:GetObject", "arn:aws:s3:::bedrock-logs/finance/q3.csv"),
        ],
        wider=True,
    ),
]


def _policies(case: Rewrite) -> list[Policy]:
    policies = [Policy("NopsIntegrationPolicy", doc(*case.statements))]
    if case.name.startswith("a Deny in a second"):
        policies.append(
            Policy("Guardrail", doc({"Sid": "NoReads", **deny("logs:FilterLogEvents")}))
        )
    return policies


def test_at_least_15_advice_cases() -> None:
    assert len(REWRITES) + len(NEAR_MISSES) >= 15


@pytest.mark.parametrize("case", REWRITES, ids=[c.name for c in REWRITES])
def test_a_blocking_deny_becomes_a_verified_exemption(case: Rewrite) -> None:
    policies = _policies(case)
    before = report(policies, case.target)
    required_blocked = any(
        c.requirement.need == Need.REQUIRED and c.decision.verdict == D for c in before.checks
    )
    assert before.ok == (not required_blocked)
    (rewrite,) = before.deny_rewrites
    assert rewrite["verified"], rewrite["note"]
    assert case.count is None or len(rewrite["statements"]) == case.count
    assert ("wider than before" in rewrite["still_denies"]) == case.wider
    # apply the rewritten policy in place of the original one, then check again
    applied = [
        Policy(p.name, rewrite["policy_document"]) if p.name == rewrite["policy"] else p
        for p in policies
    ]
    after = report(applied, case.target)
    assert after.ok, [(c.requirement.action, c.decision.reason) for c in after.checks]
    assert all(c.decision.verdict == A for c in after.checks if c.requirement.counts)
    assert after.deny_rewrites == []
    for action, resource in case.still_denied:
        assert evaluate(policies, action, resource).verdict == D, "the original denied it"
        assert evaluate(applied, action, resource).verdict == D, (action, resource)


def test_a_deny_that_guards_only_our_read_is_named_not_rewritten_blindly() -> None:
    result = report(
        [Policy("P", doc(allow(), deny("logs:FilterLogEvents", GROUP_ARN + ":*")))], TARGET
    )
    (rewrite,) = result.deny_rewrites
    assert rewrite["statements"] is None and rewrite["policy_document"] is None
    assert "exists to stop exactly this read" in rewrite["note"]


def test_no_advice_ever_says_remove_a_deny_that_denies_more() -> None:
    for case in REWRITES:
        for rewrite in report(_policies(case), case.target).deny_rewrites:
            assert "remove the statement" not in rewrite["note"] + rewrite["still_denies"]


def test_a_conditional_deny_is_not_rewritten_but_shown_as_conditional() -> None:
    condition = {"StringNotEquals": {"aws:PrincipalTag/team": "finops"}}
    result = report(
        [Policy("P", doc(allow(), deny("logs:FilterLogEvents", Condition=condition)))], TARGET
    )
    read = next(c for c in result.checks if c.requirement.action == "logs:FilterLogEvents")
    assert read.decision.verdict == Verdict.CONDITIONAL and not result.ok
    assert "aws:PrincipalTag/team" in read.decision.reason and result.deny_rewrites == []


# name, statements, target, the action whose reason must name it, words the reason must hold
NEAR_MISSES = [
    (
        "a typo in the log group name",
        [allow(READ, f"{BASE}:/aws/bedrock/model-invocation-logs:*")],
        TARGET,
        "logs:FilterLogEvents",
        [
            "near miss",
            "statement 1 in P",
            "/aws/bedrock/model-invocation-logs",
            "another resource name",
        ],
    ),
    (
        "DescribeLogGroups granted on the group only",
        [allow(READ, GROUP_ARN + ":*")],
        TARGET,
        "logs:DescribeLogGroups",
        ["it is a listing", f"{BASE}::log-stream:", f"grant it on {BASE}:*"],
    ),
    (
        "the right group in another region",
        [allow(READ, f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:{GROUP}:*")],
        TARGET,
        "logs:FilterLogEvents",
        ["region eu-west-1, not us-east-1"],
    ),
    (
        "the right group in another account",
        [allow(READ, f"arn:aws:logs:{REGION}:210987654321:log-group:{GROUP}:*")],
        TARGET,
        "logs:FilterLogEvents",
        ["account 210987654321, not 123456789012"],
    ),
    (
        "a typo in the action",
        [allow(["logs:FilterLogEvent", "logs:DescribeLogGroups"], "*")],
        TARGET,
        "logs:FilterLogEvents",
        ["logs:FilterLogEvent", "did you mean logs:FilterLogEvents?"],
    ),
    (
        "an Allow with NotResource that leaves our group out",
        [{"Effect": "Allow", "Action": READ, "NotResource": f"{GROUP_ARN}*"}],
        TARGET,
        "logs:FilterLogEvents",
        ["every resource except", "excludes"],
    ),
    (
        "S3 objects under another prefix",
        [
            allow("s3:ListBucket", "arn:aws:s3:::bedrock-logs"),
            {"Sid": "ReadLogs", **allow("s3:GetObject", "arn:aws:s3:::bedrock-logs/other/*")},
        ],
        BUCKET,
        "s3:GetObject",
        ["ReadLogs in P allows s3:GetObject on arn:aws:s3:::bedrock-logs/other/*"],
    ),
]


@pytest.mark.parametrize(
    ("name", "statements", "target", "action", "words"),
    NEAR_MISSES,
    ids=[c[0] for c in NEAR_MISSES],
)
def test_a_near_miss_is_named_with_the_statement_and_the_arn(
    name: str, statements: list, target: object, action: str, words: list[str]
) -> None:
    result = report([Policy("P", doc(*statements))], target)  # type: ignore[arg-type]
    check = next(c for c in result.checks if c.requirement.action == action)
    assert check.decision.verdict == N
    for word in words:
        assert word in check.decision.reason, check.decision.reason


def test_truncated_json_is_reported_with_line_and_column() -> None:
    text = json.dumps(doc(allow()), indent=2)[:-30]
    with pytest.raises(UserFacingError) as caught:
        load_document(text)
    assert re.search(r"not valid at line \d+, column \d+: ", caught.value.message)
    assert "cut short" in (caught.value.fix or "")
