"""IAM checker live mode against moto's IAM, and IAM's simulator through a botocore Stubber."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from bedrock_explorer.cli import main
from bedrock_explorer.errors import UserFacingError
from bedrock_explorer.iam import live
from bedrock_explorer.iam.checker import LogGroupTarget, report
from bedrock_explorer.iam.evaluator import Verdict
from tests.iam_samples import GROUP_ARN, READ, TRUST


@pytest.fixture
def iam(aws_env: None) -> object:
    client = boto3.client("iam", region_name="us-east-1")
    client.create_role(RoleName="Nops-Integration-Prod", AssumeRolePolicyDocument=TRUST)
    client.create_role(RoleName="nops-integration-dev", AssumeRolePolicyDocument=TRUST)
    client.create_role(RoleName="Unrelated", AssumeRolePolicyDocument=TRUST)
    client.put_role_policy(
        RoleName="Nops-Integration-Prod",
        PolicyName="NopsIntegrationPolicy",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "DenyStreamReads",
                        "Effect": "Deny",
                        "Action": "logs:GetLogEvents",
                        "Resource": "*",
                    }
                ],
            }
        ),
    )
    managed = client.create_policy(
        PolicyName="BedrockLogsRead",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": READ, "Resource": "*"}],
            }
        ),
    )["Policy"]["Arn"]
    client.attach_role_policy(RoleName="Nops-Integration-Prod", PolicyArn=managed)
    return client


def test_roles_are_found_by_prefix(iam: object) -> None:
    assert live.find_roles(iam, "nops-integration-") == [
        "Nops-Integration-Prod",
        "nops-integration-dev",
    ]


def test_inline_and_managed_policies_are_read_and_the_classic_deny_found(iam: object) -> None:
    role = live.read_role(iam, "arn:aws:iam::123456789012:role/Nops-Integration-Prod")
    assert {(p.name, p.kind) for p in role.policies} == {
        ("NopsIntegrationPolicy", "inline"),
        ("BedrockLogsRead", "managed"),
    }
    result = report(role.policies, LogGroupTarget.from_arn(GROUP_ARN), role.boundary)
    verdicts = {c.requirement.action: c.decision for c in result.checks}
    assert verdicts["logs:GetLogEvents"].verdict == Verdict.DENIED
    assert "NopsIntegrationPolicy (DenyStreamReads)" in verdicts["logs:GetLogEvents"].reason
    assert verdicts["logs:FilterLogEvents"].verdict == Verdict.ALLOWED
    # moto does not implement the simulator: our verdicts stand alone, nothing is made up
    assert live.simulate(iam, role.role_arn, result.checks) is False
    assert all(c.simulated is None for c in result.checks)


def test_a_permissions_boundary_is_read_and_applied(iam: object) -> None:
    boundary = iam.create_policy(
        PolicyName="OnlyFilter",
        PolicyDocument=json.dumps(
            {  # type: ignore[attr-defined]
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "logs:FilterLogEvents", "Resource": "*"}
                ],
            }
        ),
    )
    iam.put_role_permissions_boundary(  # type: ignore[attr-defined]
        RoleName="nops-integration-dev", PermissionsBoundary=boundary["Policy"]["Arn"]
    )
    iam.attach_role_policy(  # type: ignore[attr-defined]
        RoleName="nops-integration-dev",
        PolicyArn="arn:aws:iam::123456789012:policy/BedrockLogsRead",
    )
    role = live.read_role(iam, "nops-integration-dev")
    assert role.boundary is not None and role.boundary.name == "OnlyFilter"
    result = report(role.policies, LogGroupTarget.from_arn(GROUP_ARN), role.boundary)
    verdicts = {c.requirement.action: c.decision.verdict for c in result.checks}
    assert verdicts["logs:FilterLogEvents"] == Verdict.ALLOWED
    assert verdicts["logs:DescribeLogStreams"] == Verdict.NOT_ALLOWED


def test_a_missing_role_is_explained(iam: object) -> None:
    with pytest.raises(UserFacingError, match="Not found while reading the IAM role 'Nope'"):
        live.read_role(iam, "Nope")


def test_the_simulators_verdict_is_shown_beside_ours_and_disagreement_flagged(iam: object) -> None:
    role = live.read_role(iam, "Nops-Integration-Prod")
    result = report(role.policies, LogGroupTarget.from_arn(GROUP_ARN), role.boundary)
    stubbed = boto3.client("iam", region_name="us-east-1")
    with Stubber(stubbed) as stub:
        for check in result.checks:
            decision = {"logs:GetLogEvents": "allowed"}.get(  # the simulator disagrees here
                check.requirement.action,
                "allowed" if check.decision.verdict == Verdict.ALLOWED else "implicitDeny",
            )
            stub.add_response(
                "simulate_principal_policy",
                {
                    "EvaluationResults": [
                        {"EvalActionName": check.requirement.action, "EvalDecision": decision}
                    ]
                },
            )
        assert live.simulate(stubbed, role.role_arn, result.checks) is True
    disagreeing = [c.requirement.action for c in result.checks if c.disagrees]
    assert disagreeing == ["logs:GetLogEvents"]
    as_dict = {c["action"]: c for c in result.as_dict()["checks"]}
    assert as_dict["logs:GetLogEvents"]["disagrees_with_simulator"] is True


def test_no_permission_to_simulate_means_our_verdicts_only(iam: object) -> None:
    role = live.read_role(iam, "Nops-Integration-Prod")
    result = report(role.policies, LogGroupTarget.from_arn(GROUP_ARN), role.boundary)
    stubbed = boto3.client("iam", region_name="us-east-1")
    with Stubber(stubbed) as stub:
        stub.add_client_error("simulate_principal_policy", "AccessDenied", "not allowed", 403)
        assert live.simulate(stubbed, role.role_arn, result.checks) is False


def test_cli_live_mode(iam: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "--db",
            str(tmp_path / "x.duckdb"),
            "iam-check",
            "--role",
            "Nops-Integration-Prod",
            "--log-group-arn",
            GROUP_ARN,
        ]
    )
    out = capsys.readouterr().out
    # the classic Deny on GetLogEvents does not block the sync: it passes, the Deny is kept
    assert code == 0
    assert (
        "Role Nops-Integration-Prod: NopsIntegrationPolicy (inline), BedrockLogsRead (managed)"
        in out
    )
    assert "ok   logs:FilterLogEvents" in out
    assert "--   logs:GetLogEvents" in out and "DenyStreamReads" in out
    assert "FilterLogEvents returns the same event content as GetLogEvents" in out
    assert not (tmp_path / "x.duckdb").exists(), "iam-check opens no database"
