"""What an integration stores about its source: where the logs are and how to sign in.

The shared part: :class:`Auth`, :class:`Field` (one setting, as the CLI and the wizard ask for
it) and the base classes each kind's typed settings derive from (``sources/<kind>/settings.py``;
``sources/registry.py`` finds the class for a stored kind).

Why a typed layer over the JSON ``integrations.config`` column: the wizard, the CLI and the sync all
read and write it, and a typo in a log group name or a role ARN should be caught when it is entered,
with a sentence, not minutes later as an AWS error. No secret is ever part of it: authentication
is *how* to obtain credentials (the default chain, a named profile, a role to assume).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Self

from bedrock_explorer.errors import UserFacingError

AUTH_MODES = ("default", "profile", "role")
DEFAULT_FIRST_SYNC_DAYS = 30

_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$")
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
class Field:
    """One setting of a source kind, as the CLI and the wizard ask for it.

    ``name`` is the settings attribute and the ``integrations.config`` key; ``flag`` the
    ``integrations add`` option; ``label`` what the wizard shows. A kind's first field says which
    kind the CLI means (``--log-group`` → CloudWatch): it is the one required field.
    """

    name: str
    flag: str
    label: str
    help: str
    #: a repeatable option holding several values (local paths)
    repeatable: bool = False
    #: the value when not given (``None``; ``""`` for an optional text such as a key prefix)
    default: str | None = None
    #: the source can list the names this field takes (its ``known_values``): the wizard
    #: offers them as a choice with this label
    pick_label: str | None = None


@dataclass(frozen=True)
class SourceSettings:
    """Where one kind of source keeps its logs; each kind subclasses this in its own folder
    (``sources/<kind>/settings.py``) with its typed fields.

    ``remote`` kinds are read from AWS: they have a region, an authentication, a first-sync
    reach and a connection test.
    """

    kind: ClassVar[str] = ""
    label: ClassVar[str] = ""
    fields: ClassVar[tuple[Field, ...]] = ()
    remote: ClassVar[bool] = False

    def validate(self) -> None:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def to_config(self) -> dict[str, Any]:
        """The JSON stored in ``integrations.config`` (see :func:`shown_config` for display)."""
        data = asdict(self)
        for f in self.fields:
            if f.repeatable:
                data[f.name] = list(getattr(self, f.name))
        if "auth" in data:
            data["auth"] = {k: v for k, v in data["auth"].items() if v is not None}
        return {k: v for k, v in data.items() if v not in (None, "", [])}

    @classmethod
    def field_values(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        """The kind's own fields from a mapping (stored config, CLI options, wizard state):
        text stripped, empty text as the field's default, repeatable values as a tuple."""
        values: dict[str, Any] = {}
        for f in cls.fields:
            raw = config.get(f.name)
            if f.repeatable:
                items = raw if isinstance(raw, (list, tuple)) else [raw] if raw else []
                values[f.name] = tuple(str(v).strip() for v in items if str(v).strip())
            else:
                text = str(raw).strip() if raw is not None else ""
                values[f.name] = text or f.default
        return values

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Self:
        return cls(**cls.field_values(config))


@dataclass(frozen=True)
class RemoteSettings(SourceSettings):
    """What every AWS source has: the region, how to sign in, how far the first sync reaches."""

    remote: ClassVar[bool] = True

    region: str | None = None
    auth: Auth = field(default_factory=Auth)
    #: How far back the first sync reaches.
    first_sync_days: int = DEFAULT_FIRST_SYNC_DAYS

    def validate(self) -> None:
        if not self.region or not _REGION.match(self.region):
            raise UserFacingError(
                f"{self.region or 'The region'!s} is not an AWS region code",
                "use a code such as us-east-1 or eu-west-1",
            )
        self.validate_source()
        if not 1 <= self.first_sync_days <= 3660:
            raise UserFacingError(
                "The first sync must reach back between 1 and 3660 days",
                "choose how many days of history to fetch",
            )
        self.auth.validate()

    def validate_source(self) -> None:
        """The kind's own fields (the region and the rest are checked around it)."""
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Self:
        return cls(
            region=config.get("region"),
            auth=Auth.from_dict(config.get("auth")),
            first_sync_days=int(config.get("first_sync_days") or DEFAULT_FIRST_SYNC_DAYS),
            **cls.field_values(config),
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
