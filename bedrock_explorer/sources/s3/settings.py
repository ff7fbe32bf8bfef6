"""What an S3 integration stores: the bucket and key prefix (and the shared region and sign-in)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from bedrock_explorer.errors import UserFacingError
from bedrock_explorer.sources.settings import Field, RemoteSettings

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class S3Settings(RemoteSettings):
    kind: ClassVar[str] = "s3"
    label: ClassVar[str] = "S3 bucket"
    fields: ClassVar[tuple[Field, ...]] = (
        Field("bucket", "--bucket", "Bucket", "the S3 bucket Bedrock delivers logs to"),
        Field("prefix", "--prefix", "Prefix (what comes before AWSLogs/)",
              "with --bucket: the key prefix before AWSLogs/", default=""),
    )  # fmt: skip

    bucket: str | None = None
    prefix: str = ""

    def validate_source(self) -> None:
        if not _BUCKET.match(self.bucket or ""):
            raise UserFacingError(
                f"{self.bucket!r} is not a valid S3 bucket name"
                if self.bucket
                else "No bucket given",
                "use the bucket name alone (no s3:// and no path), lower case",
            )

    @property
    def normalised_prefix(self) -> str:
        """The key prefix with exactly one trailing slash (or empty)."""
        prefix = self.prefix.strip().strip("/")
        return f"{prefix}/" if prefix else ""

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.normalised_prefix} ({self.region})"
