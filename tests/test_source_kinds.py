"""The source registry: every kind is one folder with its settings, reader and source; its
settings survive storage; the CLI asks for every kind's fields; nothing branches on a name the
registry does not know."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bedrock_explorer.cli_parser import build_parser
from bedrock_explorer.cli_sources import settings_from_args
from bedrock_explorer.errors import UserFacingError
from bedrock_explorer.sources import registry
from bedrock_explorer.sources.settings import Auth, RemoteSettings
from bedrock_explorer.sources.source import Source
from bedrock_explorer.store.database import INTEGRATION_KINDS

SOURCES = Path(__file__).resolve().parent.parent / "bedrock_explorer" / "sources"
#: one valid value per field, for every kind
VALUES = {
    "log_group": "/aws/bedrock/modelinvocations",
    "bucket": "bedrock-logs",
    "prefix": "team/",
    "paths": ("/data/a", "/data/b"),
}


@pytest.mark.parametrize("kind", registry.KIND_NAMES)
def test_each_kind_is_one_folder_behind_the_protocol(kind: str) -> None:
    for module in ("__init__.py", "settings.py", "reader.py", "source.py"):
        assert (SOURCES / kind / module).is_file(), f"sources/{kind}/{module}"
    source = registry.source(kind)
    assert isinstance(source, Source)
    assert source.check_name


@pytest.mark.parametrize("cls", registry.SETTINGS, ids=lambda c: c.kind)
def test_settings_survive_storage(cls: type) -> None:
    names = {f.name for f in dataclasses.fields(cls)}
    assert {spec.name for spec in cls.fields} <= names, "a field spec names no setting"
    values = {spec.name: VALUES[spec.name] for spec in cls.fields}
    if issubclass(cls, RemoteSettings):
        values.update(region="eu-west-1", auth=Auth("profile", profile="ops"), first_sync_days=9)
    settings = cls(**values)
    settings.validate()
    assert registry.settings_from_config(cls.kind, settings.to_config()) == settings
    assert settings.describe()


@pytest.mark.parametrize("cls", registry.SETTINGS, ids=lambda c: c.kind)
def test_the_cli_asks_for_every_kinds_fields(cls: type) -> None:
    argv = ["integrations", "add", "x", "--region", "eu-west-1", "--skip-test"]
    for spec in cls.fields:
        value = VALUES[spec.name]
        for one in value if isinstance(value, tuple) else (value,):
            argv += [spec.flag, one]
    settings = settings_from_args(build_parser().parse_args(argv))
    assert settings.kind == cls.kind
    for spec in cls.fields:
        assert getattr(settings, spec.name) == VALUES[spec.name]


def test_the_cli_refuses_two_kinds_at_once() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(
            ["integrations", "add", "x", "--log-group", "/a", "--bucket", "b"]
        )


def test_the_store_accepts_every_kind_and_nothing_else() -> None:
    assert set(INTEGRATION_KINDS) == {*registry.KIND_NAMES, "demo"}
    with pytest.raises(UserFacingError, match="Unknown source"):
        registry.settings_class("ftp")
    assert registry.reads_aws("cloudwatch") and registry.reads_aws("s3")
    assert not registry.reads_aws("local") and not registry.reads_aws("demo")
