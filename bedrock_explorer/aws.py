"""boto3 sessions and clients, and AWS errors turned into sentences a FinOps user can act on.

Why one place: every AWS call in the project goes through here so that ``AWS_ENDPOINT_URL``
(honoured by botocore, which is how tests point at ``moto_server``), adaptive retries, and the
translation of credential and permission errors are the same everywhere.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import boto3
import botocore.config
import botocore.exceptions
import botocore.loaders
import botocore.session

from bedrock_explorer.errors import UserFacingError

if TYPE_CHECKING:
    from bedrock_explorer.sources.settings import Auth

#: Retries of a request (after its first try) before a throttle or transient error is reported.
MAX_ATTEMPTS = 8
_CONFIG = botocore.config.Config(
    retries={"mode": "adaptive", "max_attempts": MAX_ATTEMPTS}, connect_timeout=10, read_timeout=60
)

ACCESS_DENIED_CODES = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "403"}
EXPIRED_CODES = {"ExpiredToken", "ExpiredTokenException", "RequestExpired"}
THROTTLING_CODES = {
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
    "LimitExceededException",
}
INVALID_CREDENTIAL_CODES = {
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
}


@functools.cache
def _shared_loader() -> botocore.loaders.Loader:
    return botocore.loaders.create_loader()


def _core_session() -> botocore.session.Session:
    """A fresh botocore session that reuses the process's parsed service models.

    Why: every new session would parse the service's model files again (~70 ms for S3), and the
    dashboard and ``sync`` make a session per integration and per click. The models are read-only
    data; credentials, profile and region stay per session.
    """
    core = botocore.session.get_session()
    core.register_component("data_loader", _shared_loader())
    return core


def _boto3_session(core: botocore.session.Session, **kwargs: Any) -> boto3.Session:
    made = boto3.Session(botocore_session=core, **kwargs)
    core.get_scoped_config()  # an unknown profile fails here (boto3 found out while loading)
    # boto3 appends its resource folder to the loader's search path on every session.
    paths = _shared_loader().search_paths
    paths[:] = list(dict.fromkeys(paths))
    return made


def session(profile: str | None = None, region: str | None = None) -> boto3.Session:
    """A session from the default credential chain or a named profile (no secret is stored)."""
    try:
        return _boto3_session(
            _core_session(), profile_name=profile or None, region_name=region or None
        )
    except botocore.exceptions.ProfileNotFound as err:
        raise UserFacingError(
            f"There is no AWS profile named {profile!r}",
            "check ~/.aws/config, or leave the profile empty to use the default credentials",
        ) from err


def session_for(auth: Auth, region: str | None = None) -> boto3.Session:
    """A session for an integration's authentication: default chain, named profile, or a role.

    A role is assumed eagerly, so a wrong ARN or a missing trust relationship is reported when the
    integration is tested, and the temporary credentials refresh themselves before they expire
    (a long first sync outlives one role session).
    """
    base = session(auth.profile if auth.mode in ("profile", "role") else None, region)
    if auth.mode != "role":
        return base
    import botocore.credentials

    extra: dict[str, Any] = {"RoleSessionName": auth.session_name}
    if auth.external_id:
        extra["ExternalId"] = auth.external_id
    fetcher = botocore.credentials.AssumeRoleCredentialFetcher(
        client_creator=lambda service, **kw: base.client(service, config=_CONFIG, **kw),
        source_credentials=base.get_credentials(),
        role_arn=auth.role_arn,
        extra_args=extra,
    )
    try:
        first = fetcher.fetch_credentials()
    except botocore.exceptions.BotoCoreError as err:
        raise explain(err, f"assuming the role {auth.role_arn}") from err
    except botocore.exceptions.ClientError as err:
        raise explain(
            err,
            f"assuming the role {auth.role_arn}",
            "sts:AssumeRole on the role to your credentials, and check the role's trust policy "
            "(and the external id)",
        ) from err
    credentials = botocore.credentials.RefreshableCredentials.create_from_metadata(
        metadata={
            "access_key": first["access_key"],
            "secret_key": first["secret_key"],
            "token": first["token"],
            "expiry_time": first["expiry_time"],
        },
        refresh_using=fetcher.fetch_credentials,
        method="assume-role",
    )
    core = _core_session()
    core._credentials = credentials  # how botocore takes refreshable credentials
    return _boto3_session(core, region_name=region or base.region_name)


def client(
    sess: boto3.Session,
    service: str,
    region: str | None = None,
    *,
    attempts: int | None = None,
    connections: int | None = None,
    adaptive: bool = True,
) -> Any:
    """A client that retries throttling and transient errors.

    ``attempts`` lowers the retries for an optional call that should give up quickly (the IAM
    policy simulator). ``connections`` sizes the connection pool for that many threads sharing
    the client (botocore keeps 10; a thread beyond that opens and drops a connection per
    request). ``adaptive=False`` retries with backoff only: adaptive mode also slows the whole
    client after a throttle, right for CloudWatch's 5 requests/s, but after 4 S3 ``SlowDown``
    answers early in a sync it held 97 GETs to ~8 a second (12 s; with backoff only, 1.3 s).
    """
    retries = {
        "mode": "adaptive" if adaptive else "standard",
        "max_attempts": attempts or MAX_ATTEMPTS,
    }
    config = _CONFIG.merge(botocore.config.Config(retries=retries))
    if connections:
        config = config.merge(botocore.config.Config(max_pool_connections=connections))
    return sess.client(
        service, region_name=region or sess.region_name or "us-east-1", config=config
    )


def error_code(err: Exception) -> str:
    """AWS's error code of a failed call (``""`` for a failure that is not an AWS answer)."""
    if not isinstance(err, botocore.exceptions.ClientError):
        return ""
    return str(err.response.get("Error", {}).get("Code", ""))


