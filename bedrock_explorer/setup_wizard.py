"""The checks behind the setup wizard's steps, run with the chosen credentials before saving.

Why a module of its own: the Integrations page stays a layout (no AWS calls in pages), and each
step's check is testable with moto without a browser. Every function raises
:class:`UserFacingError` with the fix when AWS says no.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import botocore.exceptions

from bedrock_explorer import aws
from bedrock_explorer.errors import UserFacingError
from bedrock_explorer.iam import live
from bedrock_explorer.iam.checker import Report
from bedrock_explorer.sources import registry
from bedrock_explorer.sources.settings import Auth, RemoteSettings, SourceSettings
from bedrock_explorer.sources.source import SessionFactory
from bedrock_explorer.sync import default_session
from bedrock_explorer.verify import LoggingDestinations, logging_destinations

_AWS_ERRORS = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)


@dataclass
class LoggingStep:
    """Step 1: who we are signed in as, and where the region's logging delivers."""

    caller_arn: str
    account: str
    destinations: LoggingDestinations | None
    #: Why the logging settings could not be read (an optional permission): the wizard goes on.
    problem: UserFacingError | None = None


@dataclass
class IamStep:
    """Step 2: the IAM report for the role the integration will use (``None``: not a role)."""

    role_arn: str | None
    report: Report | None
    simulated: bool | None
    note: str = ""


def check_logging(
    settings: RemoteSettings, factory: SessionFactory = default_session
) -> LoggingStep:
    session = factory(settings)
    try:
        who = aws.client(session, "sts", settings.region).get_caller_identity()
    except _AWS_ERRORS as err:
        raise aws.explain(err, "signing in to AWS") from err
    try:
        found = logging_destinations(session, settings.region or "")
    except _AWS_ERRORS as err:
        if not aws.is_access_denied(err):
            raise aws.explain(
                err, f"reading Bedrock's logging settings in {settings.region}"
            ) from err
        problem = aws.explain(
            err,
            f"reading Bedrock's logging settings in {settings.region}",
            "bedrock:GetModelInvocationLoggingConfiguration to check it here (optional: syncs "
            "do not need it), or check Bedrock → Settings → Model invocation logging yourself "
            "and go on with Next",
        )
        return LoggingStep(who["Arn"], who["Account"], None, problem)
    return LoggingStep(who["Arn"], who["Account"], found)


def role_of(settings: RemoteSettings, caller_arn: str) -> str | None:
    """The IAM role whose policies decide the integration's access (``None`` for a user)."""
    if settings.auth.mode == "role":
        return settings.auth.role_arn
    parts = caller_arn.split(":", 5)
    if len(parts) == 6 and parts[5].startswith("assumed-role/"):
        return parts[5].split("/")[1]
    return None


def check_iam(
    settings: RemoteSettings,
    account: str,
    caller_arn: str,
    factory: SessionFactory = default_session,
) -> IamStep:
    """Read the role's policies and evaluate them against the source the logs are in."""
    role = role_of(settings, caller_arn)
    if role is None:
        return IamStep(
            None,
            None,
            None,
            f"The credentials are an IAM user ({caller_arn}), not a role: paste its policies "
            "into the IAM Policy Checker page to check them.",
        )
    target = registry.source(settings.kind).iam_target(settings, account)
    if target is None:
        return IamStep(None, None, None, "This source is not in AWS: no permission to check.")
    # Reading a role's policies uses the credentials behind the role (the base profile).
    base = Auth("profile" if settings.auth.profile else "default", profile=settings.auth.profile)
    session = factory(replace(settings, auth=base))
    checked = live.check_role(session, role, target)
    return IamStep(checked.role.role_arn, checked.report, checked.simulated)


def known_values(settings: SourceSettings, factory: SessionFactory = default_session) -> list[str]:
    """What the kind's first field can be in the account, for the wizard's picker (a
    CloudWatch log group's name; empty when they cannot be listed)."""
    return registry.source(settings.kind).known_values(settings, factory)
