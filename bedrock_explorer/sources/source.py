"""What every source kind does, as one protocol: sync, the connection check, its IAM target, its
error sentences. Each kind implements it in ``sources/<kind>/source.py``.

Why a protocol: ``sync.py`` and ``verify.py`` run the steps common to every kind (status,
audit, credentials, the logging configuration) and hand the kind-specific part to the kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from bedrock_explorer.errors import UserFacingError

if TYPE_CHECKING:
    from bedrock_explorer.iam.checker import BucketTarget, LogGroupTarget
    from bedrock_explorer.ingest import ProgressCallback
    from bedrock_explorer.store import Integration, Store
    from bedrock_explorer.verify import ConnectionReport, LoggingDestinations

#: Makes the boto3 session a source is read with (tests pass moto's, or a failing one).
SessionFactory = Callable[[Any], Any]


@dataclass
class SyncRun:
    """What one sync of one integration works with, whatever its kind."""

    store: Store
    integ: Integration
    settings: Any  # the kind's own settings class
    session: Any  # boto3.Session; None for a local source
    summary: Any  # sync.SyncSummary, filled in as the sync goes
    now: datetime
    progress: ProgressCallback
    batch_lines: int
    #: CloudWatch's request cap (0: none)
    requests_per_second: float


@runtime_checkable
class Source(Protocol):
    """A kind of source. ``check_name`` names its step of the connection test."""

    check_name: str

    def sync(self, run: SyncRun, since: datetime | None) -> None:
        """Fetch what is new into ``run.store``, counting into ``run.summary``."""
        ...

    def explain(
        self, err: Exception, settings: Any, session_factory: SessionFactory
    ) -> UserFacingError:
        """An AWS failure during a sync, as a sentence naming the resource, with the fix."""
        ...

    def check_source(
        self, report: ConnectionReport, settings: Any, session: Any, now: datetime
    ) -> None:
        """The connection test's kind-specific checks: the source, then a sample record."""
        ...

    def logging_mismatch(self, found: LoggingDestinations, settings: Any) -> tuple[str, str] | None:
        """When Bedrock's logging delivers elsewhere: (what to add to the message, the fix)."""
        ...

    def known_values(self, settings: Any, session_factory: SessionFactory) -> list[str]:
        """The names the kind's first field can take in the account (the wizard's picker;
        empty when the kind cannot list them or may not)."""
        ...

    def check_known(self, settings: Any, known: list[str]) -> None:
        """Before saving: refuse a name that is not among ``known`` (a typo), with the
        closest names as the fix; nothing to check when ``known`` is empty."""
        ...

    def iam_target(self, settings: Any, account: str) -> LogGroupTarget | BucketTarget | None:
        """What the IAM checker evaluates the integration's role against (None: no AWS)."""
        ...

    def deferred(self, summary: Any) -> str:
        """A clause saying what this sync left for the next one ("" for nothing)."""
        ...
