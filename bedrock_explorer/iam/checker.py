"""What Bedrock Explorer needs to read a log source, whether the policies allow it, and the fix.

Why the needs are listed per call site: a checker that asks for more than the code calls blocks
setups that work (a Deny on ``logs:GetLogEvents`` is common in vendor policies and the sync never
calls it) and teaches users to widen access. So every requirement names the feature it serves,
and permissions the usual vendor policies grant but we never call are shown as *not needed*.

The resource forms follow the Service Authorization Reference and what AWS really evaluates:
* ``DescribeLogGroups`` is a listing; AWS evaluates it on ``…:log-group::log-stream:`` (a
  grant on one group's ARN does not cover it; ``…:log-group:*`` does);
* ``FilterLogEvents`` (and ``DescribeLogStreams``) act on the log group. AWS's examples write it
  with a trailing ``:*``, the reference without; a policy in either form counts (both are
  evaluated: any Allow allows, any Deny denies);
* ``GetLogEvents`` acts on a log stream: ``…:log-group:NAME:log-stream:STREAM``;
* ``s3:ListBucket`` acts on the bucket (usually with an ``s3:prefix`` condition), ``s3:GetObject``
  on the objects under the prefix.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bedrock_explorer.errors import UserFacingError
from bedrock_explorer.iam.evaluator import Decision, Policy, Verdict, evaluate

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

    @property
    def listing_arn(self) -> str:
        """The resource AWS evaluates ``DescribeLogGroups`` on (the account's listing)."""
        return f"{self.base}::log-stream:"

    @property
    def group_forms(self) -> tuple[str, ...]:
        """The group as policies write it: with the trailing ``:*`` (streams too) and without."""
        return (self.group_arn, f"{self.base}:{self.name}")


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

    @property
    def bucket_arn(self) -> str:
        return f"arn:{self.partition}:s3:::{self.bucket}"

    @property
    def objects_pattern(self) -> str:
        """Every Bedrock log object under the prefix (what a grant or an exemption names)."""
        return f"{self.bucket_arn}/{self.clean_prefix}AWSLogs/*"

    @property
    def sample_object_arn(self) -> str:
        return (
            f"{self.bucket_arn}/{self.clean_prefix}AWSLogs/{self.account}/"
            f"BedrockModelInvocationLogs/{self.region}/2025/01/01/00/sample.json.gz"
        )


class Need(StrEnum):
    """How much Bedrock Explorer needs a permission, by what the code calls with it."""

    REQUIRED = "required"  # the sync cannot run without it
    HELPFUL = "helpful"  # a setup feature works without it only in a reduced way
    OPTIONAL = "optional"  # an extra (the logging check, profile pricing, price refresh)
    NOT_NEEDED = "not needed"  # granted by the usual vendor policies, never called by us


@dataclass(frozen=True)
class Requirement:
    action: str
    resources: tuple[str, ...]  # the forms evaluated; the first is the canonical one
    purpose: str
    need: Need = Need.REQUIRED

    @property
    def optional(self) -> bool:
        """Not needed for a sync: its absence does not fail the check."""
        return self.need != Need.REQUIRED

    @property
    def counts(self) -> bool:
        """Worth a fix when missing (required, or a setup feature degrades without it)."""
        return self.need in (Need.REQUIRED, Need.HELPFUL)


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
    #: What the user should know beside the verdicts (a feature that degrades, a security truth).
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Everything required is allowed (helpful and optional extras do not count)."""
        return all(
            c.decision.verdict == Verdict.ALLOWED
            for c in self.checks
            if c.requirement.need == Need.REQUIRED
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checks": [
                {
                    "action": c.requirement.action,
                    "resource": c.requirement.resources[0],
                    "purpose": c.requirement.purpose,
                    "need": str(c.requirement.need),
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
            "notes": self.notes,
            "note": "Nothing is changed in AWS: paste the policies yourself.",
        }


def _optional(partition: str, region: str, account: str) -> list[Requirement]:
    return [
        Requirement(
            "bedrock:GetModelInvocationLoggingConfiguration",
            ("*",),
            "the setup wizard's and the connection test's check that logging is on, and for "
            "coverage: which regions log where (`coverage`, the Integrations page)",
            Need.OPTIONAL,
        ),
        Requirement(
            "cloudwatch:GetMetricData",
            ("*",),
            "for coverage: the AWS/Bedrock invocation, token and log-delivery metrics the logs "
            "are compared with",
            Need.OPTIONAL,
        ),
        Requirement(
            "cloudwatch:ListMetrics",
            ("*",),
            "for coverage: the regions and model ids with Bedrock metrics",
            Need.OPTIONAL,
        ),
        Requirement(
            "ce:GetCostAndUsage",
            ("*",),
            "for reconciliation: the Bedrock bill per day, usage type and account from Cost "
            "Explorer (`bill sync`; $0.01 per request). From a CUR 2.0 export in S3 instead "
            "(`bill import s3://…`): s3:ListBucket and s3:GetObject on the export bucket",
            Need.OPTIONAL,
        ),
        Requirement(
            "bedrock:GetInferenceProfile",
            (f"arn:{partition}:bedrock:{region}:{account}:application-inference-profile/*",),
            "pricing application inference profiles automatically",
            Need.OPTIONAL,
        ),
        Requirement(
            "pricing:GetProducts",
            ("*",),
            "price refreshes from the AWS Price List API",
            Need.OPTIONAL,
        ),
    ]


def cloudwatch_requirements(target: LogGroupTarget) -> list[Requirement]:
    """Exactly what ``sync`` (``sources/cloudwatch.py``) and the setup calls use."""
    group_forms = target.group_forms
    stream = f"{target.base}:{target.name}:log-stream:{BEDROCK_LOG_STREAM}"
    return [
        Requirement(
            "logs:FilterLogEvents",
            group_forms,
            "read the invocation records: every sync, and the connection test's sample record",
        ),
        Requirement(
            "logs:DescribeLogGroups",
            (target.listing_arn,),
            "list the account's log groups: the wizard's picker, the connection test's "
            "existence check and typo suggestions (a listing: it needs log-group:*)",
            Need.HELPFUL,
        ),
        Requirement(
            "logs:DescribeLogStreams",
            group_forms,
            "not called: the sync reads all streams at once with FilterLogEvents",
            Need.NOT_NEEDED,
        ),
        Requirement(
            "logs:GetLogEvents",
            (stream,),
            "not called: the sync and the connection test read with FilterLogEvents",
            Need.NOT_NEEDED,
        ),
        *_optional(target.partition, target.region, target.account),
    ]


def s3_requirements(target: BucketTarget) -> list[Requirement]:
    """Exactly what ``sync`` (``sources/s3.py``) and the connection test use."""
    return [
        Requirement(
            "s3:ListBucket",
            (target.bucket_arn,),
            "list the delivered log objects: every sync and the connection test",
        ),
        Requirement(
            "s3:GetObject",
            (target.sample_object_arn,),
            "read the delivered log objects: every sync and the connection test's sample",
        ),
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
    """The least-privilege identity policy for reading one Bedrock log group."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadBedrockInvocationLogs",
                "Effect": "Allow",
                "Action": ["logs:FilterLogEvents"],
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
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ListBedrockLogObjects",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [target.bucket_arn],
        },
        {
            "Sid": "ReadBedrockLogObjects",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [target.objects_pattern],
        },
    ]
    if target.clean_prefix:
        statements[0]["Condition"] = {"StringLike": {"s3:prefix": [f"{target.clean_prefix}*"]}}
    return {"Version": "2012-10-17", "Statement": statements}


