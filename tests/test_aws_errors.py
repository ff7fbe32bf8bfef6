"""AWS failures in words a FinOps user can act on: each names what happened and the fix."""

from __future__ import annotations

import botocore.exceptions
import pytest

from bedrock_explorer import aws


def _client_error(code: str, message: str = "") -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError(
        {"Error": {"Code": code, "Message": message}}, "FilterLogEvents"
    )


@pytest.mark.parametrize(
    ("err", "says", "fix"),
    [
        (botocore.exceptions.NoCredentialsError(), "No AWS credentials", "aws configure"),
        (_client_error("ExpiredTokenException"), "expired", "aws sso login"),
        (botocore.exceptions.TokenRetrievalError(provider="sso", error_msg="x"), "expired",
         "aws sso login"),
        (_client_error("ThrottlingException", "Rate exceeded"), "kept throttling", "try again"),
        (_client_error("AccessDeniedException", "not authorized to perform: logs:FilterLogEvents"),
         "denied access", "grant logs:FilterLogEvents"),
        (_client_error("403"), "denied access", "grant logs:FilterLogEvents"),
        (_client_error("UnrecognizedClientException"), "did not accept the credentials",
         "get-caller-identity"),
        (botocore.exceptions.EndpointConnectionError(endpoint_url="https://logs.x"),
         "could not be reached", "network"),
        (botocore.exceptions.ConnectTimeoutError(endpoint_url="https://logs.x"),
         "could not be reached", "proxy"),
    ],
)  # fmt: skip
def test_each_failure_names_the_fix(err: Exception, says: str, fix: str) -> None:
    explained = aws.explain(err, "reading the log group", "logs:FilterLogEvents")
    assert says in explained.message
    assert fix in (explained.fix or "")
