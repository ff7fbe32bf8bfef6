"""What an integration stores about its source: where the logs are and how to sign in.

Why a typed layer over the JSON ``integrations.config`` column: the wizard, the CLI and the sync all
read and write it, and a typo in a log group name or a role ARN should be caught when it is entered,
with a sentence, not minutes later as an AWS error. No secret is ever part of it: authentication
is *how* to obtain credentials (the default chain, a named profile, a role to assume).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from bedrock_explorer.errors import UserFacingError

AUTH_MODES = ("default", "profile", "role")
SOURCE_KINDS = ("cloudwatch", "s3", "local")
DEFAULT_FIRST_SYNC_DAYS = 30

_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$")
# CloudWatch Logs: 1-512 characters of a-z A-Z 0-9 _ - / . #
_LOG_GROUP = re.compile(r"^[\w\-/.#]{1,512}$", re.ASCII)
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z\-]*:iam::\d{12}:role/[\w+=,.@/\-]{1,512}$", re.ASCII)
_SESSION_NAME = re.compile(r"^[\w+=,.@\-]{2,64}$", re.ASCII)
_EXTERNAL_ID = re.compile(r"^[\w+=,.@:/\-]{2,1224}$", re.ASCII)


@dataclass(frozen=True)
class Auth:
    """How to obtain credentials for an integration; never the credentials themselves."""

    mode: str = "default"
    #: A named profile (``mode == "profile"``), or the source credentials of a role assumption.
    profile: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    session_name: str = "bedrock-explorer"

    def validate(self) -> None:
        if self.mode not in AUTH_MODES:
            raise UserFacingError(
                f"Unknown authentication {self.mode!r}", f"use one of {', '.join(AUTH_MODES)}"
            )
        if self.mode == "profile" and not self.profile:
            raise UserFacingError("A named profile needs its name", "type the profile's name")
        if self.mode == "role":
            if not self.role_arn or not _ROLE_ARN.match(self.role_arn):
                raise UserFacingError(
                    f"{self.role_arn or 'The role ARN'!s} is not an IAM role ARN",
                    "use the form arn:aws:iam::123456789012:role/RoleName",
                )
            if self.external_id and not _EXTERNAL_ID.match(self.external_id):
                raise UserFacingError(
                    "The external id holds characters AWS does not accept",
                    "use letters, digits and + = , . @ : / - (2 to 1224 characters)",
                )
            if not _SESSION_NAME.match(self.session_name):
                raise UserFacingError(
                    f"{self.session_name!r} is not a valid role session name",
                    "use 2-64 letters, digits and + = , . @ -",
                )

    def describe(self) -> str:
        if self.mode == "profile":
            return f"profile {self.profile}"
        if self.mode == "role":
            via = f" (from profile {self.profile})" if self.profile else ""
            return f"assume {self.role_arn}{via}"
        return "default credentials"

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Auth:
        data = data or {}
        return cls(
            mode=data.get("mode") or "default",
            profile=data.get("profile") or None,
            role_arn=data.get("role_arn") or None,
            external_id=data.get("external_id") or None,
            session_name=data.get("session_name") or "bedrock-explorer",
        )


@dataclass(frozen=True)
class SourceSettings:
    """Where an integration's logs are: a log group, a bucket and prefix, or local paths."""

    kind: str
    region: str | None = None
    log_group: str | None = None
    bucket: str | None = None
    prefix: str = ""
    paths: tuple[str, ...] = ()
    auth: Auth = field(default_factory=Auth)
    #: How far back the first sync reaches.
    first_sync_days: int = DEFAULT_FIRST_SYNC_DAYS

    def validate(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise UserFacingError(
                f"Unknown source {self.kind!r}", f"use one of {', '.join(SOURCE_KINDS)}"
            )
        if self.kind == "local":
            if not self.paths:
                raise UserFacingError("A local source needs a folder or files", "give a path")
            return
        if not self.region or not _REGION.match(self.region):
            raise UserFacingError(
                f"{self.region or 'The region'!s} is not an AWS region code",
                "use a code such as us-east-1 or eu-west-1",
            )
        if self.kind == "cloudwatch" and not _LOG_GROUP.match(self.log_group or ""):
            raise UserFacingError(
                f"{self.log_group!r} is not a valid log group name"
                if self.log_group
                else "No log group given",
                "copy it from Bedrock → Settings → Model invocation logging "
                "(letters, digits and _ - / . # only)",
            )
        if self.kind == "s3" and not _BUCKET.match(self.bucket or ""):
            raise UserFacingError(
                f"{self.bucket!r} is not a valid S3 bucket name"
                if self.bucket
                else "No bucket given",
                "use the bucket name alone (no s3:// and no path), lower case",
            )
        if not 1 <= self.first_sync_days <= 3660:
            raise UserFacingError(
                "The first sync must reach back between 1 and 3660 days",
                "choose how many days of history to fetch",
            )
        self.auth.validate()

    @property
    def normalised_prefix(self) -> str:
        """The key prefix with exactly one trailing slash (or empty)."""
        prefix = self.prefix.strip().strip("/")
        return f"{prefix}/" if prefix else ""

    def describe(self) -> str:
        if self.kind == "cloudwatch":
            return f"CloudWatch Logs {self.log_group} ({self.region})"
        if self.kind == "s3":
            return f"s3://{self.bucket}/{self.normalised_prefix} ({self.region})"
        return ", ".join(self.paths)

    def to_config(self) -> dict[str, Any]:
        """The JSON stored in ``integrations.config`` (see :func:`shown_config` for display)."""
        data = asdict(self)
        data.pop("kind")
        data["paths"] = list(self.paths)
        data["auth"] = {k: v for k, v in asdict(self.auth).items() if v is not None}
        return {k: v for k, v in data.items() if v not in (None, "", [])}

    @classmethod
    def from_config(cls, kind: str, config: dict[str, Any]) -> SourceSettings:
        return cls(
            kind=kind,
            region=config.get("region"),
            log_group=config.get("log_group"),
            bucket=config.get("bucket"),
            prefix=config.get("prefix") or "",
            paths=tuple(config.get("paths") or ()),
            auth=Auth.from_dict(config.get("auth")),
            first_sync_days=int(config.get("first_sync_days") or DEFAULT_FIRST_SYNC_DAYS),
        )


#: What an external id is shown as: it is the role's shared secret against the confused-deputy
#: problem, so it is never printed or put on screen, only said to be set.
HIDDEN = "(set, hidden)"


def shown_config(config: dict[str, Any]) -> dict[str, Any]:
    """An integration's stored settings as they may be printed: the external id hidden."""
    shown = dict(config)
    auth = dict(shown.get("auth") or {})
    if auth.get("external_id"):
        auth["external_id"] = HIDDEN
    if auth:
        shown["auth"] = auth
    return shown
