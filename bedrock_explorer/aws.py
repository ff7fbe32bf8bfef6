"""boto3 sessions and clients, and AWS errors turned into sentences a FinOps user can act on.

Why one place: every AWS call in the project goes through here so that ``AWS_ENDPOINT_URL``
(honoured by botocore, which is how tests point at ``moto_server``), adaptive retries, and the
translation of credential and permission errors are the same everywhere.
"""

from __future__ import annotations

from typing import Any

import boto3
import botocore.config
import botocore.exceptions

from bedrock_explorer.errors import UserFacingError

_CONFIG = botocore.config.Config(
    retries={"mode": "adaptive", "max_attempts": 8}, connect_timeout=10, read_timeout=60
)

ACCESS_DENIED_CODES = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "403"}


def session(profile: str | None = None, region: str | None = None) -> boto3.Session:
    """A session from the default credential chain or a named profile (no secret is stored)."""
    try:
        return boto3.Session(profile_name=profile or None, region_name=region or None)
    except botocore.exceptions.ProfileNotFound as err:
        raise UserFacingError(
            f"There is no AWS profile named {profile!r}",
            "check ~/.aws/config, or leave the profile empty to use the default credentials",
        ) from err


def client(sess: boto3.Session, service: str, region: str | None = None) -> Any:
    return sess.client(
        service, region_name=region or sess.region_name or "us-east-1", config=_CONFIG
    )


def explain(err: Exception, doing: str, needs: str | None = None) -> UserFacingError:
    """An AWS failure as a sentence naming what went wrong and the fix."""
    if isinstance(err, botocore.exceptions.NoCredentialsError):
        return UserFacingError(
            f"No AWS credentials were found while {doing}",
            "run `aws configure` or `aws sso login`, or choose a named profile",
        )
    if isinstance(err, botocore.exceptions.EndpointConnectionError):
        return UserFacingError(
            f"AWS could not be reached while {doing} ({err.kwargs.get('endpoint_url', '')})",
            "check the network, a proxy, or AWS_ENDPOINT_URL",
        )
    if isinstance(err, botocore.exceptions.ClientError):
        code = err.response.get("Error", {}).get("Code", "")
        message = err.response.get("Error", {}).get("Message", "")
        if code in ("ExpiredToken", "ExpiredTokenException", "RequestExpired"):
            return UserFacingError(
                f"The AWS credentials have expired ({doing})",
                "refresh them (e.g. `aws sso login`) and try again",
            )
        if code in ACCESS_DENIED_CODES:
            fix = f"grant {needs}" if needs else "ask your AWS administrator for access"
            return UserFacingError(f"AWS denied access while {doing}: {message or code}", fix)
        if code in ("NoSuchEntity", "NoSuchEntityException"):
            return UserFacingError(
                f"Not found while {doing}: {message}", "check the name and the account"
            )
        return UserFacingError(
            f"AWS error while {doing}: {code} {message}".strip(),
            "try again; if it persists, check the AWS console",
        )
    return UserFacingError(f"Unexpected error while {doing}: {err}", "try again")
