"""IAM checker: table-driven cases on AWS's evaluation logic, the fix, the CLI."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

import pytest

from bedrock_explorer.cli import main
from bedrock_explorer.errors import UserFacingError
from bedrock_explorer.iam.checker import BucketTarget, LogGroupTarget, report
from bedrock_explorer.iam.evaluator import Policy, Verdict, load_document

REGION, ACCOUNT, GROUP = "us-east-1", "123456789012", "/aws/bedrock/modelinvocations"
GROUP_ARN = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{GROUP}"
TARGET = LogGroupTarget.from_arn(GROUP_ARN)
READ = [
    "logs:DescribeLogGroups",
    "logs:DescribeLogStreams",
    "logs:GetLogEvents",
    "logs:FilterLogEvents",
]
A, D, N, C = Verdict.ALLOWED, Verdict.DENIED, Verdict.NOT_ALLOWED, Verdict.CONDITIONAL


def allow(action: object = READ, resource: object = "*", **extra: object) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: object, resource: object = "*", **extra: object) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def doc(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


# name, statements, expected verdicts for (DescribeLogGroups, DescribeLogStreams, GetLogEvents,
# FilterLogEvents)
CASES = [
    ("allow all four on *", [allow()], (A, A, A, A)),
    (
        "the classic: NopsIntegrationPolicy with a Deny on GetLogEvents",
        [allow(), deny("logs:GetLogEvents")],
        (A, A, D, A),
    ),
    ("deny logs:*", [allow(), deny("logs:*")], (D, D, D, D)),
    ("deny logs:Get* covers GetLogEvents only", [allow(), deny("logs:Get*")], (A, A, D, A)),
    (
        "deny on another log group only",
        [allow(), deny("logs:*", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/other:*")],
        (A, A, A, A),
    ),
    ("allow logs:* on *", [allow("logs:*")], (A, A, A, A)),
    ("allow * on *", [allow("*")], (A, A, A, A)),
    (
        "action names are case-insensitive",
        [
            allow(
                [
                    "LOGS:FILTERLOGEVENTS",
                    "logs:describelogstreams",
                    "Logs:GetLogEvents",
                    "logs:DescribeLogGroups",
                ]
            )
        ],
        (A, A, A, A),
    ),
    (
        "? wildcard in the action",
        [allow(["logs:?etLogEvents", "logs:Describe*", "logs:FilterLogEvent?"])],
        (A, A, A, A),
    ),
    ("NotAction allow", [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}], (A, A, A, A)),
    (
        "NotAction allow that excludes logs",
        [{"Effect": "Allow", "NotAction": "logs:*", "Resource": "*"}],
        (N, N, N, N),
    ),
    (
        "NotAction deny of everything but reads",
        [allow(), {"Effect": "Deny", "NotAction": READ, "Resource": "*"}],
        (A, A, A, A),
    ),
    (
        "NotResource allow excluding our group",
        [{"Effect": "Allow", "Action": READ, "NotResource": f"{GROUP_ARN}*"}],
        (A, N, N, N),
    ),
    (
        "group ARN with :* (AWS examples)",
        [
            allow(READ[1:], f"{GROUP_ARN}:*"),
            allow("logs:DescribeLogGroups", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:*"),
        ],
        (A, A, A, A),
    ),
    (
        "group ARN without :* (reference form) counts for group actions",
        [allow(READ[1:], GROUP_ARN)],
        (N, A, N, A),
    ),
    ("log-stream-only grant", [allow(READ, f"{GROUP_ARN}:log-stream:*")], (N, N, A, N)),
    (
        "wildcard group name",
        [allow(READ, f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/bedrock/*")],
        (N, A, A, A),
    ),
    (
        "wrong region",
        [allow(READ, f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:{GROUP}:*")],
        (N, N, N, N),
    ),
    (
        "wrong account",
        [allow(READ, f"arn:aws:logs:{REGION}:999999999999:log-group:{GROUP}:*")],
        (N, N, N, N),
    ),
    ("region wildcard", [allow(READ, f"arn:aws:logs:*:{ACCOUNT}:log-group:*")], (A, A, A, A)),
    ("no statements", [], (N, N, N, N)),
    ("only other services", [allow(["s3:GetObject", "ec2:*"])], (N, N, N, N)),
    ("single statement object, not a list", "single", (A, A, A, A)),
    ("string values, not lists", [allow("logs:FilterLogEvents", f"{GROUP_ARN}:*")], (N, N, N, A)),
    (
        "condition-only allow",
        [allow(READ, "*", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})],
        (C, C, C, C),
    ),
    (
        "unconditional allow beside a conditional allow",
        [allow(READ, "*", Condition={"Bool": {"aws:SecureTransport": "true"}}), allow()],
        (A, A, A, A),
    ),
    (
        "conditional deny beside an allow",
        [
            allow(),
            deny(
                "logs:GetLogEvents",
                "*",
                Condition={"StringNotEquals": {"aws:RequestedRegion": "us-east-1"}},
            ),
        ],
        (A, A, C, A),
    ),
    (
        "effect is case-insensitive",
        [{"Effect": "allow", "Action": READ, "Resource": "*"}],
        (A, A, A, A),
    ),
    (
        "deny wins over a more specific allow",
        [allow(READ, f"{GROUP_ARN}:*"), deny("logs:FilterLogEvents", "*")],
        (N, A, A, D),
    ),
    ("two policies: allow in one, deny in another", "two-policies", (A, A, D, A)),
]


def _policies(statements: object) -> list[Policy]:
    if statements == "single":
        return [Policy("single", {"Statement": allow()})]
    if statements == "two-policies":
        return [
            Policy("ReadLogs", doc(allow())),
            Policy("Guardrail", doc(deny("logs:GetLogEvents"))),
        ]
    return [Policy("NopsIntegrationPolicy", doc(*statements))]  # type: ignore[arg-type]


def verdicts(result: object, actions: list[str]) -> tuple:
    """The verdicts for these actions, in this order (whatever order the checker lists)."""
    by_action = {c.requirement.action: c.decision.verdict for c in result.checks}  # type: ignore[attr-defined]
    return tuple(by_action[a] for a in actions)


def test_at_least_30_cases() -> None:
    assert len(CASES) + len(BOUNDARY_CASES) + len(S3_CASES) >= 30


@pytest.mark.parametrize(("name", "statements", "expected"), CASES, ids=[c[0] for c in CASES])
def test_cloudwatch_case(name: str, statements: object, expected: tuple) -> None:
    result = report(_policies(statements), TARGET)
    got = verdicts(result, READ)
    assert got == expected, [(c.requirement.action, c.decision.reason) for c in result.checks]
    # only FilterLogEvents is required: the sync reads with it alone
    assert result.ok == (expected[3] == A)
    missing = {N, C} & {expected[0], expected[3]}
    assert (result.fix_policy is not None) == bool(missing)


BOUNDARY_CASES = [
    ("boundary allows logs", doc(allow("logs:*")), (A, A, A, A)),
    ("boundary allows only FilterLogEvents", doc(allow("logs:FilterLogEvents")), (N, N, N, A)),
    ("boundary denies GetLogEvents", doc(allow("*"), deny("logs:GetLogEvents")), (A, A, D, A)),
    (
        "boundary with a condition",
        doc(allow("logs:*", "*", Condition={"StringEquals": {"aws:RequestedRegion": "us-east-1"}})),
        (C, C, C, C),
    ),
]


@pytest.mark.parametrize(
    ("name", "boundary", "expected"), BOUNDARY_CASES, ids=[c[0] for c in BOUNDARY_CASES]
)
def test_permissions_boundary(name: str, boundary: dict, expected: tuple) -> None:
    result = report([Policy("ReadLogs", doc(allow()))], TARGET, Policy("Boundary", boundary))
    got = verdicts(result, READ)
    assert got == expected


BUCKET = BucketTarget("bedrock-logs", "invocations/", ACCOUNT, REGION)
S3_CASES = [
    (
        "bucket and prefix allowed",
        [
            allow("s3:ListBucket", "arn:aws:s3:::bedrock-logs"),
            allow("s3:GetObject", "arn:aws:s3:::bedrock-logs/invocations/*"),
        ],
        (A, A),
    ),
    (
        "objects of another prefix",
        [
            allow("s3:ListBucket", "arn:aws:s3:::bedrock-logs"),
            allow("s3:GetObject", "arn:aws:s3:::bedrock-logs/other/*"),
        ],
        (A, N),
    ),
    (
        "ListBucket with an s3:prefix condition",
        [
            allow(
                "s3:ListBucket",
                "arn:aws:s3:::bedrock-logs",
                Condition={"StringLike": {"s3:prefix": ["invocations/*"]}},
            ),
            allow("s3:GetObject", "arn:aws:s3:::bedrock-logs/*"),
        ],
        (C, A),
    ),
    ("s3:* on another bucket", [allow("s3:*", "arn:aws:s3:::other-bucket*")], (N, N)),
]


@pytest.mark.parametrize(("name", "statements", "expected"), S3_CASES, ids=[c[0] for c in S3_CASES])
def test_s3_case(name: str, statements: list, expected: tuple) -> None:
    result = report([Policy("S3", doc(*statements))], BUCKET)
    got = verdicts(result, ["s3:ListBucket", "s3:GetObject"])
    assert got == expected


def test_documents_as_dict_json_or_url_encoded() -> None:
    document = doc(allow())
    text = json.dumps(document)
    assert load_document(document) == load_document(text) == load_document(urllib.parse.quote(text))
    with pytest.raises(UserFacingError, match="not a policy document"):
        load_document("certainly not json")


def test_log_group_arn_with_or_without_trailing_star() -> None:
    assert LogGroupTarget.from_arn(GROUP_ARN) == LogGroupTarget.from_arn(GROUP_ARN + ":*")
    with pytest.raises(UserFacingError, match="not a log group ARN"):
        LogGroupTarget.from_arn("arn:aws:s3:::bucket")


def test_cli_offline_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "policy.json"
    typo = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/bedrock/model-invocation-logs:*"
    policy.write_text(json.dumps(doc(allow(READ, typo))))
    code = main(
        [
            "--db",
            str(tmp_path / "x.duckdb"),
            "iam-check",
            "--policy-file",
            str(policy),
            "--log-group-arn",
            GROUP_ARN,
            "--json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["ok"] is False
    assert out["fix_policy"]["Statement"][0]["Resource"] == [f"{GROUP_ARN}:*"]
    good = tmp_path / "good.json"
    good.write_text(json.dumps(out["fix_policy"]))
    code = main(
        [
            "--db",
            str(tmp_path / "x.duckdb"),
            "iam-check",
            "--policy-file",
            str(good),
            "--log-group-arn",
            GROUP_ARN,
        ]
    )
    text = capsys.readouterr().out
    assert code == 0 and "allowed" in text and "No change is made to AWS" in text
    code = main(
        [
            "--db",
            str(tmp_path / "x.duckdb"),
            "iam-check",
            "--policy-file",
            str(good),
            "--bucket",
            "bedrock-logs",
            "--prefix",
            "invocations",
        ]
    )
    assert code == 1