def is_access_denied(err: Exception) -> bool:
    """AWS said no to these credentials for this call (not a missing resource or an outage)."""
    return error_code(err) in ACCESS_DENIED_CODES


def explain(err: Exception, doing: str, needs: str | None = None) -> UserFacingError:
    """An AWS failure as a sentence naming what went wrong and the fix."""
    if isinstance(err, botocore.exceptions.NoCredentialsError):
        return UserFacingError(
            f"No AWS credentials were found while {doing}",
            "run `aws configure` or `aws sso login`, or choose a named profile",
        )
    if isinstance(
        err,
        (
            botocore.exceptions.SSOTokenLoadError,
            botocore.exceptions.UnauthorizedSSOTokenError,
            botocore.exceptions.TokenRetrievalError,
        ),
    ):
        return UserFacingError(
            f"The AWS sign-in session has expired ({doing})",
            "run `aws sso login` (with --profile if you use one) and try again",
        )
    if isinstance(err, botocore.exceptions.ProfileNotFound):
        return UserFacingError(
            f"The AWS profile was not found while {doing}: {err}", "check ~/.aws/config"
        )
    if isinstance(
        err,
        (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError),
    ):
        return UserFacingError(
            f"AWS could not be reached while {doing} ({err.kwargs.get('endpoint_url', '')})",
            "check the network, a proxy, or AWS_ENDPOINT_URL",
        )
    if isinstance(err, botocore.exceptions.ClientError):
        code = error_code(err)
        message = err.response.get("Error", {}).get("Message", "")
        if code in EXPIRED_CODES:
            return UserFacingError(
                f"The AWS credentials have expired ({doing})",
                "refresh them (e.g. `aws sso login`) and try again",
            )
        if code in ACCESS_DENIED_CODES:
            fix = f"grant {needs}" if needs else "ask your AWS administrator for access"
            return UserFacingError(f"AWS denied access while {doing}: {message or code}", fix)
        if code in INVALID_CREDENTIAL_CODES:
            return UserFacingError(
                f"AWS did not accept the credentials while {doing} ({code})",
                "check the access key or profile (`aws sts get-caller-identity` should work)",
            )
        if code in THROTTLING_CODES:
            return UserFacingError(
                f"AWS kept throttling the requests while {doing}, even after retries",
                "try again in a few minutes, or sync when other tools are not reading the logs",
            )
        if code in ("NoSuchEntity", "NoSuchEntityException"):
            return UserFacingError(
                f"Not found while {doing}: {message}", "check the name and the account"
            )
        return UserFacingError(
            f"AWS error while {doing}: {code} {message}".strip(),
            "try again; if it persists, check the AWS console",
        )
    return UserFacingError(f"Unexpected error while {doing}: {err}", "try again")
