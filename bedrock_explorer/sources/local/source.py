"""The local source: a sync is an import of the integration's folders (unchanged files are not
read again). No AWS: no connection test, no IAM target."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bedrock_explorer.errors import UserFacingError
from bedrock_explorer.ingest import import_paths
from bedrock_explorer.sources.source import SessionFactory, SyncRun


class LocalSource:
    check_name = "Files"

    def sync(self, run: SyncRun, since: datetime | None) -> None:
        result = import_paths(run.store, run.settings.paths, run.integ.name, progress=run.progress)
        for key in ("files", "files_unchanged", "lines", "inserted", "duplicates", "quarantined"):
            setattr(run.summary, key, getattr(result, key))
        run.summary.seconds = result.seconds

    def explain(self, err: Exception, settings: Any, session_factory: SessionFactory) -> Any:
        return UserFacingError(str(err))

    def check_source(self, report: Any, settings: Any, session: Any, now: datetime) -> None:
        return None

    def logging_mismatch(self, found: Any, settings: Any) -> tuple[str, str] | None:
        return None

    def known_values(self, settings: Any, session_factory: SessionFactory) -> list[str]:
        return []

    def check_known(self, settings: Any, known: list[str]) -> None:
        return None

    def iam_target(self, settings: Any, account: str) -> None:
        return None

    def deferred(self, summary: Any) -> str:
        return ""


SOURCE = LocalSource()
