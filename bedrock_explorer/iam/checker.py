"""What Bedrock Explorer needs to read a log source, whether the policies allow it, and the fix.

The resource forms follow the Service Authorization Reference and the CloudWatch Logs docs:
* ``DescribeLogGroups`` is a listing call, evaluated on ``…:log-group:*``;
* ``DescribeLogStreams`` and ``FilterLogEvents`` act on the log group. AWS's examples write it
  with a trailing ``:*``, the reference without; a policy in either form counts (both are
  evaluated: any Allow allows, any Deny denies);
* ``GetLogEvents`` acts on a log stream: ``…:log-group:NAME:log-stream:STREAM``;
* ``s3:ListBucket`` acts on the bucket (usually with an ``s3:prefix`` condition), ``s3:GetObject``
  on the objects under the prefix.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any

from bedrock_explorer.errors import UserFacingError
from bedrock_explorer.iam.evaluator import Decision, Policy, Verdict, evaluate, matches

BEDROCK_LOG_STREAM = "aws/bedrock/modelinvocations"
_LOG_GROUP_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):logs:(?P<region>[a-z0-9-]+):(?P<account>\d{12}|[^:]+):"
    r"log-group:(?P<name>[^:]+)(?::\*)?$"
)


@dataclass(frozen=True)
class LogGroupTarget:
    partition: str
    region: str
    account: str
    name: str

    @classmethod
    def from_arn(cls, arn: str) -> LogGroupTarget:
        """Accepts the log group ARN with or without the trailing ``:*``."""
        found = _LOG_GROUP_ARN.match(arn.strip())
        if not found:
            raise UserFacingError(
                f"{arn!r} is not a log group ARN",
                "use arn:aws:logs:REGION:ACCOUNT-ID:log-group:NAME (a trailing :* is fine)",
            )
        return cls(found["partition"], found["region"], found["account"], found["name"])

    @property
    def base(self) -> str:
        return f"arn:{self.partition}:logs:{self.region}:{self.account}:log-group"

    @property
    def group_arn(self) -> str:
        return f"{self.base}:{self.name}:*"


@dataclass(frozen=True)
class BucketTarget:
    bucket: str
    prefix: str = ""
    account: str = "ACCOUNT-ID"
    region: str = "REGION"
    partition: str = "aws"

    @property
    def clean_prefix(self) -> str:
        prefix = self.prefix.strip("/")
        return prefix + "/" if prefix else ""


@dataclass(frozen=True)
class Requirement:
    action: str
    resources: tuple[str, ...]  # the forms evaluated; the first is the canonical one
    purpose: str
    optional: bool = False


@dataclass
class Check:
    requirement: Requirement
    decision: Decision
    #: AWS's own simulator's verdict, when it could be asked (live mode).
    simulated: Verdict | None = None

    @property
    def disagrees(self) -> bool:
        return self.simulated is not None and self.simulated != self.decision.verdict


@dataclass
class Report:
    """The checker's answer: per action a verdict with its reason, and the policies to paste."""

    checks: list[Check]
    fix_policy: dict[str, Any] | None
    deny_rewrites: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Everything required is allowed (optional extras do not count)."""
        return all(
            c.decision.verdict == Verdict.ALLOWED for c in self.checks if not c.requirement.optional
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checks": [
                {
                    "action": c.requirement.action,
                    "resource": c.requirement.resources[0],
                    "purpose": c.requirement.purpose,
                    "optional": c.requirement.optional,
                    "verdict": str(c.decision.verdict),
                    "reason": c.decision.reason,
                    "statements": [f"{s.policy}: {s.sid}" for s in c.decision.deciding],
                    "condition_keys": c.decision.condition_keys,
                    "simulator_verdict": str(c.simulated) if c.simulated else None,
                    "disagrees_with_simulator": c.disagrees,
                }
                for c in self.checks
            ],
            "fix_policy": self.fix_policy,
            "deny_rewrites": self.deny_rewrites,
            "note": "Nothing is changed in AWS: paste the policies yourself.",
        }


def _optional(partition: str, region: str, account: str) -> list[Requirement]:
    return [
        Requirement(
            "bedrock:GetModelInvocationLoggingConfiguration",
            ("*",),
            "optional, enables the setup wizard's check that logging is on",
            optional=True,
        ),
        Requirement(
            "bedrock:GetInferenceProfile",
            (f"arn:{partition}:bedrock:{region}:{account}:application-inference-profile/*",),
            "optional, enables pricing application inference profiles automatically",
            optional=True,
        ),
        Requirement(
            "pricing:GetProducts",
            ("*",),
            "optional, enables price refreshes from the AWS Price List API",
            optional=True,
        ),
    ]


def cloudwatch_requirements(target: LogGroupTarget) -> list[Requirement]:
    group_forms = (target.group_arn, f"{target.base}:{target.name}")
    stream = f"{target.base}:{target.name}:log-stream:{BEDROCK_LOG_STREAM}"
    return [
        Requirement(
            "logs:DescribeLogGroups",
            (f"{target.base}:*",),
            "find the log group by name (setup wizard, connection test)",
        ),
        Requirement("logs:DescribeLogStreams", group_forms, "see the log group's streams"),
        Requirement("logs:GetLogEvents", (stream,), "read a log stream (sample record)"),
        Requirement("logs:FilterLogEvents", group_forms, "read invocation records (sync)"),
        *_optional(target.partition, target.region, target.account),
    ]


def s3_requirements(target: BucketTarget) -> list[Requirement]:
    bucket = f"arn:{target.partition}:s3:::{target.bucket}"
    sample = (
        f"{bucket}/{target.clean_prefix}AWSLogs/{target.account}/BedrockModelInvocationLogs/"
        f"{target.region}/2025/01/01/00/sample.json.gz"
    )
    return [
        Requirement("s3:ListBucket", (bucket,), "list the delivered log objects"),
        Requirement("s3:GetObject", (sample,), "read the delivered log objects"),
        *_optional(target.partition, target.region, target.account),
    ]


def _combine(decisions: list[Decision]) -> Decision:
    """Several resource forms of one action: any Deny denies, then any Allow allows."""
    for verdict in (Verdict.DENIED, Verdict.ALLOWED, Verdict.CONDITIONAL):
        for decision in decisions:
            if decision.verdict == verdict:
                return decision
    return decisions[0]


def check(
    policies: list[Policy], requirements: list[Requirement], boundary: Policy | None = None
) -> list[Check]:
    return [
        Check(req, _combine([evaluate(policies, req.action, r, boundary) for r in req.resources]))
        for req in requirements
    ]


def fix_policy_cloudwatch(target: LogGroupTarget) -> dict[str, Any]:
    """The minimal identity policy for reading one Bedrock log group."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadBedrockInvocationLogs",
                "Effect": "Allow",
                "Action": ["logs:DescribeLogStreams", "logs:FilterLogEvents", "logs:GetLogEvents"],
                "Resource": [target.group_arn],
            },
            {
                "Sid": "FindBedrockLogGroup",
                "Effect": "Allow",
                "Action": ["logs:DescribeLogGroups"],
                "Resource": [f"{target.base}:*"],
            },
        ],
    }