def _security_notes(checks: list[Check]) -> list[str]:
    by_action = {c.requirement.action: c for c in checks}
    notes = []
    get, read = by_action.get("logs:GetLogEvents"), by_action.get("logs:FilterLogEvents")
    if get and read and get.decision.verdict == Verdict.DENIED:
        refs = ", ".join(f"{r.policy} ({r.sid})" for r in get.decision.deciding)
        notes.append(
            f"The Deny on logs:GetLogEvents ({refs}) is kept: Bedrock Explorer never calls it. "
            "Know what it does not do: logs:FilterLogEvents returns the same event content as "
            "GetLogEvents (so do Logs Insights queries, logs:StartQuery), so a Deny on "
            "GetLogEvents meant to keep log content unread does not do that on its own. "
            "Bedrock Explorer keeps only metadata and token counts from what it reads."
        )
    for c in checks:
        if c.requirement.need == Need.HELPFUL and c.decision.verdict != Verdict.ALLOWED:
            notes.append(
                f"{c.requirement.action} is {c.decision.verdict}: syncs still work, but without "
                f"it Bedrock Explorer cannot {c.requirement.purpose.split(':')[0]}."
            )
    return notes


def report(
    policies: list[Policy],
    target: LogGroupTarget | BucketTarget,
    boundary: Policy | None = None,
) -> Report:
    """Check the policies against what the target needs, with the fix if anything is missing."""
    from bedrock_explorer.iam import advice  # advice verifies its rewrites with this module

    if isinstance(target, LogGroupTarget):
        requirements, fix = cloudwatch_requirements(target), fix_policy_cloudwatch(target)
    else:
        requirements, fix = s3_requirements(target), fix_policy_s3(target)
    checks = check(policies, requirements, boundary)
    advice.name_near_misses(policies, checks, target)
    result = Report(checks, None, advice.deny_exemptions(policies, checks, target, boundary))
    result.notes = _security_notes(checks)
    missing = [
        c
        for c in checks
        if c.requirement.counts and c.decision.verdict in (Verdict.NOT_ALLOWED, Verdict.CONDITIONAL)
    ]
    if missing:
        result.fix_policy = fix
    return result


def policy_json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2)
