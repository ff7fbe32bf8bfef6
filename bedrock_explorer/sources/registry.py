"""The source kinds, found by name: their settings classes (light) and their sources (loaded
when one is used).

Why a registry: sync, the connection test, the wizard, the CLI and the Integrations page ask the
kind instead of branching on its name, so a new kind is one new folder
(``sources/<kind>/settings.py`` and ``source.py``) and its name in :data:`KIND_NAMES`.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Mapping
from typing import Any

from bedrock_explorer.errors import UserFacingError
from bedrock_explorer.sources.cloudwatch.settings import CloudWatchSettings
from bedrock_explorer.sources.local.settings import LocalSettings
from bedrock_explorer.sources.s3.settings import S3Settings
from bedrock_explorer.sources.settings import SourceSettings
from bedrock_explorer.sources.source import Source

#: Every kind, in the order the wizard and the CLI offer them.
SETTINGS: tuple[type[SourceSettings], ...] = (CloudWatchSettings, S3Settings, LocalSettings)
KIND_NAMES: tuple[str, ...] = tuple(cls.kind for cls in SETTINGS)
_BY_KIND = {cls.kind: cls for cls in SETTINGS}


def settings_class(kind: str) -> type[SourceSettings]:
    try:
        return _BY_KIND[kind]
    except KeyError:
        raise UserFacingError(
            f"Unknown source {kind!r}", f"use one of {', '.join(KIND_NAMES)}"
        ) from None


def reads_aws(kind: str) -> bool:
    """Whether an integration of this kind reads from AWS (so it has a connection test, a
    region and credentials); demo data and local folders do not."""
    found = _BY_KIND.get(kind)
    return found is not None and found.remote


#: What the AWS kinds are called, for a sentence ("CloudWatch Logs log group or S3 bucket").
AWS_LABELS = " or ".join(cls.label for cls in SETTINGS if cls.remote)


def settings_from_config(kind: str, config: Mapping[str, Any]) -> SourceSettings:
    """An integration's stored settings, typed by its kind."""
    return settings_class(kind).from_config(config)


@functools.cache
def source(kind: str) -> Source:
    """What a kind does (sync, connection check, IAM target, error sentences); imported on first
    use, so building the CLI's parser loads no AWS code."""
    settings_class(kind)
    module = importlib.import_module(f"bedrock_explorer.sources.{kind}.source")
    found: Source = module.SOURCE
    return found
