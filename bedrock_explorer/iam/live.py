"""Live mode: read a role's policies from IAM, and ask AWS's own simulator where permitted.

Reading needs ``iam:GetRole``, ``iam:ListRolePolicies``, ``iam:GetRolePolicy``,
``iam:ListAttachedRolePolicies``, ``iam:GetPolicy`` and ``iam:GetPolicyVersion`` (searching roles
by prefix also ``iam:ListRoles``). ``iam:SimulatePrincipalPolicy`` is optional: when it answers, its
verdict is shown beside ours and a disagreement is shown, not hidden.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Any

import botocore.exceptions
from botocore.parsers import ResponseParserError

from bedrock_explorer.aws import ACCESS_DENIED_CODES, client, explain
from bedrock_explorer.iam.checker import BucketTarget, Check, LogGroupTarget, Report, report
from bedrock_explorer.iam.evaluator import Policy, Verdict, load_document

READ_ROLE_PERMISSIONS = (
    "iam:GetRole, iam:ListRolePolicies, iam:GetRolePolicy, iam:ListAttachedRolePolicies, "
    "iam:GetPolicy and iam:GetPolicyVersion on the role (or paste the policy JSON instead)"
)

_SIMULATOR_VERDICTS = {
    "allowed": Verdict.ALLOWED,
    "explicitDeny": Verdict.DENIED,
    "implicitDeny": Verdict.NOT_ALLOWED,
}


@dataclass
class RolePolicies:
    role_name: str
    role_arn: str
    policies: list[Policy]
    boundary: Policy | None


def role_name(name_or_arn: str) -> str:
    """``arn:aws:iam::123:role/path/Name`` → ``Name``; a bare name stays as it is."""
    text = name_or_arn.strip()
    return text.rsplit("/", 1)[-1] if text.startswith("arn:") else text


def _document(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):
        return load_document(urllib.parse.unquote(raw) if raw.startswith("%") else raw)
    return load_document(raw)


def find_roles(iam: Any, prefix: str, limit: int = 50) -> list[str]:
    """Role names starting with ``prefix`` (case-insensitive), e.g. ``Nops-Integration-``."""
    found: list[str] = []
    try:
        for page in iam.get_paginator("list_roles").paginate():
            for role in page.get("Roles", []):
                if role["RoleName"].lower().startswith(prefix.lower()):
                    found.append(role["RoleName"])
                    if len(found) >= limit:
                        return sorted(found)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as err:
        raise explain(err, "listing IAM roles", "iam:ListRoles") from err
    return sorted(found)


def _managed_document(iam: Any, arn: str) -> dict[str, Any]:
    policy = iam.get_policy(PolicyArn=arn)["Policy"]
    version = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])
    return _document(version["PolicyVersion"]["Document"])


def read_role(iam: Any, name_or_arn: str) -> RolePolicies:
    """The role's inline and attached managed policies (default versions) and its boundary."""
    name = role_name(name_or_arn)
    try:
        role = iam.get_role(RoleName=name)["Role"]
        policies: list[Policy] = []
        for page in iam.get_paginator("list_role_policies").paginate(RoleName=name):
            for policy_name in page.get("PolicyNames", []):
                raw = iam.get_role_policy(RoleName=name, PolicyName=policy_name)
                policies.append(Policy(policy_name, _document(raw["PolicyDocument"]), "inline"))
        for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=name):
            for attached in page.get("AttachedPolicies", []):
                policies.append(
                    Policy(
                        attached["PolicyName"],
                        _managed_document(iam, attached["PolicyArn"]),
                        "managed",
                    )
                )
        boundary = None
        boundary_arn = (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        if boundary_arn:
            boundary = Policy(
                boundary_arn.rsplit("/", 1)[-1], _managed_document(iam, boundary_arn), "boundary"
            )
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as err:
        raise explain(err, f"reading the IAM role {name!r}", READ_ROLE_PERMISSIONS) from err
    return RolePolicies(name, role["Arn"], policies, boundary)


def simulate(iam: Any, role_arn: str, checks: list[Check]) -> bool:
    """Fill each check's ``simulated`` verdict from ``iam:SimulatePrincipalPolicy``.

    Returns False (leaving them empty) when the simulator may not be used or is unavailable.
    """
    try:
        for check in checks:
            answer = iam.simulate_principal_policy(
                PolicySourceArn=role_arn,
                ActionNames=[check.requirement.action],
                ResourceArns=[check.requirement.resources[0]],
            )
            results = answer.get("EvaluationResults", [])
            decision = results[0]["EvalDecision"] if results else "implicitDeny"
            check.simulated = _SIMULATOR_VERDICTS.get(decision, Verdict.NOT_ALLOWED)
    except botocore.exceptions.ClientError as err:
        code = err.response.get("Error", {}).get("Code", "")
        if code in ACCESS_DENIED_CODES or code.startswith("4"):
            _clear(checks)
            return False
        raise explain(err, "running the IAM policy simulator") from err
    except (NotImplementedError, botocore.exceptions.BotoCoreError, ResponseParserError):
        # Not available here (an endpoint without the simulator answers 404/500): ours alone.
        _clear(checks)
        return False
    return True


def _clear(checks: list[Check]) -> None:
    for check in checks:
        check.simulated = None


@dataclass
class RoleCheck:
    """A role read from IAM and evaluated against a log source; ``simulated``: whether IAM's
    simulator answered too (its verdicts are then on each check)."""

    role: RolePolicies
    report: Report
    simulated: bool


def check_role(session: Any, name_or_arn: str, target: LogGroupTarget | BucketTarget) -> RoleCheck:
    """The live check, the same for the CLI, the wizard and the IAM page: read the role's
    policies, evaluate them, and ask the simulator where permitted (two attempts: it is
    optional, a slow answer must not hold the page)."""
    role = read_role(client(session, "iam"), name_or_arn)
    result = report(role.policies, target, role.boundary)
    simulated = simulate(client(session, "iam", attempts=2), role.role_arn, result.checks)
    return RoleCheck(role, result, simulated)
