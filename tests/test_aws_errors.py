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


def test_an_unknown_profile_is_a_sentence_and_service_models_are_shared(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    config = tmp_path / "config"
    config.write_text("[profile finops]\nregion = eu-west-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    with pytest.raises(aws.UserFacingError, match="no AWS profile named 'nope'"):
        aws.session("nope")
    first, second = aws.session("finops"), aws.session("finops", "us-west-2")
    assert (first.region_name, second.region_name) == ("eu-west-1", "us-west-2")
    # Two sessions, one parsed copy of the service models; boto3's search path stays short.
    assert first._session.get_component("data_loader") is second._session.get_component(
        "data_loader"
    )
    paths = first._session.get_component("data_loader").search_paths
    assert len(paths) == len(set(paths))