def fix_policy_s3(target: BucketTarget) -> dict[str, Any]:
    """The minimal identity policy for reading Bedrock's S3 log delivery under a prefix."""
    bucket = f"arn:{target.partition}:s3:::{target.bucket}"
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ListBedrockLogObjects",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [bucket],
        },
        {
            "Sid": "ReadBedrockLogObjects",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [f"{bucket}/{target.clean_prefix}AWSLogs/*"],
        },
    ]
    if target.clean_prefix:
        statements[0]["Condition"] = {"StringLike": {"s3:prefix": [f"{target.clean_prefix}*"]}}
    return {"Version": "2012-10-17", "Statement": statements}


def _rewrite_deny(
    statement: dict[str, Any], blocked: list[str]
) -> tuple[dict[str, Any] | None, str]:
    """The Deny without the actions Bedrock Explorer needs, and what it still denies."""
    rewritten = copy.deepcopy(statement)
    blocked_lower = {a.lower() for a in blocked}
    if "NotAction" in statement:
        kept = (
            list(statement["NotAction"])
            if isinstance(statement["NotAction"], list)
            else [statement["NotAction"]]
        )
        rewritten["NotAction"] = kept + [
            a for a in blocked if a.lower() not in {k.lower() for k in kept}
        ]
        return rewritten, "It still denies every other action it denied before."
    actions = statement.get("Action", [])
    actions = actions if isinstance(actions, list) else [actions]
    exact = [a for a in actions if a.lower() not in blocked_lower]
    wildcards = [a for a in exact if any(matches(a, b, case_insensitive=True) for b in blocked)]
    if not wildcards:
        if not exact:
            return None, "It denies nothing else: remove the statement."
        rewritten["Action"] = exact
        return rewritten, f"It still denies: {', '.join(exact)}."
    resources = statement.get("Resource", [])
    resources = resources if isinstance(resources, list) else [resources]
    scoped = resources and all(str(r).startswith("arn:aws:logs:") for r in resources)
    if scoped and all(w.lower() in ("logs:*", "*") for w in wildcards):
        rewritten.pop("Action", None)
        rewritten["NotAction"] = sorted(blocked)
        return rewritten, (
            "Its wildcard cannot list exceptions, so it is rewritten with NotAction: on these "
            "log resources it still denies every CloudWatch Logs action except the ones "
            "Bedrock Explorer needs."
        )
    return rewritten, (
        f"It denies with a wildcard ({', '.join(wildcards)}) that covers the actions Bedrock "
        "Explorer needs; rewrite it to list the actions it should deny, leaving out "
        f"{', '.join(sorted(blocked))}."
    )


def deny_rewrites(checks: list[Check]) -> list[dict[str, Any]]:
    """For each explicit Deny blocking a required action: the statement without those actions."""
    blocked: dict[tuple[str, int], tuple[dict[str, Any], str, list[str]]] = {}
    for c in checks:
        if c.requirement.optional or c.decision.verdict != Verdict.DENIED:
            continue
        for ref in c.decision.deciding:
            key = (ref.policy, ref.index)
            entry = blocked.setdefault(key, (ref.statement, ref.sid, []))
            entry[2].append(c.requirement.action)
    out = []
    for (policy, _), (statement, sid, actions) in blocked.items():
        rewritten, note = _rewrite_deny(statement, actions)
        out.append(
            {
                "policy": policy,
                "statement": sid,
                "blocks": actions,
                "original": statement,
                "rewritten": rewritten,
                "note": note,
            }
        )
    return out


def report(
    policies: list[Policy],
    target: LogGroupTarget | BucketTarget,
    boundary: Policy | None = None,
) -> Report:
    """Check the policies against what the target needs, with the fix if anything is missing."""
    if isinstance(target, LogGroupTarget):
        requirements, fix = cloudwatch_requirements(target), fix_policy_cloudwatch(target)
    else:
        requirements, fix = s3_requirements(target), fix_policy_s3(target)
    checks = check(policies, requirements, boundary)
    result = Report(checks, None, deny_rewrites(checks))
    if not result.ok:
        result.fix_policy = fix
    return result


def policy_json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2)
