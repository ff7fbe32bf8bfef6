"""What a local integration stores: the folders and files to import (no AWS, no sign-in)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bedrock_explorer.errors import UserFacingError
from bedrock_explorer.sources.settings import Field, SourceSettings


@dataclass(frozen=True)
class LocalSettings(SourceSettings):
    kind: ClassVar[str] = "local"
    label: ClassVar[str] = "Local folder"
    fields: ClassVar[tuple[Field, ...]] = (
        Field("paths", "--path", "Folder on this machine",
              "a local folder or file (repeatable)", repeatable=True),
    )  # fmt: skip

    paths: tuple[str, ...] = ()

    def validate(self) -> None:
        if not self.paths:
            raise UserFacingError("A local source needs a folder or files", "give a path")

    def describe(self) -> str:
        return ", ".join(self.paths)
