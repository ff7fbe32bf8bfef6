"""What a CloudWatch Logs integration stores: the log group (and the shared region and sign-in)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from bedrock_explorer.errors import UserFacingError
from bedrock_explorer.sources.settings import Field, RemoteSettings

# CloudWatch Logs: 1-512 characters of a-z A-Z 0-9 _ - / . #
_LOG_GROUP = re.compile(r"^[\w\-/.#]{1,512}$", re.ASCII)


@dataclass(frozen=True)
class CloudWatchSettings(RemoteSettings):
    kind: ClassVar[str] = "cloudwatch"
    label: ClassVar[str] = "CloudWatch Logs log group"
    fields: ClassVar[tuple[Field, ...]] = (
        Field("log_group", "--log-group", "Log group name",
              "the CloudWatch Logs log group Bedrock writes to", pick_label="Log group"),
    )  # fmt: skip

    log_group: str | None = None

    def validate_source(self) -> None:
        if not _LOG_GROUP.match(self.log_group or ""):
            raise UserFacingError(
                f"{self.log_group!r} is not a valid log group name"
                if self.log_group
                else "No log group given",
                "copy it from Bedrock → Settings → Model invocation logging "
                "(letters, digits and _ - / . # only)",
            )

    def describe(self) -> str:
        return f"CloudWatch Logs {self.log_group} ({self.region})"
